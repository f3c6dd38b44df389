//! Writes a random-weight model of a TinyStories shape in the tinygpt format, for benchmarks:
//! `cargo run --release --example random_model -- 15m q8 out.tgpt`
//! Shapes: 260k (dim 64, hidden 172, 5 layers, 8 heads, 4 KV heads, vocab 512, ctx 512),
//! 15m (288, 768, 6, 6, 6, 32000, 256), 110m (768, 2048, 12, 12, 12, 32000, 1024).
use tinygpt::format::writer::{random_weights, write_model};
use tinygpt::*;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: random_model 260k|15m|110m f32|q8 OUT.tgpt");
        std::process::exit(2);
    }
    let (dim, hidden, layers, heads, kv, vocab, ctx) = match args[1].as_str() {
        "260k" => (64, 172, 5, 8, 4, 512, 512),
        "15m" => (288, 768, 6, 6, 6, 32000, 256),
        "110m" => (768, 2048, 12, 12, 12, 32000, 1024),
        s => {
            eprintln!("unknown shape {s}");
            std::process::exit(2);
        }
    };
    let dtype = if args[2] == "f32" { DType::F32 } else { DType::Q8 };
    let cfg = Config {
        arch: Arch::Llama,
        dtype,
        group_size: if dtype == DType::Q8 { 32 } else { 0 },
        dim,
        hidden_dim: hidden,
        n_layers: layers,
        n_heads: heads,
        n_kv_heads: kv,
        head_size: dim / heads,
        vocab_size: vocab,
        seq_len: ctx,
        norm: Norm::RmsNorm,
        norm_eps: 1e-5,
        act: Activation::SwiGlu,
        pos: Position::Rope,
        rope_theta: 10000.0,
        tied: true,
        bias: false,
    };
    let w = random_weights(&Config { dtype: DType::F32, ..cfg }, 42);
    let bytes = write_model(&cfg, &w, &[]).expect("write");
    std::fs::write(&args[3], bytes).expect("write file");
}
