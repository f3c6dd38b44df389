//! The BPE merge engine and the token sink, both allocation-free.
//!
//! [`merge`] merges one word's symbols in place, by rank: it repeatedly merges the adjacent
//! pair with the lowest rank, the leftmost one on ties — exactly what HF `tokenizers`'
//! `Word::merge_all` does with its priority queue (rank, then position), and what llama2.c
//! does with scores once they are turned into ranks. It needs [`scratch_len`]`(n)` u32 words:
//!
//! ```text
//! a   (n)          symbol ids; a span [p, e) of original symbols merged into one token keeps
//!                  its id in a[p]; every other slot of the span is tagged (TAG set), with
//!                  a[p+1] = TAG|e (forward link) and a[e-1] = TAG|e, r[e-1] = p (back link)
//! r   (n)          at a span start: rank of the pair (this span, next span), or NONE
//! blk (n/BLOCK)    per block of BLOCK slots: the slot of its best pair (lowest rank, then
//!                  leftmost), or NONE
//! ```
//!
//! Each merge costs O(n / BLOCK + BLOCK) plus three merge-table lookups, so a 15,000-symbol
//! word (a long prompt for a SentencePiece vocabulary, which has no pre-tokenizer) stays fast.
//!
//! [`Sink`] collects the tokens of an `encode` call in the caller's `out` slice and uses the
//! free tail of that slice as merge scratch, falling back to a small stack buffer; when
//! neither is big enough it returns an error, never a different tokenization.

// Panic-free core: see "Panics" in the crate docs (src/lib.rs).
use crate::error::{Error, Result};

use super::format::NONE;

/// Slots per block of the block-minimum index.
pub(crate) const BLOCK: usize = 32;
/// Tag bit of scratch slots that are not a span start (ids and positions stay below 2^30).
const TAG: u32 = 1 << 31;

/// The merge table: rank and resulting token of merging `left` and `right`, if they merge.
pub(crate) trait Merges {
    fn pair(&self, left: u32, right: u32) -> Option<(u32, u32)>;
}

/// Scratch words [`merge`] needs for `n` symbols.
pub(crate) const fn scratch_len(n: usize) -> usize {
    2 * n + n.div_ceil(BLOCK)
}

/// Merges the `n` symbols in `buf[..n]` in place; returns how many tokens are left, in
/// `buf[..k]`. None if `buf` is shorter than [`scratch_len`]`(n)` or `n` is too large.
///
/// Symbol ids must be below 2^30 (the tag bit clear), which `Tokenizer::parse` guarantees for
/// every id a tokenizer hands out.
#[allow(
    clippy::indexing_slicing,
    reason = "bounded by construction: every index is a span start or end inside a[..n] and r[..n] (both of length n) or a block number below nb = blk.len(); the links are written only by this engine and symbol ids never carry the tag bit (Tokenizer::parse keeps ids below 2^30). The checked form costs ~8% of encode time (callgrind)"
)]
pub(crate) fn merge<M: Merges + ?Sized>(m: &M, buf: &mut [u32], n: usize) -> Option<usize> {
    if n >= (1 << 30) {
        return None;
    }
    if n < 2 {
        return Some(n);
    }
    let nb = n.div_ceil(BLOCK);
    let (a, rest) = buf.split_at_mut_checked(n)?;
    let (r, rest) = rest.split_at_mut_checked(n)?;
    let blk = rest.get_mut(..nb)?;

    let rank = |m: &M, x: u32, y: u32| m.pair(x, y).map_or(NONE, |(rk, _)| rk);
    for p in 0..n {
        r[p] = if p + 1 < n { rank(m, a[p], a[p + 1]) } else { NONE };
    }
    for k in 0..nb {
        rescan(a, r, blk, k);
    }

    loop {
        // the best pair: lowest rank, leftmost on ties (blocks are scanned left to right)
        let mut best = NONE;
        let mut best_rank = NONE;
        for &i in blk.iter() {
            if i != NONE && r[i as usize] < best_rank {
                best_rank = r[i as usize];
                best = i;
            }
        }
        if best == NONE {
            break;
        }
        let p = best as usize;
        let q = end_of(a, p);
        debug_assert!(q < n);
        let e = end_of(a, q);
        let Some((_, result)) = m.pair(a[p], a[q]) else {
            debug_assert!(false, "cached rank without a merge");
            break;
        };
        // [p, q) + [q, e) -> [p, e)
        let link = TAG | e as u32;
        a[p] = result;
        a[q] = link;
        a[p + 1] = link;
        a[e - 1] = link;
        r[e - 1] = p as u32;
        r[p] = if e < n { rank(m, a[p], a[e]) } else { NONE };
        let prev = prev_of(a, r, p);
        if let Some(pp) = prev {
            r[pp] = rank(m, a[pp], a[p]);
        }
        // refresh the blocks whose slots changed
        let touched = [p / BLOCK, q / BLOCK, (e - 1) / BLOCK, prev.map_or(p, |pp| pp) / BLOCK];
        for (i, &k) in touched.iter().enumerate() {
            if !touched[..i].contains(&k) {
                rescan(a, r, blk, k);
            }
        }
    }

    // compact the surviving span starts to the front
    let mut p = 0;
    let mut k = 0;
    while p < n {
        let e = end_of(a, p);
        a[k] = a[p];
        k += 1;
        p = e;
    }
    Some(k)
}

