//! Sampler (being written).
