//! The `.tgpt` model format: a validated zero-copy view over the model's bytes.
//!
//! Owns: reading and validating the header, the tensor directory and the section bounds,
//! once, with checked arithmetic; handing out typed slices afterwards. Must not: allocate,
//! copy weights, or panic on any input. `docs/FORMAT.md` specifies the layout in prose;
//! `layout.rs` holds the constants shared with the writer.

// Panic-free core: see "Panics" in the crate docs (src/lib.rs).
mod config;
pub mod layout;
#[cfg(feature = "std")]
pub mod writer;

pub use config::{Activation, Arch, Config, DType, Norm, Position};

use crate::error::{Error, Result};
use crate::kernels::Layout;
use layout::*;

/// A weight matrix `(rows, cols)` = `(out_features, in_features)`, borrowed from the model.
#[derive(Debug, Clone, Copy)]
pub enum Matrix<'a> {
    /// f32 weights, row-major, `rows * cols` values.
    F32 {
        /// `(rows, cols)` values.
        w: &'a [f32],
        /// Output features.
        rows: usize,
        /// Input features.
        cols: usize,
    },
    /// int8 weights with one f32 scale per group of `gs` inputs.
    Q8 {
        /// `(rows, stride)` codes; `stride = groups * gs`, the pad past `cols` is zero.
        q: &'a [i8],
        /// `(rows, groups)` scales.
        s: &'a [f32],
        /// Output features.
        rows: usize,
        /// Input features.
        cols: usize,
        /// Group size.
        gs: usize,
        /// `q` and `s` are interleaved by four rows ([`crate::kernels::Interleave`]), as
        /// [`Model::from_bytes_in`] leaves them; row-major otherwise.
        il: bool,
        /// With `il`: `q` and `s` are in quads ([`crate::kernels::Layout::Quads`]).
        quads: bool,
        /// With `quads`: even-indexed codes stored with their sign bit flipped
        /// ([`crate::kernels::Layout::Quads`], not [`crate::kernels::Layout::QuadsPlain`]).
        bias: bool,
    },
}

impl Matrix<'_> {
    /// Output features.
    pub fn rows(&self) -> usize {
        match *self {
            Matrix::F32 { rows, .. } | Matrix::Q8 { rows, .. } => rows,
        }
    }
    /// Input features.
    pub fn cols(&self) -> usize {
        match *self {
            Matrix::F32 { cols, .. } | Matrix::Q8 { cols, .. } => cols,
        }
    }
    /// Copies row `r` into `out[..cols]` as f32 (dequantizing if needed): an embedding lookup.
    ///
    /// If `r` is not a row of the matrix or `out` is shorter than `cols` (caller bugs: the
    /// session only looks up validated token ids and positions), `out` is left unchanged;
    /// debug builds assert.
    pub fn row_into(&self, r: usize, out: &mut [f32]) {
        let Some(out) = out.get_mut(..self.cols()) else {
            debug_assert!(false, "row_into: output shorter than a row");
            return;
        };
        match *self {
            Matrix::F32 { w, cols, .. } => {
                let Some(row) = span(r, cols, cols).and_then(|rg| w.get(rg)) else {
                    debug_assert!(false, "row_into: row {r} out of range");
                    return;
                };
                out.copy_from_slice(row);
            }
            Matrix::Q8 { q, s, rows, cols, gs, il, quads, bias } => {
                use crate::kernels::Interleave;
                let groups = cols.div_ceil(gs.max(1));
                let lay = Interleave { rows, groups };
                // r < rows and rows * groups * gs not overflowing keep `lay.at` in range
                let fits = r < rows && gs > 0 && rows.checked_mul(groups).and_then(|n| n.checked_mul(gs)).is_some();
                for (g, o) in out.chunks_mut(gs.max(1)).enumerate().take(if fits { groups } else { 0 }) {
                    if il && quads {
                        let Some(&scale) = s.get(lay.at_in(Interleave::QUAD_BLOCK, r, g, 1)) else {
                            debug_assert!(false, "row_into: row {r} out of range");
                            return;
                        };
                        for (i, o) in o.iter_mut().enumerate() {
                            let at = Interleave::quad_code_at(rows, groups * gs, r, g * gs + i);
                            let Some(&v) = q.get(at) else {
                                debug_assert!(false, "row_into: row {r} out of range");
                                return;
                            };
                            *o = Interleave::code(v, at, bias) as f32 * scale;
                        }
                        continue;
                    }
                    let at = lay.at(il, r, g, gs);
                    let (Some(qg), Some(&scale)) = (q.get(at..at + o.len()), s.get(lay.at(il, r, g, 1))) else {
                        debug_assert!(false, "row_into: row {r} out of range");
                        return;
                    };
                    for (o, &v) in o.iter_mut().zip(qg) {
                        *o = v as f32 * scale;
                    }
                }
                debug_assert!(fits, "row_into: row {r} out of range");
            }
        }
    }
}

