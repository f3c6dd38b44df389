//! Session: a model plus the caller's workspace, and the decoder forward pass.
//!
//! Owns: carving the one caller-provided byte buffer into typed buffers (KV cache,
//! activations, logits, sampler scratch), the position counter, and `forward`, which reads
//! top to bottom like llama2.c's: embed → for each layer (norm → qkv → rope → cache →
//! attention → wo → residual → norm → ffn → residual) → final norm → head.
//! Must not: allocate, or panic on any token id / position / setting (those are checked).

use half::f16;

use crate::error::{Error, Result};
use crate::format::{layout::Slot, Activation, Config, DType, Matrix, Model, Norm, Position};
use crate::kernels::{self, AttRows, AttendRows, Kernels, KvHead, QActs, QRows, ATT_ROWS};
use crate::parallel::{Parallel, Serial, SharedMut};
use crate::sizes::{att_len, ws_total, WsDims};

const _: () = assert!(ATT_ROWS as u64 == crate::sizes::ATT_ROWS);

/// Storage type of the KV cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KvDtype {
    /// 32-bit floats (exact).
    F32,
    /// 16-bit floats: half the RAM, for microcontrollers.
    F16,
}

/// Session settings that decide the workspace size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionOptions {
    /// Context length in tokens (1..=the model's `seq_len`); 0 means the model's `seq_len`.
    pub ctx: usize,
    /// KV cache storage type.
    pub kv: KvDtype,
    /// Tokens processed together in prefill (≥ 1): weights are read once per batch.
    /// 1 keeps the workspace smallest (microcontrollers).
    pub batch: usize,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions { ctx: 0, kv: KvDtype::F32, batch: 1 }
    }
}

const ALIGN: usize = crate::sizes::WS_ALIGN as usize;

/// Sizes (elements) of every workspace buffer for a config and options.
#[derive(Debug, Clone, Copy)]
struct Plan {
    ctx: usize,
    batch: usize,
    qstride: usize,
    qgroups: usize,
}

fn plan(cfg: &Config, opts: &SessionOptions) -> Result<Plan> {
    cfg.validate()?;
    let ctx = if opts.ctx == 0 { cfg.seq_len } else { opts.ctx };
    if ctx > cfg.seq_len {
        return Err(Error::BadContext { requested: ctx, max: cfg.seq_len });
    }
    if opts.batch == 0 || opts.batch > 4096 {
        return Err(Error::InvalidSetting { name: "batch", allowed: "between 1 and 4096" });
    }
    let (qstride, qgroups) = match cfg.dtype {
        DType::F32 => (0, 0),
        DType::Q8 => {
            let w = cfg.dim.max(cfg.hidden_dim).max(cfg.q_dim());
            (cfg.row_stride(w), cfg.groups(w))
        }
    };
    Ok(Plan { ctx, batch: opts.batch, qstride, qgroups })
}

fn dims(cfg: &Config, p: &Plan, kv: KvDtype) -> WsDims {
    WsDims {
        dim: cfg.dim as u64,
        hidden_dim: cfg.hidden_dim as u64,
        n_layers: cfg.n_layers as u64,
        q_dim: cfg.q_dim() as u64,
        kv_dim: cfg.kv_dim() as u64,
        head_size: cfg.head_size as u64,
        n_heads: cfg.n_heads as u64,
        vocab_size: cfg.vocab_size as u64,
        ctx: p.ctx as u64,
        batch: p.batch as u64,
        kv_bytes: if kv == KvDtype::F32 { 4 } else { 2 },
        qstride: p.qstride as u64,
        qgroups: p.qgroups as u64,
    }
}

/// Exact workspace size in bytes for `cfg` with `opts` (includes alignment slack, so any
/// byte buffer of this length works wherever it starts).
///
/// # Errors
/// [`Error::BadContext`] / [`Error::InvalidSetting`] for bad options, [`Error::Overflow`] if
/// the size does not fit in `usize`.
pub fn state_bytes(cfg: &Config, opts: &SessionOptions) -> Result<usize> {
    let p = plan(cfg, opts)?;
    let total = ws_total(&dims(cfg, &p, opts.kv)).ok_or(Error::Overflow { what: "workspace size" })?;
    usize::try_from(total).map_err(|_| Error::Overflow { what: "workspace size" })
}

