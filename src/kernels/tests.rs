//! Every kernel set equals the scalar kernels bit for bit.
//!
//! `kernel_set_tests!` stamps one test module per kernel set (tract's pattern). Each test
//! first checks, at run time, that this machine (or emulator) runs the set's ISA and returns
//! early, saying so on stderr, when it does not. Inputs: random codes biased towards the
//! int8 extremes (weights -128 and 127, activations -127 and 127), group sizes 32, 64, 96,
//! 128, 1024 and ones the SIMD kernels do not take (4, 8, 16, 36), every width from 1 to 800
//! (so every tail), the model shapes, rows that are not a multiple of 8 (or 4), several
//! tokens, and hostile scales (zero, negative, subnormal, huge, infinite, NaN).

extern crate std;
use std::vec;
use std::vec::Vec;

use super::*;

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
    fn i8_w(&mut self) -> i8 {
        // weights may be any i8, -128 included; bias towards the extremes
        match self.next() % 8 {
            0 => -128,
            1 => 127,
            2 => -127,
            _ => self.next() as i8,
        }
    }
    fn i8_x(&mut self) -> i8 {
        // activations are in [-127, 127] (what `quantize` produces)
        match self.next() % 8 {
            0 => -127,
            1 => 127,
            _ => ((self.next() % 255) as i32 - 127) as i8,
        }
    }
}

/// Scales of the kinds a hostile file may hold.
fn hostile_scale(rng: &mut Rng) -> f32 {
    match rng.next() % 16 {
        0 => 0.0,
        1 => -0.5,
        2 => f32::MIN_POSITIVE / 8.0, // subnormal
        3 => 3.0e38,
        4 => f32::INFINITY,
        5 => f32::NAN,
        6 => -0.0,
        _ => rng.f32() * 0.1,
    }
}

/// Equal bits, except that any NaN equals any NaN (NaN payloads are not part of the
/// contract: IEEE leaves them to the operand order).
fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

struct Q8Case {
    rows: usize,
    stride: usize,
    gs: usize,
    n: usize,
    wq: Vec<i8>,
    ws: Vec<f32>,
    xq: Vec<i8>,
    xs: Vec<f32>,
}

impl Q8Case {
    /// Random codes; activations either quantized from random floats (`quantized`) or drawn
    /// directly; scales hostile when `hostile`.
    fn new(rows: usize, cols: usize, gs: usize, n: usize, seed: u64, quantized: bool, hostile: bool) -> Self {
        let mut rng = Rng(seed | 1);
        let groups = cols.div_ceil(gs);
        let stride = groups * gs;
        let mut wq = vec![0i8; rows * stride];
        for r in 0..rows {
            for c in 0..cols {
                wq[r * stride + c] = rng.i8_w();
            }
        }
        let ws: Vec<f32> =
            (0..rows * groups).map(|_| if hostile { hostile_scale(&mut rng) } else { rng.f32().abs() * 0.1 }).collect();
        let mut xq = vec![0i8; n * stride];
        let mut xs = vec![0f32; n * groups];
        for t in 0..n {
            if quantized {
                let mut x: Vec<f32> = (0..cols).map(|_| rng.f32() * 3.0).collect();
                if cols > 2 {
                    x[0] = 100.0; // forces codes of exactly 127 and -127
                    x[1] = -100.0;
                }
                quantize(&x, gs, &mut xq[t * stride..(t + 1) * stride], &mut xs[t * groups..(t + 1) * groups]);
            } else {
                for c in 0..cols {
                    xq[t * stride + c] = rng.i8_x();
                }
                for g in 0..groups {
                    xs[t * groups + g] = if hostile { hostile_scale(&mut rng) } else { rng.f32().abs() * 0.05 };
                }
            }
        }
        Q8Case { rows, stride, gs, n, wq, ws, xq, xs }
    }

    fn run(&self, k: &Kernels) -> Vec<f32> {
        let w = QRows { q: &self.wq, s: &self.ws, rows: self.rows, stride: self.stride, gs: self.gs, il: false, quads: false, bias: false };
        self.run_with(k, &w)
    }

    fn run_with(&self, k: &Kernels, w: &QRows<'_>) -> Vec<f32> {
        let x = QActs { q: &self.xq, s: &self.xs, n: self.n };
        let mut out = vec![f32::NAN; self.n * self.rows];
        (k.matmul_q8)(w, &x, &mut out);
        out
    }

    /// The same matrix in the four-row interleaved layout (`Interleave::apply`).
    fn interleaved(&self) -> (Vec<i8>, Vec<f32>) {
        let lay = Interleave { rows: self.rows, groups: self.stride / self.gs };
        let (mut q, mut s) = (self.wq.clone(), self.ws.clone());
        assert!(lay.apply(&mut q, self.gs, &mut vec![0; lay.scratch_len(self.gs)]));
        assert!(lay.apply(&mut s, 1, &mut vec![0.0; lay.scratch_len(1)]));
        (q, s)
    }