/// `r * stride .. r * stride + len`, or `None` on overflow.
fn span(r: usize, stride: usize, len: usize) -> Option<core::ops::Range<usize>> {
    let start = r.checked_mul(stride)?;
    Some(start..start.checked_add(len)?)
}

/// How the tokenizer section and the weights may be checked when parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseOptions {
    /// Verify the whole-file checksum (on by default; the fuzzers turn it off to reach the
    /// structural checks behind it).
    pub verify_checksum: bool,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions { verify_checksum: true }
    }
}

/// A validated model: config, tensor directory and tokenizer, borrowed from the bytes.
#[derive(Debug, Clone, Copy)]
pub struct Model<'a> {
    bytes: &'a [u8],
    config: Config,
    dir_off: usize,
    tokenizer: crate::tokenizer::Tokenizer<'a>,
    /// The int8 matrices' layout ([`Model::from_bytes_in`]).
    layout: Layout,
}

fn rd32(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    if let Some(s) = b.get(at..at + 4) {
        w.copy_from_slice(s);
    }
    u32::from_le_bytes(w)
}

fn rd64(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    if let Some(s) = b.get(at..at + 8) {
        w.copy_from_slice(s);
    }
    u64::from_le_bytes(w)
}

fn to_usize(v: u64, what: &'static str) -> Result<usize> {
    usize::try_from(v).map_err(|_| Error::Overflow { what })
}

/// What a slot must hold under a config: `None` = absent, `Some((matrix?, rows, cols))`.
fn expected(cfg: &Config, slot: Slot) -> Option<(bool, usize, usize)> {
    let (dim, hid, qd, kvd) = (cfg.dim, cfg.hidden_dim, cfg.q_dim(), cfg.kv_dim());
    let ln = cfg.norm == Norm::LayerNorm;
    let b = cfg.bias;
    let m = |r, c| Some((true, r, c));
    let v = |n| Some((false, 1, n));
    match slot {
        Slot::TokEmb => m(cfg.vocab_size, dim),
        Slot::PosEmb => (cfg.pos == Position::Learned).then_some((true, cfg.seq_len, dim)),
        Slot::FinalNormW | Slot::AttnNormW | Slot::FfnNormW => v(dim),
        Slot::FinalNormB | Slot::AttnNormB | Slot::FfnNormB => ln.then_some((false, 1, dim)),
        Slot::LmHead => (!cfg.tied).then_some((true, cfg.vocab_size, dim)),
        Slot::Wq => m(qd, dim),
        Slot::Bq => b.then_some((false, 1, qd)),
        Slot::Wk | Slot::Wv => m(kvd, dim),
        Slot::Bk | Slot::Bv => b.then_some((false, 1, kvd)),
        Slot::Wo => m(dim, qd),
        Slot::Bo | Slot::B2 => b.then_some((false, 1, dim)),
        Slot::W1 => m(hid, dim),
        Slot::B1 => b.then_some((false, 1, hid)),
        Slot::W3 => cfg.gated().then_some((true, hid, dim)),
        Slot::B3 => (b && cfg.gated()).then_some((false, 1, hid)),
        Slot::W2 => m(dim, hid),
    }
}

