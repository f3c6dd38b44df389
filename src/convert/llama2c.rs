//! llama2.c checkpoints (`.bin`): the legacy fp32 export (version 0), the fp32 export with a
//! 256-byte header (version 1) and the int8 Q8_0 export (version 2) of llama2.c's `export.py`.
//!
//! Owns: reading the header with checked arithmetic, checking the file size against it before
//! reading anything, dequantizing version 2, and permuting `wq`/`wk` rows from Meta's
//! interleaved-pair RoPE layout to the Hugging Face "rotate half" layout the runtime uses.
//! Must not: parse `tokenizer.bin` (the tokenizer builder does) or quantize.
//!
//! File layouts (little-endian; `L` = n_layers; matrices `(out, in)` row-major, as run.c's
//! `matmul` reads them):
//!
//! ```text
//! v0: i32 dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size (< 0: unshared head), seq_len
//!     f32 tok_emb (vocab, dim) | rms_att (L, dim) | wq (L, dim, dim) | wk (L, kv_dim, dim)
//!         | wv (L, kv_dim, dim) | wo (L, dim, dim) | rms_ffn (L, dim) | w1 (L, hidden, dim)
//!         | w2 (L, dim, hidden) | w3 (L, hidden, dim) | rms_final (dim)
//!         | freq_cis_real (seq_len, head_size/2) | freq_cis_imag (same) | [wcls (vocab, dim)]
//! v1: u32 magic "ak42" | i32 version = 1 | 7 x i32 params | u8 shared | zeros to 256 bytes
//!     f32 rms_att (L, dim) | rms_ffn (L, dim) | rms_final (dim) | tok_emb | wq (L) | wk (L)
//!         | wv (L) | wo (L) | w1 (L) | w2 (L) | w3 (L) | [wcls]
//! v2: as v1 with version = 2 and i32 group_size after the shared byte (offset 37); the norms
//!     stay f32, every matrix (same order, one per layer) is i8 values then f32 scales, one
//!     scale per group_size consecutive values of the flattened tensor.
//! ```

use std::format;
use std::fs;
use std::mem::take;
use std::path::Path;
use std::string::ToString;
use std::vec::Vec;

use super::error::{invalid, ConvertError};
use super::hf::read_with_progress;
use super::progress::Progress;
use super::{tie_if_equal, Imported, TokenizerSource};
use crate::format::writer::{LayerWeights, Weights};
use crate::format::{Activation, Arch, Config, DType, Norm, Position};

type Result<T> = core::result::Result<T, ConvertError>;

/// `"ak42"` read as a little-endian u32: the magic of versioned llama2.c files.
const MAGIC: u32 = 0x616b_3432;
/// Header size of versions 1 and 2.
const HEADER_V1: usize = 256;
/// Header size of version 0: seven i32.
const HEADER_V0: usize = 28;

// ---- entry point -------------------------------------------------------------------------

/// Imports a llama2.c checkpoint (version 0, 1 or 2). `tokenizer_bin` (llama2.c's
/// `tokenizer.bin`) is read as bytes into [`TokenizerSource::Llama2cBin`]; without it the
/// model has [`TokenizerSource::None`].
///
/// The model is Llama-style: RMSNorm (eps 1e-5), SwiGLU, RoPE with theta 10000,
/// `head_size = dim / n_heads`, no biases; tied when the file says the classifier is shared
/// (or stores a classifier equal to the embedding).
///
/// # Errors
/// A [`ConvertError`] naming the file: unreadable, unknown version, a bad header value, or a
/// size that does not match the header (truncated or with trailing bytes).
pub fn import_llama2c(bin: &Path, tokenizer_bin: Option<&Path>, progress: bool) -> Result<Imported> {
    let shown = bin.display().to_string();
    let len = fs::metadata(bin).map_err(|source| ConvertError::Io { path: shown.clone(), source })?.len();
    let mut bar = Progress::new(progress, len, "reading", true);
    let bytes = read_with_progress(bin, &shown, &mut bar)?;
    drop(bar);
    let (config, weights) = parse(&bytes, &shown, progress)?;
    let tokenizer = match tokenizer_bin {
        Some(p) => TokenizerSource::Llama2cBin(
            fs::read(p).map_err(|source| ConvertError::Io { path: p.display().to_string(), source })?,
        ),
        None => TokenizerSource::None,
    };
    Ok(Imported { config, weights, tokenizer })
}

