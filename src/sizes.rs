//! Workspace size arithmetic, as `const fn`s over plain numbers.
//!
//! One source of truth for the session (`session::state_bytes`) and for `build.rs`, which
//! includes this file with `#[path]` to emit the built-in model's `STATE_BYTES` consts.
//! Must not depend on anything else in the crate.

// Panic-free core: see "Panics" in the crate docs (src/lib.rs).
/// Alignment of every workspace buffer, and the slack added for the start.
pub const WS_ALIGN: u64 = 64;

/// Inputs of the workspace size: the config's widths and the session's options.
#[derive(Debug, Clone, Copy)]
pub struct WsDims {
    /// Residual width.
    pub dim: u64,
    /// Feed-forward width.
    pub hidden_dim: u64,
    /// Decoder blocks.
    pub n_layers: u64,
    /// `n_heads * head_size`.
    pub q_dim: u64,
    /// `n_kv_heads * head_size`.
    pub kv_dim: u64,
    /// Width of one head.
    pub head_size: u64,
    /// Query heads (attention scores are kept per head).
    pub n_heads: u64,
    /// Vocabulary size.
    pub vocab_size: u64,
    /// Session context length.
    pub ctx: u64,
    /// Prefill batch.
    pub batch: u64,
    /// Bytes per KV-cache element (4 or 2).
    pub kv_bytes: u64,
    /// Quantized activation codes per token (0 for f32 models).
    pub qstride: u64,
    /// Quantized activation scales per token (0 for f32 models).
    pub qgroups: u64,
}

/// Query rows one batched attention call takes (`kernels::ATT_ROWS`; the session checks
/// that the two agree).
pub const ATT_ROWS: u64 = 8;
/// Most batched attention calls that run at once (one per thread) in prefill.
pub const ATT_SLOTS: u64 = 8;

/// Elements of the attention scratch: one score row of `ctx` per query head (one token at a
/// time), and with a prefill batch (> 1) also room for `min(batch, ATT_SLOTS)` concurrent
/// batched calls of `ATT_ROWS` score rows and outputs each, `ATT_ROWS · (ctx + head_size)`.
/// Bounded by the batch and the context, never by `ctx²`.
pub const fn att_len(d: &WsDims) -> u64 {
    let heads = d.n_heads * d.ctx;
    let slots = if d.batch > 1 {
        if d.batch < ATT_SLOTS {
            d.batch
        } else {
            ATT_SLOTS
        }
    } else {
        0
    };
    let rows = slots * ATT_ROWS * (d.ctx + d.head_size);
    if rows > heads {
        rows
    } else {
        heads
    }
}

/// Number of buffers in the workspace, in carving order.
pub const WS_BUFFERS: usize = 18;

/// `(bytes per element, element count)` of each workspace buffer, in carving order:
/// x, xb, xa, xb2, hb, hb2, q, k, v, rope, att, xq, xs, logits, key_cache, value_cache,
/// tokens, probs (sampler scratch). `None` on overflow.
pub const fn ws_buffers(d: &WsDims) -> Option<[(u64, u64); WS_BUFFERS]> {
    let b = d.batch;
    let cache = match d.n_layers.checked_mul(d.ctx) {
        Some(v) => match v.checked_mul(d.kv_dim) {
            Some(v) => v,
            None => return None,
        },
        None => return None,
    };
    // every other product is bounded by validated config limits times batch <= 4096
    Some([
        (4, b * d.dim),
        (4, b * d.dim),
        (4, b * d.q_dim),
        (4, b * d.dim),
        (4, b * d.hidden_dim),
        (4, b * d.hidden_dim),
        (4, b * d.q_dim),
        (4, b * d.kv_dim),
        (4, b * d.kv_dim),
        (4, b * d.head_size),
        (4, att_len(d)),
        (1, b * d.qstride),
        (4, b * d.qgroups),
        (4, b * d.vocab_size),
        (d.kv_bytes, cache),
        (d.kv_bytes, cache),
        (4, d.ctx),
        (4, d.vocab_size),
    ])
}

/// Total workspace bytes: every buffer padded to `WS_ALIGN`, plus `WS_ALIGN` of slack so
/// that a buffer starting anywhere can be aligned. `None` on overflow.
pub const fn ws_total(d: &WsDims) -> Option<u64> {
    let bufs = match ws_buffers(d) {
        Some(b) => b,
        None => return None,
    };
    let mut total = WS_ALIGN;
    let mut rest: &[(u64, u64)] = &bufs;
    while let [(size, count), tail @ ..] = rest {
        rest = tail;
        let bytes = match count.checked_mul(*size) {
            Some(v) => v,
            None => return None,
        };
        let padded = match bytes.checked_add(WS_ALIGN - 1) {
            Some(v) => v / WS_ALIGN * WS_ALIGN,
            None => return None,
        };
        total = match total.checked_add(padded) {
            Some(v) => v,
            None => return None,
        };
    }
    Some(total)
}