    /// The same matrix in quads (`Interleave::apply_quads`), biased or not, if the group size
    /// allows.
    fn quads(&self, bias: bool) -> Option<(Vec<i8>, Vec<f32>)> {
        if !self.gs.is_multiple_of(4) {
            return None;
        }
        let groups = self.stride / self.gs;
        let mut q: Vec<u8> = self.wq.iter().map(|&v| v as u8).collect();
        let mut s: Vec<u8> = self.ws.iter().flat_map(|v| v.to_ne_bytes()).collect();
        let mut scratch = vec![0u8; Interleave::quads_scratch_len(self.stride, groups)];
        assert!(Interleave::apply_quads(self.rows, self.stride, groups, &mut q, &mut s, &mut scratch, bias));
        let s = s.chunks_exact(4).map(|b| f32::from_ne_bytes([b[0], b[1], b[2], b[3]])).collect();
        Some((q.into_iter().map(|v| v as i8).collect(), s))
    }

    /// `k` equals the scalar kernel bit for bit on the row-major matrix, and on the same
    /// matrix interleaved and in quads (so the scalar kernel's reading of those layouts is
    /// checked against its row-major result too).
    fn check(&self, k: &Kernels) {
        let want = self.run(scalar());
        let (q, s) = self.interleaved();
        let w = QRows { q: &q, s: &s, rows: self.rows, stride: self.stride, gs: self.gs, il: true, quads: false, bias: false };
        let mut runs = vec![("row-major", self.run(k)), ("interleaved", self.run_with(k, &w))];
        for (name, bias) in [("quads", true), ("quads-plain", false)] {
            if let Some((qq, qs)) = self.quads(bias) {
                runs.push((name, self.run_with(k, &QRows { q: &qq, s: &qs, quads: true, bias, ..w })));
            }
        }
        for (layout, got) in runs {
            for (i, (&a, &b)) in want.iter().zip(&got).enumerate() {
                assert!(
                    same(a, b),
                    "{} q8 {layout} rows={} stride={} gs={} n={}: out[{i}] = {b:?} ({:#010x}), scalar {a:?} ({:#010x})",
                    k.name,
                    self.rows,
                    self.stride,
                    self.gs,
                    self.n,
                    b.to_bits(),
                    a.to_bits()
                );
            }
        }
    }
}

/// Every width 1..=800 at group sizes 32 and 64 (rows 9: one block of 8 and a tail row).
fn q8_all_widths(k: &Kernels) {
    let mut seed = 0x1234_5678_9abc_def1u64;
    for &gs in &[32usize, 64] {
        for cols in 1..=800 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            Q8Case::new(9, cols, gs, 1 + cols % 3, seed, cols % 2 == 0, false).check(k);
        }
    }
}

/// Other group sizes, SIMD-friendly or not, at widths with tails, several row counts.
fn q8_group_sizes(k: &Kernels) {
    let mut seed = 0x0bad_cafe_f00d_0001u64;
    for &gs in &[4usize, 8, 16, 36, 96, 128, 160, 1024] {
        for &cols in &[1usize, 3, 31, 32, 33, 64, 96, 172, 288, 352, 768, 800, 1100] {
            for &(rows, n) in &[(1usize, 1usize), (7, 1), (8, 2), (33, 3), (20, 5)] {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                Q8Case::new(rows, cols, gs, n, seed, seed.is_multiple_of(3), false).check(k);
            }
        }
    }
}

/// The stories15M / stories110M matrix shapes (smaller row counts for the heads), one token
/// and a prefill batch.
fn q8_model_shapes(k: &Kernels) {
    let mut seed = 77u64;
    for &(rows, cols) in
        &[(288usize, 288usize), (768, 288), (288, 768), (1000, 288), (768, 768), (2048, 768), (768, 2048), (130, 768)]
    {
        for &n in &[1usize, 3, 32] {
            seed += 1;
            Q8Case::new(rows, cols, 32, n, seed, true, false).check(k);
        }
    }
}

/// Batches (the prefill kernels: tokens in lanes from `x86_64::TOKENS_MIN` tokens on): token
/// counts around the 16-lane vectors and the 32-token blocks, group sizes including ones
/// that do not divide the 1024-code K chunk, widths spanning several chunks, row counts
/// around the 4-row blocks.
fn q8_batches(k: &Kernels) {
    let mut seed = 0x5eed_0000_0000_0001u64;
    for &n in &[4usize, 7, 8, 9, 15, 16, 17, 31, 32, 33, 48, 64, 65] {
        for &(gs, cols) in &[(32usize, 288usize), (32, 2048), (32, 2100), (4, 172), (8, 352), (16, 1040), (36, 1100), (64, 800), (96, 3000), (1024, 2048), (128, 1)] {
            for &rows in &[1usize, 3, 4, 5, 9] {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                Q8Case::new(rows, cols, gs, n, seed, seed.is_multiple_of(2), seed.is_multiple_of(5)).check(k);
            }
        }
    }
    for &(rows, cols, n) in &[(288usize, 288usize, 32usize), (768, 288, 32), (288, 768, 20), (130, 768, 64)] {
        seed += 1;
        Q8Case::new(rows, cols, 32, n, seed, true, false).check(k);
    }
}

