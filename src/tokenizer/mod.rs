//! Tokenizers: prompt text -> token ids -> text, over the model file's tokenizer section.
//!
//! This module owns the tokenizer section (a byte blob inside the `.tgpt` file, specified in
//! `docs/TOKENIZER.md`): [`Tokenizer::parse`] validates it once and returns a `Copy`,
//! zero-copy view; [`Tokenizer::encode`] and [`StreamDecoder`] then run with no allocation and
//! no building at load time — every index encoding needs (token texts, the byte and character
//! tables, the merge table keyed by left token) was precomputed by the std builders in
//! `build.rs` (`from_tokenizer_json`, `from_llama2c_bin`, `from_gpt2_files`).
//!
//! Two families are supported, both exactly compatible with their references:
//! * byte-level BPE (GPT-2; HF `tokenizers` ByteLevel): GPT-2's pre-tokenizer regex, by hand
//!   (`pretok.rs`), bytes mapped to their initial symbols, then merges by rank;
//! * SentencePiece-style BPE (Llama-2's `tokenizer.json`, llama2.c's `tokenizer.bin`): a
//!   space marker prepended, spaces turned into `▁`, characters looked up, unknown characters
//!   split into byte-fallback tokens, then merges by rank (llama2.c's scores are turned into
//!   ranks by the builder).
//!
//! Added tokens (`<|endoftext|>`, `<s>`, ...) found in the text are split out first and become
//! one token each, as HF's `added_tokens` handling does.
//!
//! This module must not allocate, panic on any input, or depend on anything but `core`.

// Panic-free core: see "Panics" in the crate docs (src/lib.rs).
mod bpe;
#[cfg(feature = "std")]
pub mod build;
mod decode;
pub mod format;
mod pretok;
mod unicode_tables;

pub use decode::{decode_into, StreamDecoder};
/// The Unicode version of the character classes the GPT-2 pre-tokenizer uses.
pub use unicode_tables::UNICODE_VERSION;

use crate::error::{Error, Result};
use bpe::{Merges, Sink};
use format::*;

/// Which algorithm a tokenizer section describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenizerKind {
    /// No tokenizer (an empty section): encoding and decoding return an error.
    None,
    /// GPT-2 style byte-level BPE.
    ByteLevelBpe,
    /// SentencePiece-style BPE with byte fallback (Llama-2, llama2.c).
    SentencePieceBpe,
}

/// A validated, zero-copy view of a tokenizer section.
#[derive(Clone, Copy)]
pub struct Tokenizer<'a> {
    kind: TokenizerKind,
    pub(crate) flags: u32,
    /// The model's vocabulary size: every id below it is valid.
    vocab_size: usize,
    /// Ids below this have an entry in the section (`n_tokens <= vocab_size`).
    n_tokens: usize,
    bos: u32,
    eos: u32,
    unk: u32,
    max_token_bytes: usize,
    tok_off: &'a [u8],   // (n_tokens + 1) x u32
    tok_flags: &'a [u8], // n_tokens x u8
    pool: &'a [u8],      // pool_len bytes
    byte_ids: &'a [u8],  // 256 x u32
    chars: &'a [u8],     // n_chars x (cp u32, id u32)
    merge_off: &'a [u8], // (n_tokens + 1) x u32
    merges: &'a [u8],    // n_merges x (right u32, rank u32, result u32)
    added: &'a [u8],     // n_added x u32
    /// Bitmap of the first bytes of added tokens (computed by `parse`).
    added_first: [u8; 32],
}

impl core::fmt::Debug for Tokenizer<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("kind", &self.kind)
            .field("vocab_size", &self.vocab_size)
            .field("token_count", &self.n_tokens)
            .field("bos", &self.bos_id())
            .field("eos", &self.eos_id())
            .field("add_bos", &self.add_bos())
            .field("merges", &(self.merges.len() / MERGE_ENTRY))
            .field("flags", &format_args!("{:#x}", self.flags))
            .finish()
    }
}

fn bad(why: &'static str) -> Error {
    Error::BadTokenizer(why)
}

// ---- parsing ------------------------------------------------------------------------------