impl<'a> Model<'a> {
    /// Parses and validates a model, verifying its checksum.
    ///
    /// `bytes` must start at a 16-byte aligned address (`include_model!`-style statics and
    /// [`AlignedBytes`](crate::AlignedBytes) in std guarantee it).
    ///
    /// # Errors
    /// A typed [`Error`] naming the first problem found; never panics, never reads out of
    /// bounds.
    pub fn from_bytes(bytes: &'a [u8]) -> Result<Self> {
        Self::parse(bytes, ParseOptions::default())
    }

    /// [`Model::from_bytes`] with options.
    ///
    /// # Errors
    /// As [`Model::from_bytes`].
    pub fn parse(bytes: &'a [u8], opts: ParseOptions) -> Result<Self> {
        let len = bytes.len() as u64;
        if bytes.len() < H_END {
            if bytes.get(..4).is_some_and(|m| m != MAGIC) {
                return Err(Error::BadMagic);
            }
            return Err(Error::Truncated { what: "header", needed: HEADER_LEN as u64, available: len });
        }
        if bytes.get(H_MAGIC..H_MAGIC + 4) != Some(&MAGIC[..]) {
            return Err(Error::BadMagic);
        }
        let version = rd32(bytes, H_VERSION);
        if version != VERSION {
            return Err(Error::UnsupportedVersion(version));
        }
        if bytes.len() < HEADER_LEN {
            return Err(Error::Truncated { what: "header", needed: HEADER_LEN as u64, available: len });
        }
        if !(bytes.as_ptr() as usize).is_multiple_of(BASE_ALIGN) {
            return Err(Error::Misaligned { what: "model bytes", align: BASE_ALIGN });
        }
        let header_len = rd32(bytes, H_HEADER_LEN);
        if header_len as usize != HEADER_LEN {
            return Err(Error::BadField { field: "header_len", value: header_len as u64 });
        }
        if bytes.get(H_END..HEADER_LEN).is_some_and(|r| r.iter().any(|&b| b != 0)) {
            return Err(Error::BadField { field: "reserved header bytes", value: 1 });
        }
        let file_len = rd64(bytes, H_FILE_LEN);
        if file_len > len {
            return Err(Error::Truncated { what: "file", needed: file_len, available: len });
        }
        if file_len < len {
            return Err(Error::BadField { field: "file_len (trailing bytes after the model)", value: file_len });
        }
        if opts.verify_checksum {
            let stored = rd64(bytes, H_CHECKSUM);
            let computed = checksum(bytes);
            if stored != computed {
                return Err(Error::Checksum { stored, computed });
            }
        }

        let config = read_config(bytes)?;
        config.validate()?;

        // tensor directory
        let count = rd32(bytes, H_TENSOR_COUNT) as usize;
        let want = config
            .n_layers
            .checked_mul(LAYER_SLOTS)
            .and_then(|n| n.checked_add(GLOBAL_SLOTS))
            .ok_or(Error::Overflow { what: "tensor count" })?;
        if count != want {
            return Err(Error::BadField { field: "tensor_count", value: count as u64 });
        }
        let dir_off = to_usize(rd64(bytes, H_TENSOR_DIR_OFF), "tensor directory offset")?;
        let dir_end = count
            .checked_mul(ENTRY_LEN)
            .and_then(|n| n.checked_add(dir_off))
            .ok_or(Error::Overflow { what: "tensor directory size" })?;
        if dir_off < HEADER_LEN || dir_off % 8 != 0 {
            return Err(Error::BadField { field: "tensor_dir_off", value: dir_off as u64 });
        }
        if dir_end > bytes.len() {
            return Err(Error::Truncated { what: "tensor directory", needed: dir_end as u64, available: len });
        }
        // tokenizer section: after the directory
        let tok_off = to_usize(rd64(bytes, H_TOKENIZER_OFF), "tokenizer offset")?;
        let tok_len = to_usize(rd64(bytes, H_TOKENIZER_LEN), "tokenizer length")?;
        let tok_end = tok_off.checked_add(tok_len).ok_or(Error::Overflow { what: "tokenizer section" })?;
        let Some(section) = bytes.get(tok_off..tok_end) else {
            return Err(Error::Truncated { what: "tokenizer section", needed: tok_end as u64, available: len });
        };
        if tok_off < dir_end {
            return Err(Error::BadField { field: "tokenizer_off (overlaps the tensor directory)", value: tok_off as u64 });
        }

        // `count` entries: the global slots, then each layer's (checked equal above); their
        // data after the tokenizer, in directory order, without overlap
        let mut cursor = tok_end as u64;
        let per_layer = (0..config.n_layers).flat_map(|layer| LAYER.iter().map(move |&slot| (slot, layer)));
        for (i, (slot, layer)) in GLOBAL.iter().map(|&slot| (slot, 0)).chain(per_layer).enumerate() {
            check_entry(bytes, &config, dir_off + i * ENTRY_LEN, i as u32, slot, layer, &mut cursor)?;
        }

        let tokenizer = crate::tokenizer::Tokenizer::parse(section, config.vocab_size)?;
        Ok(Model { bytes, config, dir_off, tokenizer, layout: Layout::RowMajor })
    }

