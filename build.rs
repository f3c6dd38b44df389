//! Build script: embeds the built-in model (`models/tinygpt.tgpt`) when feature `builtin` is
//! on, and emits its dimensions and exact workspace sizes as consts, so an embedded user can
//! write `static mut WS: [u8; tinygpt::builtin::STATE_BYTES]` with no arithmetic.
//!
//! It shares the format constants and the workspace arithmetic with the crate by including
//! their source files, so they cannot drift; a test (`tests/builtin.rs`) also checks the
//! consts against the library's own `state_bytes`. Deterministic and offline.

#[allow(dead_code)]
#[path = "src/format/layout.rs"]
mod layout;
#[allow(dead_code)]
#[path = "src/sizes.rs"]
mod sizes;

use std::fmt::Write as _;
use std::path::Path;

const MODEL: &str = "models/tinygpt.tgpt";

fn rd32(b: &[u8], at: usize) -> u64 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as u64
}

fn main() {
    println!("cargo::rustc-check-cfg=cfg(tinygpt_builtin)");
    println!("cargo:rerun-if-changed={MODEL}");
    println!("cargo:rerun-if-changed=src/format/layout.rs");
    println!("cargo:rerun-if-changed=src/sizes.rs");
    if std::env::var_os("CARGO_FEATURE_BUILTIN").is_none() {
        return;
    }
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    let path = Path::new(&manifest).join(MODEL);
    let Ok(bytes) = std::fs::read(&path) else {
        println!("cargo:warning=feature `builtin`: {} not found; building without a built-in model", path.display());
        return;
    };
    assert!(bytes.len() >= layout::HEADER_LEN && bytes[..4] == layout::MAGIC, "{MODEL}: not a tinygpt model");
    assert_eq!(rd32(&bytes, layout::H_VERSION) as u32, layout::VERSION, "{MODEL}: format version differs from the reader's");
    let stored = u64::from_le_bytes(bytes[layout::H_CHECKSUM..layout::H_CHECKSUM + 8].try_into().unwrap());
    assert_eq!(stored, layout::checksum(&bytes), "{MODEL}: checksum mismatch (corrupted file)");

    let h = |at| rd32(&bytes, at);
    let (dim, hidden, layers, heads, kv_heads, head_size, vocab, seq_len) = (
        h(layout::H_DIM),
        h(layout::H_HIDDEN_DIM),
        h(layout::H_N_LAYERS),
        h(layout::H_N_HEADS),
        h(layout::H_N_KV_HEADS),
        h(layout::H_HEAD_SIZE),
        h(layout::H_VOCAB_SIZE),
        h(layout::H_SEQ_LEN),
    );
    let (dtype, gs) = (h(layout::H_DTYPE), h(layout::H_GROUP_SIZE));
    let q_dim = heads * head_size;
    let (qstride, qgroups) = if dtype == 2 {
        let w = dim.max(hidden).max(q_dim);
        (w.div_ceil(gs) * gs, w.div_ceil(gs))
    } else {
        (0, 0)
    };
    let kv_dim = kv_heads * head_size;
    let ws = |kv_bytes| {
        sizes::ws_total(&sizes::WsDims {
            dim,
            hidden_dim: hidden,
            n_layers: layers,
            q_dim,
            kv_dim,
            head_size,
            n_heads: heads,
            vocab_size: vocab,
            ctx: seq_len,
            batch: 1,
            kv_bytes,
            qstride,
            qgroups,
        })
        .expect("workspace size overflows")
    };

    let mut out = String::new();
    let mut c = |name: &str, doc: &str, v: u64| {
        writeln!(out, "/// {doc}\npub const {name}: usize = {v};").unwrap();
    };
    c("MODEL_BYTES", "Size of the built-in model file in bytes.", bytes.len() as u64);
    c("DIM", "Residual width.", dim);
    c("HIDDEN_DIM", "Feed-forward width.", hidden);
    c("N_LAYERS", "Decoder blocks.", layers);
    c("N_HEADS", "Query heads.", heads);
    c("N_KV_HEADS", "Key/value heads.", kv_heads);
    c("HEAD_SIZE", "Width of one head.", head_size);
    c("VOCAB_SIZE", "Vocabulary size.", vocab);
    c("SEQ_LEN", "Context length.", seq_len);
    c("GROUP_SIZE", "int8 group size.", gs);
    c(
        "STATE_BYTES",
        "Exact workspace bytes for the full context, f32 KV cache, batch 1 (`SessionOptions::default()`).",
        ws(4),
    );
    c("STATE_BYTES_F16_KV", "Exact workspace bytes for the full context with an f16 KV cache, batch 1.", ws(2));
    writeln!(
        out,
        "/// Exact workspace bytes for a context of `ctx` tokens (1..=SEQ_LEN) with an f16 (`true`)\n\
         /// or f32 KV cache, batch 1 — for `static` buffers sized at compile time. Returns 0 if\n\
         /// `ctx` is out of range.\n\
         pub const fn state_bytes_for(ctx: usize, f16_kv: bool) -> usize {{\n\
         if ctx == 0 || ctx > {seq_len} {{ return 0; }}\n\
         match crate::sizes::ws_total(&crate::sizes::WsDims {{ dim: {dim}, hidden_dim: {hidden}, n_layers: {layers}, \
         q_dim: {q_dim}, kv_dim: {kv_dim}, head_size: {head_size}, n_heads: {heads}, vocab_size: {vocab}, ctx: ctx as u64, \
         batch: 1, kv_bytes: if f16_kv {{ 2 }} else {{ 4 }}, qstride: {qstride}, qgroups: {qgroups} }}) {{\n\
         Some(v) => v as usize,\nNone => 0,\n}}\n}}"
    )
    .unwrap();
    writeln!(
        out,
        "#[repr(C, align(64))]\nstruct Aligned<T: ?Sized>(T);\nstatic ALIGNED: Aligned<[u8; {}]> = Aligned(*include_bytes!({:?}));\n\
         /// The built-in model's bytes (64-byte aligned, in `.rodata` / flash).\npub static MODEL: &[u8] = &ALIGNED.0;",
        bytes.len(),
        path.display().to_string()
    )
    .unwrap();
    let dst = Path::new(&std::env::var("OUT_DIR").unwrap()).join("builtin.rs");
    std::fs::write(dst, out).unwrap();
    println!("cargo:rustc-cfg=tinygpt_builtin");
}
