//! Importers (std only): foreign checkpoints to a [`Config`] plus f32 [`Weights`] in Hugging
//! Face orientation, ready for the one writer, [`crate::format::writer::write_model`].
//!
//! Owns: reading Hugging Face safetensors directories (`GPT2LMHeadModel`, `LlamaForCausalLM`;
//! see [`import_hf_dir`]) and llama2.c `.bin` files (versions 0, 1, 2; see [`import_llama2c`]),
//! and choosing the storage type ([`ConvertOptions`]). Must not: quantize or lay out bytes
//! (the writer does), or parse tokenizers (the tokenizer builder turns [`TokenizerSource`]
//! into the model's tokenizer section).
//!
//! ```no_run
//! use std::path::Path;
//! use tinygpt::convert::{import, ConvertOptions};
//! use tinygpt::format::writer::write_model;
//!
//! let m = import(Path::new("gpt2-dir"), None, true)?.with_options(&ConvertOptions::default())?;
//! let bytes = write_model(&m.config, &m.weights, &[])?; // tokenizer section omitted here
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
mod hf;
mod llama2c;
mod progress;

use std::format;
use std::fs;
use std::path::Path;
use std::string::{String, ToString};
use std::vec::Vec;

pub use error::ConvertError;
pub use hf::import_hf_dir;
pub use llama2c::{import_llama2c, parse_llama2c};

use crate::format::writer::Weights;
use crate::format::{Config, DType};

// ---- what an import produces -------------------------------------------------------------

/// The tokenizer that came with a checkpoint, unparsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenizerSource {
    /// No tokenizer was found or given.
    None,
    /// A Hugging Face `tokenizer.json`, with `tokenizer_config.json` when there is one.
    HfJson {
        /// The content of `tokenizer.json`.
        tokenizer_json: String,
        /// The content of `tokenizer_config.json`, if present.
        tokenizer_config_json: Option<String>,
    },
    /// The bytes of a llama2.c `tokenizer.bin`.
    Llama2cBin(Vec<u8>),
}

/// An imported model: hyper-parameters, f32 weights in HF orientation, and its tokenizer.
///
/// `config.dtype` is [`DType::F32`] (group size 0) as imported; call
/// [`Imported::with_options`] to choose the stored type.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The model's hyper-parameters (already validated).
    pub config: Config,
    /// The weights, f32, `(out_features, in_features)` row-major.
    pub weights: Weights,
    /// The tokenizer found next to the weights or given explicitly.
    pub tokenizer: TokenizerSource,
}

/// How the converted model stores its matrices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvertOptions {
    /// [`DType::Q8`] (int8 with per-group f32 scales) or [`DType::F32`] (exact reference).
    pub dtype: DType,
    /// Q8 group size along the input dimension: a multiple of 4 in `4..=1024`. 32 (GGML's
    /// Q8_0) and 64 (llama2.c's runq) are the usual choices; rows whose width is not a
    /// multiple are zero-padded to whole groups. Ignored (stored as 0) for F32.
    pub group_size: usize,
}

impl Default for ConvertOptions {
    /// Q8 with groups of 64.
    fn default() -> Self {
        ConvertOptions { dtype: DType::Q8, group_size: 64 }
    }
}

impl Imported {
    /// Sets the storage type and group size on the config and checks the result, returning
    /// the model ready for [`crate::format::writer::write_model`].
    ///
    /// # Errors
    /// [`ConvertError::Options`] for a Q8 group size that is not a multiple of 4 in
    /// `4..=1024`; [`ConvertError::Model`] if the config no longer validates.
    pub fn with_options(mut self, opts: &ConvertOptions) -> Result<Self, ConvertError> {
        let gs = match opts.dtype {
            DType::F32 => 0,
            DType::Q8 => {
                let gs = opts.group_size;
                if !(4..=1024).contains(&gs) || !gs.is_multiple_of(4) {
                    return Err(ConvertError::Options(format!(
                        "group size {gs} is not allowed (a multiple of 4 from 4 to 1024; usually 32 or 64)"
                    )));
                }
                gs
            }
        };
        self.config.dtype = opts.dtype;
        self.config.group_size = gs;
        self.config.validate()?;
        Ok(self)
    }

    /// Serializes the model with [`crate::format::writer::write_model`]; `tokenizer` is the
    /// tokenizer section (empty for none).
    ///
    /// # Errors
    /// [`ConvertError::Model`] when the writer rejects the model (e.g. a NaN weight).
    pub fn write(&self, tokenizer: &[u8]) -> Result<Vec<u8>, ConvertError> {
        Ok(crate::format::writer::write_model(&self.config, &self.weights, tokenizer)?)
    }
}

// ---- dispatch ----------------------------------------------------------------------------