    /// [`Model::from_bytes_in`] with [`Layout::Interleaved`].
    ///
    /// # Errors
    /// As [`Model::from_bytes_in`].
    pub fn from_bytes_interleaved(bytes: &'a mut [u8], scratch: &mut [u8]) -> Result<Self> {
        Model::from_bytes_in(bytes, scratch, Layout::Interleaved)
    }

    /// [`Model::from_bytes`], then every int8 matrix rewritten in place into `layout`
    /// (four-row interleaved, [`crate::kernels::Interleave`], or quads, [`Layout::Quads`] and
    /// [`Layout::QuadsPlain`], which a group size that is not a multiple of 4 turns into
    /// [`Layout::Interleaved`]:
    /// [`Model::layout`] says which), as the returned model's [`Matrix::Q8`] views say
    /// (`il`, `quads`, `bias`). For the kernels that read
    /// such a layout faster ([`crate::kernels::Kernels::layout`]: wasm32; the others read it
    /// through the scalar kernel, so use [`Model::from_bytes`] there). The results are bit
    /// for bit those of the row-major model. `scratch` needs [`Model::interleave_scratch_len`]
    /// bytes ([`Layout::RowMajor`]: none, and nothing is rewritten).
    ///
    /// The bytes no longer match the file's checksum afterwards (they are not a `.tgpt` file
    /// any more): keep them for this model only. On error nothing has been rewritten. Only
    /// the matrices' own bytes change: the parser guarantees that no two sections overlap,
    /// so the header, directory and tokenizer stay as validated.
    ///
    /// # Errors
    /// As [`Model::from_bytes`]; [`Error::BufferTooSmall`] if `scratch` is too short.
    pub fn from_bytes_in(bytes: &'a mut [u8], scratch: &mut [u8], layout: Layout) -> Result<Self> {
        if layout == Layout::RowMajor {
            return Model::from_bytes(bytes);
        }
        let (config, dir_off) = {
            let m = Model::from_bytes(&*bytes)?;
            let needed = m.interleave_scratch_len();
            if scratch.len() < needed {
                return Err(Error::BufferTooSmall { what: "interleave scratch", needed });
            }
            (m.config, m.dir_off)
        };
        let layout = if layout.quads() && !config.group_size.is_multiple_of(4) { Layout::Interleaved } else { layout };
        let count = GLOBAL_SLOTS + LAYER_SLOTS * config.n_layers;
        for i in 0..count {
            let e = raw_entry(&*bytes, dir_off + i * ENTRY_LEN);
            if e.dtype != T_Q8 {
                continue;
            }
            // validated at parse: the regions are in bounds and their sizes do not overflow
            let (rows, groups, gs) = (e.rows as usize, (e.cols as usize).div_ceil(config.group_size), config.group_size);
            let lay = crate::kernels::Interleave { rows, groups };
            let (q0, s0) = (e.data_off as usize, e.scale_off as usize);
            let (ql, sl) = (rows * groups * gs, rows * groups * 4);
            let done = if layout.quads() {
                // the sections do not overlap (the parser checks), so the two ranges are disjoint
                let (lo, hi, q_first) = if q0 < s0 { (q0, s0, true) } else { (s0, q0, false) };
                match bytes.get_mut(lo..).map(|b| b.split_at_mut(hi - lo)) {
                    Some((a, b)) => {
                        let (q, s) = if q_first { (a.get_mut(..ql), b.get_mut(..sl)) } else { (b.get_mut(..ql), a.get_mut(..sl)) };
                        match (q, s) {
                            (Some(q), Some(s)) => {
                                crate::kernels::Interleave::apply_quads(rows, groups * gs, groups, q, s, scratch, layout.biased())
                            }
                            _ => false,
                        }
                    }
                    None => false,
                }
            } else {
                bytes.get_mut(q0..q0 + ql).is_some_and(|q| lay.apply(q, gs, scratch))
                    && bytes.get_mut(s0..s0 + sl).is_some_and(|s| lay.apply(s, 4, scratch))
            };
            debug_assert!(done, "from_bytes_in: a validated entry out of range");
        }
        let bytes: &'a [u8] = bytes;
        let m = Model::parse(bytes, ParseOptions { verify_checksum: false })?;
        Ok(Model { layout, ..m })
    }

