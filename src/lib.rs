//! tinygpt: a GPT inference runtime small enough for a microcontroller and a browser tab.
//!
//! The core is `#![no_std]` and never allocates: a model is a validated zero-copy view over
//! its bytes, and all runtime state lives in one caller-provided workspace whose size is
//! known before anything runs.
//!
//! # Panics
//!
//! **Panic-free core.** Nothing a model file, a tokenizer section, a prompt, a token id, a
//! sampler setting or a stop string contains makes the core panic or read out of bounds:
//! bad input is a typed [`Error`]. The rule is enforced by clippy: this crate root denies
//!
//! ```text
//! #![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic,
//!     clippy::indexing_slicing, clippy::string_slice, clippy::unreachable, clippy::todo,
//!     clippy::unimplemented))]
//! ```
//!
//! for the whole crate, and the std-only shells listed below opt out with one `allow` each
//! (on their `mod` line here, or at the top of the file for submodules).
//!
//! and `scripts/test.sh` runs `cargo clippy --release --lib -- -D warnings`, with and without
//! default features. Code uses `get`, iterators, `split_at_checked`, `chunks_exact` and
//! patterns instead of indexing. Where an index is bounded by construction and the checked
//! form would cost speed, `#[allow(clippy::indexing_slicing, reason = "...")]` on the smallest
//! item says why (today: the BPE merge engine, whose indices are its own links; the kernels,
//! whose slice lengths are their documented contract, derived from a validated config; and
//! the session's forward pass, whose buffers are carved to the plan's sizes and whose token
//! ids, counts and positions are checked against vocab, batch and context first).
//!
//! Covered: `error`, `format` (with `config` and `layout`; not `format::writer`), `generate`,
//! `info`, `parallel`, `sampler`, `sizes`, `tokenizer` (with `bpe`, `decode`, `format`,
//! `pretok`, `unicode_tables`; not `tokenizer::build`), `builtin`, `session` and `kernels`
//! (with every architecture's kernel file: checked by clippy for x86_64, aarch64,
//! wasm32 + simd128 and thumbv7em).
//! Excluded, std-only shells that run at convert time or in the CLI process: `cli`,
//! `convert`, `threads`, `format::writer` and `tokenizer::build`.
//!
//! What the lints do not see, and what panics remain, all documented:
//! [`Model::matrix`] panics on a caller bug (a slot the config does
//! not have; [`Model::get_matrix`] is the fallible form);
//! `debug_assert!`s check internal invariants in debug builds; an `assert!` guards the unsafe
//! sub-slicing of `parallel`'s shared buffers; and `copy_from_slice`, `copy_within`, integer
//! division and overflow are not linted (`clippy::arithmetic_side_effects` would flag every
//! sum): sizes read from headers use checked arithmetic, and the fuzzers (`fuzz/README.md`)
//! and Miri exercise the rest.
#![no_std]
#![deny(missing_docs)]
#![warn(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]
// The panic-free core (see "Panics" above); shells opt out below.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::string_slice,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented
    )
)]

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
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::string_slice,
    clippy::unreachable,
    reason = "std shell, outside the panic-free core (see \"Panics\")"
)]
pub mod convert;
pub mod parallel;
pub mod session;
pub mod sizes;
pub use session::{state_bytes, KvDtype, Session, SessionOptions};
pub use kernels::Layout;
#[cfg(feature = "std")]
pub use format::AlignedBytes;
#[cfg(feature = "std")]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::string_slice,
    clippy::unreachable,
    reason = "std shell, outside the panic-free core (see \"Panics\")"
)]
pub mod cli;
#[cfg(tinygpt_builtin)]
pub mod builtin;
#[cfg(feature = "std")]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::string_slice,
    clippy::unreachable,
    reason = "std shell, outside the panic-free core (see \"Panics\")"
)]
pub mod threads;