impl<'a> Tokenizer<'a> {
    /// Validates a tokenizer section and returns a view of it. An empty `blob` gives a
    /// tokenizer of kind [`TokenizerKind::None`].
    ///
    /// Everything is checked here, once, with checked arithmetic: sizes, every offset and id,
    /// table order. Later calls cannot read out of bounds.
    ///
    /// # Errors
    /// `BadTokenizer` naming the first problem found. Never panics, whatever the bytes.
    pub fn parse(blob: &'a [u8], vocab_size: usize) -> Result<Self> {
        let mut t = Tokenizer {
            kind: TokenizerKind::None,
            flags: 0,
            vocab_size,
            n_tokens: 0,
            bos: NONE,
            eos: NONE,
            unk: NONE,
            max_token_bytes: 0,
            tok_off: &[],
            tok_flags: &[],
            pool: &[],
            byte_ids: &[],
            chars: &[],
            merge_off: &[],
            merges: &[],
            added: &[],
            added_first: [0; 32],
        };
        if blob.is_empty() {
            return Ok(t);
        }
        if vocab_size > MAX_TOKENS {
            return Err(bad("vocabulary size above 2^30"));
        }
        if blob.len() < HEADER_LEN {
            return Err(bad("shorter than its 64-byte header"));
        }
        if blob.get(..4) != Some(&MAGIC[..]) {
            return Err(bad("bad magic (expected \"TTOK\")"));
        }
        let h = |off: usize| u32_at(blob, off).unwrap_or(0);
        if h(H_VERSION) != VERSION {
            return Err(bad("unsupported version"));
        }
        t.kind = match h(H_KIND) {
            KIND_BYTE_LEVEL => TokenizerKind::ByteLevelBpe,
            KIND_SENTENCEPIECE => TokenizerKind::SentencePieceBpe,
            _ => return Err(bad("unknown kind")),
        };
        t.flags = h(H_FLAGS);
        if t.flags & !F_ALL != 0 {
            return Err(bad("unknown flags"));
        }
        if blob.get(H_RESERVED..HEADER_LEN).is_none_or(|r| r.iter().any(|&b| b != 0)) {
            return Err(bad("reserved header bytes are not zero"));
        }
        let n_tokens = h(H_N_TOKENS) as usize;
        if n_tokens > vocab_size {
            return Err(bad("more tokens than the model's vocabulary"));
        }
        t.n_tokens = n_tokens;
        let id_ok = |id: u32| id == NONE || (id as usize) < n_tokens;
        t.bos = h(H_BOS);
        t.eos = h(H_EOS);
        t.unk = h(H_UNK);
        if !id_ok(t.bos) || !id_ok(t.eos) || !id_ok(t.unk) {
            return Err(bad("BOS, EOS or unknown id out of range"));
        }
        if t.flags & F_ADD_BOS != 0 && t.bos == NONE {
            return Err(bad("add_bos set without a BOS token"));
        }
        t.max_token_bytes = h(H_MAX_TOKEN_BYTES) as usize;
        let n_merges = h(H_N_MERGES) as usize;
        let n_chars = h(H_N_CHARS) as usize;
        let n_added = h(H_N_ADDED) as usize;
        let pool_len = h(H_POOL_LEN) as usize;
        let l = Layout::new(n_tokens, pool_len, n_chars, n_merges, n_added)
            .ok_or(bad("section sizes overflow"))?;
        if l.end != blob.len() {
            return Err(bad("length does not match its header"));
        }
        let sect = |a: usize, len: usize| blob.get(a..a + len).ok_or(bad("truncated"));
        t.tok_off = sect(l.tok_off, (n_tokens + 1) * 4)?;
        t.tok_flags = sect(l.tok_flags, n_tokens)?;
        t.pool = sect(l.pool, pool_len)?;
        t.byte_ids = sect(l.byte_ids, 256 * 4)?;
        t.chars = sect(l.chars, n_chars * CHAR_ENTRY)?;
        t.merge_off = sect(l.merge_off, (n_tokens + 1) * 4)?;
        t.merges = sect(l.merges, n_merges * MERGE_ENTRY)?;
        t.added = sect(l.added, n_added * 4)?;
        // padding must be zero (keeps the encoding canonical)
        let pads = [
            (l.tok_flags + n_tokens, l.pool),
            (l.pool + pool_len, l.byte_ids),
        ];
        for (a, b) in pads {
            if blob.get(a..b).is_none_or(|p| p.iter().any(|&x| x != 0)) {
                return Err(bad("padding bytes are not zero"));
            }
        }
        t.check_tokens(pool_len)?;
        t.check_tables(n_merges)?;
        Ok(t)
    }