/// The largest |isum| possible: every weight -128 against activations of ±127, gs 1024.
fn q8_extremes(k: &Kernels) {
    for &gs in &[32usize, 64, 1024] {
        for &xv in &[127i8, -127] {
            for &wv in &[-128i8, 127] {
                for (rows, cols, n) in [(11, 2048, 2), (6, 2048, 19)] {
                let mut c = Q8Case::new(rows, cols, gs, n, 5, false, false);
                c.wq.iter_mut().for_each(|v| *v = wv);
                c.xq.iter_mut().for_each(|v| *v = xv);
                c.ws.iter_mut().for_each(|v| *v = 1.0);
                c.xs.iter_mut().for_each(|v| *v = 1.0);
                let out = c.run(k);
                let groups = cols / gs;
                let isum = gs as f32 * (wv as f32 * xv as f32);
                // every group contributes the same exact value; check the sum independently
                let mut want = 0.0f32;
                for _ in 0..groups {
                    want += isum;
                }
                assert!(out.iter().all(|&o| o == want), "{} extremes gs={gs} w={wv} x={xv} n={n}", k.name);
                c.check(k);
                }
            }
        }
    }
}

/// Hostile scales: zero, negative, subnormal, huge, infinite, NaN.
fn q8_hostile_scales(k: &Kernels) {
    let mut seed = 991u64;
    for &gs in &[32usize, 64, 96] {
        for &(rows, cols, n) in &[(8usize, 288usize, 1usize), (17, 172, 2), (9, 800, 3), (6, 288, 12), (5, 800, 33)] {
            seed += 1;
            Q8Case::new(rows, cols, gs, n, seed, false, true).check(k);
        }
    }
}

fn f32_widths(k: &Kernels) {
    let mut rng = Rng(99);
    for cols in (1..=80).chain([172, 288, 768]) {
        for &(rows, n) in &[(1usize, 1usize), (5, 2)] {
            let w: Vec<f32> = (0..rows * cols).map(|_| rng.f32()).collect();
            let x: Vec<f32> = (0..n * cols).map(|_| rng.f32() * 10.0).collect();
            let mut want = vec![0f32; n * rows];
            scalar::matmul_f32(&w, rows, cols, &x, n, &mut want);
            let mut got = vec![f32::NAN; n * rows];
            (k.matmul_f32)(&w, rows, cols, &x, n, &mut got);
            for (a, b) in want.iter().zip(&got) {
                assert_eq!(a.to_bits(), b.to_bits(), "{} f32 rows={rows} cols={cols}", k.name);
            }
        }
    }
}

/// The attention and activation-quantization entries: every set's copy equals the portable
/// function bit for bit (head sizes 1..=70 and 128, 1..=40 and 300 positions, f32 and f16
/// caches, strided layouts), and the portable attention is close to an f64 reference.
fn float_ops(k: &'static Kernels) {
    let mut rng = Rng(4242);
    for hs in (1..=70).chain([128]) {
        for len in [1usize, 2, 7, 8, 9, 15, 16, 17, 40, 300] {
            if (hs > 20 && len > 40 && hs != 128) || (hs > 40 && len % 8 == 2) {
                continue;
            }
            let (kstride, vstride) = (len + 3, hs + 5);
            let kbuf: Vec<f32> = (0..hs * kstride).map(|_| rng.f32() * 2.0).collect();
            let vbuf: Vec<f32> = (0..len * vstride).map(|_| rng.f32() * 2.0).collect();
            let q: Vec<f32> = (0..hs).map(|_| rng.f32()).collect();
            let (k16, v16): (Vec<half::f16>, Vec<half::f16>) =
                (kbuf.iter().map(|&x| half::f16::from_f32(x)).collect(), vbuf.iter().map(|&x| half::f16::from_f32(x)).collect());
            for kv in [KvHead::F32 { k: &kbuf, v: &vbuf }, KvHead::F16 { k: &k16, v: &v16 }] {
                let run = |f: Attend| {
                    let (mut sc, mut out) = (vec![f32::NAN; len], vec![f32::NAN; hs]);
                    f(kv, kstride, vstride, &q, 0.3, &mut sc, &mut out);
                    (sc, out)
                };
                let (want_sc, want_out) = run(attend);
                let (got_sc, got_out) = run(k.attend);
                for (a, b) in want_sc.iter().chain(&want_out).zip(got_sc.iter().chain(&got_out)) {
                    assert!(same(*a, *b), "{} attend hs={hs} len={len}: {b} vs {a}", k.name);
                }
                if let KvHead::F32 { .. } = kv {
                    // f64 reference
                    let sc: Vec<f64> = (0..len)
                        .map(|s| 0.3 * (0..hs).map(|j| q[j] as f64 * kbuf[j * kstride + s] as f64).sum::<f64>())
                        .collect();
                    let m = sc.iter().cloned().fold(f64::MIN, f64::max);
                    let e: Vec<f64> = sc.iter().map(|x| (x - m).exp()).collect();
                    let z: f64 = e.iter().sum();
                    for i in 0..hs {
                        let o: f64 = (0..len).map(|s| e[s] / z * vbuf[s * vstride + i] as f64).sum();
                        assert!((o - want_out[i] as f64).abs() < 1e-5 * (1.0 + o.abs()), "attend hs={hs} len={len}: {} vs {o}", want_out[i]);
                    }
                }
            }
        }
    }
    for len in [1usize, 7, 8, 9, 172, 1000] {
        let mut a: Vec<f32> = (0..len).map(|_| rng.f32() * 30.0 - 15.0).collect();
        if len > 4 {
            a[1] = f32::NAN;
            a[2] = f32::INFINITY;
            a[3] = -100.0;
        }
        let b: Vec<f32> = (0..len).map(|_| rng.f32() * 4.0 - 2.0).collect();
        let (mut want, mut got) = (a.clone(), a.clone());
        swiglu(&mut want, &b);
        swiglu_for(k)(&mut got, &b);
        assert!(want.iter().zip(&got).all(|(x, y)| same(*x, *y)), "{} swiglu len={len}", k.name);
    }
    for cols in [1usize, 7, 8, 31, 32, 33, 172, 288, 1000] {
        for gs in [4usize, 32, 64] {
            let groups = cols.div_ceil(gs);
            let mut x: Vec<f32> = (0..cols).map(|_| rng.f32() * 5.0).collect();
            if cols > 4 {
                x[1] = f32::NAN;
                x[3] = f32::INFINITY;
                x[4] = 1e-40;
            }
            let (mut q1, mut s1) = (vec![9i8; groups * gs], vec![0f32; groups]);
            let (mut q2, mut s2) = (vec![7i8; groups * gs], vec![1f32; groups]);
            quantize(&x, gs, &mut q1, &mut s1);
            (k.quantize)(&x, gs, &mut q2, &mut s2);
            assert_eq!(q1, q2, "{} quantize cols={cols} gs={gs}", k.name);
            assert!(s1.iter().zip(&s2).all(|(a, b)| same(*a, *b)), "{} quantize scales cols={cols} gs={gs}", k.name);
        }
    }
}