/// Plain-old-data element types the workspace may be carved into.
trait Pod: Copy {}
impl Pod for f32 {}
impl Pod for i8 {}
impl Pod for u32 {}
impl Pod for f16 {}

fn take<'w, T: Pod>(rest: &mut &'w mut [u8], n: usize) -> &'w mut [T] {
    let bytes = n * core::mem::size_of::<T>();
    let padded = bytes.div_ceil(ALIGN) * ALIGN;
    let buf = core::mem::take(rest);
    let (head, tail) = buf.split_at_mut(padded);
    *rest = tail;
    debug_assert!((head.as_ptr() as usize).is_multiple_of(core::mem::align_of::<T>()));
    // SAFETY: `head` is `padded >= n * size_of::<T>()` bytes, exclusively borrowed for 'w,
    // and aligned for T: the carving starts at a 64-byte aligned address (Session::new) and
    // every piece is a multiple of 64 bytes long. T is f32/i8/u32/f16, for which every bit
    // pattern is valid.
    unsafe { core::slice::from_raw_parts_mut(head.as_mut_ptr().cast::<T>(), n) }
}

enum Cache<'w> {
    F32 { k: &'w mut [f32], v: &'w mut [f32] },
    F16 { k: &'w mut [f16], v: &'w mut [f16] },
}

/// The runtime buffers, with llama2.c's names. `B` is the prefill batch.
struct Workspace<'w> {
    x: &'w mut [f32],      // (B, dim) residual stream
    xb: &'w mut [f32],     // (B, dim) normed residual
    xa: &'w mut [f32],     // (B, q_dim) attention output
    xb2: &'w mut [f32],    // (B, dim) projection output
    hb: &'w mut [f32],     // (B, hidden_dim)
    hb2: &'w mut [f32],    // (B, hidden_dim)
    q: &'w mut [f32],      // (B, q_dim)
    k: &'w mut [f32],      // (B, kv_dim)
    v: &'w mut [f32],      // (B, kv_dim)
    rope: &'w mut [f32],   // (B, head_size): cos (head_size/2) then sin (head_size/2)
    att: &'w mut [f32],    // (n_heads, ctx) attention scores; with B > 1 at least
                           // (min(B, 8), ATT_ROWS, ctx + head_size): see `sizes::att_len`
    xq: &'w mut [i8],      // (B, qstride) quantized activations
    xs: &'w mut [f32],     // (B, qgroups) their scales
    logits: &'w mut [f32], // (B, vocab_size)
    cache: Cache<'w>,      // keys (n_layers, kv_dim, ctx), values (n_layers, ctx, kv_dim)
    tokens: &'w mut [u32], // (ctx,) tokens fed so far
    probs: &'w mut [f32],  // (vocab_size,) sampler scratch
}

/// A model running in a caller's workspace: the KV cache and position live here.
pub struct Session<'m, 'w> {
    model: Model<'m>,
    kernels: &'static Kernels,
    /// The kernel set's batched attention (prefill).
    attend_rows: AttendRows,
    par: &'static dyn Parallel,
    plan: Plan,
    ws: Workspace<'w>,
    pos: usize,
    /// Index within the logits buffer of the last token's logits.
    last: usize,
}

