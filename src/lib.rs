//! tinygpt: a GPT inference runtime small enough for a microcontroller and a browser tab.
//!
//! The core is `#![no_std]` and never allocates: a model is a validated zero-copy view over
//! its bytes, and all runtime state lives in one caller-provided workspace whose size is
//! known before anything runs.
#![no_std]
#![deny(missing_docs)]
#![warn(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

#[cfg(feature = "std")]
extern crate std;

pub mod error;
pub mod format;
pub mod generate;
pub mod info;
pub mod kernels;
pub mod sampler;
pub mod tokenizer;

pub use error::{Error, Result};
pub use format::{Activation, Arch, Config, DType, Model, Norm, Position};

#[cfg(feature = "std")]
pub mod convert;
pub mod parallel;
pub mod session;
pub mod sizes;
pub use session::{state_bytes, KvDtype, Session, SessionOptions};
#[cfg(feature = "std")]
pub use format::AlignedBytes;
#[cfg(feature = "std")]
pub mod cli;
#[cfg(tinygpt_builtin)]
pub mod builtin;
#[cfg(feature = "std")]
pub mod threads;