    /// Bytes of scratch [`Model::from_bytes_in`] needs: one block of 16 rows of the widest
    /// int8 matrix (codes, or scales if larger); 0 for an f32 model (whose
    /// `group_size` field means nothing and is not validated).
    pub fn interleave_scratch_len(&self) -> usize {
        if self.config.dtype != DType::Q8 {
            return 0;
        }
        let gs = self.config.group_size.max(1);
        let widest = self.config.dim.max(self.config.hidden_dim).max(self.config.q_dim());
        let groups = widest.div_ceil(gs);
        // blocks of 16 rows (quads) or 4 (interleaved): the larger
        crate::kernels::Interleave::quads_scratch_len(groups.saturating_mul(gs), groups)
    }

    /// Whether the int8 matrices are interleaved ([`Model::from_bytes_in`]).
    pub fn interleaved(&self) -> bool {
        self.layout.interleaved()
    }

    /// The int8 matrices' layout ([`Model::from_bytes_in`]).
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// The hyper-parameters.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The tokenizer stored in the file.
    pub fn tokenizer(&self) -> &crate::tokenizer::Tokenizer<'a> {
        &self.tokenizer
    }

    /// The model's bytes.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Total bytes of weight data (matrices, scales, vectors), without header and tokenizer.
    pub fn weight_bytes(&self) -> usize {
        let n = GLOBAL_SLOTS + LAYER_SLOTS * self.config.n_layers;
        (0..n)
            .map(|i| {
                let at = self.dir_off + i * ENTRY_LEN;
                let e = raw_entry(self.bytes, at);
                entry_bytes(&self.config, &e)
            })
            .sum()
    }

    /// Size in bytes of the tokenizer section.
    pub fn tokenizer_bytes(&self) -> usize {
        rd64(self.bytes, H_TOKENIZER_LEN) as usize
    }

    fn entry(&self, slot: Slot, layer: usize) -> RawEntry {
        raw_entry(self.bytes, self.dir_off + slot.index(layer) * ENTRY_LEN)
    }

    /// The matrix in `slot` of `layer` (validated at parse time).
    ///
    /// # Panics
    /// If the config has no such tensor or `layer` is past the last layer (a caller bug, not
    /// an input problem: the forward pass only asks for slots the config has, and parse
    /// checked their presence). [`Model::get_matrix`] is the non-panicking form.
    #[allow(clippy::panic, reason = "documented panic on a caller bug; get_matrix is the fallible form")]
    pub fn matrix(&self, slot: Slot, layer: usize) -> Matrix<'a> {
        match self.get_matrix(slot, layer) {
            Some(m) => m,
            None => panic!("Model::matrix: no tensor {slot:?} in layer {layer} for this config"),
        }
    }

    /// The matrix in `slot` of `layer`, or `None` if the config has no such tensor (or
    /// `layer` is past the last layer, for a per-layer slot; or non-zero, for a global one).
    pub fn get_matrix(&self, slot: Slot, layer: usize) -> Option<Matrix<'a>> {
        let global = slot.index(0) < GLOBAL_SLOTS;
        if (global && layer != 0) || (!global && layer >= self.config.n_layers) {
            return None;
        }
        let e = self.entry(slot, layer);
        let (rows, cols) = (e.rows as usize, e.cols as usize);
        match e.dtype {
            T_F32 => Some(Matrix::F32 { w: f32s(self.bytes, e.data_off as usize, rows * cols)?, rows, cols }),
            T_Q8 => {
                let gs = self.config.group_size;
                let groups = cols.div_ceil(gs);
                let q = i8s(self.bytes, e.data_off as usize, rows * groups * gs)?;
                let s = f32s(self.bytes, e.scale_off as usize, rows * groups)?;
                Some(Matrix::Q8 {
                    q,
                    s,
                    rows,
                    cols,
                    gs,
                    il: self.layout.interleaved(),
                    quads: self.layout.quads(),
                    bias: self.layout.biased(),
                })
            }
            _ => None,
        }
    }

    /// The f32 vector in `slot` of `layer`, or `None` if the config has no such tensor (or
    /// `layer` is past the last layer, for a per-layer slot).
    pub fn vector(&self, slot: Slot, layer: usize) -> Option<&'a [f32]> {
        let global = slot.index(0) < GLOBAL_SLOTS;
        if (global && layer != 0) || (!global && layer >= self.config.n_layers) {
            return None;
        }
        let e = self.entry(slot, layer);
        if e.dtype != T_F32 {
            return None;
        }
        f32s(self.bytes, e.data_off as usize, e.cols as usize)
    }

    /// The LM head: its own matrix, or the token embedding when tied.
    pub fn lm_head(&self) -> Matrix<'a> {
        if self.config.tied {
            self.matrix(Slot::TokEmb, 0)
        } else {
            self.matrix(Slot::LmHead, 0)
        }
    }
}

