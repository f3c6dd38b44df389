//! Detokenizing: token ids -> text, streaming and allocation-free.
//!
//! A token's bytes need not be valid UTF-8 on their own: a byte-level BPE token or a
//! byte-fallback token can hold part of a character. [`StreamDecoder`] holds the bytes of an
//! incomplete character (at most 3) until the rest arrives and hands the caller only complete
//! UTF-8 text. Invalid sequences become U+FFFD, one per maximal invalid subpart, as Rust's
//! `String::from_utf8_lossy` (and so HF's ByteLevel decoder) does.

// Panic-free core: see "Panics" in the crate docs (src/lib.rs).
use crate::error::{Error, Result};

use super::format::{F_STRIP_LEADING_SPACE, TF_SPECIAL};
use super::{Tokenizer, TokenizerKind};

const REPLACEMENT: &str = "\u{FFFD}";

/// When a SentencePiece leading space is stripped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Strip {
    /// Strip the space that starts the first piece after a BOS token (llama2.c; and what HF
    /// gives for a sequence that starts with BOS). Right for streams that continue a prompt.
    AfterBos,
    /// Strip the space that starts the decoded text (HF `Strip` decoder applied to a whole
    /// sequence, as `tokenizer.decode(ids)` does).
    AtStart,
}

/// Streaming detokenizer: feed token ids one at a time, get complete UTF-8 text back.
///
/// Defaults ([`StreamDecoder::new`]): special tokens (BOS, EOS, `<unk>`, `<|endoftext|>`, ...)
/// produce no text, and for tokenizers whose decoder strips a leading space (Llama's
/// SentencePiece), the space starting the first piece after a BOS token is dropped, as llama2.c
/// and HF do. Tokens pushed without a BOS before them keep their leading space, so a decoder
/// fed only the generated tokens of a continuation prints `" there"` after `"Once upon a time"`.
///
/// Use [`StreamDecoder::keep_special`] to print special tokens as their text and
/// [`StreamDecoder::sequence`] to decode a whole sequence exactly like HF's
/// `tokenizer.decode(ids)`.
#[derive(Clone, Copy, Debug)]
pub struct StreamDecoder {
    /// Bytes of an incomplete character.
    pend: [u8; 4],
    npend: u8,
    /// Bytes the pending character needs in total.
    need: u8,
    keep_special: bool,
    strip: Strip,
    /// The next text may lose a leading space.
    armed: bool,
}

impl Default for StreamDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl StreamDecoder {
    /// A decoder that skips special tokens and strips the space after BOS (see the type docs).
    pub const fn new() -> Self {
        StreamDecoder {
            pend: [0; 4],
            npend: 0,
            need: 0,
            keep_special: false,
            strip: Strip::AfterBos,
            armed: false,
        }
    }

    /// Whether special tokens are emitted as their text (`<|endoftext|>`, `<s>`) instead of
    /// being skipped.
    pub const fn keep_special(mut self, keep: bool) -> Self {
        self.keep_special = keep;
        self
    }

    /// Decode a whole sequence from its start, as HF's `tokenizer.decode(ids,
    /// skip_special_tokens)` does: for SentencePiece tokenizers one leading space of the whole
    /// text is stripped (whether or not a BOS comes first), and a BOS later on strips nothing.
    pub const fn sequence(mut self) -> Self {
        self.strip = Strip::AtStart;
        self.armed = true;
        self
    }