/// The batched attention of every set equals one portable [`attend`] per row, bit for bit:
/// 1..=8 rows of unequal lengths (so rows share some positions and not others), head sizes
/// with and without a tail of eight, f32 and f16 caches, strided layouts.
fn attend_rows_equal_attend(k: &'static Kernels) {
    attend_rows_fn_equal_attend(k.name, attend_rows_for(k));
}

/// What wasm32 and 32-bit targets run as `attend_rows` (one `attend` per row): its row
/// slicing (query offsets, score stride, output rows) checked like the grouped copies.
#[test]
fn attend_each_row_equals_attend() {
    attend_rows_fn_equal_attend("attend_each_row", crate::kernels::attend_each_row);
}

#[allow(clippy::needless_range_loop)]
fn attend_rows_fn_equal_attend(name: &str, f: crate::kernels::AttendRows) {
    let mut rng = Rng(777);
    for hs in [1usize, 3, 8, 12, 16, 48, 64, 70] {
        for n in 1..=ATT_ROWS {
            for first in [1usize, 5, 8, 9, 31, 64] {
                let lens: Vec<usize> = (0..n).map(|i| first + (i * 3 + i / 2) % 11).collect();
                let maxlen = *lens.iter().max().unwrap();
                let (kstride, vstride, sstride) = (maxlen + 5, hs + 3, maxlen + 2);
                let kbuf: Vec<f32> = (0..hs * kstride).map(|_| rng.f32() * 2.0).collect();
                let vbuf: Vec<f32> = (0..maxlen * vstride).map(|_| rng.f32() * 2.0).collect();
                let qs: Vec<f32> = (0..n * hs + 7).map(|_| rng.f32()).collect();
                let (k16, v16): (Vec<half::f16>, Vec<half::f16>) =
                    (kbuf.iter().map(|&x| half::f16::from_f32(x)).collect(), vbuf.iter().map(|&x| half::f16::from_f32(x)).collect());
                let mut rows = AttRows { q: &qs, at: [0; ATT_ROWS], len: [0; ATT_ROWS], n, hs };
                for i in 0..n {
                    // rows out of order in the buffer, as heads and tokens interleave
                    rows.at[i] = ((i * 5) % n) * hs + 7 * (i % 2);
                    rows.at[i] = rows.at[i].min(n * hs + 7 - hs);
                    rows.len[i] = lens[i];
                }
                for kv in [KvHead::F32 { k: &kbuf, v: &vbuf }, KvHead::F16 { k: &k16, v: &v16 }] {
                    let (mut sc, mut out) = (vec![f32::NAN; n * sstride], vec![f32::NAN; n * hs]);
                    f(kv, kstride, vstride, &rows, 0.37, &mut sc, sstride, &mut out);
                    for i in 0..n {
                        let (mut wsc, mut wout) = (vec![f32::NAN; lens[i]], vec![f32::NAN; hs]);
                        attend(kv, kstride, vstride, &qs[rows.at[i]..rows.at[i] + hs], 0.37, &mut wsc, &mut wout);
                        let got = sc[i * sstride..i * sstride + lens[i]].iter().chain(&out[i * hs..(i + 1) * hs]);
                        for (a, b) in wsc.iter().chain(&wout).zip(got) {
                            assert!(same(*a, *b), "{name} attend_rows hs={hs} n={n} row {i} len={}: {b} vs {a}", lens[i]);
                        }
                    }
                }
            }
        }
    }
}

