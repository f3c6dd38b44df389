//! The tokenizer section's byte layout: constants and little-endian readers shared by the
//! reader ([`super::Tokenizer::parse`]) and the writer (`build.rs`), so the two cannot drift.
//! `docs/TOKENIZER.md` is the specification; this file must say the same.
//!
//! ```text
//! header (64 bytes)
//!   0  magic "TTOK"            4  version u32 (1)        8  kind u32 (1 byte-level, 2 sentencepiece)
//!   12 flags u32               16 n_tokens u32           20 bos_id u32 (NONE = u32::MAX)
//!   24 eos_id u32              28 unk_id u32             32 max_token_bytes u32
//!   36 n_merges u32            40 n_chars u32            44 n_added u32
//!   48 pool_len u32            52 reserved, 12 zero bytes
//! sections, in this order, each padded with zero bytes to a multiple of 4:
//!   tok_off    (n_tokens + 1) x u32      token i's text is pool[tok_off[i]..tok_off[i+1]]
//!   tok_flags  n_tokens x u8             TF_SPECIAL | TF_BYTE
//!   pool       pool_len bytes            token texts (raw bytes they decode to)
//!   byte_ids   256 x u32                 byte b -> its initial symbol (byte-level) or
//!                                        byte-fallback token (sentencepiece); NONE if absent
//!   chars      n_chars x (cp u32, id u32)          sorted by cp, strictly
//!   merge_off  (n_tokens + 1) x u32      merges with left id a are merges[merge_off[a]..merge_off[a+1]]
//!   merges     n_merges x (right u32, rank u32, result u32)   sorted by right within each left
//!   added      n_added x u32             ids of added tokens, sorted by text bytes, strictly
//! ```

// Panic-free core: see "Panics" in the crate docs (src/lib.rs).
/// First four bytes of a tokenizer section.
pub const MAGIC: [u8; 4] = *b"TTOK";
/// The format version this code reads and writes.
pub const VERSION: u32 = 1;
/// Header size in bytes.
pub const HEADER_LEN: usize = 64;
/// "No such token" in id fields and tables.
pub const NONE: u32 = u32::MAX;
/// Largest token count (and model vocabulary) the format allows: ids must leave the top two
/// bits free (the merge engine tags scratch words with them).
pub const MAX_TOKENS: usize = 1 << 30;

/// `kind`: GPT-2 style byte-level BPE.
pub const KIND_BYTE_LEVEL: u32 = 1;
/// `kind`: SentencePiece-style BPE (HF Llama tokenizer.json, llama2.c tokenizer.bin).
pub const KIND_SENTENCEPIECE: u32 = 2;

// ---- header field offsets -----------------------------------------------------------------
pub(crate) const H_VERSION: usize = 4;
pub(crate) const H_KIND: usize = 8;
pub(crate) const H_FLAGS: usize = 12;
pub(crate) const H_N_TOKENS: usize = 16;
pub(crate) const H_BOS: usize = 20;
pub(crate) const H_EOS: usize = 24;
pub(crate) const H_UNK: usize = 28;
pub(crate) const H_MAX_TOKEN_BYTES: usize = 32;
pub(crate) const H_N_MERGES: usize = 36;
pub(crate) const H_N_CHARS: usize = 40;
pub(crate) const H_N_ADDED: usize = 44;
pub(crate) const H_POOL_LEN: usize = 48;
pub(crate) const H_RESERVED: usize = 52;

