//! Writes a random-weight model of a TinyStories shape in the tinygpt format, for benchmarks:
//! `cargo run --release --example random_model -- 15m q8 out.tgpt`
//! Shapes: 260k (dim 64, hidden 172, 5 layers, 8 heads, 4 KV heads, vocab 512, ctx 512),
//! 15m (288, 768, 6, 6, 6, 32000, 256), 110m (768, 2048, 12, 12, 12, 32000, 1024).
use tinygpt::format::writer::{random_weights, write_model};
use tinygpt::*;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: random_model 260k|15m|110m f32|q8|llama2c-v0|llama2c-v2 OUT");
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
    if let Some(v) = args[2].strip_prefix("llama2c-v") {
        let version: u32 = v.parse().unwrap_or(9);
        let bytes = llama2c(version, dim, hidden, layers, heads, kv, vocab, ctx).unwrap_or_else(|| {
            eprintln!("llama2c-v0 or llama2c-v2");
            std::process::exit(2)
        });
        std::fs::write(&args[3], bytes).expect("write file");
        return;
    }
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

/// A random-weight llama2.c checkpoint of this shape (shared classifier), as llama2.c's
/// `export.py` lays it out: version 0 (legacy fp32, with the RoPE tables) or version 2
/// (Q8_0: int8 values then f32 scales per tensor, group size 64 halved until it divides
/// `dim` and `hidden`). Weights are small uniform values (version 0) or uniform codes with
/// scales around 0.002 (version 2); norms are 1. `None` for another version.
#[allow(clippy::too_many_arguments)]
fn llama2c(version: u32, dim: usize, hidden: usize, layers: usize, heads: usize, kv: usize, vocab: usize, ctx: usize) -> Option<Vec<u8>> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let hs = dim / heads;
    let kv_dim = kv * hs;
    let params = [dim, hidden, layers, heads, kv, vocab, ctx].map(|v| v as i32);
    // (rows, cols) of every matrix in file order: tok_emb, wq (L), wk, wv, wo, w1, w2, w3
    let mut mats = vec![(vocab, dim)];
    for &(r, c) in &[(dim, dim), (kv_dim, dim), (kv_dim, dim), (dim, dim), (hidden, dim), (dim, hidden), (hidden, dim)] {
        mats.extend(std::iter::repeat_n((r, c), layers));
    }
    let mut out = Vec::new();
    let ones = |out: &mut Vec<u8>, n: usize| (0..n).for_each(|_| out.extend_from_slice(&1.0f32.to_le_bytes()));
    match version {
        0 => {
            params.iter().for_each(|p| out.extend_from_slice(&p.to_le_bytes()));
            let mut floats = |out: &mut Vec<u8>, n: usize| {
                for _ in 0..n {
                    let u = (next() >> 40) as f32 / (1u64 << 24) as f32;
                    out.extend_from_slice(&((u - 0.5) * 0.1).to_le_bytes());
                }
            };
            let (emb, rest) = mats.split_first().expect("tok_emb");
            floats(&mut out, emb.0 * emb.1);
            ones(&mut out, layers * dim); // rms_att
            let per = layers;
            for (i, &(r, c)) in rest.iter().enumerate() {
                if i == 4 * per {
                    ones(&mut out, layers * dim); // rms_ffn sits between wo and w1
                }
                floats(&mut out, r * c);
            }
            ones(&mut out, dim); // rms_final
            // freq_cis_real, freq_cis_imag (seq_len, head_size / 2): ignored by importers
            for _ in 0..2 * ctx * (hs / 2) {
                out.extend_from_slice(&0.0f32.to_le_bytes());
            }
        }
        2 => {
            let mut gs = 64;
            while !dim.is_multiple_of(gs) || !hidden.is_multiple_of(gs) {
                gs /= 2;
            }
            out.extend_from_slice(&0x616b_3432u32.to_le_bytes()); // "ak42" as a little-endian u32
            out.extend_from_slice(&2i32.to_le_bytes());
            params.iter().for_each(|p| out.extend_from_slice(&p.to_le_bytes()));
            out.push(1); // shared classifier
            out.extend_from_slice(&(gs as i32).to_le_bytes());
            out.resize(256, 0);
            ones(&mut out, 2 * layers * dim + dim); // rms_att, rms_ffn, rms_final
            for &(r, c) in &mats {
                let n = r * c;
                for _ in 0..n {
                    out.push((next() >> 56) as u8);
                }
                for _ in 0..n / gs {
                    let u = (next() >> 40) as f32 / (1u64 << 24) as f32;
                    out.extend_from_slice(&(0.001 + 0.002 * u).to_le_bytes());
                }
            }
        }
        _ => return None,
    }
    Some(out)
}