/// Parses a llama2.c checkpoint held in memory; `file` names it in errors. Never panics and
/// never allocates more than the file's size implies.
///
/// # Errors
/// As [`import_llama2c`].
pub fn parse_llama2c(bytes: &[u8], file: &str) -> Result<(Config, Weights)> {
    parse(bytes, file, false)
}

// ---- header ------------------------------------------------------------------------------

/// What the header says.
struct Header {
    version: u32,
    dim: usize,
    hidden_dim: usize,
    n_layers: usize,
    n_heads: usize,
    n_kv_heads: usize,
    vocab_size: usize,
    seq_len: usize,
    /// The classifier is the embedding table.
    shared: bool,
    /// Quantization group (version 2), 0 otherwise.
    group_size: usize,
    /// Where the tensors start.
    data_start: usize,
}

fn i32_at(bytes: &[u8], at: usize) -> Option<i32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn header(bytes: &[u8], file: &str) -> Result<Header> {
    let truncated = |needed: usize| ConvertError::Truncated {
        file: file.into(),
        what: "llama2.c header".into(),
        needed: needed as u64,
        available: bytes.len() as u64,
    };
    let versioned = i32_at(bytes, 0).map(|m| m as u32 == MAGIC).unwrap_or(false);
    let (version, params_at, data_start) = if versioned {
        if bytes.len() < HEADER_V1 {
            return Err(truncated(HEADER_V1));
        }
        let v = i32_at(bytes, 4).unwrap_or(-1);
        if v != 1 && v != 2 {
            return Err(invalid(file, format!("unsupported llama2.c version {v} (supported: 0, 1, 2)")));
        }
        (v as u32, 8, HEADER_V1)
    } else {
        if bytes.len() < HEADER_V0 {
            return Err(truncated(HEADER_V0));
        }
        (0, 0, HEADER_V0)
    };
    const NAMES: [&str; 7] = ["dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"];
    let mut p = [0i32; 7];
    for (i, v) in p.iter_mut().enumerate() {
        *v = i32_at(bytes, params_at + 4 * i).ok_or_else(|| truncated(params_at + 28))?;
    }
    let bad = |i: usize, why: &str| invalid(file, format!("llama2.c header: {} {}{why}", NAMES[i], p[i]));
    for (i, &v) in p.iter().enumerate() {
        // v0 stores an unshared classifier as a negative vocab_size.
        let ok = if i == 5 && version == 0 { v != 0 && v != i32::MIN } else { v > 0 };
        if !ok {
            return Err(bad(i, " (must be positive)"));
        }
    }
    let u = |i: usize| p[i].unsigned_abs() as usize;
    let (dim, n_heads, n_kv_heads) = (u(0), u(3), u(4));
    if dim % n_heads != 0 {
        return Err(bad(0, &format!(" is not a multiple of n_heads {n_heads}")));
    }
    if n_kv_heads > n_heads || n_heads % n_kv_heads != 0 {
        return Err(bad(4, &format!(" does not divide n_heads {n_heads}")));
    }
    let (shared, group_size) = match version {
        0 => (p[5] > 0, 0),
        _ => {
            let shared = match bytes[36] {
                0 => false,
                1 => true,
                b => {
                    return Err(invalid(file, format!("llama2.c header: shared_classifier flag {b} (must be 0 or 1)")))
                }
            };
            let gs = if version == 2 { i32_at(bytes, 37).unwrap_or(0) } else { 0 };
            if version == 2 && (gs <= 0 || dim % gs as usize != 0) {
                return Err(invalid(
                    file,
                    format!("llama2.c header: group_size {gs} (must be positive and divide dim {dim})"),
                ));
            }
            (shared, gs.max(0) as usize)
        }
    };
    Ok(Header {
        version,
        dim,
        hidden_dim: u(1),
        n_layers: u(2),
        n_heads,
        n_kv_heads,
        vocab_size: u(5),
        seq_len: u(6),
        shared,
        group_size,
        data_start,
    })
}