/// One test module per kernel set: `kernel_set_tests!(name, runs_here, kernels)`.
macro_rules! kernel_set_tests {
    ($name:ident, $runs:expr, $k:expr) => {
        mod $name {
            use super::*;

            fn set() -> Option<&'static Kernels> {
                if $runs {
                    Some($k)
                } else {
                    std::eprintln!("skipped: this CPU does not run the {} kernels", stringify!($name));
                    None
                }
            }

            #[test]
            fn q8_batches_equal_scalar() {
                if let Some(k) = set() {
                    q8_batches(k);
                }
            }

            #[test]
            fn q8_all_widths_equal_scalar() {
                if let Some(k) = set() {
                    super::q8_all_widths(k);
                }
            }
            #[test]
            fn q8_group_sizes_equal_scalar() {
                if let Some(k) = set() {
                    super::q8_group_sizes(k);
                }
            }
            #[test]
            fn q8_model_shapes_equal_scalar() {
                if let Some(k) = set() {
                    super::q8_model_shapes(k);
                }
            }
            #[test]
            fn q8_extremes_exact() {
                if let Some(k) = set() {
                    super::q8_extremes(k);
                }
            }
            #[test]
            fn q8_hostile_scales_equal_scalar() {
                if let Some(k) = set() {
                    super::q8_hostile_scales(k);
                }
            }
            #[test]
            fn float_ops_equal_portable() {
                if let Some(k) = set() {
                    super::float_ops(k);
                }
            }
            #[test]
            fn attend_rows_equal_attend() {
                if let Some(k) = set() {
                    super::attend_rows_equal_attend(k);
                }
            }
            #[test]
            fn f32_equal_scalar() {
                if let Some(k) = set() {
                    super::f32_widths(k);
                }
            }
        }
    };
}

kernel_set_tests!(scalar_set, true, scalar());
kernel_set_tests!(best_set, true, best());
#[cfg(target_arch = "x86_64")]
kernel_set_tests!(x86_64_avx2, x86_64::avx2_available(), &x86_64::AVX2);
#[cfg(target_arch = "x86_64")]
kernel_set_tests!(x86_64_avx_vnni, x86_64::avxvnni_available(), &x86_64::AVX_VNNI);
#[cfg(target_arch = "x86_64")]
kernel_set_tests!(x86_64_avx512_vnni, x86_64::avx512vnni_available(), &x86_64::AVX512_VNNI);
#[cfg(target_arch = "aarch64")]
kernel_set_tests!(aarch64_neon, aarch64::neon_available(), &aarch64::NEON);
#[cfg(target_arch = "aarch64")]
kernel_set_tests!(aarch64_neon_dotprod, aarch64::dotprod_available(), &aarch64::NEON_DOTPROD);
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
kernel_set_tests!(wasm32_simd128, true, &wasm32::SIMD128);

/// The test suite itself can fail: a kernel that is wrong by one code is caught.
#[test]
fn checker_catches_an_off_by_one_kernel() {
    fn broken(w: &QRows<'_>, x: &QActs<'_>, out: &mut [f32]) {
        let mut wq = w.q.to_vec();
        wq[0] = wq[0].wrapping_add(1);
        scalar::matmul_q8(&QRows { q: &wq, ..*w }, x, out);
    }
    static BROKEN: Kernels = Kernels { name: "broken", matmul_q8: broken, matmul_f32: scalar::matmul_f32, quantize: super::quantize, attend: super::attend, layout: super::Layout::RowMajor };
    let c = Q8Case::new(3, 64, 32, 1, 3, true, false);
    let r = std::panic::catch_unwind(|| c.check(&BROKEN));
    assert!(r.is_err(), "a kernel off by one code must fail the check");
}

#[test]
fn runnable_lists_scalar_first_and_best() {
    let r = runnable();
    assert_eq!(r[0].name, "scalar");
    assert!(r.iter().any(|k| k.name == best().name), "best() = {} is not in runnable()", best().name);
}

#[test]
fn q8_scalar_matches_integer_math() {
    // one row, one group: out = isum * ws * xs exactly
    let gs = 32;
    let mut wq = vec![0i8; 32];
    let mut xq = vec![0i8; 32];
    for i in 0..32 {
        wq[i] = if i % 2 == 0 { -128 } else { 127 };
        xq[i] = if i % 3 == 0 { -127 } else { 127 };
    }
    let isum: i32 = wq.iter().zip(&xq).map(|(&a, &b)| a as i32 * b as i32).sum();
    let w = QRows { q: &wq, s: &[0.5], rows: 1, stride: 32, gs, il: false, quads: false, bias: false };
    let x = QActs { q: &xq, s: &[0.25], n: 1 };
    for k in runnable() {
        let mut out = [0f32];
        (k.matmul_q8)(&w, &x, &mut out);
        assert_eq!(out[0], isum as f32 * 0.125, "{}", k.name);
    }
}