fn read_config(b: &[u8]) -> Result<Config> {
    let arch = match rd32(b, H_ARCH) {
        1 => Arch::Gpt2,
        2 => Arch::Llama,
        v => return Err(Error::BadField { field: "arch", value: v as u64 }),
    };
    let dtype = match rd32(b, H_DTYPE) {
        1 => DType::F32,
        2 => DType::Q8,
        v => return Err(Error::BadField { field: "dtype", value: v as u64 }),
    };
    let norm = match rd32(b, H_NORM) {
        1 => Norm::LayerNorm,
        2 => Norm::RmsNorm,
        v => return Err(Error::BadField { field: "norm", value: v as u64 }),
    };
    let act = match rd32(b, H_ACT) {
        1 => Activation::GeluTanh,
        2 => Activation::Relu,
        3 => Activation::SwiGlu,
        4 => Activation::GeluErf,
        v => return Err(Error::BadField { field: "activation", value: v as u64 }),
    };
    let pos = match rd32(b, H_POS) {
        1 => Position::Learned,
        2 => Position::Sinusoidal,
        3 => Position::Rope,
        v => return Err(Error::BadField { field: "position encoding", value: v as u64 }),
    };
    let flag = |at: usize, field: &'static str| match rd32(b, at) {
        0 => Ok(false),
        1 => Ok(true),
        v => Err(Error::BadField { field, value: v as u64 }),
    };
    let u = |at: usize| rd32(b, at) as usize;
    Ok(Config {
        arch,
        dtype,
        group_size: u(H_GROUP_SIZE),
        dim: u(H_DIM),
        hidden_dim: u(H_HIDDEN_DIM),
        n_layers: u(H_N_LAYERS),
        n_heads: u(H_N_HEADS),
        n_kv_heads: u(H_N_KV_HEADS),
        head_size: u(H_HEAD_SIZE),
        vocab_size: u(H_VOCAB_SIZE),
        seq_len: u(H_SEQ_LEN),
        norm,
        norm_eps: f32::from_bits(rd32(b, H_NORM_EPS)),
        act,
        pos,
        rope_theta: f32::from_bits(rd32(b, H_ROPE_THETA)),
        tied: flag(H_TIED, "tied")?,
        bias: flag(H_BIAS, "bias")?,
    })
}

