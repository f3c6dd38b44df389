//! The byte layout of a `.tgpt` file: offsets, codes and the tensor slot list.
//!
//! Shared by the reader (`format::Model::parse`) and the writer (`format::writer`), so the two
//! cannot drift. `docs/FORMAT.md` describes the same layout in prose.

// Panic-free core: see "Panics" in the crate docs (src/lib.rs).
/// File magic, the first four bytes.
pub const MAGIC: [u8; 4] = *b"TGPT";
/// Format version written and read.
pub const VERSION: u32 = 1;
/// Size of the fixed header in bytes.
pub const HEADER_LEN: usize = 256;
/// Alignment of every section and tensor inside the file.
pub const SECTION_ALIGN: usize = 64;
/// Alignment the model bytes themselves must have in memory.
pub const BASE_ALIGN: usize = 16;
/// Size of one tensor-directory entry.
pub const ENTRY_LEN: usize = 40;

// Header field offsets (all little-endian; u32 unless noted).
pub(crate) const H_MAGIC: usize = 0;
pub(crate) const H_VERSION: usize = 4;
pub(crate) const H_HEADER_LEN: usize = 8;
pub(crate) const H_ARCH: usize = 12;
pub(crate) const H_DTYPE: usize = 16;
pub(crate) const H_GROUP_SIZE: usize = 20;
pub(crate) const H_DIM: usize = 24;
pub(crate) const H_HIDDEN_DIM: usize = 28;
pub(crate) const H_N_LAYERS: usize = 32;
pub(crate) const H_N_HEADS: usize = 36;
pub(crate) const H_N_KV_HEADS: usize = 40;
pub(crate) const H_HEAD_SIZE: usize = 44;
pub(crate) const H_VOCAB_SIZE: usize = 48;
pub(crate) const H_SEQ_LEN: usize = 52;
pub(crate) const H_NORM: usize = 56;
pub(crate) const H_NORM_EPS: usize = 60; // f32
pub(crate) const H_ACT: usize = 64;
pub(crate) const H_POS: usize = 68;
pub(crate) const H_ROPE_THETA: usize = 72; // f32
pub(crate) const H_TIED: usize = 76;
pub(crate) const H_BIAS: usize = 80;
pub(crate) const H_TENSOR_COUNT: usize = 84;
pub(crate) const H_TENSOR_DIR_OFF: usize = 88; // u64
pub(crate) const H_TOKENIZER_OFF: usize = 96; // u64
pub(crate) const H_TOKENIZER_LEN: usize = 104; // u64
pub(crate) const H_FILE_LEN: usize = 112; // u64
pub(crate) const H_CHECKSUM: usize = 120; // u64
/// First header byte after the defined fields; the rest up to `HEADER_LEN` must be zero.
pub(crate) const H_END: usize = 128;

/// Dtype code of a directory entry: the slot is unused by this model.
pub const T_ABSENT: u32 = 0;
/// Dtype code: f32 values.
pub const T_F32: u32 = 1;
/// Dtype code: int8 values plus f32 per-group scales.
pub const T_Q8: u32 = 2;

/// A tensor slot: where a weight lives in the canonical directory order.
///
/// The directory has `GLOBAL_SLOTS + LAYER_SLOTS * n_layers` entries: the global slots first,
/// then for each layer its `LAYER_SLOTS` entries. Entry `i` must carry slot `i`'s code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Slot {
    // global slots, in order
    TokEmb,
    PosEmb,
    FinalNormW,
    FinalNormB,
    LmHead,
    // per-layer slots, in order
    AttnNormW,
    AttnNormB,
    Wq,
    Bq,
    Wk,
    Bk,
    Wv,
    Bv,
    Wo,
    Bo,
    FfnNormW,
    FfnNormB,
    W1,
    B1,
    W3,
    B3,
    W2,
    B2,
}

