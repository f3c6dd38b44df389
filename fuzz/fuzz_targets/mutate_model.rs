//! Structure-aware: start from a valid tiny model (every shape of `tiny_config`, with and
//! without a fixture tokenizer), apply targeted mutations — header fields, tensor-directory
//! fields (offsets, shapes, dtypes, codes), tokenizer header fields and table words, special
//! float values and extreme int8 codes inside tensor data, truncation, extension — optionally
//! fix the checksum, then parse and, if it parses, run a session (several option sets), the
//! sampler on its logits, and the tokenizer.
//!
//! Oracles: no panic; a parsed model's logits have the vocabulary's length; the best kernels
//! equal the scalar ones bit for bit on whatever weights survived; the model rewritten in
//! place into an in-memory layout (`Model::from_bytes_in`: interleaved, quads or quads-plain)
//! gives the same logits; greedy sampling returns an
//! id below the vocabulary size.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use tinygpt::format::{layout, ParseOptions};
use tinygpt::sampler::{sample_with_coin, SamplerConfig};
use tinygpt::tokenizer::{decode_into, StreamDecoder};
use tinygpt::{Layout, Model};
use tinygpt_fuzz::{aligned, base_models, run_model, same_bits, Val, F};

#[derive(Arbitrary, Debug)]
enum Op {
    /// A u32 header field (index into the 32 words of the defined header).
    Header { word: u8, val: Val },
    /// A u64 header field: 0 directory offset, 1 tokenizer offset, 2 tokenizer length,
    /// 3 file length, 4 checksum.
    Header64 { which: u8, val: Val, high: bool },
    /// A field of a tensor-directory entry: 0 code, 1 layer, 2 dtype, 3 rows, 4 cols,
    /// 5 reserved, 6 data offset, 7 scale offset.
    Entry { index: u16, field: u8, val: Val },
    /// A u32 of the tokenizer section's header.
    TokHeader { word: u8, val: Val },
    /// Any u32 inside the tokenizer section.
    TokWord { index: u32, val: Val },
    /// A float inside a tensor's data (or scales).
    Float { entry: u16, index: u32, scales: bool, val: F },
    /// An int8 code inside a Q8 tensor (or any byte of an f32 one).
    Code { entry: u16, index: u32, val: i8 },
    /// Xor a byte anywhere.
    Flip { at: u32, xor: u8 },
    /// Cut the file.
    Truncate { len: u32 },
    /// Append zero bytes.
    Extend { n: u8 },
}

#[derive(Arbitrary, Debug)]
struct Input {
    base: u8,
    ops: Vec<Op>,
    fix_checksum: bool,
    steps: Vec<u16>,
    ctx: u8,
    batch: u8,
    kv16: bool,
    coin: u16,
}

fn rd32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at.checked_add(4)?)?.try_into().ok()?))
}
fn rd64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at.checked_add(8)?)?.try_into().ok()?))
}
fn wr32(b: &mut [u8], at: usize, v: u32) {
    if let Some(s) = at.checked_add(4).and_then(|e| b.get_mut(at..e)) {
        s.copy_from_slice(&v.to_le_bytes());
    }
}
fn wr64(b: &mut [u8], at: usize, v: u64) {
    if let Some(s) = at.checked_add(8).and_then(|e| b.get_mut(at..e)) {
        s.copy_from_slice(&v.to_le_bytes());
    }
}

// header offsets (docs/FORMAT.md)
const H64: [usize; 5] = [88, 96, 104, 112, 120];
const TENSOR_COUNT: usize = 84;
const DIR_OFF: usize = 88;
const TOK_OFF: usize = 96;
const TOK_LEN: usize = 104;
const ENTRY: usize = layout::ENTRY_LEN;

fn apply(b: &mut Vec<u8>, op: &Op) {
    let count = rd32(b, TENSOR_COUNT).unwrap_or(0).max(1) as usize;
    let dir = rd64(b, DIR_OFF).unwrap_or(0) as usize;
    let tok_off = rd64(b, TOK_OFF).unwrap_or(0) as usize;
    let tok_len = rd64(b, TOK_LEN).unwrap_or(0) as usize;
    let entry_at = |i: u16| dir.saturating_add((i as usize % count) * ENTRY);
    match *op {
        Op::Header { word, val } => {
            let at = (word as usize % 32) * 4;
            let v = rd32(b, at).unwrap_or(0);
            wr32(b, at, val.apply(v));
        }
        Op::Header64 { which, val, high } => {
            let at = H64[which as usize % H64.len()];
            let v = rd64(b, at).unwrap_or(0);
            let nv = if high { (val.apply((v >> 32) as u32) as u64) << 32 | (v & 0xffff_ffff) } else { val.apply(v as u32) as u64 | (v & !0xffff_ffff) };
            wr64(b, at, nv);
        }
        Op::Entry { index, field, val } => {
            let at = entry_at(index);
            match field % 8 {
                f @ 0..=5 => {
                    let a = at.saturating_add(4 * f as usize);
                    let v = rd32(b, a).unwrap_or(0);
                    wr32(b, a, val.apply(v));
                }
                f => {
                    let a = at.saturating_add(if f == 6 { 24 } else { 32 });
                    let v = rd64(b, a).unwrap_or(0);
                    wr64(b, a, val.apply(v as u32) as u64 | (v & !0xffff_ffff));
                }
            }
        }
        Op::TokHeader { word, val } => {
            if tok_len >= 64 {
                let at = tok_off.saturating_add((word as usize % 16) * 4);
                let v = rd32(b, at).unwrap_or(0);
                wr32(b, at, val.apply(v));
            }
        }
        Op::TokWord { index, val } => {
            if tok_len >= 4 {
                let at = tok_off.saturating_add((index as usize % (tok_len / 4)) * 4);
                let v = rd32(b, at).unwrap_or(0);
                wr32(b, at, val.apply(v));
            }
        }
        Op::Float { entry, index, scales, val } => {
            let at = entry_at(entry);
            let (rows, cols) = (rd32(b, at.saturating_add(12)).unwrap_or(0) as usize, rd32(b, at.saturating_add(16)).unwrap_or(0) as usize);
            let off = rd64(b, at.saturating_add(if scales { 32 } else { 24 })).unwrap_or(0) as usize;
            let n = rows.saturating_mul(cols).max(1);
            let f = off.saturating_add((index as usize % n).saturating_mul(4));
            wr32(b, f, val.get().to_bits());
        }
        Op::Code { entry, index, val } => {
            let at = entry_at(entry);
            let (rows, cols) = (rd32(b, at.saturating_add(12)).unwrap_or(0) as usize, rd32(b, at.saturating_add(16)).unwrap_or(0) as usize);
            let off = rd64(b, at.saturating_add(24)).unwrap_or(0) as usize;
            let n = rows.saturating_mul(cols).max(1);
            if let Some(x) = b.get_mut(off.saturating_add(index as usize % n)) {
                *x = val as u8;
            }
        }
        Op::Flip { at, xor } => {
            let n = b.len().max(1);
            if let Some(x) = b.get_mut(at as usize % n) {
                *x ^= xor;
            }
        }
        Op::Truncate { len } => {
            let n = b.len() + 1;
            b.truncate(len as usize % n);
        }
        Op::Extend { n } => b.resize(b.len() + n as usize, 0),
    }
}