struct RawEntry {
    code: u32,
    layer: u32,
    dtype: u32,
    rows: u32,
    cols: u32,
    reserved: u32,
    data_off: u64,
    scale_off: u64,
}

fn raw_entry(b: &[u8], at: usize) -> RawEntry {
    RawEntry {
        code: rd32(b, at),
        layer: rd32(b, at + 4),
        dtype: rd32(b, at + 8),
        rows: rd32(b, at + 12),
        cols: rd32(b, at + 16),
        reserved: rd32(b, at + 20),
        data_off: rd64(b, at + 24),
        scale_off: rd64(b, at + 32),
    }
}

/// Bytes of data (+ scales) an entry occupies. Only called on validated entries.
fn entry_bytes(cfg: &Config, e: &RawEntry) -> usize {
    let (rows, cols) = (e.rows as usize, e.cols as usize);
    match e.dtype {
        T_F32 => rows * cols * 4,
        T_Q8 => {
            let groups = cols.div_ceil(cfg.group_size);
            rows * groups * cfg.group_size + rows * groups * 4
        }
        _ => 0,
    }
}

/// Checks directory entry `index` at byte `at` for `slot` of `layer`; its data (and scales)
/// must start at or after `cursor` (the end of the previous section), which moves past them.
fn check_entry(b: &[u8], cfg: &Config, at: usize, index: u32, slot: Slot, layer: usize, cursor: &mut u64) -> Result<()> {
    let e = raw_entry(b, at);
    let bad = |why| Err(Error::BadTensor { index, why });
    if e.code != slot.code() {
        return bad("slot code out of the canonical order");
    }
    if e.layer as usize != layer {
        return bad("layer index out of the canonical order");
    }
    if e.reserved != 0 {
        return bad("reserved field is not zero");
    }
    let Some((is_matrix, rows, cols)) = expected(cfg, slot) else {
        if e.dtype != T_ABSENT || e.rows != 0 || e.cols != 0 || e.data_off != 0 || e.scale_off != 0 {
            return bad("tensor present but the config has no such tensor");
        }
        return Ok(());
    };
    let want_dtype = if is_matrix && cfg.dtype == DType::Q8 { T_Q8 } else { T_F32 };
    if e.dtype == T_ABSENT {
        return bad("tensor required by the config is absent");
    }
    if e.dtype != want_dtype {
        return bad("dtype does not match the model's dtype");
    }
    if e.rows as usize != rows || e.cols as usize != cols {
        return bad("shape does not match the config");
    }
    let len = b.len() as u64;
    let mut in_file = |off: u64, n: usize, what: &'static str| -> Result<()> {
        if !off.is_multiple_of(SECTION_ALIGN as u64) || off < HEADER_LEN as u64 {
            return Err(Error::BadTensor { index, why: what });
        }
        let end = off.checked_add(n as u64).ok_or(Error::Overflow { what: "tensor extent" })?;
        if end > len {
            return Err(Error::Truncated { what: "tensor data", needed: end, available: len });
        }
        // tensors follow the tokenizer in directory order, data then scales, so no two
        // sections share a byte (what lets `Model::from_bytes_in` rewrite each
        // matrix in place without touching anything else)
        if off < *cursor {
            return Err(Error::BadTensor { index, why: "data overlaps an earlier section (tensors follow the tokenizer, in directory order)" });
        }
        *cursor = end;
        Ok(())
    };
    // Config::validate bounds every dimension, so these products fit in u64 (and usize on
    // the 32-bit targets only if the file itself fits in memory, which in_file checks).
    let elems = (rows as u64).checked_mul(cols as u64).ok_or(Error::Overflow { what: "tensor size" })?;
    if e.dtype == T_F32 {
        let n = elems.checked_mul(4).ok_or(Error::Overflow { what: "tensor size" })?;
        in_file(e.data_off, to_usize(n, "tensor size")?, "data offset not 64-byte aligned or inside the header")?;
        if e.scale_off != 0 {
            return bad("f32 tensor has a scale offset");
        }
    } else {
        let groups = cols.div_ceil(cfg.group_size) as u64;
        let q = (rows as u64)
            .checked_mul(groups)
            .and_then(|n| n.checked_mul(cfg.group_size as u64))
            .ok_or(Error::Overflow { what: "tensor size" })?;
        let s = (rows as u64).checked_mul(groups).and_then(|n| n.checked_mul(4)).ok_or(Error::Overflow { what: "tensor size" })?;
        in_file(e.data_off, to_usize(q, "tensor size")?, "data offset not 64-byte aligned or inside the header")?;
        in_file(e.scale_off, to_usize(s, "tensor size")?, "scale offset not 64-byte aligned or inside the header")?;
    }
    Ok(())
}

