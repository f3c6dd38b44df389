//! Read bandwidth of this machine, for the roofline in `scripts/bench.py`: streams a buffer of
//! SIZE bytes (default 512 MiB; a model-sized buffer measures the bandwidth a decode step
//! actually sees, from DRAM or from a large L3) summing u64 words, best of 5 passes, on
//! 1..=N threads, each thread over its own share of the buffer.
//! Usage: `membw N [SIZE]`; prints GB/s per thread count as JSON: `{"1": x, "2": y}`.
use std::time::Instant;

fn stream(buf: &[u64]) -> f64 {
    let mut best = 0f64;
    for _ in 0..5 {
        let t = Instant::now();
        // 4 independent 8-lane accumulators: enough in flight to be limited by memory, not
        // by add latency (the compiler vectorises this to 256/512-bit adds)
        let mut acc = [[0u64; 8]; 4];
        for c in buf.chunks_exact(32) {
            for k in 0..4 {
                for i in 0..8 {
                    acc[k][i] = acc[k][i].wrapping_add(c[k * 8 + i]);
                }
            }
        }
        std::hint::black_box(acc);
        best = best.max((buf.len() * 8) as f64 / t.elapsed().as_secs_f64() / 1e9);
    }
    best
}

fn main() {
    let max: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(2);
    let size: usize = std::env::args().nth(2).and_then(|a| a.parse().ok()).unwrap_or(512 << 20);
    let words = (size / 8).max(32 * max).div_ceil(32 * max) * 32 * max;
    let buf: Vec<u64> = (0..words as u64).collect();
    let mut out = Vec::new();
    for n in 1..=max {
        let part = words / n;
        let total: f64 = std::thread::scope(|s| {
            let hs: Vec<_> = buf.chunks(part).take(n).map(|b| s.spawn(move || stream(b))).collect();
            hs.into_iter().map(|h| h.join().unwrap()).sum()
        });
        out.push(format!("\"{n}\": {total:.2}"));
    }
    println!("{{{}}}", out.join(", "));
}