impl<'m, 'w> Session<'m, 'w> {
    /// Carves `workspace` (at least [`state_bytes`] bytes, any alignment) for `model`.
    ///
    /// # Errors
    /// [`Error::WorkspaceTooSmall`], or the errors of [`state_bytes`].
    #[allow(clippy::indexing_slicing, reason = "the carving takes the sizes state_bytes computed (checked arithmetic) from a workspace of at least that length")]
    pub fn new(model: Model<'m>, workspace: &'w mut [u8], opts: SessionOptions) -> Result<Self> {
        let cfg = *model.config();
        let need = state_bytes(&cfg, &opts)?;
        if workspace.len() < need {
            return Err(Error::WorkspaceTooSmall { needed: need, got: workspace.len() });
        }
        let p = plan(&cfg, &opts)?;
        let skip = workspace.as_ptr().align_offset(ALIGN).min(ALIGN);
        let mut rest: &'w mut [u8] = &mut workspace[skip..];
        let b = p.batch;
        let cache_n = cfg.n_layers * p.ctx * cfg.kv_dim();
        // fits usize: the whole workspace size did (state_bytes)
        let att_n = att_len(&dims(&cfg, &p, opts.kv)) as usize;
        let r = &mut rest;
        let ws = Workspace {
            x: take(r, b * cfg.dim),
            xb: take(r, b * cfg.dim),
            xa: take(r, b * cfg.q_dim()),
            xb2: take(r, b * cfg.dim),
            hb: take(r, b * cfg.hidden_dim),
            hb2: take(r, b * cfg.hidden_dim),
            q: take(r, b * cfg.q_dim()),
            k: take(r, b * cfg.kv_dim()),
            v: take(r, b * cfg.kv_dim()),
            rope: take(r, b * cfg.head_size),
            att: take(r, att_n),
            xq: take(r, b * p.qstride),
            xs: take(r, b * p.qgroups),
            logits: take(r, b * cfg.vocab_size),
            cache: match opts.kv {
                KvDtype::F32 => Cache::F32 { k: take(r, cache_n), v: take(r, cache_n) },
                KvDtype::F16 => Cache::F16 { k: take(r, cache_n), v: take(r, cache_n) },
            },
            tokens: take(r, p.ctx),
            probs: take(r, cfg.vocab_size),
        };
        let k = kernels::best();
        Ok(Session { model, kernels: k, attend_rows: kernels::attend_rows_for(k), par: &Serial, plan: p, ws, pos: 0, last: 0 })
    }

    /// Uses the given kernel set instead of the best one (tests compare them).
    pub fn with_kernels(mut self, k: &'static Kernels) -> Self {
        self.kernels = k;
        self.attend_rows = kernels::attend_rows_for(k);
        self
    }

    /// Runs matrix products and attention heads on `par` (e.g. `threads::Pool`); results are
    /// identical to serial execution.
    pub fn with_parallel(mut self, par: &'static dyn Parallel) -> Self {
        self.par = par;
        self
    }