/// `n` f32 values at byte `off` of `b`; `None` if out of bounds (never for a validated entry).
fn f32s(b: &[u8], off: usize, n: usize) -> Option<&[f32]> {
    let bytes = b.get(off..off.checked_add(n.checked_mul(4)?)?)?;
    debug_assert!((bytes.as_ptr() as usize).is_multiple_of(4));
    // SAFETY: `bytes` is in bounds (`get` above checks it) and 4-byte aligned: the base is
    // 16-byte aligned (checked in `Model::parse`) and `off` is a multiple of 64 (checked in
    // `check_entry`). Every bit pattern is a valid f32, and the lifetime is that of `b`.
    Some(unsafe { core::slice::from_raw_parts(bytes.as_ptr().cast::<f32>(), n) })
}

/// `n` i8 values at byte `off` of `b`; `None` if out of bounds (never for a validated entry).
fn i8s(b: &[u8], off: usize, n: usize) -> Option<&[i8]> {
    let bytes = b.get(off..off.checked_add(n)?)?;
    // SAFETY: u8 and i8 have the same size and alignment and every bit pattern is valid;
    // the slice is in bounds (checked by `get` above) and borrows from `b`.
    Some(unsafe { core::slice::from_raw_parts(bytes.as_ptr().cast::<i8>(), n) })
}

/// An owned, 16-byte aligned byte buffer (std): what a file or JS ArrayBuffer is copied into
/// so that [`Model::from_bytes`] can view it without copying weights again.
#[cfg(feature = "std")]
pub struct AlignedBytes {
    words: std::vec::Vec<u128>,
    len: usize,
}

#[cfg(feature = "std")]
impl AlignedBytes {
    /// Copies `data` into a fresh aligned buffer.
    pub fn new(data: &[u8]) -> Self {
        let mut words = std::vec![0u128; data.len().div_ceil(16)];
        // SAFETY: `words` owns `words.len() * 16 >= data.len()` initialized bytes; u128 has no
        // invalid bit patterns and we write only within the first `data.len()` of them.
        let dst = unsafe { core::slice::from_raw_parts_mut(words.as_mut_ptr().cast::<u8>(), data.len()) };
        dst.copy_from_slice(data);
        AlignedBytes { words, len: data.len() }
    }

    /// Reads a file into an aligned buffer.
    ///
    /// # Errors
    /// I/O errors from the file system.
    pub fn read(path: &std::path::Path) -> std::io::Result<Self> {
        use std::io::Read;
        let mut f = std::fs::File::open(path)?;
        let len = usize::try_from(f.metadata()?.len()).map_err(|_| std::io::Error::other("file too large"))?;
        let mut words = std::vec![0u128; len.div_ceil(16)];
        // SAFETY: as in `new`: the buffer owns at least `len` initialized bytes.
        let dst = unsafe { core::slice::from_raw_parts_mut(words.as_mut_ptr().cast::<u8>(), len) };
        f.read_exact(dst)?;
        Ok(AlignedBytes { words, len })
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: `words` owns `words.len() * 16 >= len` initialized bytes.
        unsafe { core::slice::from_raw_parts(self.words.as_ptr().cast::<u8>(), self.len) }
    }

    /// The bytes, writable (for [`Model::from_bytes_in`]).
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: `words` owns `words.len() * 16 >= len` initialized bytes, borrowed mutably
        // through `self`; every byte pattern is a valid u128 part.
        unsafe { core::slice::from_raw_parts_mut(self.words.as_mut_ptr().cast::<u8>(), self.len) }
    }
}