    fn check_tokens(&self, pool_len: usize) -> Result<()> {
        let mut prev = 0usize;
        let mut longest = 0usize;
        for i in 0..=self.n_tokens {
            let off = u32_idx(self.tok_off, i).ok_or(bad("truncated"))? as usize;
            if (i == 0 && off != 0) || off < prev || off > pool_len {
                return Err(bad("token text offsets out of order or out of range"));
            }
            longest = longest.max(off - prev);
            prev = off;
        }
        if prev != pool_len {
            return Err(bad("token texts do not fill the pool"));
        }
        if longest != self.max_token_bytes {
            return Err(bad("max_token_bytes is wrong"));
        }
        if self.tok_flags.iter().any(|&f| f & !TF_ALL != 0) {
            return Err(bad("unknown token flags"));
        }
        Ok(())
    }

    fn check_tables(&mut self, n_merges: usize) -> Result<()> {
        let n = self.n_tokens as u32;
        // byte table
        let need_all = self.kind == TokenizerKind::ByteLevelBpe || self.flags & F_BYTE_FALLBACK != 0;
        for b in 0..256 {
            let id = u32_idx(self.byte_ids, b).ok_or(bad("truncated"))?;
            if (id == NONE && need_all) || (id != NONE && id >= n) {
                return Err(bad("byte table entry missing or out of range"));
            }
        }
        // characters: strictly increasing code points, ids in range
        let mut prev: Option<u32> = None;
        for i in 0..self.chars.len() / CHAR_ENTRY {
            let cp = u32_at(self.chars, i * CHAR_ENTRY).ok_or(bad("truncated"))?;
            let id = u32_at(self.chars, i * CHAR_ENTRY + 4).ok_or(bad("truncated"))?;
            if char::from_u32(cp).is_none() || prev.is_some_and(|p| p >= cp) || id >= n {
                return Err(bad("character table unsorted or out of range"));
            }
            prev = Some(cp);
        }
        // merges: offsets monotone and ending at n_merges; right ids strictly increasing per left
        let mut start = 0usize;
        for left in 0..self.n_tokens {
            let a = u32_idx(self.merge_off, left).ok_or(bad("truncated"))? as usize;
            let b = u32_idx(self.merge_off, left + 1).ok_or(bad("truncated"))? as usize;
            if (left == 0 && a != 0) || a != start || b < a || b > n_merges {
                return Err(bad("merge offsets out of order or out of range"));
            }
            let mut prev_right: Option<u32> = None;
            for e in a..b {
                let (right, rank, result) = self.merge_entry(e);
                if right >= n || result >= n || rank == NONE || prev_right.is_some_and(|p| p >= right) {
                    return Err(bad("merge table unsorted or out of range"));
                }
                prev_right = Some(right);
            }
            start = b;
        }
        if self.n_tokens == 0 && u32_idx(self.merge_off, 0) != Some(0) {
            return Err(bad("merge offsets out of order or out of range"));
        }
        if start != n_merges {
            return Err(bad("merge offsets do not cover the merge table"));
        }
        // added tokens: ids in range, non-empty texts, strictly sorted by text
        let mut prev_text: Option<&[u8]> = None;
        for i in 0..self.added.len() / 4 {
            let id = u32_idx(self.added, i).ok_or(bad("truncated"))?;
            if id >= n {
                return Err(bad("added token id out of range"));
            }
            let text = self.text(id);
            let Some(&first) = text.first() else {
                return Err(bad("added token with empty text"));
            };
            // UTF-8, so matches in a `&str` fall on character boundaries
            if core::str::from_utf8(text).is_err() {
                return Err(bad("added token text is not UTF-8"));
            }
            if prev_text.is_some_and(|p| p >= text) {
                return Err(bad("added tokens not sorted by text"));
            }
            prev_text = Some(text);
            if let Some(bits) = self.added_first.get_mut(first as usize / 8) {
                *bits |= 1 << (first % 8); // always: 256 / 8 = 32 entries
            }
        }
        Ok(())
    }
}