/// The file size the header implies, in bytes, or `None` on overflow.
fn expected_len(h: &Header) -> Option<u64> {
    let (d, hd, l) = (h.dim as u64, h.hidden_dim as u64, h.n_layers as u64);
    let kv = (h.dim / h.n_heads * h.n_kv_heads) as u64;
    let tok = (h.vocab_size as u64).checked_mul(d)?;
    let norms = l.checked_mul(2)?.checked_mul(d)?.checked_add(d)?; // rms_att, rms_ffn, rms_final
                                                                   // wq, wk, wv, wo, w1, w2, w3 of one layer
    let layer = d
        .checked_mul(d)?
        .checked_mul(2)?
        .checked_add(d.checked_mul(kv)?.checked_mul(2)?)?
        .checked_add(d.checked_mul(hd)?.checked_mul(3)?)?;
    let mats = l.checked_mul(layer)?.checked_add(tok)?.checked_add(if h.shared { 0 } else { tok })?;
    let body = match h.version {
        0 => {
            let freqs = (h.seq_len as u64).checked_mul((h.dim / h.n_heads) as u64)?; // real + imag
            norms.checked_add(mats)?.checked_add(freqs)?.checked_mul(4)?
        }
        1 => norms.checked_add(mats)?.checked_mul(4)?,
        _ => {
            // i8 values plus one f32 per group; every matrix's size is a multiple of dim,
            // and group_size divides dim, so the per-tensor group counts add up exactly.
            let scales = mats / h.group_size as u64;
            norms.checked_mul(4)?.checked_add(mats)?.checked_add(scales.checked_mul(4)?)?
        }
    };
    body.checked_add(h.data_start as u64)
}

// ---- tensors -----------------------------------------------------------------------------

/// Reads consecutive tensors; every read is bounds-checked.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
    file: &'a str,
    /// Quantization group of the matrices (version 2), 0 for f32.
    group_size: usize,
    bar: Progress,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len()).ok_or_else(|| ConvertError::Truncated {
            file: self.file.into(),
            what: what.into(),
            needed: (self.at as u64).saturating_add(n as u64),
            available: self.bytes.len() as u64,
        })?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }

    /// `n` f32 values.
    fn f32s(&mut self, n: usize, what: &str) -> Result<Vec<f32>> {
        let nb = n.checked_mul(4).ok_or_else(|| invalid(self.file, format!("{what}: size overflows")))?;
        let raw = self.take(nb, what)?;
        self.bar.inc(1);
        Ok(raw.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
    }

    /// A matrix of `n` values: f32, or (version 2) i8 values then f32 scales, dequantized as
    /// `q[i] * s[i / group_size]`.
    fn mat(&mut self, n: usize, what: &str) -> Result<Vec<f32>> {
        if self.group_size == 0 {
            return self.f32s(n, what);
        }
        let gs = self.group_size;
        if !n.is_multiple_of(gs) {
            return Err(invalid(self.file, format!("{what}: {n} values are not a whole number of groups of {gs}")));
        }
        let q = self.take(n, what)?;
        let s = self.f32s(n / gs, what)?;
        Ok(q.iter().enumerate().map(|(i, &b)| (b as i8) as f32 * s[i / gs]).collect())
    }

    /// One tensor of `n` values per layer.
    fn per_layer(&mut self, layers: usize, n: usize, what: &str, matrix: bool) -> Result<Vec<Vec<f32>>> {
        (0..layers)
            .map(|l| {
                let name = format!("{what} (layer {l})");
                if matrix {
                    self.mat(n, &name)
                } else {
                    self.f32s(n, &name)
                }
            })
            .collect()
    }
}

