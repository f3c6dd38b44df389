//! Micro-benchmark of the int8 matrix product, per kernel set, at the stories15M and
//! stories110M shapes: `cargo bench --bench kernels [-- FILTER]`.
//!
//! Reports, per kernel set and shape, the best thread-CPU time of one call over 20 rounds and the
//! rates that follow from it: GB/s of weights streamed (codes plus f32 scales) and GOP/s
//! (2·rows·cols integer operations per token). Weights are streamed the way decoding streams
//! them: each call reads a different copy of the matrix from a pool larger than the model's
//! working set, so nothing stays in L1/L2 between calls (`hot` re-reads one copy instead).
//!
//! Under `cargo test --all-targets` (no `--bench` argument) it runs each case once, as a smoke
//! test. No timing is ever asserted.

use std::hint::black_box;

use tinygpt::kernels::{self, quantize, Kernels, QActs, QRows};

/// The int8 kernel this project had before the 8-row kernels (commit 3e86dc6, AVX2, one row
/// and one group at a time with a horizontal sum each), kept here only as the "before"
/// line of the benchmark.
#[cfg(target_arch = "x86_64")]
mod before {
    use std::arch::x86_64::*;
    use tinygpt::kernels::{scalar, Kernels, QActs, QRows};

    pub static AVX2_1ROW: Kernels = Kernels {
        name: "avx2-1row",
        matmul_q8: matmul,
        matmul_f32: scalar::matmul_f32,
        quantize: tinygpt::kernels::quantize,
        attend: tinygpt::kernels::attend,
        layout: tinygpt::kernels::Layout::RowMajor,
    };

    fn matmul(w: &QRows<'_>, x: &QActs<'_>, out: &mut [f32]) {
        if !w.gs.is_multiple_of(32) || !std::is_x86_feature_detected!("avx2") {
            return scalar::matmul_q8(w, x, out);
        }
        let groups = w.stride / w.gs;
        assert!(w.q.len() >= w.rows * w.stride && x.q.len() >= x.n * w.stride);
        assert!(w.s.len() >= w.rows * groups && x.s.len() >= x.n * groups && out.len() >= x.n * w.rows);
        // SAFETY: AVX2 is available (checked above); the asserts bound every load.
        unsafe { inner(w, x, out, groups) }
    }

    /// # Safety
    /// AVX2 must be available; lengths as asserted by the caller.
    #[target_feature(enable = "avx2")]
    unsafe fn inner(w: &QRows<'_>, x: &QActs<'_>, out: &mut [f32], groups: usize) {
        let ones = _mm256_set1_epi16(1);
        for t in 0..x.n {
            let xq = x.q.as_ptr().wrapping_add(t * w.stride);
            for r in 0..w.rows {
                let wq = w.q.as_ptr().wrapping_add(r * w.stride);
                let mut acc = 0.0f32;
                for g in 0..groups {
                    let mut isum = _mm256_setzero_si256();
                    for b in 0..w.gs / 32 {
                        let off = g * w.gs + b * 32;
                        // SAFETY: off + 32 <= stride, rows and tokens in bounds (asserts).
                        let (wv, xv) =
                            unsafe { (_mm256_loadu_si256(wq.add(off).cast()), _mm256_loadu_si256(xq.add(off).cast())) };
                        let p16 = _mm256_maddubs_epi16(_mm256_abs_epi8(wv), _mm256_sign_epi8(xv, wv));
                        isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p16, ones));
                    }
                    let s = _mm_add_epi32(_mm256_castsi256_si128(isum), _mm256_extracti128_si256::<1>(isum));
                    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b01_00_11_10>(s));
                    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s));
                    acc += _mm_cvtsi128_si32(s) as f32 * (w.s[r * groups + g] * x.s[t * groups + g]);
                }
                out[t * w.rows + r] = acc;
            }
        }
    }
}

const GS: usize = 32;

/// (name, rows, cols, pool bytes): the 15M shapes stream from a 17 MB pool (the model's
/// size), the 110M ones from 128 MB.
const SHAPES: &[(&str, usize, usize, usize)] = &[
    ("15m wq/wk/wv/wo 288x288", 288, 288, 17 << 20),
    ("15m w1/w3 768x288", 768, 288, 17 << 20),
    ("15m w2 288x768", 288, 768, 17 << 20),
    ("15m head 32000x288", 32000, 288, 17 << 20),
    ("110m wq/wk/wv/wo 768x768", 768, 768, 128 << 20),
    ("110m w1/w3 2048x768", 2048, 768, 128 << 20),
    ("110m w2 768x2048", 768, 2048, 128 << 20),
    ("110m head 32000x768", 32000, 768, 128 << 20),
];