    /// The kernel set in use.
    pub fn kernels(&self) -> &'static Kernels {
        self.kernels
    }

    /// The model.
    pub fn model(&self) -> &Model<'m> {
        &self.model
    }

    /// Tokens processed so far (the next token's position).
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// The session's context length.
    pub fn ctx(&self) -> usize {
        self.plan.ctx
    }

    /// The tokens fed so far, in order.
    #[allow(clippy::indexing_slicing, reason = "the workspace is carved to the plan's sizes (batch, ctx, dims) in `new`; token ids, counts and positions are checked against vocab, batch and ctx before any indexing (top of `forward`, `check_tokens`)")]
    pub fn tokens(&self) -> &[u32] {
        &self.ws.tokens[..self.pos]
    }

    /// Forgets all tokens: the next token is at position 0.
    pub fn reset(&mut self) {
        self.pos = 0;
    }

    /// Rewinds to position `pos` (≤ the current one), keeping the cache before it.
    pub fn truncate(&mut self, pos: usize) {
        self.pos = self.pos.min(pos);
    }

    /// Feeds one token and returns the logits for the next one.
    ///
    /// # Errors
    /// [`Error::TokenOutOfRange`], [`Error::ContextFull`].
    #[allow(clippy::indexing_slicing, reason = "the workspace is carved to the plan's sizes (batch, ctx, dims) in `new`; token ids, counts and positions are checked against vocab, batch and ctx before any indexing (top of `forward`, `check_tokens`)")]
    pub fn step(&mut self, token: u32) -> Result<&mut [f32]> {
        self.forward(core::slice::from_ref(&token), false)?;
        let v = self.model.config().vocab_size;
        Ok(&mut self.ws.logits[..v])
    }

    /// Feeds `tokens` (in batches) and returns the logits after the last one.
    ///
    /// # Errors
    /// [`Error::TokenOutOfRange`], [`Error::PromptTooLong`] if they do not fit in the context,
    /// [`Error::EmptyPrompt`] for no tokens. Nothing is fed when an error is returned.
    #[allow(clippy::indexing_slicing, reason = "the workspace is carved to the plan's sizes (batch, ctx, dims) in `new`; token ids, counts and positions are checked against vocab, batch and ctx before any indexing (top of `forward`, `check_tokens`)")]
    pub fn prefill(&mut self, tokens: &[u32]) -> Result<&mut [f32]> {
        self.check_tokens(tokens)?;
        let b = self.plan.batch;
        let mut last = 0;
        for chunk in tokens.chunks(b) {
            self.forward(chunk, false)?;
            last = self.last;
        }
        let v = self.model.config().vocab_size;
        Ok(&mut self.ws.logits[last * v..(last + 1) * v])
    }

    /// Feeds `tokens` and calls `f(i, logits)` with the logits after each token `i`
    /// (a full causal forward, for evaluation).
    ///
    /// # Errors
    /// As [`Session::prefill`].
    #[allow(clippy::indexing_slicing, reason = "the workspace is carved to the plan's sizes (batch, ctx, dims) in `new`; token ids, counts and positions are checked against vocab, batch and ctx before any indexing (top of `forward`, `check_tokens`)")]
    pub fn forward_each(&mut self, tokens: &[u32], f: &mut dyn FnMut(usize, &[f32])) -> Result<()> {
        self.check_tokens(tokens)?;
        let b = self.plan.batch;
        let v = self.model.config().vocab_size;
        for (c, chunk) in tokens.chunks(b).enumerate() {
            self.forward(chunk, true)?;
            for t in 0..chunk.len() {
                f(c * b + t, &self.ws.logits[t * v..(t + 1) * v]);
            }
        }
        Ok(())
    }

    /// The logits of the last token fed, the tokens fed so far, and sampler scratch
    /// (`vocab_size` f32s), borrowed together for sampling.
    #[allow(clippy::indexing_slicing, reason = "the workspace is carved to the plan's sizes (batch, ctx, dims) in `new`; token ids, counts and positions are checked against vocab, batch and ctx before any indexing (top of `forward`, `check_tokens`)")]
    pub fn sampling_parts(&mut self) -> (&mut [f32], &[u32], &mut [f32]) {
        let v = self.model.config().vocab_size;
        let last = self.last;
        (
            &mut self.ws.logits[last * v..(last + 1) * v],
            &self.ws.tokens[..self.pos],
            &mut self.ws.probs[..],
        )
    }

    fn check_tokens(&self, tokens: &[u32]) -> Result<()> {
        if tokens.is_empty() {
            return Err(Error::EmptyPrompt);
        }
        let vocab = self.model.config().vocab_size;
        if let Some(&id) = tokens.iter().find(|&&t| t as usize >= vocab) {
            return Err(Error::TokenOutOfRange { id, vocab });
        }
        let room = self.plan.ctx - self.pos;
        if tokens.len() > room {
            return Err(Error::PromptTooLong { tokens: self.pos + tokens.len(), max: self.plan.ctx });
        }
        Ok(())
    }
}

// ---- the forward pass -----------------------------------------------------------------------

/// Quantizes `n` rows of width `cols` (row stride `cols` in `x`) for an int8 product; no-op
/// for f32 models.
#[allow(clippy::indexing_slicing, reason = "the workspace is carved to the plan's sizes (batch, ctx, dims) in `new`; token ids, counts and positions are checked against vocab, batch and ctx before any indexing (top of `forward`, `check_tokens`)")]
fn prepare(k: &Kernels, cfg: &Config, x: &[f32], cols: usize, n: usize, xq: &mut [i8], xs: &mut [f32]) {
    if cfg.dtype != DType::Q8 {
        return;
    }
    let (stride, groups) = (cfg.row_stride(cols), cfg.groups(cols));
    for t in 0..n {
        (k.quantize)(
            &x[t * cols..(t + 1) * cols],
            cfg.group_size,
            &mut xq[t * stride..(t + 1) * stride],
            &mut xs[t * groups..(t + 1) * groups],
        );
    }
}