// ---- lookups ------------------------------------------------------------------------------

impl<'a> Tokenizer<'a> {
    /// The section's kind.
    pub fn kind(&self) -> TokenizerKind {
        self.kind
    }

    /// The model's vocabulary size (ids below it are valid; ids the tokenizer does not define
    /// decode to nothing).
    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    /// How many ids the tokenizer itself defines (at most [`vocab_size`](Self::vocab_size)).
    pub fn token_count(&self) -> usize {
        self.n_tokens
    }

    /// The beginning-of-sequence token, if any.
    pub fn bos_id(&self) -> Option<u32> {
        (self.bos != NONE).then_some(self.bos)
    }

    /// The end-of-sequence token, if any (GPT-2: `<|endoftext|>`, which is also its BOS).
    pub fn eos_id(&self) -> Option<u32> {
        (self.eos != NONE).then_some(self.eos)
    }

    /// The unknown token, if any.
    pub fn unk_id(&self) -> Option<u32> {
        (self.unk != NONE).then_some(self.unk)
    }

    /// Whether [`encode`](Self::encode) prepends BOS, as the source tokenizer does.
    pub fn add_bos(&self) -> bool {
        self.flags & F_ADD_BOS != 0
    }

    /// The longest token text in bytes.
    pub fn max_token_bytes(&self) -> usize {
        self.max_token_bytes
    }

    /// Whether `id` is a special token (skipped by decoders that skip special tokens).
    pub fn is_special(&self, id: u32) -> bool {
        self.token_flags(id) & format::TF_SPECIAL != 0
    }

    /// The id of the added/special token whose text is exactly `text` (`"<|endoftext|>"`,
    /// `"</s>"`), if there is one.
    pub fn special_id(&self, text: &str) -> Option<u32> {
        let text = text.as_bytes();
        let (mut lo, mut hi) = (0, self.added.len() / 4);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let id = u32_idx(self.added, mid)?;
            match self.text(id).cmp(text) {
                core::cmp::Ordering::Less => lo = mid + 1,
                core::cmp::Ordering::Greater => hi = mid,
                core::cmp::Ordering::Equal => return Some(id),
            }
        }
        None
    }

    /// The raw bytes token `id` decodes to: the byte-level mapping undone, `▁` turned into a
    /// space, `<0xNN>` turned into that byte. Special tokens give their text (`<s>`,
    /// `<|endoftext|>`; llama2.c's BOS/EOS give `<s>`/`</s>`): decoders skip them unless asked
    /// not to. Ids below the vocabulary size that the tokenizer does not define give `&[]`.
    /// The bytes need not be valid UTF-8 on their own.
    ///
    /// # Errors
    /// `TokenOutOfRange` if `id >= vocab_size`; `BadTokenizer` if there is no tokenizer.
    pub fn token_bytes(&self, id: u32) -> Result<&'a [u8]> {
        if self.kind == TokenizerKind::None {
            return Err(bad("the model has no tokenizer"));
        }
        if id as usize >= self.vocab_size {
            return Err(Error::TokenOutOfRange { id, vocab: self.vocab_size });
        }
        Ok(self.text(id))
    }

    /// Token text without the range check (ids past `n_tokens` give `&[]`).
    fn text(&self, id: u32) -> &'a [u8] {
        let i = id as usize;
        match (u32_idx(self.tok_off, i), u32_idx(self.tok_off, i + 1)) {
            (Some(a), Some(b)) => self.pool.get(a as usize..b as usize).unwrap_or(&[]),
            _ => &[],
        }
    }

    pub(crate) fn token_flags(&self, id: u32) -> u8 {
        self.tok_flags.get(id as usize).copied().unwrap_or(0)
    }

    fn byte_id(&self, b: u8) -> u32 {
        u32_idx(self.byte_ids, b as usize).unwrap_or(NONE)
    }

    /// The token of a single character, if the vocabulary has one.
    fn char_id(&self, c: char) -> Option<u32> {
        let cp = c as u32;
        let (mut lo, mut hi) = (0, self.chars.len() / CHAR_ENTRY);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let v = u32_at(self.chars, mid * CHAR_ENTRY)?;
            if v < cp {
                lo = mid + 1;
            } else if v > cp {
                hi = mid;
            } else {
                return u32_at(self.chars, mid * CHAR_ENTRY + 4);
            }
        }
        None
    }

    fn merge_entry(&self, e: usize) -> (u32, u32, u32) {
        let at = e * MERGE_ENTRY;
        (
            u32_at(self.merges, at).unwrap_or(NONE),
            u32_at(self.merges, at + 4).unwrap_or(NONE),
            u32_at(self.merges, at + 8).unwrap_or(NONE),
        )
    }

    /// The longest added token starting at byte `i` of `text`: (its length, its id).
    fn match_added(&self, text: &[u8], i: usize) -> Option<(usize, u32)> {
        let first = *text.get(i)?;
        // always in range (256 / 8 = 32 entries): `get` compiles to no check
        if self.added_first.get(first as usize / 8).is_none_or(|&bits| bits & (1 << (first % 8)) == 0) {
            return None;
        }
        let rest = text.get(i..)?;
        let n = self.added.len() / 4;
        // entries are sorted by text: those starting with `first` are contiguous
        let (mut lo, mut hi) = (0, n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let t = self.text(u32_idx(self.added, mid)?);
            if t.first().is_some_and(|&b| b < first) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let mut best: Option<(usize, u32)> = None;
        for k in lo..n {
            let id = u32_idx(self.added, k)?;
            let t = self.text(id);
            if t.first() != Some(&first) {
                break;
            }
            if rest.starts_with(t) && best.is_none_or(|(len, _)| t.len() > len) {
                best = Some((t.len(), id));
            }
        }
        best
    }
}

