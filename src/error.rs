//! The one error type of the core.
//!
//! Every fallible operation of the core (parsing a model, tokenizing, sampling, running a
//! session) returns [`Error`]. It is `Copy`, allocation-free, and its `Display` says what is
//! wrong in one line, so shells can print it (CLI), throw it (JS) or log it (firmware) as is.

// Panic-free core: see "Panics" in the crate docs (src/lib.rs).
use core::fmt;

/// Everything that can go wrong in the core. Never a panic: bad input becomes one of these.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    // ---- model file -------------------------------------------------------------------
    /// The bytes do not start with the `TGPT` magic.
    BadMagic,
    /// The file's format version is not one this reader understands.
    UnsupportedVersion(u32),
    /// The model bytes are not aligned as required (see `docs/FORMAT.md`).
    Misaligned {
        /// What was misaligned.
        what: &'static str,
        /// The required alignment in bytes.
        align: usize,
    },
    /// The file ends before `what` does.
    Truncated {
        /// The part that is cut off.
        what: &'static str,
        /// Bytes needed.
        needed: u64,
        /// Bytes available.
        available: u64,
    },
    /// A header field has a value that is not allowed.
    BadField {
        /// The field's name.
        field: &'static str,
        /// The value found.
        value: u64,
    },
    /// A size computed from header values overflows.
    Overflow {
        /// The size being computed.
        what: &'static str,
    },
    /// A tensor directory entry is wrong (kind, shape, dtype, offset).
    BadTensor {
        /// Index of the entry in the tensor directory.
        index: u32,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The checksum stored in the header does not match the bytes.
    Checksum {
        /// The stored value.
        stored: u64,
        /// The value computed over the bytes.
        computed: u64,
    },
    /// The tokenizer section is malformed.
    BadTokenizer(&'static str),

    // ---- running ------------------------------------------------------------------------
    /// The caller's workspace is smaller than [`crate::state_bytes`] says it must be.
    WorkspaceTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes given.
        got: usize,
    },
    /// A context length of zero or longer than the model's was requested.
    BadContext {
        /// The context length asked for.
        requested: usize,
        /// The model's maximum.
        max: usize,
    },
    /// The context window is full: no position is left for another token.
    ContextFull {
        /// The context length of the session.
        ctx: usize,
    },
    /// A token id is not below the vocabulary size.
    TokenOutOfRange {
        /// The id.
        id: u32,
        /// The vocabulary size.
        vocab: usize,
    },
    /// The prompt has more tokens than the context (or a caller's buffer) can hold.
    PromptTooLong {
        /// Tokens needed (at least).
        tokens: usize,
        /// Tokens that fit.
        max: usize,
    },
    /// The prompt encodes to no tokens and the model has no BOS token to start from.
    EmptyPrompt,
    /// A caller-provided buffer is too small.
    BufferTooSmall {
        /// Which buffer.
        what: &'static str,
        /// Elements needed (at least).
        needed: usize,
    },
    /// A setting is out of range (sampler, generation, session options).
    InvalidSetting {
        /// The setting's name.
        name: &'static str,
        /// What is allowed.
        allowed: &'static str,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::BadMagic => f.write_str("not a tinygpt model: bad magic (expected \"TGPT\")"),
            Error::UnsupportedVersion(v) => write!(f, "unsupported tinygpt format version {v}"),
            Error::Misaligned { what, align } => {
                write!(f, "{what} is not {align}-byte aligned")
            }
            Error::Truncated { what, needed, available } => write!(
                f,
                "model file truncated: {what} needs {needed} bytes, only {available} available"
            ),
            Error::BadField { field, value } => {
                write!(f, "bad model header: {field} = {value} is not allowed")
            }
            Error::Overflow { what } => write!(f, "bad model header: {what} overflows"),
            Error::BadTensor { index, why } => write!(f, "bad tensor entry {index}: {why}"),
            Error::Checksum { stored, computed } => write!(
                f,
                "model file corrupted: checksum {computed:#018x} does not match stored {stored:#018x}"
            ),
            Error::BadTokenizer(why) => write!(f, "bad tokenizer section: {why}"),
            Error::WorkspaceTooSmall { needed, got } => {
                write!(f, "workspace too small: needs {needed} bytes, got {got}")
            }
            Error::BadContext { requested, max } => write!(
                f,
                "context length {requested} not allowed: must be between 1 and the model's {max}"
            ),
            Error::ContextFull { ctx } => write!(f, "context full: all {ctx} positions are used"),
            Error::TokenOutOfRange { id, vocab } => {
                write!(f, "token id {id} out of range (vocabulary size {vocab})")
            }
            Error::PromptTooLong { tokens, max } => write!(
                f,
                "prompt too long: {tokens} tokens, but at most {max} fit (the context, or the prompt buffer if smaller)"
            ),
            Error::EmptyPrompt => f.write_str("empty prompt and the model has no BOS token"),
            Error::BufferTooSmall { what, needed } => {
                write!(f, "{what} buffer too small: needs at least {needed} elements")
            }
            Error::InvalidSetting { name, allowed } => {
                write!(f, "invalid {name}: must be {allowed}")
            }
        }
    }
}

impl core::error::Error for Error {}

/// Shorthand for `core::result::Result<T, Error>`.
pub type Result<T> = core::result::Result<T, Error>;
