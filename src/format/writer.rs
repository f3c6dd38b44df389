//! The one writer of the `.tgpt` format (std only). Every importer and test builds a
//! [`Weights`] in f32 and calls [`write_model`]; quantization happens here.
//!
//! Matrices are given in Hugging Face orientation: `(out_features, in_features)` row-major,
//! i.e. row `r` holds the weights producing output `r`. Embedding tables are `(rows, dim)`.

// Std-only writer, outside the panic-free core (see "Panics" in the crate docs): it runs at
// convert time on weights the converter built in memory, never at load or run time.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::string_slice,
    reason = "std-only, convert-time code; excluded from the panic-free core"
)]

use std::vec;
use std::vec::Vec;

use super::config::{Config, DType};
use super::layout::*;
use crate::error::{Error, Result};

/// One decoder block's weights, f32, HF orientation. `Option` fields are absent when the
/// architecture has no such tensor (e.g. biases for Llama, `w3` for GPT-2).
#[derive(Debug, Clone, Default)]
#[allow(missing_docs)]
pub struct LayerWeights {
    pub attn_norm_w: Vec<f32>,         // (dim,)
    pub attn_norm_b: Option<Vec<f32>>, // (dim,)
    pub wq: Vec<f32>,                  // (n_heads * head_size, dim)
    pub bq: Option<Vec<f32>>,          // (n_heads * head_size,)
    pub wk: Vec<f32>,                  // (n_kv_heads * head_size, dim)
    pub bk: Option<Vec<f32>>,          // (kv_dim,)
    pub wv: Vec<f32>,                  // (kv_dim, dim)
    pub bv: Option<Vec<f32>>,          // (kv_dim,)
    pub wo: Vec<f32>,                  // (dim, n_heads * head_size)
    pub bo: Option<Vec<f32>>,          // (dim,)
    pub ffn_norm_w: Vec<f32>,          // (dim,)
    pub ffn_norm_b: Option<Vec<f32>>,  // (dim,)
    pub w1: Vec<f32>,                  // (hidden_dim, dim)   GPT-2 c_fc / Llama gate_proj
    pub b1: Option<Vec<f32>>,          // (hidden_dim,)
    pub w3: Option<Vec<f32>>,          // (hidden_dim, dim)   Llama up_proj
    pub b3: Option<Vec<f32>>,          // (hidden_dim,)
    pub w2: Vec<f32>,                  // (dim, hidden_dim)   GPT-2 c_proj / Llama down_proj
    pub b2: Option<Vec<f32>>,          // (dim,)
}

/// All weights of a model, f32, HF orientation.
#[derive(Debug, Clone, Default)]
#[allow(missing_docs)]
pub struct Weights {
    pub tok_emb: Vec<f32>,              // (vocab_size, dim)
    pub pos_emb: Option<Vec<f32>>,      // (seq_len, dim), learned positions only
    pub layers: Vec<LayerWeights>,      // n_layers
    pub final_norm_w: Vec<f32>,         // (dim,)
    pub final_norm_b: Option<Vec<f32>>, // (dim,)
    pub lm_head: Option<Vec<f32>>,      // (vocab_size, dim), None when tied
}

/// Quantizes one row of `cols` values into `gs`-sized groups: returns `(q, scales)` with
/// `q.len() == groups * gs` (zero-padded) and one scale per group. An all-zero group gets
/// scale 0 and zero codes (no division by zero).
///
/// Each group's scale is the one, among `max|w| / 127 × f` for `f` in 0.80..=1.00 (step
/// 0.01), that minimises the group's squared rounding error (codes clamped to ±127). The
/// plain `max|w| / 127` is the `f = 1` candidate, so the error is never worse than it.
pub fn quantize_row(row: &[f32], gs: usize) -> (Vec<i8>, Vec<f32>) {
    let groups = row.len().div_ceil(gs);
    let mut q = vec![0i8; groups * gs];
    let mut s = vec![0f32; groups];
    for ((vals, qg), sg) in row.chunks(gs).zip(q.chunks_mut(gs)).zip(s.iter_mut()) {
        let amax = vals.iter().fold(0f32, |m, &v| m.max(v.abs()));
        if amax == 0.0 {
            continue;
        }
        let code = |v: f32, scale: f32| libm::roundf(v / scale).clamp(-127.0, 127.0);
        let err = |scale: f32| vals.iter().map(|&v| {
            let d = (code(v, scale) * scale - v) as f64;
            d * d
        }).sum::<f64>();
        let mut best = (amax / 127.0, err(amax / 127.0));
        for step in 80..100 {
            let scale = amax / 127.0 * (step as f32 / 100.0);
            let e = err(scale);
            if e < best.1 {
                best = (scale, e);
            }
        }
        *sg = best.0;
        for (qv, &v) in qg.iter_mut().zip(vals) {
            *qv = code(v, best.0) as i8;
        }
    }
    (q, s)
}