impl Merges for Tokenizer<'_> {
    fn pair(&self, left: u32, right: u32) -> Option<(u32, u32)> {
        let a = u32_idx(self.merge_off, left as usize)? as usize;
        let b = u32_idx(self.merge_off, left as usize + 1)? as usize;
        let (mut lo, mut hi) = (a, b);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let (r, rank, result) = self.merge_entry(mid);
            if r < right {
                lo = mid + 1;
            } else if r > right {
                hi = mid;
            } else {
                return Some((rank, result));
            }
        }
        None
    }
}

// ---- encoding -----------------------------------------------------------------------------

impl<'a> Tokenizer<'a> {
    /// Encodes a prompt: BOS first if [`add_bos`](Self::add_bos), then the text's tokens.
    /// Returns how many ids were written to `out`.
    ///
    /// Memory: no heap. `out` is also the merge scratch. A word (a GPT-2 pre-token; a run of
    /// SentencePiece text up to the next space) of `n` symbols (bytes, or characters and
    /// fallback bytes) is merged right after the tokens written so far: fast when `2n + n/32`
    /// slots are free there, else in a 1 KiB stack buffer (fast up to 126 symbols, quadratic up
    /// to 256), else in place in `out` by the quadratic method. So any prompt works when `out`
    /// has room for its tokens plus its longest word's symbols; a 5,000-character prompt with
    /// 20,000 slots always does. The result never depends on which path ran. On error the
    /// contents of `out` are unspecified.
    ///
    /// # Errors
    /// * `PromptTooLong { tokens, max }` if the ids do not fit in `out`: `tokens` is the exact
    ///   count, or a lower bound if a word too long for the then-full buffer stopped counting.
    ///   Nothing is truncated silently.
    /// * `BufferTooSmall { needed, .. }` if a word longer than 256 symbols does not fit after
    ///   the tokens so far (its result might have).
    /// * `BadTokenizer` if the model has no tokenizer.
    pub fn encode(&self, text: &str, out: &mut [u32]) -> Result<usize> {
        self.encode_with(text, self.add_bos(), out)
    }