    /// Feeds one token. Calls `emit` zero or more times with complete UTF-8 text.
    ///
    /// # Errors
    /// `TokenOutOfRange` if `id` is not below the model's vocabulary size, `BadTokenizer` if
    /// the model has no tokenizer. The decoder's state is unchanged on error.
    pub fn push(&mut self, tok: &Tokenizer<'_>, id: u32, emit: &mut dyn FnMut(&str)) -> Result<()> {
        let bytes = tok.token_bytes(id)?;
        let strips = tok.flags & F_STRIP_LEADING_SPACE != 0;
        let skip = !self.keep_special && tok.token_flags(id) & TF_SPECIAL != 0;
        let mut bytes = if skip { &[][..] } else { bytes };
        match self.strip {
            Strip::AtStart => {
                // HF: the first character of the whole text, whichever token brings it
                if self.armed && !bytes.is_empty() {
                    if let (true, Some(rest)) = (strips, bytes.strip_prefix(b" ")) {
                        bytes = rest;
                    }
                    self.armed = false;
                }
            }
            Strip::AfterBos => {
                // llama2.c: only the piece right after BOS
                if let (true, true, Some(rest)) = (self.armed, strips, bytes.strip_prefix(b" ")) {
                    bytes = rest;
                }
                self.armed = tok.bos_id() == Some(id);
            }
        }
        self.feed(bytes, emit);
        Ok(())
    }

    /// Flushes what is pending: an incomplete character becomes U+FFFD. The decoder is then
    /// ready for a new sequence (its settings are kept; [`sequence`](Self::sequence) mode
    /// re-arms its strip).
    pub fn finish(&mut self, emit: &mut dyn FnMut(&str)) {
        if self.npend > 0 {
            emit(REPLACEMENT);
        }
        self.npend = 0;
        self.need = 0;
        self.armed = self.strip == Strip::AtStart;
    }

    /// Bytes held back because they start an incomplete character (0..=3).
    pub fn pending(&self) -> usize {
        self.npend as usize
    }

    /// Runs `bytes` through the UTF-8 assembler.
    fn feed(&mut self, mut bytes: &[u8], emit: &mut dyn FnMut(&str)) {
        // complete the pending character first
        while self.npend > 0 {
            let Some((&b, rest)) = bytes.split_first() else { return };
            let [lead, ..] = self.pend;
            // npend < need <= 4: the slot exists
            if let (true, Some(slot)) = (continues(lead, self.npend, b), self.pend.get_mut(self.npend as usize)) {
                *slot = b;
                self.npend += 1;
                bytes = rest;
                if self.npend == self.need {
                    let n = self.npend as usize;
                    self.npend = 0;
                    match self.pend.get(..n).map(core::str::from_utf8) {
                        Some(Ok(s)) => emit(s),
                        _ => emit(REPLACEMENT), // unreachable: continues() checked it
                    }
                }
            } else {
                // the pending prefix is a maximal invalid subpart; `b` starts afresh
                self.npend = 0;
                emit(REPLACEMENT);
            }
        }
        // then whole runs of valid text
        while !bytes.is_empty() {
            match core::str::from_utf8(bytes) {
                Ok(s) => {
                    emit(s);
                    return;
                }
                Err(e) => {
                    let (valid, rest) = bytes.split_at(e.valid_up_to());
                    if !valid.is_empty() {
                        if let Ok(s) = core::str::from_utf8(valid) {
                            emit(s);
                        }
                    }
                    match e.error_len() {
                        Some(n) => {
                            emit(REPLACEMENT);
                            bytes = rest.get(n..).unwrap_or(&[]);
                        }
                        None => {
                            // an incomplete but so far valid character at the end: hold it
                            let n = rest.len().min(3);
                            for (d, &s) in self.pend.iter_mut().zip(rest).take(n) {
                                *d = s;
                            }
                            self.npend = n as u8;
                            self.need = utf8_len(rest.first().copied().unwrap_or(0));
                            return;
                        }
                    }
                }
            }
        }
    }
}

/// Length of the UTF-8 sequence a lead byte starts (0 for an invalid lead).
fn utf8_len(lead: u8) -> u8 {
    match lead {
        0x00..=0x7F => 1,
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => 0,
    }
}