struct Entry {
    slot: Slot,
    layer: usize,
    dtype: u32,
    rows: usize,
    cols: usize,
    data: Vec<u8>,
    scales: Vec<u8>,
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn check_len(what: Slot, v: &[f32], n: usize) -> Result<()> {
    if v.len() != n {
        return Err(Error::BadTensor { index: what.code(), why: "tensor has the wrong number of elements for the config" });
    }
    if v.iter().any(|x| !x.is_finite()) {
        return Err(Error::BadTensor { index: what.code(), why: "tensor contains NaN or infinity" });
    }
    Ok(())
}

fn matrix(cfg: &Config, slot: Slot, layer: usize, v: &[f32], rows: usize, cols: usize) -> Result<Entry> {
    check_len(slot, v, rows * cols)?;
    Ok(match cfg.dtype {
        DType::F32 => Entry { slot, layer, dtype: T_F32, rows, cols, data: f32_bytes(v), scales: Vec::new() },
        DType::Q8 => {
            let mut data = Vec::with_capacity(rows * cfg.row_stride(cols));
            let mut scales = Vec::with_capacity(rows * cfg.groups(cols) * 4);
            for r in 0..rows {
                let (q, s) = quantize_row(&v[r * cols..(r + 1) * cols], cfg.group_size);
                data.extend(q.iter().map(|&b| b as u8));
                scales.extend(f32_bytes(&s));
            }
            Entry { slot, layer, dtype: T_Q8, rows, cols, data, scales }
        }
    })
}

fn vector(slot: Slot, layer: usize, v: &[f32], n: usize) -> Result<Entry> {
    check_len(slot, v, n)?;
    Ok(Entry { slot, layer, dtype: T_F32, rows: 1, cols: n, data: f32_bytes(v), scales: Vec::new() })
}

fn absent(slot: Slot, layer: usize) -> Entry {
    Entry { slot, layer, dtype: T_ABSENT, rows: 0, cols: 0, data: Vec::new(), scales: Vec::new() }
}

fn opt_vector(slot: Slot, layer: usize, v: &Option<Vec<f32>>, n: usize, want: bool) -> Result<Entry> {
    match (v, want) {
        (Some(v), true) => vector(slot, layer, v, n),
        (None, false) => Ok(absent(slot, layer)),
        (None, true) => Err(Error::BadTensor { index: slot.code(), why: "missing tensor required by the config" }),
        (Some(_), false) => Err(Error::BadTensor { index: slot.code(), why: "tensor given but the config has no such tensor" }),
    }
}

/// Serializes a model: header, tensor directory, tokenizer section, tensors, checksum.
///
/// `tokenizer` is the tokenizer section produced by `tokenizer::build` (may be empty for a
/// model without a tokenizer).
///
/// # Errors
/// If `cfg` does not validate, or a tensor's length does not match the config.
pub fn write_model(cfg: &Config, w: &Weights, tokenizer: &[u8]) -> Result<Vec<u8>> {
    cfg.validate()?;
    if w.layers.len() != cfg.n_layers {
        return Err(Error::BadField { field: "n_layers (weights)", value: w.layers.len() as u64 });
    }
    let (dim, hid, qd, kvd) = (cfg.dim, cfg.hidden_dim, cfg.q_dim(), cfg.kv_dim());
    let lnb = cfg.norm == super::config::Norm::LayerNorm;
    let mut entries: Vec<Entry> = Vec::new();
    // global slots, in GLOBAL order
    entries.push(matrix(cfg, Slot::TokEmb, 0, &w.tok_emb, cfg.vocab_size, dim)?);
    match (&w.pos_emb, cfg.pos == super::config::Position::Learned) {
        (Some(p), true) => entries.push(matrix(cfg, Slot::PosEmb, 0, p, cfg.seq_len, dim)?),
        (None, false) => entries.push(absent(Slot::PosEmb, 0)),
        _ => return Err(Error::BadTensor { index: Slot::PosEmb.code(), why: "position embedding presence does not match the config" }),
    }
    entries.push(vector(Slot::FinalNormW, 0, &w.final_norm_w, dim)?);
    entries.push(opt_vector(Slot::FinalNormB, 0, &w.final_norm_b, dim, lnb)?);
    match (&w.lm_head, cfg.tied) {
        (Some(h), false) => entries.push(matrix(cfg, Slot::LmHead, 0, h, cfg.vocab_size, dim)?),
        (None, true) => entries.push(absent(Slot::LmHead, 0)),
        _ => return Err(Error::BadTensor { index: Slot::LmHead.code(), why: "lm_head presence does not match `tied`" }),
    }
    for (l, lw) in w.layers.iter().enumerate() {
        let b = cfg.bias;
        entries.push(vector(Slot::AttnNormW, l, &lw.attn_norm_w, dim)?);
        entries.push(opt_vector(Slot::AttnNormB, l, &lw.attn_norm_b, dim, lnb)?);
        entries.push(matrix(cfg, Slot::Wq, l, &lw.wq, qd, dim)?);
        entries.push(opt_vector(Slot::Bq, l, &lw.bq, qd, b)?);
        entries.push(matrix(cfg, Slot::Wk, l, &lw.wk, kvd, dim)?);
        entries.push(opt_vector(Slot::Bk, l, &lw.bk, kvd, b)?);
        entries.push(matrix(cfg, Slot::Wv, l, &lw.wv, kvd, dim)?);
        entries.push(opt_vector(Slot::Bv, l, &lw.bv, kvd, b)?);
        entries.push(matrix(cfg, Slot::Wo, l, &lw.wo, dim, qd)?);
        entries.push(opt_vector(Slot::Bo, l, &lw.bo, dim, b)?);
        entries.push(vector(Slot::FfnNormW, l, &lw.ffn_norm_w, dim)?);
        entries.push(opt_vector(Slot::FfnNormB, l, &lw.ffn_norm_b, dim, lnb)?);
        entries.push(matrix(cfg, Slot::W1, l, &lw.w1, hid, dim)?);
        entries.push(opt_vector(Slot::B1, l, &lw.b1, hid, b)?);
        match (&lw.w3, cfg.gated()) {
            (Some(w3), true) => entries.push(matrix(cfg, Slot::W3, l, w3, hid, dim)?),
            (None, false) => entries.push(absent(Slot::W3, l)),
            _ => return Err(Error::BadTensor { index: Slot::W3.code(), why: "w3 presence does not match the activation" }),
        }
        entries.push(opt_vector(Slot::B3, l, &lw.b3, hid, b && cfg.gated())?);
        entries.push(matrix(cfg, Slot::W2, l, &lw.w2, dim, hid)?);
        entries.push(opt_vector(Slot::B2, l, &lw.b2, dim, b)?);
    }

    // layout: header | directory | tokenizer | tensors (each aligned)
    let al = |n: usize| n.div_ceil(SECTION_ALIGN) * SECTION_ALIGN;
    let dir_off = HEADER_LEN;
    let tok_off = al(dir_off + entries.len() * ENTRY_LEN);
    let mut cursor = al(tok_off + tokenizer.len());
    let mut offs = Vec::with_capacity(entries.len());
    for e in &entries {
        if e.dtype == T_ABSENT {
            offs.push((0usize, 0usize));
            continue;
        }
        let d = cursor;
        cursor = al(cursor + e.data.len());
        let s = if e.scales.is_empty() { 0 } else { let s = cursor; cursor = al(cursor + e.scales.len()); s };
        offs.push((d, s));
    }
    let file_len = cursor;
    let mut out = vec![0u8; file_len];
    let put32 = |out: &mut Vec<u8>, at: usize, v: u32| out[at..at + 4].copy_from_slice(&v.to_le_bytes());
    let put64 = |out: &mut Vec<u8>, at: usize, v: u64| out[at..at + 8].copy_from_slice(&v.to_le_bytes());
    out[H_MAGIC..H_MAGIC + 4].copy_from_slice(&MAGIC);
    put32(&mut out, H_VERSION, VERSION);
    put32(&mut out, H_HEADER_LEN, HEADER_LEN as u32);
    put32(&mut out, H_ARCH, cfg.arch as u32);
    put32(&mut out, H_DTYPE, cfg.dtype as u32);
    put32(&mut out, H_GROUP_SIZE, if cfg.dtype == DType::Q8 { cfg.group_size as u32 } else { 0 });
    put32(&mut out, H_DIM, dim as u32);
    put32(&mut out, H_HIDDEN_DIM, hid as u32);
    put32(&mut out, H_N_LAYERS, cfg.n_layers as u32);
    put32(&mut out, H_N_HEADS, cfg.n_heads as u32);
    put32(&mut out, H_N_KV_HEADS, cfg.n_kv_heads as u32);
    put32(&mut out, H_HEAD_SIZE, cfg.head_size as u32);
    put32(&mut out, H_VOCAB_SIZE, cfg.vocab_size as u32);
    put32(&mut out, H_SEQ_LEN, cfg.seq_len as u32);
    put32(&mut out, H_NORM, cfg.norm as u32);
    put32(&mut out, H_NORM_EPS, cfg.norm_eps.to_bits());
    put32(&mut out, H_ACT, cfg.act as u32);
    put32(&mut out, H_POS, cfg.pos as u32);
    put32(&mut out, H_ROPE_THETA, cfg.rope_theta.to_bits());
    put32(&mut out, H_TIED, cfg.tied as u32);
    put32(&mut out, H_BIAS, cfg.bias as u32);
    put32(&mut out, H_TENSOR_COUNT, entries.len() as u32);
    put64(&mut out, H_TENSOR_DIR_OFF, dir_off as u64);
    put64(&mut out, H_TOKENIZER_OFF, tok_off as u64);
    put64(&mut out, H_TOKENIZER_LEN, tokenizer.len() as u64);
    put64(&mut out, H_FILE_LEN, file_len as u64);
    for (i, (e, &(d, s))) in entries.iter().zip(&offs).enumerate() {
        let at = dir_off + i * ENTRY_LEN;
        put32(&mut out, at, e.slot.code());
        put32(&mut out, at + 4, e.layer as u32);
        put32(&mut out, at + 8, e.dtype);
        put32(&mut out, at + 12, e.rows as u32);
        put32(&mut out, at + 16, e.cols as u32);
        put64(&mut out, at + 24, d as u64);
        put64(&mut out, at + 32, s as u64);
        out[d..d + e.data.len()].copy_from_slice(&e.data);
        out[s..s + e.scales.len()].copy_from_slice(&e.scales);
    }
    out[tok_off..tok_off + tokenizer.len()].copy_from_slice(tokenizer);
    let sum = checksum(&out);
    put64(&mut out, H_CHECKSUM, sum);
    Ok(out)
}

/// Random weights for `cfg` (deterministic in `seed`): what benchmarks and tests use to make
/// models of any shape without a checkpoint. Matrices ~ U(-a, a) with `a = 1/sqrt(cols)`;
/// norm weights near 1, biases small.
pub fn random_weights(cfg: &Config, seed: u64) -> Weights {
    use super::config::{Norm, Position};
    let mut state = seed ^ 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    };
    let mut mat = |rows: usize, cols: usize| -> Vec<f32> {
        let a = 1.0 / (cols as f32).sqrt();
        (0..rows * cols).map(|_| next() * a).collect()
    };
    let (dim, hid, qd, kvd) = (cfg.dim, cfg.hidden_dim, cfg.q_dim(), cfg.kv_dim());
    let ln = cfg.norm == Norm::LayerNorm;
    let gated = cfg.gated();
    let bias = cfg.bias;
    let mut w = Weights {
        tok_emb: mat(cfg.vocab_size, dim).iter().map(|v| v * 4.0).collect(),
        pos_emb: (cfg.pos == Position::Learned).then(|| mat(cfg.seq_len, dim)),
        ..Default::default()
    };
    let vecn = |n: usize, center: f32| -> Vec<f32> { (0..n).map(|i| center + 0.1 * ((i * 7 % 13) as f32 / 13.0 - 0.5)).collect() };
    w.final_norm_w = vecn(dim, 1.0);
    w.final_norm_b = ln.then(|| vecn(dim, 0.0));
    for _ in 0..cfg.n_layers {
        let lw = LayerWeights {
            attn_norm_w: vecn(dim, 1.0),
            attn_norm_b: ln.then(|| vecn(dim, 0.0)),
            bq: bias.then(|| vecn(qd, 0.0)),
            bk: bias.then(|| vecn(kvd, 0.0)),
            bv: bias.then(|| vecn(kvd, 0.0)),
            bo: bias.then(|| vecn(dim, 0.0)),
            ffn_norm_w: vecn(dim, 1.0),
            ffn_norm_b: ln.then(|| vecn(dim, 0.0)),
            b1: bias.then(|| vecn(hid, 0.0)),
            b3: (bias && gated).then(|| vecn(hid, 0.0)),
            b2: bias.then(|| vecn(dim, 0.0)),
            ..Default::default()
        };
        w.layers.push(lw);
    }
    for lw in &mut w.layers {
        lw.wq = mat(qd, dim);
        lw.wk = mat(kvd, dim);
        lw.wv = mat(kvd, dim);
        lw.wo = mat(dim, qd);
        lw.w1 = mat(hid, dim);
        lw.w3 = gated.then(|| mat(hid, dim));
        lw.w2 = mat(dim, hid);
    }
    if !cfg.tied {
        w.lm_head = Some(mat(cfg.vocab_size, dim));
    }
    w
}
