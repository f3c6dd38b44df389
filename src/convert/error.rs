//! `ConvertError`: everything that can go wrong while importing a foreign checkpoint.
//!
//! Owns: the error type and its one-line `Display`. Every message starts with the file it is
//! about (`config.json: …`, `model.safetensors: …`, `stories15M.bin: …`), so the CLI can print
//! it as is.

use std::fmt;
use std::string::String;
use std::vec::Vec;

/// An import or conversion failure. `Display` is one line that names the file and says what
/// is wrong with it; nothing in this module panics on bad input.
#[non_exhaustive]
#[derive(Debug)]
pub enum ConvertError {
    /// The input path cannot be used as it is (missing, wrong kind, unknown format).
    Input {
        /// The path as given.
        path: String,
        /// What is wrong with it.
        why: String,
    },
    /// Reading a file failed.
    Io {
        /// The file.
        path: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A file's content is malformed, inconsistent, or asks for something unsupported.
    Invalid {
        /// The file (`config.json`, `model.safetensors`, the `.bin` path, …).
        file: String,
        /// What is wrong.
        why: String,
    },
    /// `config.json` names a model class this importer does not know.
    UnsupportedArch {
        /// The file (`config.json`).
        file: String,
        /// The architecture found.
        arch: String,
    },
    /// A tensor the model needs is not in the checkpoint.
    MissingTensor {
        /// The file (or shard index) that should hold it.
        file: String,
        /// The tensor's name.
        name: String,
    },
    /// A tensor is stored in a dtype the importer cannot read.
    UnsupportedDtype {
        /// The file holding it.
        file: String,
        /// The tensor's name.
        name: String,
        /// The dtype found (safetensors spelling, e.g. `I64`).
        dtype: String,
    },
    /// A tensor's shape does not match what the config implies.
    Shape {
        /// The file holding it.
        file: String,
        /// The tensor's name.
        name: String,
        /// The shape the config implies.
        expected: Vec<usize>,
        /// The shape found.
        found: Vec<usize>,
    },
    /// A file ends before the data its header announces.
    Truncated {
        /// The file.
        file: String,
        /// The part that is cut off.
        what: String,
        /// Bytes needed (from the start of the file).
        needed: u64,
        /// Bytes the file has.
        available: u64,
    },
    /// [`super::ConvertOptions`] holds a value that is not allowed.
    Options(String),
    /// The imported model was rejected by the format writer (`write_model`).
    Model(crate::Error),
}

impl fmt::Display for ConvertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConvertError::Input { path, why } => write!(f, "{path}: {why}"),
            ConvertError::Io { path, source } => write!(f, "{path}: {source}"),
            ConvertError::Invalid { file, why } => write!(f, "{file}: {why}"),
            ConvertError::UnsupportedArch { file, arch } => {
                write!(f, "{file}: unsupported architecture \"{arch}\" (supported: GPT2LMHeadModel, LlamaForCausalLM)")
            }
            ConvertError::MissingTensor { file, name } => write!(f, "{file}: missing tensor \"{name}\""),
            ConvertError::UnsupportedDtype { file, name, dtype } => {
                write!(f, "{file}: tensor \"{name}\" has unsupported dtype {dtype} (supported: F32, F16, BF16)")
            }
            ConvertError::Shape { file, name, expected, found } => {
                write!(f, "{file}: tensor \"{name}\" has shape {found:?}, expected {expected:?}")
            }
            ConvertError::Truncated { file, what, needed, available } => {
                write!(f, "{file}: truncated: {what} needs {needed} bytes, the file has {available}")
            }
            ConvertError::Options(why) => write!(f, "convert options: {why}"),
            ConvertError::Model(e) => write!(f, "converted model rejected: {e}"),
        }
    }
}

impl std::error::Error for ConvertError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConvertError::Io { source, .. } => Some(source),
            ConvertError::Model(e) => Some(e),
            _ => None,
        }
    }
}

impl From<crate::Error> for ConvertError {
    fn from(e: crate::Error) -> Self {
        ConvertError::Model(e)
    }
}

/// Shorthand for [`ConvertError::Invalid`].
pub(crate) fn invalid(file: &str, why: impl Into<String>) -> ConvertError {
    ConvertError::Invalid { file: file.into(), why: why.into() }
}