fuzz_target!(|inp: Input| {
    let bases = base_models();
    let mut b = bases[inp.base as usize % bases.len()].clone();
    for op in inp.ops.iter().take(16) {
        apply(&mut b, op);
    }
    if inp.fix_checksum && b.len() >= 128 {
        let sum = layout::checksum(&b);
        wr64(&mut b, 120, sum);
    }
    let a = aligned(&b);
    let parsed = if inp.fix_checksum {
        Model::from_bytes(a.as_slice())
    } else {
        Model::parse(a.as_slice(), ParseOptions { verify_checksum: false })
    };
    let Ok(m) = parsed else { return };
    let cfg = *m.config();
    let _ = m.weight_bytes();

    let ctx = if inp.ctx == 0 { 0 } else { (inp.ctx as usize % cfg.seq_len.max(1)) + 1 };
    let batch = (inp.batch as usize % 5) + 1;
    let steps: Vec<u16> = inp.steps.iter().copied().take(16).collect();
    let best = run_model(m, &steps, ctx, batch, inp.kv16, false);
    if tinygpt::kernels::best().name != "scalar" {
        let scalar = run_model(m, &steps, ctx, batch, inp.kv16, true);
        assert_eq!(best.len(), scalar.len());
        for (i, (x, y)) in best.iter().zip(&scalar).enumerate() {
            assert!(same_bits(x, y), "step {i}: best kernels differ from scalar");
        }
    }
    // the sampler on whatever came out (NaN, inf, ...)
    if let Some(last) = best.last() {
        let mut logits = last.clone();
        let mut scratch = vec![0f32; logits.len()];
        for cfg_s in [SamplerConfig::greedy(), SamplerConfig { temperature: 0.7, top_k: 5, ..SamplerConfig::default() }] {
            logits.copy_from_slice(last);
            let coin = inp.coin as f32 / 65536.0;
            let id = sample_with_coin(&mut logits, &[], &cfg_s, coin, &mut scratch).expect("valid settings sample");
            assert!((id as usize) < cfg.vocab_size);
        }
    }

    // the in-memory layouts (what the npm package runs: quads without and with biased even
    // codes for the relaxed-SIMD and simd128 builds; four-row interleaved): every file that
    // passes its checksum is rewritten (the parser rejects overlapping sections, so the
    // in-place rewrite touches each matrix once and nothing else) and gives the row-major
    // logits bit for bit
    if inp.fix_checksum {
        let want = [Layout::Interleaved, Layout::Quads, Layout::QuadsPlain][(inp.coin % 3) as usize];
        let mut c = aligned(&b);
        let mut scratch = vec![0u8; m.interleave_scratch_len()];
        let mi = Model::from_bytes_in(c.as_mut_slice(), &mut scratch, want).expect("a parsed model interleaves");
        // a group size that is not a multiple of 4 is not put in quads
        let got = if want.quads() && !mi.config().group_size.is_multiple_of(4) { Layout::Interleaved } else { want };
        assert!(mi.interleaved() && mi.layout() == got);
        let il = run_model(mi, &steps, ctx, batch, inp.kv16, false);
        assert_eq!(il.len(), best.len());
        for (i, (x, y)) in il.iter().zip(&best).enumerate() {
            assert!(same_bits(x, y), "step {i}: {want:?} model differs from row-major");
        }
    }

    // the tokenizer the mutated file carries
    let tok = m.tokenizer();
    let mut ids = [0u32; 96];
    if let Ok(n) = tok.encode("Hi \u{4e2d}\u{6587} <s> <|endoftext|> x\u{1F600}", &mut ids) {
        assert!(ids[..n].iter().all(|&i| (i as usize) < cfg.vocab_size));
        let mut out = [0u8; 1024];
        let _ = decode_into(tok, &ids[..n], true, &mut out);
        let mut d = StreamDecoder::new();
        for &i in &ids[..n] {
            d.push(tok, i, &mut |_| {}).expect("ids from encode decode");
        }
    }
    for s in inp.steps.iter().take(8) {
        let _ = tok.token_bytes(*s as u32);
        let _ = tok.is_special(*s as u32);
    }
});