/// End (exclusive) of the span starting at `p`.
#[inline]
fn end_of(a: &[u32], p: usize) -> usize {
    match a.get(p + 1) {
        Some(&x) if x & TAG != 0 => (x & !TAG) as usize,
        _ => p + 1,
    }
}

/// Start of the span before the one starting at `p`.
#[inline]
#[allow(clippy::indexing_slicing, reason = "p is a span start inside a[..n], r[..n]: see `merge`")]
fn prev_of(a: &[u32], r: &[u32], p: usize) -> Option<usize> {
    let i = p.checked_sub(1)?;
    if a[i] & TAG != 0 {
        Some(r[i] as usize)
    } else {
        Some(i)
    }
}

#[allow(clippy::indexing_slicing, reason = "lo..hi lies inside a and r (hi <= a.len() = r.len()) and k < blk.len(): see `merge`")]
fn rescan(a: &[u32], r: &[u32], blk: &mut [u32], k: usize) {
    let lo = k * BLOCK;
    let hi = (lo + BLOCK).min(a.len());
    let mut best = NONE;
    let mut best_rank = NONE;
    for i in lo..hi {
        if a[i] & TAG == 0 && r[i] < best_rank {
            best_rank = r[i];
            best = i as u32;
        }
    }
    blk[k] = best;
}

/// The same merges as [`merge`] by the obvious quadratic method, needing no scratch beyond the
/// symbols themselves: the fallback when memory is tight. Returns the token count.
pub(crate) fn merge_in_place<M: Merges + ?Sized>(m: &M, a: &mut [u32]) -> usize {
    let mut n = a.len();
    loop {
        let mut best: Option<(u32, usize, u32)> = None;
        let Some(live) = a.get(..n) else { return n };
        for (i, pair) in live.windows(2).enumerate() {
            if let [x, y] = *pair {
                if let Some((rank, result)) = m.pair(x, y) {
                    if best.is_none_or(|(r, _, _)| rank < r) {
                        best = Some((rank, i, result));
                    }
                }
            }
        }
        let Some((_, i, result)) = best else { return n };
        let Some(slot) = a.get_mut(i) else { return n };
        *slot = result;
        // i + 1 < n <= a.len(): a pair was found at (i, i + 1)
        a.copy_within(i + 2..n, i + 1);
        n -= 1;
    }
}

// ---- sink -----------------------------------------------------------------------------

/// Size of the stack buffer in u32 words (1 KiB): it holds a word of up to this many symbols
/// (merged by the fast engine up to 126 symbols, in place above that).
pub(crate) const STACK_WORDS: usize = 256;