// ---- flags ------------------------------------------------------------------------------------
/// Prepend BOS when encoding a prompt.
pub const F_ADD_BOS: u32 = 1 << 0;
/// Split added tokens (the `added` table) out of the text before anything else.
pub const F_MATCH_ADDED: u32 = 1 << 1;
/// SentencePiece: put one space marker before each text segment (dummy prefix).
pub const F_PREPEND: u32 = 1 << 2;
/// SentencePiece: ... but only before a segment that starts the text (Metaspace "first").
pub const F_PREPEND_FIRST_ONLY: u32 = 1 << 3;
/// SentencePiece: the space marker is U+2581 `▁`; spaces in the text become it. Without this
/// flag the marker is the plain space (llama2.c vocabularies store spaces).
pub const F_SPACE_TO_META: u32 = 1 << 4;
/// SentencePiece: a word starts at every space marker (Metaspace `split: true`).
pub const F_SPLIT_AT_MARKER: u32 = 1 << 5;
/// SentencePiece, speed only: no token has a marker right after a non-marker character, so
/// merges never cross the start of a marker run and words may be cut there.
pub const F_WORDS_AT_MARKER_RUN: u32 = 1 << 6;
/// SentencePiece, speed only: no merge has a byte-fallback token or the unknown token as an
/// operand, so those symbols are emitted as they are.
pub const F_BYTES_INERT: u32 = 1 << 7;
/// Decoding: strip one leading space (HF `Strip` decoder, llama2.c after BOS).
pub const F_STRIP_LEADING_SPACE: u32 = 1 << 8;
/// SentencePiece: consecutive unknown characters become one unknown token.
pub const F_FUSE_UNK: u32 = 1 << 9;
/// SentencePiece: characters not in `chars` become byte-fallback tokens (`byte_ids`).
pub const F_BYTE_FALLBACK: u32 = 1 << 10;
/// SentencePiece: prepend the marker only to a segment that does not already start with one
/// (after spaces became markers): HF's Metaspace pre-tokenizer; the Prepend normalizer always
/// prepends.
pub const F_PREPEND_UNLESS_MARKER: u32 = 1 << 11;
/// All flags this version defines.
pub const F_ALL: u32 = (1 << 12) - 1;

// ---- token flags --------------------------------------------------------------------------
/// A special token (HF `special: true`; llama2.c's 0, 1, 2): skipped by decoders that skip them.
pub const TF_SPECIAL: u8 = 1 << 0;
/// A byte-fallback token: its text is the one raw byte it stands for.
pub const TF_BYTE: u8 = 1 << 1;
/// All token flags this version defines.
pub const TF_ALL: u8 = TF_SPECIAL | TF_BYTE;

/// Bytes of one `chars` entry.
pub const CHAR_ENTRY: usize = 8;
/// Bytes of one `merges` entry.
pub const MERGE_ENTRY: usize = 12;

/// Rounds `n` up to a multiple of 4 (None on overflow).
pub(crate) const fn pad4(n: usize) -> Option<usize> {
    match n.checked_add(3) {
        Some(v) => Some(v & !3),
        None => None,
    }
}

/// Byte offsets of every section, computed from the header counts with checked arithmetic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    pub tok_off: usize,
    pub tok_flags: usize,
    pub pool: usize,
    pub byte_ids: usize,
    pub chars: usize,
    pub merge_off: usize,
    pub merges: usize,
    pub added: usize,
    pub end: usize,
}

impl Layout {
    /// The layout for the given counts, or None if a size overflows `usize`.
    pub(crate) fn new(
        n_tokens: usize,
        pool_len: usize,
        n_chars: usize,
        n_merges: usize,
        n_added: usize,
    ) -> Option<Layout> {
        let table = n_tokens.checked_add(1)?.checked_mul(4)?;
        let tok_off = HEADER_LEN;
        let tok_flags = tok_off.checked_add(table)?;
        let pool = tok_flags.checked_add(pad4(n_tokens)?)?;
        let byte_ids = pool.checked_add(pad4(pool_len)?)?;
        let chars = byte_ids.checked_add(256 * 4)?;
        let merge_off = chars.checked_add(n_chars.checked_mul(CHAR_ENTRY)?)?;
        let merges = merge_off.checked_add(table)?;
        let added = merges.checked_add(n_merges.checked_mul(MERGE_ENTRY)?)?;
        let end = added.checked_add(n_added.checked_mul(4)?)?;
        Some(Layout { tok_off, tok_flags, pool, byte_ids, chars, merge_off, merges, added, end })
    }
}

/// Reads the little-endian u32 at byte offset `off`; None past the end.
#[inline]
pub(crate) fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off.checked_add(4)?)?;
    let a: [u8; 4] = s.try_into().ok()?;
    Some(u32::from_le_bytes(a))
}

/// Reads element `i` of a little-endian u32 array; None past the end.
#[inline]
pub(crate) fn u32_idx(b: &[u8], i: usize) -> Option<u32> {
    u32_at(b, i.checked_mul(4)?)
}
