//! Tokenizers (placeholder until the tokenizer module lands).
use crate::error::Result;
/// A tokenizer view (placeholder).
#[derive(Debug, Clone, Copy)]
pub struct Tokenizer<'a> {
    blob: &'a [u8],
}
impl<'a> Tokenizer<'a> {
    /// Parses a tokenizer section (placeholder).
    pub fn parse(blob: &'a [u8], _vocab_size: usize) -> Result<Self> {
        Ok(Tokenizer { blob })
    }
}