/// `out[t, r] = m[r] · x[t] (+ bias[r])` for `n` tokens; `x`/`xq`/`xs` as left by `prepare`.
/// With `par`, one token's rows (decode) or the tokens (prefill) are split into chunks.
#[allow(clippy::too_many_arguments)]
#[allow(clippy::indexing_slicing, reason = "the workspace is carved to the plan's sizes (batch, ctx, dims) in `new`; token ids, counts and positions are checked against vocab, batch and ctx before any indexing (top of `forward`, `check_tokens`)")]
fn matmul(
    par: &dyn Parallel,
    k: &Kernels,
    m: Matrix<'_>,
    bias: Option<&[f32]>,
    x: &[f32],
    xq: &[i8],
    xs: &[f32],
    n: usize,
    out: &mut [f32],
) {
    let rows = m.rows();
    let out = &mut out[..n * rows];
    let work = rows * m.cols() * n;
    let threads = if work < 1 << 16 { 1 } else { par.threads() };
    // chunk c of `parts` covers rows (n == 1) or tokens (n > 1) [lo, hi)
    let (span, by_rows) = if n == 1 { (rows, true) } else { (n, false) };
    let parts = threads.min(span).max(1);
    let bounds = |c: usize| {
        // row chunks are multiples of 16 so kernels that block rows by 8 keep their blocks,
        // and a chunk of an interleaved matrix (blocks of 4 or 16 rows) is again one
        let unit = if by_rows { 16 } else { 1 };
        let per = span.div_ceil(parts).div_ceil(unit) * unit;
        ((c * per).min(span), ((c + 1) * per).min(span))
    };
    let shared = SharedMut::new(out);
    let job = |c: usize| {
        let (lo, hi) = bounds(c);
        if lo >= hi {
            return;
        }
        let (r0, r1, t0, t1) = if by_rows { (lo, hi, 0, 1) } else { (0, rows, lo, hi) };
        // SAFETY: chunks [lo, hi) are disjoint across jobs, so these output ranges are too:
        // rows r0..r1 of token 0 (n == 1), or tokens t0..t1 × all rows (n > 1).
        let o = unsafe { shared.slice(t0 * rows + r0, (t1 - 1) * rows + r1) };
        let nt = t1 - t0;
        match m {
            Matrix::F32 { w, cols, .. } => {
                (k.matmul_f32)(&w[r0 * cols..r1 * cols], r1 - r0, cols, &x[t0 * cols..t1 * cols], nt, o)
            }
            Matrix::Q8 { q, s, cols, gs, il, quads, bias, .. } => {
                let groups = cols.div_ceil(gs);
                let stride = groups * gs;
                // rows r0..r1 of an interleaved layout are such a matrix too: r0 is a multiple
                // of 16 (`bounds`), so of the layouts' blocks of 4 or 16 rows
                let w = QRows { q: &q[r0 * stride..r1 * stride], s: &s[r0 * groups..r1 * groups], rows: r1 - r0, stride, gs, il, quads, bias };
                let a = QActs { q: &xq[t0 * stride..t1 * stride], s: &xs[t0 * groups..t1 * groups], n: nt };
                (k.matmul_q8)(&w, &a, o);
            }
        }
    };
    if parts == 1 {
        job(0);
    } else {
        par.for_each(parts, &job);
    }
    if let Some(b) = bias {
        for t in 0..n {
            for (o, &b) in out[t * rows..(t + 1) * rows].iter_mut().zip(b) {
                *o += b;
            }
        }
    }
}

fn norm(cfg: &Config, o: &mut [f32], x: &[f32], w: &[f32], b: Option<&[f32]>) {
    match (cfg.norm, b) {
        (Norm::LayerNorm, Some(b)) => kernels::layernorm(o, x, w, b, cfg.norm_eps),
        _ => kernels::rmsnorm(o, x, w, cfg.norm_eps),
    }
}

/// Rotates one head (Hugging Face "rotate half": pairs `(i, i + hs/2)`).
#[allow(clippy::indexing_slicing, reason = "cs holds hs values, v holds hs: both split at hs / 2")]
fn rope_head(v: &mut [f32], cs: &[f32]) {
    let half = v.len() / 2;
    let (cos, sin) = cs.split_at(half);
    for i in 0..half {
        let (a, b) = (v[i], v[i + half]);
        v[i] = a * cos[i] - b * sin[i];
        v[i + half] = a * sin[i] + b * cos[i];
    }
}