/// Collects tokens into the caller's buffer. The current word's symbols sit right after the
/// tokens emitted so far and are merged there: with the fast engine when the free tail holds
/// [`scratch_len`] words, else on the stack buffer when that does, else in place by the
/// quadratic method. Once the buffer is full the call can only fail, so the whole buffer
/// becomes scratch and the sink just counts, to tell the caller how many tokens it needs.
pub(crate) struct Sink<'o> {
    out: &'o mut [u32],
    /// Tokens emitted so far; keeps counting past `out.len()`.
    len: usize,
    /// Symbols of the current word.
    n: usize,
    /// Where the current word's symbols are: `out[base..]`, or the stack buffer (None).
    base: Option<usize>,
    /// The current word started after `out` was full: its tokens are only counted.
    counting: bool,
    stack: [u32; STACK_WORDS],
}

impl<'o> Sink<'o> {
    pub(crate) fn new(out: &'o mut [u32]) -> Self {
        Sink { out, len: 0, n: 0, base: None, counting: false, stack: [0; STACK_WORDS] }
    }

    /// Emits a finished token (BOS, an added token, an inert byte token). The current word
    /// must have been flushed.
    pub(crate) fn emit(&mut self, id: u32) {
        debug_assert_eq!(self.n, 0);
        if let Some(slot) = self.out.get_mut(self.len) {
            *slot = id;
        }
        self.len += 1;
    }

    /// Appends a symbol to the current word.
    pub(crate) fn push(&mut self, id: u32) -> Result<()> {
        debug_assert!(id & TAG == 0, "ids are below 2^30 (checked by parse)");
        if self.n == 0 {
            self.counting = self.len >= self.out.len();
            self.base = if !self.counting {
                Some(self.len)
            } else if self.out.len() > STACK_WORDS {
                Some(0) // the tokens in `out` are lost anyway: the call will fail
            } else {
                None
            };
        }
        if let Some(base) = self.base {
            if let Some(slot) = self.out.get_mut(base + self.n) {
                *slot = id;
                self.n += 1;
                return Ok(());
            }
            // no room left in `out`: continue the word on the stack
            if self.n >= STACK_WORDS {
                return Err(self.no_room());
            }
            let from = self.out.get(base..base + self.n).unwrap_or(&[]);
            let Some(to) = self.stack.get_mut(..from.len()) else {
                return Err(self.no_room());
            };
            to.copy_from_slice(from);
            self.base = None;
        }
        let Some(slot) = self.stack.get_mut(self.n) else {
            return Err(self.no_room());
        };
        *slot = id;
        self.n += 1;
        Ok(())
    }

    fn no_room(&self) -> Error {
        if self.counting {
            Error::PromptTooLong { tokens: self.len + 1, max: self.out.len() }
        } else {
            // the word's symbols must fit after the tokens so far
            Error::BufferTooSmall {
                what: "token (encode also uses it as merge scratch)",
                needed: self.len + self.n + 1,
            }
        }
    }

    /// Merges the current word and emits its tokens.
    pub(crate) fn flush<M: Merges + ?Sized>(&mut self, m: &M) -> Result<()> {
        let n = core::mem::replace(&mut self.n, 0);
        if n == 0 {
            return Ok(());
        }
        let bug = Error::BadTokenizer("internal error: merge scratch");
        let Some(base) = self.base else {
            let k = if scratch_len(n) <= STACK_WORDS {
                merge(m, &mut self.stack, n).ok_or(bug)?
            } else {
                merge_in_place(m, self.stack.get_mut(..n).ok_or(bug)?)
            };
            for i in 0..k {
                let id = *self.stack.get(i).ok_or(bug)?;
                self.emit(id);
            }
            return Ok(());
        };
        let tail = self.out.get_mut(base..).ok_or(bug)?;
        let k = if tail.len() >= scratch_len(n) {
            merge(m, tail, n).ok_or(bug)?
        } else if scratch_len(n) <= STACK_WORDS {
            self.stack.get_mut(..n).ok_or(bug)?.copy_from_slice(tail.get(..n).ok_or(bug)?);
            let k = merge(m, &mut self.stack, n).ok_or(bug)?;
            tail.get_mut(..k).ok_or(bug)?.copy_from_slice(self.stack.get(..k).ok_or(bug)?);
            k
        } else {
            merge_in_place(m, tail.get_mut(..n).ok_or(bug)?)
        };
        // not counting: base == len and the tokens are in place
        self.len += k;
        Ok(())
    }

