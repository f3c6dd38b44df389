//! `Config`: the model's blueprint (llama2.c's names) and the sizes derived from it.
//!
//! Owns: hyper-parameters, their validation, and every size computed from them (with checked
//! arithmetic). Must not: touch bytes (that is `format::mod`) or run anything.

// Panic-free core: see "Panics" in the crate docs (src/lib.rs).
use crate::error::{Error, Result};

/// Which family the model comes from. Recorded for `info`; the forward pass is driven by the
/// individual choices below (norm, activation, positions, biases), not by this tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    /// GPT-2 style: LayerNorm with bias, GELU/ReLU MLP, biases, learned/sinusoidal positions.
    Gpt2 = 1,
    /// Llama style: RMSNorm, SwiGLU, RoPE, grouped-query attention.
    Llama = 2,
}

/// Weight storage type of the 2-D matrices (embeddings, projections, head).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DType {
    /// 32-bit float: the exact reference.
    F32 = 1,
    /// int8, symmetric, one f32 scale per group of `group_size` inputs (rows zero-padded).
    Q8 = 2,
}

/// Normalisation layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Norm {
    /// LayerNorm: subtract mean, divide by std, scale and shift (weight + bias).
    LayerNorm = 1,
    /// RMSNorm: divide by root-mean-square, scale (weight only).
    RmsNorm = 2,
}

/// Feed-forward activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// GELU, tanh approximation (GPT-2's `gelu_new`): `w2(gelu(w1 x))`.
    GeluTanh = 1,
    /// ReLU: `w2(relu(w1 x))`.
    Relu = 2,
    /// SwiGLU (Llama): `w2(silu(w1 x) * w3 x)`.
    SwiGlu = 3,
    /// GELU, exact erf form (`gelu`): `w2(gelu(w1 x))`.
    GeluErf = 4,
}

/// How positions enter the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// A learned position-embedding table `(seq_len, dim)` added to the token embedding.
    Learned = 1,
    /// The original transformer's fixed sinusoids added to the token embedding.
    Sinusoidal = 2,
    /// Rotary embeddings on q and k, Hugging Face "rotate half" convention.
    Rope = 3,
}

/// The model's hyper-parameters. Field names follow llama2.c.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Config {
    /// Model family (informational).
    pub arch: Arch,
    /// Storage type of the matrices.
    pub dtype: DType,
    /// Quantization group size along the input dimension (Q8 only; 0 for F32).
    pub group_size: usize,
    /// Transformer width: size of the residual stream.
    pub dim: usize,
    /// Width of the feed-forward hidden layer.
    pub hidden_dim: usize,
    /// Number of decoder blocks.
    pub n_layers: usize,
    /// Number of query heads.
    pub n_heads: usize,
    /// Number of key/value heads (`n_heads` for MHA, fewer for GQA, 1 for MQA).
    pub n_kv_heads: usize,
    /// Width of one head (usually `dim / n_heads`, but a config may set it).
    pub head_size: usize,
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Maximum context length the model was trained for.
    pub seq_len: usize,
    /// Normalisation kind.
    pub norm: Norm,
    /// Epsilon of the norms.
    pub norm_eps: f32,
    /// Feed-forward activation.
    pub act: Activation,
    /// Position encoding.
    pub pos: Position,
    /// RoPE base frequency (`theta`); ignored unless `pos == Rope`.
    pub rope_theta: f32,
    /// The LM head is the token-embedding table (tied) rather than its own matrix.
    pub tied: bool,
    /// Linear layers carry biases (GPT-2).
    pub bias: bool,
}

/// Upper bounds that keep every derived size far from overflow on 32-bit targets
/// and reject nonsense headers early.
pub(crate) const MAX_DIM: usize = 1 << 16;
pub(crate) const MAX_LAYERS: usize = 1 << 10;
pub(crate) const MAX_VOCAB: usize = 1 << 22;
pub(crate) const MAX_SEQ: usize = 1 << 20;