/// The original branchy `quantize`, kept as the reference for the branch-free one.
#[allow(clippy::needless_range_loop)]
fn quantize_reference(x: &[f32], gs: usize, q: &mut [i8], s: &mut [f32]) {
    fn round_away(v: f32) -> i32 {
        if v >= 0.0 {
            (v + 0.5) as i32
        } else {
            (v - 0.5) as i32
        }
    }
    let groups = x.len().div_ceil(gs);
    for g in 0..groups {
        let lo = g * gs;
        let hi = (lo + gs).min(x.len());
        let mut amax = 0.0f32;
        for &v in &x[lo..hi] {
            let a = v.abs();
            if a > amax && a.is_finite() {
                amax = a;
            }
        }
        let scale = amax / 127.0;
        s[g] = scale;
        let inv = if scale > 0.0 { 127.0 / amax } else { 0.0 };
        for i in lo..hi {
            let v = x[i] * inv;
            q[i] = if v.is_finite() { round_away(v).clamp(-127, 127) as i8 } else { 0 };
        }
        for c in &mut q[hi..lo + gs] {
            *c = 0;
        }
    }
}

#[test]
fn quantize_equals_reference() {
    let mut rng = Rng(4242);
    let special = [
        0.0f32,
        -0.0,
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::MIN_POSITIVE / 4.0,
        -f32::MIN_POSITIVE / 4.0,
        f32::MAX,
        -f32::MAX,
        1.0e-30,
        0.5,
        -0.5,
        1.5,
        -2.5,
        127.0,
        -127.0,
    ];
    for &gs in &[4usize, 8, 32, 36, 64, 1024] {
        for cols in (1..=70usize).chain([288, 768, 1100]) {
            for trial in 0..4 {
                let x: Vec<f32> = (0..cols)
                    .map(|i| match (trial, rng.next() % 6) {
                        (0, _) => rng.f32() * 3.0,
                        (1, 0) => special[rng.next() as usize % special.len()],
                        // values that land exactly on .5 after scaling by 127 / 127
                        (2, _) => ((rng.next() % 255) as f32 - 127.0) + if i % 2 == 0 { 0.5 } else { 0.0 },
                        (3, _) => special[rng.next() as usize % special.len()],
                        _ => rng.f32() * 1.0e-3,
                    })
                    .collect();
                let groups = cols.div_ceil(gs);
                let (mut q1, mut s1) = (vec![7i8; groups * gs], vec![7f32; groups]);
                let (mut q2, mut s2) = (vec![7i8; groups * gs], vec![7f32; groups]);
                quantize(&x, gs, &mut q1, &mut s1);
                quantize_reference(&x, gs, &mut q2, &mut s2);
                assert_eq!(q1, q2, "codes gs={gs} cols={cols} trial={trial}");
                let sb = |s: &[f32]| s.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                assert_eq!(sb(&s1), sb(&s2), "scales gs={gs} cols={cols} trial={trial}");
            }
        }
    }
}

#[test]
fn quantize_all_zero_group_has_zero_scale() {
    let x = [0.0f32; 40];
    let mut q = [1i8; 64];
    let mut s = [1f32; 2];
    quantize(&x, 32, &mut q, &mut s);
    assert_eq!(s, [0.0, 0.0]);
    assert!(q.iter().all(|&c| c == 0));
}

#[test]
fn quantize_tail_group_is_exact_and_padded() {
    let x: Vec<f32> = (0..35).map(|i| i as f32 - 17.0).collect();
    let mut q = [9i8; 64];
    let mut s = [0f32; 2];
    quantize(&x, 32, &mut q, &mut s);
    assert_eq!(s[1], 17.0 / 127.0); // tail group holds 15, 16, 17
    assert_eq!(&q[32..35], &[112, 120, 127]);
    assert!(q[35..].iter().all(|&c| c == 0));
    assert_eq!(q[0], -127);
}

#[test]
fn quantize_ignores_non_finite() {
    let x = [f32::NAN, 1.0, f32::INFINITY, -2.0];
    let mut q = [0i8; 4];
    let mut s = [0f32; 1];
    quantize(&x, 4, &mut q, &mut s);
    assert_eq!(s[0], 2.0 / 127.0);
    assert_eq!(q, [0, 64, 0, -127]);
}

/// Distance in units in the last place between two finite non-negative floats.
fn ulps(a: f32, b: f32) -> u32 {
    a.to_bits().abs_diff(b.to_bits())
}

#[test]
fn exp_is_within_2_ulp_of_libm() {
    // a stride of every f32 in the normal-result range (both signs), plus the edges
    let mut worst = (0u32, 0.0f32);
    let mut check = |x: f32| {
        let (got, want) = (super::exp(x), libm::expf(x));
        let d = ulps(got, want);
        if d > worst.0 {
            worst = (d, x);
        }
    };
    for bits in (0u32..0x42af_0000).step_by(61) {
        let x = f32::from_bits(bits); // 0 ..= 87.5
        check(x);
        if x <= 87.336_55 {
            check(-x); // below, exp flushes to 0 where expf is subnormal (documented)
        }
    }
    for x in [0.0, -0.0, 1.0, -1.0, 0.5, 88.0, 88.72, 88.722_83, -87.0, -87.33, -87.336_55, 1e-30, -1e-30] {
        check(x);
    }
    std::eprintln!("exp worst: {} ulp at {}", worst.0, worst.1);
    assert!(worst.0 <= 2, "exp({}) is {} ulp from libm::expf", worst.1, worst.0);
}

