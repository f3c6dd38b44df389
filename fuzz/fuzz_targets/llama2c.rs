//! The llama2.c importer (`convert::parse_llama2c`) on arbitrary bytes, and on structured
//! checkpoints: a header of small sane values (or one field replaced by anything), versions
//! 0/1/2, a body of exactly the implied size (or a few bytes off) filled from the input.
//!
//! Input: the raw file, or (first byte `0xFF`) the `Structured` description that follows.
//!
//! Oracles: no panic; an accepted checkpoint has a config that validates, and — unless its
//! weights hold NaN/inf, which the writer refuses — writes a model that loads with the
//! checksum on and runs.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use tinygpt::convert::parse_llama2c;
use tinygpt::format::writer::write_model;
use tinygpt::Model;
use tinygpt_fuzz::{aligned, run_model, L2cHeader};

#[derive(Arbitrary, Debug)]
enum Input {
    Structured {
        version: u8,
        small: [u8; 7],
        unshared: bool,
        gs_pick: u8,
        /// Replace one header value by an arbitrary one.
        wild: Option<(u8, i32)>,
        shared_byte: Option<u8>,
        /// Bytes added to (or, negative, cut from) the implied size.
        delta: i8,
        fill: Vec<u8>,
    },
}

fuzz_target!(|data: &[u8]| {
    let file = match data.split_first() {
        Some((&0xFF, rest)) => match Input::arbitrary_take_rest(Unstructured::new(rest)) {
            Ok(inp) => structured(inp),
            Err(_) => return,
        },
        _ => data.to_vec(),
    };
    check(&file);
});

fn structured(inp: Input) -> Vec<u8> {
    match inp {
        Input::Structured { version, small, unshared, gs_pick, wild, shared_byte, delta, fill } => {
            let n_heads = 1 + small[3] as i32 % 4;
            let head = 2 * (1 + small[0] as i32 % 3);
            let dim = n_heads * head;
            let n_kv = if small[4] & 1 == 0 { n_heads } else { 1 };
            let vocab = 1 + small[5] as i32 % 24;
            let version = (version % 3) as u32;
            let mut p = [dim, 1 + small[1] as i32 % 16, 1 + small[2] as i32 % 2, n_heads, n_kv, vocab, 1 + small[6] as i32 % 8];
            if version == 0 && unshared {
                p[5] = -vocab;
            }
            // a group size dividing dim
            let divs: Vec<i32> = (1..=dim).filter(|g| dim % g == 0).collect();
            let gs = divs[gs_pick as usize % divs.len()];
            let mut h = L2cHeader { version, p, shared: if unshared { 0 } else { 1 }, gs };
            if let Some((i, v)) = wild {
                match i % 9 {
                    k @ 0..=6 => h.p[k as usize] = v,
                    7 => h.gs = v,
                    _ => h.version = v as u32 % 4,
                }
            }
            if let Some(b) = shared_byte {
                h.shared = b;
            }
            let mut f = h.header();
            let body = h.body_len().unwrap_or(64);
            let len = (body as i64 + delta as i64).clamp(0, 1 << 22) as usize;
            if fill.is_empty() {
                f.resize(f.len() + len, 0);
            } else {
                f.extend(fill.iter().cycle().take(len));
            }
            f
        }
    }
}

fn check(file: &[u8]) {
    let Ok((cfg, w)) = parse_llama2c(file, "fuzz.bin") else { return };
    cfg.validate().expect("accepted llama2.c checkpoint has a valid config");
    let Ok(bytes) = write_model(&cfg, &w, &[]) else {
        // only non-finite weights may be refused
        let finite = w.tok_emb.iter().chain(w.lm_head.iter().flatten()).chain(w.final_norm_w.iter()).all(|x| x.is_finite())
            && w.layers.iter().all(|l| {
                [&l.attn_norm_w, &l.wq, &l.wk, &l.wv, &l.wo, &l.ffn_norm_w, &l.w1, &l.w2]
                    .iter()
                    .all(|v| v.iter().all(|x| x.is_finite()))
                    && l.w3.iter().flatten().all(|x| x.is_finite())
            });
        assert!(!finite, "writer refused finite imported weights");
        return;
    };
    let a = aligned(&bytes);
    let m = Model::from_bytes(a.as_slice()).expect("a written import loads");
    assert_eq!(*m.config(), cfg);
    let _ = run_model(m, &[0, 1, 2], cfg.seq_len.min(3), 1, false, false);
}