    /// The number of tokens, or `PromptTooLong` if they did not all fit.
    pub(crate) fn finish(self) -> Result<usize> {
        debug_assert_eq!(self.n, 0);
        if self.len > self.out.len() {
            return Err(Error::PromptTooLong { tokens: self.len, max: self.out.len() });
        }
        Ok(self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A merge table over small ids: (left, right) -> (rank, result), linear search.
    struct Table<'t>(&'t [(u32, u32, u32, u32)]);

    impl Merges for Table<'_> {
        fn pair(&self, l: u32, r: u32) -> Option<(u32, u32)> {
            self.0.iter().find(|e| e.0 == l && e.1 == r).map(|e| (e.2, e.3))
        }
    }

    /// The obvious quadratic algorithm: merge the lowest-rank, leftmost pair until none is left.
    fn naive(t: &Table<'_>, syms: &mut heapless::Vec<u32, 512>) {
        loop {
            let mut best: Option<(u32, usize, u32)> = None;
            for i in 0..syms.len().saturating_sub(1) {
                if let Some((rk, res)) = t.pair(syms[i], syms[i + 1]) {
                    if best.is_none_or(|b| rk < b.0) {
                        best = Some((rk, i, res));
                    }
                }
            }
            let Some((_, i, res)) = best else { return };
            syms[i] = res;
            syms.remove(i + 1);
        }
    }

    fn run(t: &Table<'_>, input: &[u32]) -> heapless::Vec<u32, 512> {
        let n = input.len();
        let mut buf = [0u32; 1200];
        buf[..n].copy_from_slice(input);
        let k = merge(t, &mut buf[..scratch_len(n)], n).unwrap();
        heapless::Vec::from_slice(&buf[..k]).unwrap()
    }

    #[test]
    fn merges_lowest_rank_first() {
        // a=0 b=1 c=2; ab=3 (rank 1), bc=4 (rank 0), abc=5 from a+bc (rank 2)
        let t = Table(&[(0, 1, 1, 3), (1, 2, 0, 4), (0, 4, 2, 5)]);
        assert_eq!(run(&t, &[0, 1, 2]), [5]);
        assert_eq!(run(&t, &[0, 1, 0, 1]), [3, 3]);
        assert_eq!(run(&t, &[]), [] as [u32; 0]);
        assert_eq!(run(&t, &[7]), [7]);
    }

    #[test]
    fn ties_go_left() {
        // a a a with aa: leftmost pair first
        let t = Table(&[(0, 0, 0, 1)]);
        assert_eq!(run(&t, &[0, 0, 0]), [1, 0]);
        assert_eq!(run(&t, &[0, 0, 0, 0, 0]), [1, 1, 0]);
    }

    #[test]
    fn matches_naive_on_random_words() {
        // xorshift, fixed seed
        let mut s = 0x9E3779B97F4A7C15u64;
        let mut rnd = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        for round in 0..300 {
            let alphabet = 2 + (rnd() % 4) as u32;
            let mut entries: heapless::Vec<(u32, u32, u32, u32), 64> = heapless::Vec::new();
            let n_merges = 1 + (rnd() % 40) as u32;
            for i in 0..n_merges {
                let total = alphabet + i;
                let l = (rnd() % total as u64) as u32;
                let r = (rnd() % total as u64) as u32;
                if entries.iter().any(|e| e.0 == l && e.1 == r) {
                    continue;
                }
                // ranks may repeat (llama2.c scores can tie); results are new ids
                let rank = (rnd() % (n_merges as u64 / 2 + 1)) as u32;
                entries.push((l, r, rank, alphabet + i)).unwrap();
            }
            let t = Table(&entries);
            let len = (rnd() % if round % 10 == 0 { 500 } else { 40 }) as usize;
            let mut input: heapless::Vec<u32, 512> = heapless::Vec::new();
            for _ in 0..len {
                input.push((rnd() % alphabet as u64) as u32).unwrap();
            }
            let mut want = input.clone();
            naive(&t, &mut want);
            assert_eq!(run(&t, &input), want, "round {round}");
        }
    }