#[test]
fn exp_edges() {
    use super::exp;
    assert_eq!(exp(0.0), 1.0);
    assert_eq!(exp(-0.0), 1.0);
    assert_eq!(exp(f32::NEG_INFINITY), 0.0);
    assert_eq!(exp(-100.0), 0.0);
    assert_eq!(exp(f32::INFINITY), f32::INFINITY);
    assert_eq!(exp(89.0), f32::INFINITY);
    assert!(exp(88.722_83).is_finite());
    assert!(exp(f32::NAN).is_nan());
    // monotone over a dense sweep
    let mut prev = 0.0f32;
    for i in -87_000..88_000 {
        let y = exp(i as f32 * 1e-3);
        assert!(y >= prev, "exp not monotone at {}", i as f32 * 1e-3);
        prev = y;
    }
}

/// The eight-lane max and the padded tail of [`softmax`] give exactly what a running max and
/// an element-by-element exp give (zeros of both signs, infinities and NaN included).
#[test]
fn softmax_equals_running_max_reference() {
    fn reference(x: &mut [f32]) {
        let mut max = f32::NEG_INFINITY;
        for &v in x.iter() {
            if v > max {
                max = v;
            }
        }
        for v in x.iter_mut() {
            *v = exp(*v - max);
        }
        let body = x.len() - x.len() % 8;
        let mut l = [0.0f32; 8];
        for c in x[..body].chunks_exact(8) {
            for j in 0..8 {
                l[j] += c[j];
            }
        }
        let mut sum = ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]));
        for &v in &x[body..] {
            sum += v;
        }
        let inv = 1.0 / sum;
        for v in x.iter_mut() {
            *v *= inv;
        }
    }
    let mut rng = Rng(99);
    let specials = [0.0f32, -0.0, f32::INFINITY, f32::NEG_INFINITY, f32::NAN, 88.0, -100.0];
    for n in (1..=40).chain([63, 64, 65, 300]) {
        for case in 0..6 {
            let x: Vec<f32> = (0..n)
                .map(|i| match case {
                    0 => rng.f32() * 10.0,
                    1 => if i % 3 == 0 { -0.0 } else { 0.0 },
                    2 => if i % 2 == 0 { -0.0 } else { rng.f32() - 1.5 },
                    _ => if rng.next().is_multiple_of(4) { specials[(rng.next() % 7) as usize] } else { rng.f32() * 3.0 },
                })
                .collect();
            let (mut a, mut b) = (x.clone(), x.clone());
            reference(&mut a);
            softmax(&mut b);
            for (i, (p, q)) in a.iter().zip(&b).enumerate() {
                assert!(same(*p, *q), "n={n} case {case} [{i}]: {q} vs {p} (input {:?})", x);
            }
        }
    }
}

#[test]
fn softmax_sums_to_one_and_keeps_order() {
    for n in [1usize, 3, 8, 9, 17, 200] {
        let mut x: Vec<f32> = (0..n).map(|i| ((i * 37 % 11) as f32) * 0.7 - 3.0).collect();
        let orig = x.clone();
        super::softmax(&mut x);
        let s: f32 = x.iter().sum();
        assert!((s - 1.0).abs() < 1e-5, "n={n} sum={s}");
        for i in 0..n {
            for j in 0..n {
                if orig[i] < orig[j] {
                    assert!(x[i] <= x[j]);
                }
            }
        }
    }
    let mut x = [f32::NEG_INFINITY, 0.0, f32::NEG_INFINITY];
    super::softmax(&mut x);
    assert_eq!(x, [0.0, 1.0, 0.0]);
}

/// The interleaved layout is the documented one (`Interleave`): six rows (a block of four and
/// one of two), three groups, one element per group.
#[test]
fn interleave_layout_is_the_documented_one() {
    let lay = Interleave { rows: 6, groups: 3 };
    // row-major: element (r, g) = 10 r + g
    let mut m: Vec<u32> = (0..6).flat_map(|r| (0..3).map(move |g| 10 * r + g)).collect();
    assert!(lay.apply(&mut m, 1, &mut vec![0; lay.scratch_len(1)]));
    let want = [0, 10, 20, 30, 1, 11, 21, 31, 2, 12, 22, 32, 40, 50, 41, 51, 42, 52];
    assert_eq!(m, want);
    for r in 0..6 {
        for g in 0..3 {
            assert_eq!(m[lay.at(true, r, g, 1)], 10 * r as u32 + g as u32);
            assert_eq!(lay.at(false, r, g, 1), 3 * r + g);
        }
    }
    // too short a matrix or scratch: nothing changes
    let mut short = vec![7u32; 17];
    assert!(!lay.apply(&mut short, 1, &mut vec![0; 12]));
    assert!(!lay.apply(&mut m, 1, &mut vec![0; 11]));
    assert_eq!(m, want);
}