    /// [`encode`](Self::encode), choosing whether BOS is prepended.
    ///
    /// # Errors
    /// As [`encode`](Self::encode); also `BadTokenizer` if `add_bos` and there is no BOS.
    pub fn encode_with(&self, text: &str, add_bos: bool, out: &mut [u32]) -> Result<usize> {
        if self.kind == TokenizerKind::None {
            return Err(bad("the model has no tokenizer"));
        }
        let mut sink = Sink::new(out);
        if add_bos {
            sink.emit(self.bos_id().ok_or(bad("no BOS token to add"))?);
        }
        let bytes = text.as_bytes();
        let mut seg = 0;
        if self.flags & F_MATCH_ADDED != 0 && !self.added.is_empty() {
            let mut i = 0;
            while i < bytes.len() {
                match self.match_added(bytes, i) {
                    Some((len, id)) => {
                        // an added token's text is valid UTF-8, so `i` is a char boundary
                        let before = text.get(seg..i).ok_or(bad("internal error: boundary"))?;
                        self.encode_segment(before, seg == 0, &mut sink)?;
                        sink.emit(id);
                        i += len;
                        seg = i;
                    }
                    None => i += 1,
                }
            }
        }
        let rest = text.get(seg..).ok_or(bad("internal error: boundary"))?;
        self.encode_segment(rest, seg == 0, &mut sink)?;
        sink.finish()
    }

    /// Encodes text that holds no added token. `at_start`: the segment starts the text.
    fn encode_segment(&self, seg: &str, at_start: bool, sink: &mut Sink<'_>) -> Result<()> {
        if seg.is_empty() {
            return Ok(());
        }
        match self.kind {
            TokenizerKind::ByteLevelBpe => {
                for (a, b) in pretok::Gpt2Split::new(seg) {
                    for &x in seg.as_bytes().get(a..b).unwrap_or(&[]) {
                        sink.push(self.byte_id(x))?;
                    }
                    sink.flush(self)?;
                }
                Ok(())
            }
            TokenizerKind::SentencePieceBpe => self.encode_sp(seg, at_start, sink),
            TokenizerKind::None => Err(bad("the model has no tokenizer")),
        }
    }

    fn encode_sp(&self, seg: &str, at_start: bool, sink: &mut Sink<'_>) -> Result<()> {
        let f = self.flags;
        let to_meta = f & F_SPACE_TO_META != 0;
        let marker = if to_meta { '\u{2581}' } else { ' ' };
        let starts_with_marker = seg.starts_with(marker) || (to_meta && seg.starts_with(' '));
        let prepend = f & F_PREPEND != 0
            && (f & F_PREPEND_FIRST_ONLY == 0 || at_start)
            && (f & F_PREPEND_UNLESS_MARKER == 0 || !starts_with_marker);
        let split_all = f & F_SPLIT_AT_MARKER != 0;
        let split_runs = f & F_WORDS_AT_MARKER_RUN != 0;
        let inert = f & F_BYTES_INERT != 0;
        let fallback = f & F_BYTE_FALLBACK != 0;
        let fuse_unk = f & F_FUSE_UNK != 0;

        let units = prepend
            .then_some(marker)
            .into_iter()
            .chain(seg.chars().map(|c| if to_meta && c == ' ' { marker } else { c }));
        let mut prev_marker = false;
        let mut unk_run = false;
        for u in units {
            let is_marker = u == marker;
            if is_marker && (split_all || (split_runs && !prev_marker)) {
                sink.flush(self)?;
            }
            prev_marker = is_marker;
            if let Some(id) = self.char_id(u) {
                unk_run = false;
                sink.push(id)?;
            } else if fallback {
                unk_run = false;
                let mut buf = [0u8; 4];
                let s = u.encode_utf8(&mut buf);
                if inert {
                    sink.flush(self)?;
                }
                for &b in s.as_bytes() {
                    let id = self.byte_id(b);
                    if inert {
                        sink.emit(id);
                    } else {
                        sink.push(id)?;
                    }
                }
            } else if self.unk != NONE {
                if fuse_unk && unk_run {
                    continue;
                }
                unk_run = true;
                if inert {
                    sink.flush(self)?;
                    sink.emit(self.unk);
                } else {
                    sink.push(self.unk)?;
                }
            }
            // else: the character is dropped, as HF's BPE does without an unknown token
        }
        sink.flush(self)
    }
}

#[cfg(test)]
mod tests;
