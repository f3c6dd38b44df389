//! The `.tgpt` model format: a validated zero-copy view over the model's bytes.

mod config;
pub mod layout;
#[cfg(feature = "std")]
pub mod writer;

pub use config::{Activation, Arch, Config, DType, Norm, Position};

/// A parsed model (being written).
pub struct Model<'a> {
    /// The bytes.
    pub bytes: &'a [u8],
}