/// Imports `input`: a directory is a Hugging Face model ([`import_hf_dir`]), a file a llama2.c
/// checkpoint ([`import_llama2c`]). `tokenizer`, when given, replaces the tokenizer found with
/// the model (see [`read_tokenizer`]); a llama2.c checkpoint has none unless one is given.
///
/// # Errors
/// [`ConvertError::Input`] when `input` does not exist or is a file of another known format
/// (a bare `.safetensors` or `.json`, a PyTorch zip, GGUF); otherwise the importer's errors.
pub fn import(input: &Path, tokenizer: Option<&Path>, progress: bool) -> Result<Imported, ConvertError> {
    let shown = input.display().to_string();
    let meta = fs::metadata(input).map_err(|source| ConvertError::Io { path: shown.clone(), source })?;
    let input_err = |why: &str| ConvertError::Input { path: shown.clone(), why: why.into() };
    let mut m = if meta.is_dir() {
        import_hf_dir(input, progress)?
    } else if meta.is_file() {
        let ext = input.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        if ext == "safetensors" || ext == "json" {
            return Err(input_err(
                "pass the Hugging Face model directory (with config.json and the safetensors), not a single file",
            ));
        }
        if ext == "gguf" || starts_with(input, b"GGUF") {
            return Err(input_err("GGUF files are not supported (convert from safetensors or a llama2.c .bin)"));
        }
        if starts_with(input, b"PK\x03\x04") {
            return Err(input_err(
                "this is a PyTorch (zip) checkpoint, which is not supported; use safetensors or a llama2.c .bin",
            ));
        }
        import_llama2c(input, None, progress)? // the tokenizer is read below, for both kinds
    } else {
        return Err(input_err("neither a directory (Hugging Face) nor a file (llama2.c .bin)"));
    };
    if let Some(t) = tokenizer {
        m.tokenizer = read_tokenizer(t)?;
    }
    Ok(m)
}

/// Reads a tokenizer given on its own: a directory holding `tokenizer.json`, a `.json` file
/// (`tokenizer.json`; its sibling `tokenizer_config.json` is read when present), or any other
/// file as a llama2.c `tokenizer.bin`.
///
/// # Errors
/// [`ConvertError::Io`] if it cannot be read; [`ConvertError::Input`] for a directory without
/// `tokenizer.json`; [`ConvertError::Invalid`] for JSON that is not UTF-8.
pub fn read_tokenizer(path: &Path) -> Result<TokenizerSource, ConvertError> {
    let shown = path.display().to_string();
    if path.is_dir() {
        return match hf::hf_tokenizer_in(path)? {
            TokenizerSource::None => {
                Err(ConvertError::Input { path: shown, why: "no tokenizer.json in this directory".into() })
            }
            t => Ok(t),
        };
    }
    let is_json = path.extension().and_then(|e| e.to_str()).is_some_and(|e| e.eq_ignore_ascii_case("json"));
    if is_json {
        let tokenizer_json = hf::read_text(path, &shown)?;
        let sibling = path.with_file_name("tokenizer_config.json");
        let tokenizer_config_json = if sibling.is_file() && sibling != path {
            Some(hf::read_text(&sibling, &sibling.display().to_string())?)
        } else {
            None
        };
        return Ok(TokenizerSource::HfJson { tokenizer_json, tokenizer_config_json });
    }
    let bytes = fs::read(path).map_err(|source| ConvertError::Io { path: shown, source })?;
    Ok(TokenizerSource::Llama2cBin(bytes))
}

/// Whether the file at `path` starts with `magic` (false if it cannot be read).
fn starts_with(path: &Path, magic: &[u8]) -> bool {
    use std::io::Read;
    let mut buf = [0u8; 8];
    let n = magic.len().min(buf.len());
    fs::File::open(path).and_then(|mut f| f.read_exact(&mut buf[..n])).is_ok() && buf[..n] == magic[..n]
}

/// `None` (tied) when `head` is absent or holds exactly the embedding's values; the head
/// otherwise. A tied head computes the same logits and is stored once.
pub(crate) fn tie_if_equal(tok_emb: &[f32], head: Option<Vec<f32>>) -> Option<Vec<f32>> {
    head.filter(|h| h.len() != tok_emb.len() || h.iter().zip(tok_emb).any(|(a, b)| a.to_bits() != b.to_bits()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_head_is_tied_and_different_head_is_kept() {
        let e = [1.0, 2.0, 3.0];
        assert_eq!(tie_if_equal(&e, None), None);
        assert_eq!(tie_if_equal(&e, Some(e.to_vec())), None);
        assert_eq!(tie_if_equal(&e, Some(std::vec![1.0, 2.0, 3.5])), Some(std::vec![1.0, 2.0, 3.5]));
    }
}