/// Quads are the documented layout (`Layout::Quads`): 18 rows (a block of 16 and one of 2),
/// 8 codes per row in two groups of 4, written out by hand at a few places.
#[test]
fn quads_layout_is_the_documented_one() {
    let (rows, stride, groups) = (18usize, 8usize, 2usize);
    let mut q: Vec<u8> = (0..rows * stride).map(|i| i as u8).collect(); // code j of row r = 8r + j
    let mut s: Vec<u8> = (0..rows * groups).flat_map(|i| (i as f32).to_ne_bytes()).collect(); // scale (r, g) = 2r + g
    let mut scratch = vec![0u8; Interleave::quads_scratch_len(stride, groups)];
    assert!(!Interleave::apply_quads(rows, stride, groups, &mut q, &mut s, &mut scratch[1..], true), "short scratch");
    let (mut plain, mut plain_s) = (q.clone(), s.clone());
    assert!(Interleave::apply_quads(rows, stride, groups, &mut q, &mut s, &mut scratch, true));
    // QuadsPlain: the same places, codes as they are
    assert!(Interleave::apply_quads(rows, stride, groups, &mut plain, &mut plain_s, &mut scratch, false));
    assert_eq!(plain_s, s);
    assert!(plain.iter().zip(&q).enumerate().all(|(i, (&p, &b))| b == if i % 2 == 0 { p ^ 0x80 } else { p }));
    let unbias = |at: usize| Interleave::code(q[at] as i8, at, true) as u8;
    // block 0: quad 0 of rows 0..15, then quad 1 of rows 0..15; block 1 (2 rows) likewise
    for (r, j, at) in [(0, 0, 0), (0, 3, 3), (1, 0, 4), (15, 2, 62), (0, 4, 64), (1, 5, 69), (15, 7, 127), (16, 0, 128), (17, 1, 133), (16, 4, 136), (17, 7, 143)] {
        assert_eq!(Interleave::quad_code_at(rows, stride, r, j), at, "code {j} of row {r}");
        assert_eq!(unbias(at), (8 * r + j) as u8, "code {j} of row {r}");
    }
    // even indices are stored with the sign bit flipped
    assert_eq!(q[0], 0x80);
    assert_eq!(q[1], 1);
    let scale = |i: usize| f32::from_ne_bytes([s[4 * i], s[4 * i + 1], s[4 * i + 2], s[4 * i + 3]]);
    let lay = Interleave { rows, groups };
    for (r, g, at) in [(0, 0, 0), (1, 0, 1), (15, 0, 15), (0, 1, 16), (15, 1, 31), (16, 0, 32), (17, 0, 33), (16, 1, 34), (17, 1, 35)] {
        assert_eq!(lay.at_in(Interleave::QUAD_BLOCK, r, g, 1), at, "scale ({r}, {g})");
        assert_eq!(scale(at), (2 * r + g) as f32, "scale ({r}, {g})");
    }
    for r in 0..rows {
        for j in 0..stride {
            assert_eq!(unbias(Interleave::quad_code_at(rows, stride, r, j)), (8 * r + j) as u8);
        }
    }
    // a stride that is not a multiple of 4 is refused
    assert!(!Interleave::apply_quads(2, 6, 2, &mut [0; 12], &mut [0; 16], &mut [0; 1024], true));
}

/// The AVX2 softmax (explicit intrinsics: its own `exp` on eight lanes, masked tails) equals
/// the portable one bit for bit: every length 1..=41 and some longer, plain values and
/// values mixed with NaN, ±inf, ±0, subnormals and values past `exp`'s clamps (so the
/// maximum is NaN-free, infinite, or the row all -inf).
#[cfg(target_arch = "x86_64")]
#[test]
fn softmax_avx2_equals_portable() {
    let specials = [0.0f32, -0.0, f32::INFINITY, f32::NEG_INFINITY, f32::NAN, 88.0, 88.8, -87.4, -100.0, 1e-40, 3.0, -3.0];
    let mut rng = Rng(77);
    for len in (1..=41).chain([64, 172, 300]) {
        for trial in 0..60u64 {
            let x: Vec<f32> = (0..len)
                .map(|_| {
                    let r = rng.next();
                    if trial >= 10 && r % 4 == 0 {
                        specials[(r >> 8) as usize % specials.len()]
                    } else if trial % 3 == 0 {
                        rng.f32() * 400.0 - 200.0
                    } else {
                        rng.f32() * 20.0 - 10.0
                    }
                })
                .collect();
            let (mut a, mut b) = (x.clone(), x.clone());
            softmax(&mut a);
            x86_64::softmax_checked(&mut b);
            for (i, (p, q)) in a.iter().zip(&b).enumerate() {
                assert!(same(*p, *q), "softmax len={len} trial={trial} [{i}]: avx2 {q:?} portable {p:?} (input {x:?})");
            }
        }
    }
    // and exp itself through one-element rows: softmax of [v] is 1 (or NaN), so instead
    // run two-element rows [v, 0] whose first output is exp(v - max(v, 0)) / sum
    let mut bits = 0u32;
    while bits < u32::MAX - 9973 {
        let v = f32::from_bits(bits);
        let (mut a, mut b) = ([v, 0.0, -1.0], [v, 0.0, -1.0]);
        softmax(&mut a);
        x86_64::softmax_checked(&mut b);
        assert!(a.iter().zip(&b).all(|(p, q)| same(*p, *q)), "softmax [{v:?}, 0, -1]: {b:?} vs {a:?}");
        bits += 9973;
    }
}