/// Meta's RoPE layout (rows of a head interleave pairs `(2i, 2i+1)`) to Hugging Face's
/// "rotate half" layout (pairs `(i, i + head_size/2)`): HF row `h*hs + j*hs/2 + i` is Meta row
/// `h*hs + 2*i + j`. This is `permute` of transformers' `convert_llama_weights_to_hf.py`,
/// `w.view(n_heads, hs/2, 2, cols).transpose(1, 2).reshape(n_heads*hs, cols)`.
pub(crate) fn permute_rows(w: &[f32], n_heads: usize, head_size: usize, cols: usize) -> Vec<f32> {
    debug_assert_eq!(w.len(), n_heads * head_size * cols);
    let half = head_size / 2;
    let mut out = Vec::with_capacity(w.len());
    for h in 0..n_heads {
        for j in 0..2 {
            for i in 0..half {
                let src = (h * head_size + 2 * i + j) * cols;
                out.extend_from_slice(&w[src..src + cols]);
            }
        }
    }
    out
}

fn parse(bytes: &[u8], file: &str, progress: bool) -> Result<(Config, Weights)> {
    let h = header(bytes, file)?;
    let cfg = Config {
        arch: Arch::Llama,
        dtype: DType::F32,
        group_size: 0,
        dim: h.dim,
        hidden_dim: h.hidden_dim,
        n_layers: h.n_layers,
        n_heads: h.n_heads,
        n_kv_heads: h.n_kv_heads,
        head_size: h.dim / h.n_heads,
        vocab_size: h.vocab_size,
        seq_len: h.seq_len,
        norm: Norm::RmsNorm,
        norm_eps: 1e-5,
        act: Activation::SwiGlu,
        pos: Position::Rope,
        rope_theta: 10000.0,
        tied: h.shared,
        bias: false,
    };
    cfg.validate().map_err(|e| invalid(file, format!("llama2.c header: model not supported by tinygpt: {e}")))?;

    // Size check before reading anything: a short file is truncated, a long one is not what
    // the header says it is.
    let need = expected_len(&h).ok_or_else(|| invalid(file, "llama2.c header: model size overflows"))?;
    let have = bytes.len() as u64;
    if have < need {
        return Err(ConvertError::Truncated {
            file: file.into(),
            what: format!("llama2.c v{} model of this header", h.version),
            needed: need,
            available: have,
        });
    }
    if have > need {
        return Err(invalid(
            file,
            format!(
                "{} bytes after the end of the llama2.c v{} model the header describes ({need} bytes); not a llama2.c checkpoint?",
                have - need,
                h.version
            ),
        ));
    }

    let (d, hid, l, hs) = (h.dim, h.hidden_dim, h.n_layers, cfg.head_size);
    let (qd, kvd) = (cfg.q_dim(), cfg.kv_dim());
    let tensors = 3 + 9 * l + usize::from(!h.shared);
    let mut c = Cursor {
        bytes,
        at: h.data_start,
        file,
        group_size: h.group_size,
        bar: Progress::new(progress, tensors as u64, "converting", false),
    };
    let (tok_emb, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3, rms_final);
    if h.version == 0 {
        tok_emb = c.f32s(h.vocab_size * d, "token_embedding_table")?;
        rms_att = c.per_layer(l, d, "rms_att_weight", false)?;
        wq = c.per_layer(l, qd * d, "wq", true)?;
        wk = c.per_layer(l, kvd * d, "wk", true)?;
        wv = c.per_layer(l, kvd * d, "wv", true)?;
        wo = c.per_layer(l, d * qd, "wo", true)?;
        rms_ffn = c.per_layer(l, d, "rms_ffn_weight", false)?;
        w1 = c.per_layer(l, hid * d, "w1", true)?;
        w2 = c.per_layer(l, d * hid, "w2", true)?;
        w3 = c.per_layer(l, hid * d, "w3", true)?;
        rms_final = c.f32s(d, "rms_final_weight")?;
        c.take(h.seq_len * hs / 2 * 4, "freq_cis_real")?; // fixed theta-10000 tables; unused
        c.take(h.seq_len * hs / 2 * 4, "freq_cis_imag")?;
    } else {
        rms_att = c.per_layer(l, d, "rms_att_weight", false)?;
        rms_ffn = c.per_layer(l, d, "rms_ffn_weight", false)?;
        rms_final = c.f32s(d, "rms_final_weight")?;
        tok_emb = c.mat(h.vocab_size * d, "token_embedding_table")?;
        wq = c.per_layer(l, qd * d, "wq", true)?;
        wk = c.per_layer(l, kvd * d, "wk", true)?;
        wv = c.per_layer(l, kvd * d, "wv", true)?;
        wo = c.per_layer(l, d * qd, "wo", true)?;
        w1 = c.per_layer(l, hid * d, "w1", true)?;
        w2 = c.per_layer(l, d * hid, "w2", true)?;
        w3 = c.per_layer(l, hid * d, "w3", true)?;
    }
    let wcls = if h.shared { None } else { Some(c.mat(h.vocab_size * d, "wcls")?) };
    if c.at != bytes.len() {
        // expected_len and the reads above disagree: a bug here, reported rather than hidden.
        return Err(invalid(file, format!("internal error: read {} of {} bytes", c.at, bytes.len())));
    }

    let (mut rms_att, mut wv, mut wo, mut rms_ffn, mut w1, mut w2, mut w3) = (rms_att, wv, wo, rms_ffn, w1, w2, w3);
    let mut layers = Vec::with_capacity(l);
    for i in 0..l {
        layers.push(LayerWeights {
            attn_norm_w: take(&mut rms_att[i]),
            wq: permute_rows(&wq[i], h.n_heads, hs, d),
            wk: permute_rows(&wk[i], h.n_kv_heads, hs, d),
            wv: take(&mut wv[i]),
            wo: take(&mut wo[i]),
            ffn_norm_w: take(&mut rms_ffn[i]),
            w1: take(&mut w1[i]),
            w3: Some(take(&mut w3[i])),
            w2: take(&mut w2[i]),
            ..LayerWeights::default()
        });
    }
    let lm_head = tie_if_equal(&tok_emb, wcls);
    let cfg = Config { tied: lm_head.is_none(), ..cfg };
    Ok((cfg, Weights { tok_emb, pos_emb: None, layers, final_norm_w: rms_final, final_norm_b: None, lm_head }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permute_moves_pairs_to_halves() {
        // one head of size 8, one column: Meta rows 0..8 -> HF rows [0, 2, 4, 6, 1, 3, 5, 7]
        let meta: Vec<f32> = (0..8).map(|i| i as f32).collect();
        assert_eq!(permute_rows(&meta, 1, 8, 1), [0.0, 2.0, 4.0, 6.0, 1.0, 3.0, 5.0, 7.0]);
        // two heads of 4, two columns: each head permuted on its own, rows kept whole
        let meta: Vec<f32> = (0..16).map(|i| i as f32).collect();
        let hf = permute_rows(&meta, 2, 4, 2);
        let rows: Vec<f32> = hf.chunks(2).map(|r| r[0] / 2.0).collect();
        assert_eq!(rows, [0.0, 2.0, 1.0, 3.0, 4.0, 6.0, 5.0, 7.0]);
        assert!(hf.chunks(2).all(|r| r[1] == r[0] + 1.0));
    }

    #[test]
    fn short_headers_are_truncation_errors() {
        for n in [0, 3, 27] {
            let e = parse_llama2c(&std::vec![1u8; n], "x.bin").unwrap_err();
            assert!(matches!(e, ConvertError::Truncated { .. }), "{n}: {e}");
        }
        let mut v1 = 0x616b_3432u32.to_le_bytes().to_vec();
        v1.extend(1i32.to_le_bytes());
        let e = parse_llama2c(&v1, "x.bin").unwrap_err();
        assert!(matches!(e, ConvertError::Truncated { needed: 256, .. }), "{e}");
    }

    #[test]
    fn huge_header_values_do_not_allocate_or_overflow() {
        let mut b = Vec::new();
        for v in [i32::MAX, i32::MAX, i32::MAX, 1, 1, i32::MIN + 1, i32::MAX] {
            b.extend(v.to_le_bytes());
        }
        assert!(parse_llama2c(&b, "x.bin").is_err());
        b.clear();
        for v in [4096i32, 11008, 1024, 32, 32, -32000, 1 << 20] {
            b.extend(v.to_le_bytes());
        }
        let e = parse_llama2c(&b, "x.bin").unwrap_err();
        assert!(matches!(e, ConvertError::Truncated { .. }), "{e}");
    }
}