/// This thread's CPU time in seconds: the machine is shared, and CPU time leaves out the
/// time the thread waits for a core (wall time does not). Wall time on other systems.
#[cfg(not(target_os = "linux"))]
fn cpu_now() -> f64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_secs_f64()
}

/// This thread's CPU time in seconds: the machine is shared, and CPU time leaves out the
/// time the thread waits for a core (wall time does not).
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
    // SAFETY: `ts` is a valid, writable timespec (two i64 on x86_64/aarch64 Linux).
    let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime");
    ts.sec as f64 + ts.nsec as f64 * 1e-9
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn f32(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }
}

struct Case {
    copies: usize,
    q: Vec<i8>,
    s: Vec<f32>,
    xq: Vec<i8>,
    xs: Vec<f32>,
}

fn case(rows: usize, cols: usize, n: usize, pool: usize, rng: &mut Rng) -> Case {
    let groups = cols.div_ceil(GS);
    let stride = groups * GS;
    let bytes = rows * stride + rows * groups * 4;
    let copies = (pool / bytes).max(1);
    let q: Vec<i8> = (0..copies * rows * stride).map(|_| rng.next() as i8).collect();
    let s: Vec<f32> = (0..copies * rows * groups).map(|_| rng.f32().abs() * 0.01).collect();
    let mut xq = vec![0i8; n * stride];
    let mut xs = vec![0f32; n * groups];
    for t in 0..n {
        let x: Vec<f32> = (0..cols).map(|_| rng.f32()).collect();
        quantize(&x, GS, &mut xq[t * stride..(t + 1) * stride], &mut xs[t * groups..(t + 1) * groups]);
    }
    Case { copies, q, s, xq, xs }
}

/// Best seconds per call over `rounds` rounds of `reps` calls.
#[allow(clippy::too_many_arguments)]
fn time(k: &Kernels, c: &Case, rows: usize, cols: usize, n: usize, hot: bool, rounds: usize, reps: usize) -> f64 {
    let groups = cols.div_ceil(GS);
    let stride = groups * GS;
    let mut out = vec![0f32; n * rows];
    let x = QActs { q: &c.xq, s: &c.xs, n };
    let mut best = f64::MAX;
    let mut copy = 0;
    for _ in 0..rounds {
        let t0 = cpu_now();
        for _ in 0..reps {
            let i = if hot { 0 } else { copy };
            copy = (copy + 1) % c.copies;
            let w = QRows {
                q: &c.q[i * rows * stride..(i + 1) * rows * stride],
                s: &c.s[i * rows * groups..(i + 1) * rows * groups],
                rows,
                stride,
                gs: GS,
                il: false,
                quads: false,
                bias: false,
            };
            (k.matmul_q8)(black_box(&w), black_box(&x), &mut out);
            black_box(&mut out);
        }
        best = best.min((cpu_now() - t0) / reps as f64);
    }
    best
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let full = args.iter().any(|a| a == "--bench");
    let filter: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let want = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    println!("int8 matmul (gs {GS}), best of rounds; GB/s = weight+scale bytes streamed per second");
    println!(
        "{:<28} {:>4} {:<12} {:>5} {:>10} {:>8} {:>8}",
        "shape", "n", "kernels", "mode", "us/call", "GB/s", "GOP/s"
    );
    for &(name, rows, cols, pool) in SHAPES {
        for &n in &[1usize, 32] {
            let key = format!("{name} n={n}");
            if !want(&key) {
                continue;
            }
            let pool = if full { pool } else { 0 };
            let c = case(rows, cols, n, pool, &mut rng);
            let groups = cols.div_ceil(GS);
            let bytes = (rows * groups * GS + rows * groups * 4) as f64;
            let mut sets: Vec<&'static Kernels> = kernels::runnable().into_iter().collect();
            #[cfg(target_arch = "x86_64")]
            if std::is_x86_feature_detected!("avx2") {
                sets.insert(1, &before::AVX2_1ROW);
            }
            for k in sets {
                if !full {
                    // smoke test: one call per case
                    time(k, &c, rows, cols, n, true, 1, 1);
                    continue;
                }
                for hot in [false, true] {
                    if hot && n > 1 {
                        continue;
                    }
                    // about 0.1 s per round set, fewer for the slow scalar kernel
                    let probe = time(k, &c, rows, cols, n, hot, 1, 1);
                    let reps = ((0.005 / probe) as usize).clamp(1, 10_000);
                    let s = time(k, &c, rows, cols, n, hot, 20, reps);
                    println!(
                        "{:<28} {:>4} {:<12} {:>5} {:>10.1} {:>8.2} {:>8.2}",
                        name,
                        n,
                        k.name,
                        if hot { "hot" } else { "cold" },
                        s * 1e6,
                        bytes / s / 1e9,
                        2.0 * (rows * cols * n) as f64 / s / 1e9
                    );
                }
            }
        }
    }
}