/// Whether `b` may follow the `have` bytes of a character that starts with `lead`.
fn continues(lead: u8, have: u8, b: u8) -> bool {
    let (lo, hi) = match (have, lead) {
        (1, 0xE0) => (0xA0, 0xBF),
        (1, 0xED) => (0x80, 0x9F),
        (1, 0xF0) => (0x90, 0xBF),
        (1, 0xF4) => (0x80, 0x8F),
        _ => (0x80, 0xBF),
    };
    (lo..=hi).contains(&b)
}

/// Decodes a whole id sequence into `out`, exactly as HF `tokenizer.decode(ids,
/// skip_special_tokens)` does (SentencePiece: one leading space of the text stripped).
///
/// # Errors
/// `BufferTooSmall` (with the bytes needed) if the text does not fit; `TokenOutOfRange` for an
/// id not below the vocabulary size; `BadTokenizer` if the model has no tokenizer.
pub fn decode_into<'o>(
    tok: &Tokenizer<'_>,
    ids: &[u32],
    skip_special: bool,
    out: &'o mut [u8],
) -> Result<&'o str> {
    if tok.kind() == TokenizerKind::None {
        return Err(Error::BadTokenizer("the model has no tokenizer"));
    }
    let mut dec = StreamDecoder::new().keep_special(!skip_special).sequence();
    let mut len = 0usize;
    let mut fits = true;
    {
        let mut emit = |s: &str| {
            let end = len + s.len();
            if fits {
                match out.get_mut(len..end) {
                    Some(dst) => dst.copy_from_slice(s.as_bytes()),
                    None => fits = false,
                }
            }
            len = end;
        };
        for &id in ids {
            dec.push(tok, id, &mut emit)?;
        }
        dec.finish(&mut emit);
    }
    if !fits {
        return Err(Error::BufferTooSmall { what: "decode output", needed: len });
    }
    let text = out.get(..len).unwrap_or(&[]);
    core::str::from_utf8(text).map_err(|_| Error::BadTokenizer("internal error: decode"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(chunks: &[&[u8]]) -> heapless::String<64> {
        let mut d = StreamDecoder::new();
        let mut out: heapless::String<64> = heapless::String::new();
        for c in chunks {
            d.feed(c, &mut |s| out.push_str(s).unwrap());
        }
        d.finish(&mut |s| out.push_str(s).unwrap());
        out
    }

    #[test]
    fn holds_split_characters() {
        let zh = "中".as_bytes();
        assert_eq!(run(&[&zh[..1], &zh[1..2], &zh[2..]]), "中");
        let e = "😀".as_bytes();
        assert_eq!(run(&[b"a", &e[..3], &e[3..], b"b"]), "a😀b");
        assert_eq!(run(&[&e[..1], &e[1..]]), "😀");
    }

    #[test]
    fn invalid_bytes_become_replacement_like_from_utf8_lossy() {
        // every split of a few invalid sequences gives what from_utf8_lossy gives
        let cases: [&[u8]; 6] = [
            b"\xff",
            b"a\xe4\xb8",
            b"\xe4\xb8a",
            b"\xf0\x80\x80",
            b"\xed\xa0\x80x",
            b"\xe0\x9f\xbf\xc3",
        ];
        let want = [
            "\u{FFFD}",
            "a\u{FFFD}",
            "\u{FFFD}a",
            "\u{FFFD}\u{FFFD}\u{FFFD}",
            "\u{FFFD}\u{FFFD}\u{FFFD}x",
            "\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}",
        ];
        for (c, w) in cases.iter().zip(want) {
            for cut in 0..=c.len() {
                assert_eq!(run(&[&c[..cut], &c[cut..]]), w, "{c:?} cut at {cut}");
            }
        }
    }

    #[test]
    fn emits_as_soon_as_complete() {
        let mut d = StreamDecoder::new();
        let mut n = 0;
        d.feed(&"é".as_bytes()[..1], &mut |_| n += 1);
        assert_eq!((n, d.pending()), (0, 1));
        d.feed(&"é".as_bytes()[1..], &mut |s| {
            assert_eq!(s, "é");
            n += 1
        });
        assert_eq!((n, d.pending()), (1, 0));
    }
}