impl Config {
    /// Width of all query heads together: `n_heads * head_size`.
    pub fn q_dim(&self) -> usize {
        self.n_heads * self.head_size
    }

    /// Width of all key (or value) heads together: `n_kv_heads * head_size`.
    pub fn kv_dim(&self) -> usize {
        self.n_kv_heads * self.head_size
    }

    /// Whether the feed-forward block has a gate (`w3`).
    pub fn gated(&self) -> bool {
        self.act == Activation::SwiGlu
    }

    /// Number of quantization groups for an input of width `cols` (1 group per row for F32).
    pub fn groups(&self, cols: usize) -> usize {
        match self.dtype {
            DType::F32 => 1,
            DType::Q8 => cols.div_ceil(self.group_size.max(1)),
        }
    }

    /// Row stride in elements for a matrix with `cols` inputs: `cols` for F32, `cols` rounded
    /// up to a whole number of groups for Q8 (the pad is zeros).
    pub fn row_stride(&self, cols: usize) -> usize {
        match self.dtype {
            DType::F32 => cols,
            DType::Q8 => self.groups(cols) * self.group_size.max(1),
        }
    }

    /// Checks every hyper-parameter; after this, sizes derived from `self` cannot overflow.
    ///
    /// # Errors
    /// [`Error::BadField`] naming the first field that is out of range.
    pub fn validate(&self) -> Result<()> {
        fn range(field: &'static str, v: usize, lo: usize, hi: usize) -> Result<()> {
            if v < lo || v > hi {
                return Err(Error::BadField { field, value: v as u64 });
            }
            Ok(())
        }
        range("dim", self.dim, 1, MAX_DIM)?;
        range("hidden_dim", self.hidden_dim, 1, MAX_DIM * 8)?;
        range("n_layers", self.n_layers, 1, MAX_LAYERS)?;
        range("n_heads", self.n_heads, 1, 4096)?;
        range("n_kv_heads", self.n_kv_heads, 1, self.n_heads)?;
        if !self.n_heads.is_multiple_of(self.n_kv_heads) {
            return Err(Error::BadField { field: "n_kv_heads", value: self.n_kv_heads as u64 });
        }
        range("head_size", self.head_size, 1, MAX_DIM)?;
        range("n_heads * head_size", self.n_heads * self.head_size, 1, MAX_DIM * 4)?;
        range("vocab_size", self.vocab_size, 1, MAX_VOCAB)?;
        range("seq_len", self.seq_len, 1, MAX_SEQ)?;
        match self.dtype {
            DType::F32 => {}
            DType::Q8 => {
                let gs = self.group_size;
                if !(4..=1024).contains(&gs) || !gs.is_multiple_of(4) {
                    return Err(Error::BadField { field: "group_size", value: gs as u64 });
                }
            }
        }
        if !(self.norm_eps.is_finite() && self.norm_eps >= 0.0 && self.norm_eps < 1.0) {
            return Err(Error::BadField { field: "norm_eps", value: self.norm_eps.to_bits() as u64 });
        }
        if self.pos == Position::Rope {
            if !self.head_size.is_multiple_of(2) {
                return Err(Error::BadField { field: "head_size (odd with RoPE)", value: self.head_size as u64 });
            }
            if !(self.rope_theta.is_finite() && self.rope_theta > 1.0) {
                return Err(Error::BadField {
                    field: "rope_theta",
                    value: self.rope_theta.to_bits() as u64,
                });
            }
        }
        if self.pos == Position::Sinusoidal && !self.dim.is_multiple_of(2) {
            return Err(Error::BadField { field: "dim (odd with sinusoidal positions)", value: self.dim as u64 });
        }
        if self.act == Activation::SwiGlu && self.norm == Norm::LayerNorm && self.bias {
            // allowed, just unusual; nothing to reject
        }
        Ok(())
    }
}