    #[test]
    fn merge_refuses_short_scratch() {
        let t = Table(&[(0, 0, 0, 1)]);
        let mut buf = [0u32; 4];
        assert_eq!(merge(&t, &mut buf, 3), None);
    }

    #[test]
    fn sink_uses_stack_when_tail_is_short() {
        let t = Table(&[(0, 1, 0, 2)]);
        let mut out = [0u32; 3];
        let mut s = Sink::new(&mut out);
        s.emit(9);
        for &x in &[0, 1] {
            s.push(x).unwrap();
        }
        s.flush(&t).unwrap(); // tail has 2 slots, scratch needs 5: stack
        assert_eq!(s.finish(), Ok(2));
        assert_eq!(out[..2], [9, 2]);
    }

    #[test]
    fn sink_counts_past_the_end() {
        let t = Table(&[]);
        let mut out = [0u32; 2];
        let mut s = Sink::new(&mut out);
        for x in 0..5 {
            s.push(x).unwrap();
            s.flush(&t).unwrap();
        }
        assert_eq!(s.finish(), Err(Error::PromptTooLong { tokens: 5, max: 2 }));
    }

    #[test]
    fn sink_merges_in_place_when_scratch_is_short() {
        let t = Table(&[(0, 0, 0, 1)]);
        let mut out = [0u32; 300];
        let mut s = Sink::new(&mut out);
        for _ in 0..300 {
            s.push(0).unwrap(); // 300 symbols fit in `out`; 610 scratch words do not
        }
        s.flush(&t).unwrap();
        assert_eq!(s.finish(), Ok(150));
        assert!(out[..150].iter().all(|&x| x == 1));
    }

    #[test]
    fn sink_refuses_a_long_word_that_does_not_fit() {
        let mut out = [0u32; 300];
        let mut s = Sink::new(&mut out);
        s.emit(5);
        let mut err = None;
        for x in 0..300 {
            if let Err(e) = s.push(x) {
                err = Some(e);
                break;
            }
        }
        assert_eq!(err, Some(Error::BufferTooSmall { what: "token (encode also uses it as merge scratch)", needed: 301 }));
    }

    #[test]
    fn sink_counts_long_words_in_the_whole_buffer() {
        let t = Table(&[(0, 0, 0, 1)]);
        let mut out = [0u32; 300];
        let mut s = Sink::new(&mut out);
        for _ in 0..300 {
            s.emit(7);
        }
        for _ in 0..290 {
            s.push(0).unwrap(); // counting: the word lives in the full buffer
        }
        s.flush(&t).unwrap();
        assert_eq!(s.finish(), Err(Error::PromptTooLong { tokens: 445, max: 300 }));
    }

    #[test]
    fn in_place_merge_matches_the_engine() {
        let mut s = 0x1234_5678_9ABC_DEF1u64;
        let mut rnd = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        for _ in 0..200 {
            let mut entries: heapless::Vec<(u32, u32, u32, u32), 32> = heapless::Vec::new();
            for i in 0..20u32 {
                let (l, r) = ((rnd() % (3 + i as u64)) as u32, (rnd() % (3 + i as u64)) as u32);
                if !entries.iter().any(|e| e.0 == l && e.1 == r) {
                    entries.push((l, r, (rnd() % 8) as u32, 3 + i)).unwrap();
                }
            }
            let t = Table(&entries);
            let n = (rnd() % 60) as usize;
            let mut a = [0u32; 60];
            for x in a[..n].iter_mut() {
                *x = (rnd() % 3) as u32;
            }
            let want = run(&t, &a[..n]);
            let k = merge_in_place(&t, &mut a[..n]);
            assert_eq!(&a[..k], &want[..]);
        }
    }
}