impl Session<'_, '_> {
    /// Runs `tokens` (at most one batch) through the decoder at positions `pos..pos+n`.
    /// Logits are computed for every token when `all`, else for the last one only.
    #[allow(clippy::indexing_slicing, reason = "the workspace is carved to the plan's sizes (batch, ctx, dims) in `new`; token ids, counts and positions are checked against vocab, batch and ctx before any indexing (top of `forward`, `check_tokens`)")]
    fn forward(&mut self, tokens: &[u32], all: bool) -> Result<()> {
        let cfg = *self.model.config();
        let n = tokens.len();
        let vocab = cfg.vocab_size;
        if n == 0 || n > self.plan.batch {
            return Err(Error::InvalidSetting { name: "batch length", allowed: "between 1 and the session's batch" });
        }
        if self.pos + n > self.plan.ctx {
            return Err(Error::ContextFull { ctx: self.plan.ctx });
        }
        if let Some(&id) = tokens.iter().find(|&&t| t as usize >= vocab) {
            return Err(Error::TokenOutOfRange { id, vocab });
        }
        let (dim, qd, kvd, hs, hid) = (cfg.dim, cfg.q_dim(), cfg.kv_dim(), cfg.head_size, cfg.hidden_dim);
        let (m, k, par, ctx, pos0) = (self.model, self.kernels, self.par, self.plan.ctx, self.pos);
        let attend_rows = self.attend_rows;
        let Workspace { x, xb, xa, xb2, hb, hb2, q, k: kb, v: vb, rope, att, xq, xs, logits, cache, tokens: hist, .. } =
            &mut self.ws;

        // ---- embeddings (+ positions) ----
        let emb = m.matrix(Slot::TokEmb, 0);
        for (t, &tok) in tokens.iter().enumerate() {
            let p = pos0 + t;
            hist[p] = tok;
            let xt = &mut x[t * dim..(t + 1) * dim];
            emb.row_into(tok as usize, xt);
            match cfg.pos {
                Position::Learned => {
                    let tmp = &mut xb[t * dim..(t + 1) * dim];
                    m.matrix(Slot::PosEmb, 0).row_into(p, tmp);
                    for (a, &b) in xt.iter_mut().zip(tmp.iter()) {
                        *a += b;
                    }
                }
                Position::Sinusoidal => {
                    for i in 0..dim / 2 {
                        let freq = libm::powf(10000.0, -((2 * i) as f32) / dim as f32);
                        let angle = p as f32 * freq;
                        xt[2 * i] += libm::sinf(angle);
                        xt[2 * i + 1] += libm::cosf(angle);
                    }
                }
                Position::Rope => {
                    let half = hs / 2;
                    let cs = &mut rope[t * hs..(t + 1) * hs];
                    for i in 0..half {
                        let inv_freq = 1.0 / libm::powf(cfg.rope_theta, (2 * i) as f32 / hs as f32);
                        let angle = p as f32 * inv_freq;
                        cs[i] = libm::cosf(angle);
                        cs[half + i] = libm::sinf(angle);
                    }
                }
            }
        }

        let kv_mul = cfg.n_heads / cfg.n_kv_heads;
        let scale = 1.0 / libm::sqrtf(hs as f32);
        for l in 0..cfg.n_layers {
            // ---- attention ----
            let (w, b) = (m.vector(Slot::AttnNormW, l), m.vector(Slot::AttnNormB, l));
            for t in 0..n {
                norm(&cfg, &mut xb[t * dim..(t + 1) * dim], &x[t * dim..(t + 1) * dim], w.unwrap_or(&[]), b);
            }
            prepare(k, &cfg, xb, dim, n, xq, xs);
            matmul(par, k, m.matrix(Slot::Wq, l), m.vector(Slot::Bq, l), xb, xq, xs, n, q);
            matmul(par, k, m.matrix(Slot::Wk, l), m.vector(Slot::Bk, l), xb, xq, xs, n, kb);
            matmul(par, k, m.matrix(Slot::Wv, l), m.vector(Slot::Bv, l), xb, xq, xs, n, vb);
            if cfg.pos == Position::Rope {
                for t in 0..n {
                    let cs = &rope[t * hs..(t + 1) * hs];
                    for h in q[t * qd..(t + 1) * qd].chunks_exact_mut(hs) {
                        rope_head(h, cs);
                    }
                    for h in kb[t * kvd..(t + 1) * kvd].chunks_exact_mut(hs) {
                        rope_head(h, cs);
                    }
                }
            }
            // store keys and values. Per layer, values are (ctx, kv_dim) and keys transposed,
            // (kv_dim, ctx), so that attention's score loop runs along positions
            let lo = l * ctx * kvd;
            for t in 0..n {
                let (p, at) = (pos0 + t, lo + (pos0 + t) * kvd);
                let (ks, vs) = (&kb[t * kvd..(t + 1) * kvd], &vb[t * kvd..(t + 1) * kvd]);
                match cache {
                    Cache::F32 { k, v } => {
                        for (d, &s) in ks.iter().enumerate() {
                            k[lo + d * ctx + p] = s;
                        }
                        v[at..at + kvd].copy_from_slice(vs);
                    }
                    Cache::F16 { k, v } => {
                        for (d, &s) in ks.iter().enumerate() {
                            k[lo + d * ctx + p] = f16::from_f32(s);
                        }
                        for (d, &s) in v[at..at + kvd].iter_mut().zip(vs) {
                            *d = f16::from_f32(s);
                        }
                    }
                }
            }
            // causal multi-head attention
            if n == 1 {
                // one token: each head is one job
                let cache = &*cache;
                let q = &*q;
                let att_s = SharedMut::new(att);
                let xa_s = SharedMut::new(xa);
                let jobs = n * cfg.n_heads;
                let heads_per = if par.threads() > 1 && (pos0 + n) * hs * jobs >= 1 << 14 {
                    cfg.n_heads.div_ceil(par.threads())
                } else {
                    cfg.n_heads
                };
                let per_t = cfg.n_heads.div_ceil(heads_per);
                let job = |j: usize| {
                    let (t, c) = (j / per_t, j % per_t);
                    for h in c * heads_per..((c + 1) * heads_per).min(cfg.n_heads) {
                        // SAFETY: one `for_each` call runs the jobs of a single token t, and
                        // its jobs cover disjoint head ranges; head h's score row
                        // `h*ctx..h*ctx+ctx` and token t's head-h output range are thus used
                        // by this job alone, and both buffers outlive the call.
                        let (sc, out) = unsafe {
                            (att_s.slice(h * ctx, h * ctx + pos0 + t + 1), xa_s.slice(t * qd + h * hs, t * qd + (h + 1) * hs))
                        };
                        let qh = &q[t * qd + h * hs..t * qd + (h + 1) * hs];
                        let kvo = (h / kv_mul) * hs;
                        let (ka, va) = (lo + kvo * ctx, lo + kvo);
                        let kv = match cache {
                            Cache::F32 { k, v } => KvHead::F32 { k: &k[ka..], v: &v[va..] },
                            Cache::F16 { k, v } => KvHead::F16 { k: &k[ka..], v: &v[va..] },
                        };
                        (k.attend)(kv, ctx, kvd, qh, scale, sc, out);
                    }
                };
                // tokens in order (a later token's scores reuse the head's row), heads in parallel
                for t in 0..n {
                    let one = |c: usize| job(t * per_t + c);
                    if per_t == 1 {
                        one(0);
                    } else {
                        par.for_each(per_t, &one);
                    }
                }
            } else {
                // a block of tokens: per KV head, the (token, query head) rows that share it,
                // ATT_ROWS at a time, through the batched kernel (the same bits as one
                // `attend` per row); jobs take disjoint ranges of KV heads
                let cache = &*cache;
                let q = &*q;
                let slot = ATT_ROWS * (ctx + hs);
                let slots = att.len() / slot;
                let att_s = SharedMut::new(att);
                let xa_s = SharedMut::new(xa);
                let nkv = cfg.n_kv_heads;
                let total = n * kv_mul;
                let jobs = if par.threads() > 1 && total * nkv * (pos0 + n) * hs >= 1 << 14 {
                    par.threads().min(nkv).min(slots).max(1)
                } else {
                    1
                };
                let per = nkv.div_ceil(jobs);
                let job = |c: usize| {
                    // SAFETY: job c alone uses scratch slot c (there are at most `slots`
                    // jobs: `att` holds that many slots, see `sizes::att_len`).
                    let scratch = unsafe { att_s.slice(c * slot, (c + 1) * slot) };
                    let (sc, ob) = scratch.split_at_mut(ATT_ROWS * ctx);
                    for g in c * per..((c + 1) * per).min(nkv) {
                        let (ka, va) = (lo + g * hs * ctx, lo + g * hs);
                        let kv = match cache {
                            Cache::F32 { k, v } => KvHead::F32 { k: &k[ka..], v: &v[va..] },
                            Cache::F16 { k, v } => KvHead::F16 { k: &k[ka..], v: &v[va..] },
                        };
                        // row r is token r / kv_mul, query head g * kv_mul + r % kv_mul
                        let row = |r: usize| (r / kv_mul, g * kv_mul + r % kv_mul);
                        let mut r0 = 0;
                        while r0 < total {
                            let m = (total - r0).min(ATT_ROWS);
                            let mut rows = AttRows { q, at: [0; ATT_ROWS], len: [0; ATT_ROWS], n: m, hs };
                            for i in 0..m {
                                let (t, h) = row(r0 + i);
                                rows.at[i] = t * qd + h * hs;
                                rows.len[i] = pos0 + t + 1;
                            }
                            attend_rows(kv, ctx, kvd, &rows, scale, sc, ctx, ob);
                            for i in 0..m {
                                let (t, h) = row(r0 + i);
                                // SAFETY: query head h belongs to KV head g, which is this
                                // job's alone, so no other job writes this range; xa outlives
                                // the call.
                                let o = unsafe { xa_s.slice(t * qd + h * hs, t * qd + (h + 1) * hs) };
                                o.copy_from_slice(&ob[i * hs..(i + 1) * hs]);
                            }
                            r0 += m;
                        }
                    }
                };
                if jobs == 1 {
                    job(0);
                } else {
                    par.for_each(jobs, &job);
                }
            }
            prepare(k, &cfg, xa, qd, n, xq, xs);
            matmul(par, k, m.matrix(Slot::Wo, l), m.vector(Slot::Bo, l), xa, xq, xs, n, xb2);
            for (a, &b) in x[..n * dim].iter_mut().zip(xb2.iter()) {
                *a += b;
            }

            // ---- feed-forward ----
            let (w, b) = (m.vector(Slot::FfnNormW, l), m.vector(Slot::FfnNormB, l));
            for t in 0..n {
                norm(&cfg, &mut xb[t * dim..(t + 1) * dim], &x[t * dim..(t + 1) * dim], w.unwrap_or(&[]), b);
            }
            prepare(k, &cfg, xb, dim, n, xq, xs);
            matmul(par, k, m.matrix(Slot::W1, l), m.vector(Slot::B1, l), xb, xq, xs, n, hb);
            match cfg.act {
                Activation::SwiGlu => {
                    matmul(par, k, m.matrix(Slot::W3, l), m.vector(Slot::B3, l), xb, xq, xs, n, hb2);
                    kernels::swiglu_for(k)(&mut hb[..n * hid], &hb2[..n * hid]);
                }
                Activation::GeluTanh => hb[..n * hid].iter_mut().for_each(|a| *a = kernels::gelu_tanh(*a)),
                Activation::GeluErf => hb[..n * hid].iter_mut().for_each(|a| *a = kernels::gelu_erf(*a)),
                Activation::Relu => hb[..n * hid].iter_mut().for_each(|a| *a = a.max(0.0)),
            }
            prepare(k, &cfg, hb, hid, n, xq, xs);
            matmul(par, k, m.matrix(Slot::W2, l), m.vector(Slot::B2, l), hb, xq, xs, n, xb2);
            for (a, &b) in x[..n * dim].iter_mut().zip(xb2.iter()) {
                *a += b;
            }
        }

        // ---- final norm and head ----
        let first = if all { 0 } else { n - 1 };
        let cnt = n - first;
        let (w, b) = (m.vector(Slot::FinalNormW, 0), m.vector(Slot::FinalNormB, 0));
        for t in 0..cnt {
            let src = first + t;
            norm(&cfg, &mut xb[t * dim..(t + 1) * dim], &x[src * dim..(src + 1) * dim], w.unwrap_or(&[]), b);
        }
        prepare(k, &cfg, xb, dim, cnt, xq, xs);
        matmul(par, k, m.lm_head(), None, xb, xq, xs, cnt, logits);
        self.last = cnt - 1;
        self.pos += n;
        Ok(())
    }
}