/// The global slots in directory order.
pub const GLOBAL: [Slot; 5] = [Slot::TokEmb, Slot::PosEmb, Slot::FinalNormW, Slot::FinalNormB, Slot::LmHead];
/// The per-layer slots in directory order.
pub const LAYER: [Slot; 18] = [
    Slot::AttnNormW,
    Slot::AttnNormB,
    Slot::Wq,
    Slot::Bq,
    Slot::Wk,
    Slot::Bk,
    Slot::Wv,
    Slot::Bv,
    Slot::Wo,
    Slot::Bo,
    Slot::FfnNormW,
    Slot::FfnNormB,
    Slot::W1,
    Slot::B1,
    Slot::W3,
    Slot::B3,
    Slot::W2,
    Slot::B2,
];
/// Number of global slots.
pub const GLOBAL_SLOTS: usize = GLOBAL.len();
/// Number of slots per layer.
pub const LAYER_SLOTS: usize = LAYER.len();

impl Slot {
    /// Stable numeric code written in the directory entry.
    pub fn code(self) -> u32 {
        self as u32 + 1
    }

    /// Human-readable name (used in errors and `info`).
    pub fn name(self) -> &'static str {
        match self {
            Slot::TokEmb => "token_embedding",
            Slot::PosEmb => "position_embedding",
            Slot::FinalNormW => "final_norm.weight",
            Slot::FinalNormB => "final_norm.bias",
            Slot::LmHead => "lm_head",
            Slot::AttnNormW => "attn_norm.weight",
            Slot::AttnNormB => "attn_norm.bias",
            Slot::Wq => "wq",
            Slot::Bq => "bq",
            Slot::Wk => "wk",
            Slot::Bk => "bk",
            Slot::Wv => "wv",
            Slot::Bv => "bv",
            Slot::Wo => "wo",
            Slot::Bo => "bo",
            Slot::FfnNormW => "ffn_norm.weight",
            Slot::FfnNormB => "ffn_norm.bias",
            Slot::W1 => "w1",
            Slot::B1 => "b1",
            Slot::W3 => "w3",
            Slot::B3 => "b3",
            Slot::W2 => "w2",
            Slot::B2 => "b2",
        }
    }

    /// Whether this slot holds a matrix (stored in the model's dtype) rather than a vector
    /// (always f32).
    pub fn is_matrix(self) -> bool {
        matches!(
            self,
            Slot::TokEmb | Slot::PosEmb | Slot::LmHead | Slot::Wq | Slot::Wk | Slot::Wv | Slot::Wo | Slot::W1 | Slot::W3 | Slot::W2
        )
    }

    /// Directory index of this slot for `layer` (ignored for global slots).
    pub fn index(self, layer: usize) -> usize {
        let code = self as usize;
        if code < GLOBAL_SLOTS {
            code
        } else {
            GLOBAL_SLOTS + layer * LAYER_SLOTS + (code - GLOBAL_SLOTS)
        }
    }
}

/// Rounds `n` up to a multiple of `SECTION_ALIGN`, or `None` on overflow.
pub fn align_up(n: u64) -> Option<u64> {
    let a = SECTION_ALIGN as u64;
    n.checked_add(a - 1).map(|v| v / a * a)
}

/// The checksum of a model file: a 64-bit multiply-rotate hash over the file's bytes, read as
/// little-endian u64 words (the last partial word zero-padded), with the 8 checksum bytes of
/// the header taken as zero. Each step is a bijection of the running state and of the word,
/// so any change confined to one word always changes the result.
pub fn checksum(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h: u64 = 0x2545_F491_4F6C_DD1D ^ (bytes.len() as u64);
    let mut chunks = bytes.chunks_exact(8);
    let mut i = 0usize;
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let mut v = u64::from_le_bytes(w);
        if i == H_CHECKSUM {
            v = 0;
        }
        h = (h.rotate_left(23) ^ v).wrapping_mul(K);
        i += 8;
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        for (d, &b) in w.iter_mut().zip(rest) {
            *d = b;
        }
        h = (h.rotate_left(23) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    h ^ (h >> 29)
}
