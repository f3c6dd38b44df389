//! A model's description as JSON — the object `tinygpt info` prints and `g.info()` returns in
//! JavaScript — written by the core (no allocation) so every shell reports the same keys.

// Panic-free core: see "Panics" in the crate docs (src/lib.rs).
use core::fmt::{self, Write};

use crate::format::{Activation, Arch, DType, Model, Norm, Position};
use crate::session::{state_bytes, KvDtype, SessionOptions};
use crate::tokenizer::TokenizerKind;

fn opt(w: &mut dyn Write, v: Option<u32>) -> fmt::Result {
    match v {
        Some(v) => write!(w, "{v}"),
        None => w.write_str("null"),
    }
}

/// Writes the model's description as one JSON object: architecture, every hyper-parameter,
/// dtype and group size, the tokenizer (kind, size, BOS/EOS), and the bytes of the file, the
/// weights, the tokenizer and the workspace for the full context (f32 and f16 KV cache).
///
/// # Errors
/// Only those of the writer.
pub fn write_json(m: &Model<'_>, w: &mut dyn Write) -> fmt::Result {
    let c = m.config();
    let arch = match c.arch {
        Arch::Gpt2 => "gpt2",
        Arch::Llama => "llama",
    };
    let dtype = match c.dtype {
        DType::F32 => "f32",
        DType::Q8 => "q8",
    };
    let norm = match c.norm {
        Norm::LayerNorm => "layernorm",
        Norm::RmsNorm => "rmsnorm",
    };
    let act = match c.act {
        Activation::GeluTanh => "gelutanh",
        Activation::Relu => "relu",
        Activation::SwiGlu => "swiglu",
        Activation::GeluErf => "geluerf",
    };
    let pos = match c.pos {
        Position::Learned => "learned",
        Position::Sinusoidal => "sinusoidal",
        Position::Rope => "rope",
    };
    let t = m.tokenizer();
    let kind = match t.kind() {
        TokenizerKind::None => "none",
        TokenizerKind::ByteLevelBpe => "byte_level_bpe",
        TokenizerKind::SentencePieceBpe => "sentencepiece_bpe",
    };
    // A validated config always has a workspace size; 0 would mean it overflows usize here.
    let sb = state_bytes(c, &SessionOptions::default()).unwrap_or(0);
    let sb16 = state_bytes(c, &SessionOptions { kv: KvDtype::F16, ..Default::default() }).unwrap_or(0);
    write!(
        w,
        "{{\"architecture\":\"{arch}\",\"dtype\":\"{dtype}\",\"group_size\":{},\"dim\":{},\"hidden_dim\":{},\
         \"n_layers\":{},\"n_heads\":{},\"n_kv_heads\":{},\"head_size\":{},\"vocab_size\":{},\"seq_len\":{},\
         \"norm\":\"{norm}\",\"norm_eps\":{:e},\"activation\":\"{act}\",\"position\":\"{pos}\",\"rope_theta\":{:?},\
         \"tied_embeddings\":{},\"bias\":{},\"model_bytes\":{},\"weight_bytes\":{},",
        c.group_size,
        c.dim,
        c.hidden_dim,
        c.n_layers,
        c.n_heads,
        c.n_kv_heads,
        c.head_size,
        c.vocab_size,
        c.seq_len,
        c.norm_eps,
        c.rope_theta,
        c.tied,
        c.bias,
        m.bytes().len(),
        m.weight_bytes(),
    )?;
    write!(w, "\"tokenizer\":{{\"kind\":\"{kind}\",\"vocab_size\":{},\"bos_id\":", t.token_count())?;
    opt(w, t.bos_id())?;
    w.write_str(",\"eos_id\":")?;
    opt(w, t.eos_id())?;
    write!(
        w,
        ",\"add_bos\":{}}},\"tokenizer_bytes\":{},\"state_bytes\":{sb},\"state_bytes_f16_kv\":{sb16}}}",
        t.add_bos(),
        m.tokenizer_bytes()
    )
}
