//! Decode speed per kernel set on random-weight stories15M / stories110M shapes (int8,
//! group 32), built in memory:
//! `cargo bench --bench decode [-- 15m|110m] [--model F.tgpt] [--kernels NAME]`.
//!
//! Same protocol as `tinygpt bench` (4 warm-up steps, reset, then 128 single-token steps at
//! positions 0..128), repeated; reports the best tok/s by wall time and by this thread's CPU
//! time (the machine this was written on is shared, so CPU time is the steadier number).
//! Under `cargo test --all-targets` (no `--bench` argument) it decodes 2 tokens of a tiny
//! model as a smoke test. No timing is ever asserted.

use std::time::Instant;

use tinygpt::format::writer::{random_weights, write_model};
use tinygpt::format::AlignedBytes;
use tinygpt::kernels::{self, Kernels};
use tinygpt::*;

#[cfg(target_os = "linux")]
fn cpu_now() -> f64 {
    #[repr(C)]
    struct Timespec {
        sec: i64,
        nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3; // Linux
    let mut ts = Timespec { sec: 0, nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec (two i64 on 64-bit Linux).
    let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime");
    ts.sec as f64 + ts.nsec as f64 * 1e-9
}

#[cfg(not(target_os = "linux"))]
fn cpu_now() -> f64 {
    use std::sync::OnceLock;
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_secs_f64()
}

fn shape(name: &str) -> Config {
    let (dim, hidden, layers, heads, vocab, ctx) = match name {
        "tiny" => (64, 172, 2, 4, 512, 64),
        "15m" => (288, 768, 6, 6, 32000, 256),
        "110m" => (768, 2048, 12, 12, 32000, 1024),
        s => panic!("unknown shape {s}"),
    };
    Config {
        arch: Arch::Llama,
        dtype: DType::Q8,
        group_size: 32,
        dim,
        hidden_dim: hidden,
        n_layers: layers,
        n_heads: heads,
        n_kv_heads: heads,
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
    }
}

/// (best wall tok/s, best CPU tok/s) over `rounds` runs of `n` decode steps.
fn decode(m: Model<'_>, k: &'static Kernels, n: usize, rounds: usize) -> (f64, f64) {
    let c = *m.config();
    let opts = SessionOptions { ctx: (n + 1).min(c.seq_len), ..Default::default() };
    let mut ws = vec![0u8; state_bytes(&c, &opts).expect("state bytes")];
    let toks: Vec<u32> = (0..n).map(|i| ((i * 7919 + 13) % c.vocab_size) as u32).collect();
    let (mut wall, mut cpu) = (f64::MAX, f64::MAX);
    for _ in 0..rounds {
        let mut s = Session::new(m, &mut ws, opts).expect("session").with_kernels(k);
        for &t in toks.iter().take(4) {
            s.step(t).expect("step");
        }
        s.reset();
        let (w0, c0) = (Instant::now(), cpu_now());
        for &t in &toks {
            std::hint::black_box(s.step(t).expect("step"));
        }
        cpu = cpu.min(cpu_now() - c0);
        wall = wall.min(w0.elapsed().as_secs_f64());
    }
    (n as f64 / wall, n as f64 / cpu)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let full = args.iter().any(|a| a == "--bench");
    let file = args.iter().position(|a| a == "--model").and_then(|i| args.get(i + 1)).cloned();
    let only = args.iter().position(|a| a == "--kernels").and_then(|i| args.get(i + 1)).cloned();
    let names: Vec<&str> = if !full {
        vec!["tiny"]
    } else {
        let picked: Vec<&str> = ["15m", "110m"].into_iter().filter(|s| args.iter().any(|a| a == s)).collect();
        if picked.is_empty() && file.is_none() {
            vec!["15m", "110m"]
        } else {
            picked
        }
    };
    let mut models: Vec<(String, AlignedBytes)> = Vec::new();
    if let Some(f) = &file {
        models.push((f.clone(), AlignedBytes::read(std::path::Path::new(f)).expect("read model")));
    }
    for name in names {
        let cfg = shape(name);
        let w = random_weights(&Config { dtype: DType::F32, ..cfg }, 42);
        models.push((name.to_string(), AlignedBytes::new(&write_model(&cfg, &w, &[]).expect("write"))));
    }
    println!("{:<16} {:<12} {:>12} {:>12}", "model", "kernels", "wall tok/s", "cpu tok/s");
    for (name, bytes) in &models {
        let m = Model::from_bytes(bytes.as_slice()).expect("model");
        let (n, rounds) = if full { (128, 7) } else { (2, 1) };
        for k in kernels::runnable() {
            if (full && k.name == "scalar") || only.as_ref().is_some_and(|o| o != k.name) {
                continue;
            }
            let (wall, cpu) = decode(m, k, n, rounds);
            println!("{:<16} {:<12} {:>12.1} {:>12.1}", name, k.name, wall, cpu);
        }
    }
}
