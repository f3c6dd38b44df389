//! Every kernel the machine can run equals the scalar kernel bit for bit, on random inputs
//! with the int8 extremes and lengths that are not multiples of the vector width.

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
}

/// All kernel sets this machine can run (the scalar one included).
fn runnable() -> Vec<&'static Kernels> {
    let mut v = vec![scalar()];
    #[cfg(target_arch = "x86_64")]
    if x86_64::avx2_available() {
        v.push(&x86_64::AVX2);
    }
    v.push(best());
    v
}

fn check_q8(rows: usize, cols: usize, gs: usize, n: usize, seed: u64) {
    let mut rng = Rng(seed);
    let groups = cols.div_ceil(gs);
    let stride = groups * gs;
    let mut wq = vec![0i8; rows * stride];
    for r in 0..rows {
        for c in 0..cols {
            wq[r * stride + c] = rng.i8_w();
        }
    }
    let ws: Vec<f32> = (0..rows * groups).map(|_| rng.f32().abs() * 0.1).collect();
    let mut xq = vec![0i8; n * stride];
    let mut xs = vec![0f32; n * groups];
    for t in 0..n {
        let mut x: Vec<f32> = (0..cols).map(|_| rng.f32() * 3.0).collect();
        if t == 0 && cols > 2 {
            x[0] = 100.0; // forces a code of exactly 127 / -127
            x[1] = -100.0;
        }
        quantize(&x, gs, &mut xq[t * stride..(t + 1) * stride], &mut xs[t * groups..(t + 1) * groups]);
    }
    let w = QRows { q: &wq, s: &ws, rows, stride, gs };
    let x = QActs { q: &xq, s: &xs, n };
    let mut want = vec![0f32; n * rows];
    scalar::matmul_q8(&w, &x, &mut want);
    for k in runnable() {
        let mut got = vec![f32::NAN; n * rows];
        (k.matmul_q8)(&w, &x, &mut got);
        for (i, (a, b)) in want.iter().zip(&got).enumerate() {
            assert_eq!(a.to_bits(), b.to_bits(), "{} q8 rows={rows} cols={cols} gs={gs} n={n} at {i}", k.name);
        }
    }
}

#[test]
fn q8_kernels_equal_scalar() {
    let mut seed: u64 = 0x1234_5678_9abc_def1;
    for &gs in &[32usize, 64, 128, 4, 8, 96] {
        for &cols in &[1usize, 3, 31, 32, 33, 64, 96, 172, 288, 352, 768] {
            for &(rows, n) in &[(1usize, 1usize), (7, 1), (33, 3)] {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                check_q8(rows, cols, gs, n, seed | 1);
            }
        }
    }
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
    let w = QRows { q: &wq, s: &[0.5], rows: 1, stride: 32, gs };
    let x = QActs { q: &xq, s: &[0.25], n: 1 };
    for k in runnable() {
        let mut out = [0f32];
        (k.matmul_q8)(&w, &x, &mut out);
        assert_eq!(out[0], isum as f32 * 0.125, "{}", k.name);
    }
}

#[test]
fn f32_kernels_equal_scalar() {
    let mut rng = Rng(99);
    for &cols in &[1usize, 7, 8, 9, 63, 64, 65, 172, 288] {
        for &(rows, n) in &[(1usize, 1usize), (5, 2)] {
            let w: Vec<f32> = (0..rows * cols).map(|_| rng.f32()).collect();
            let x: Vec<f32> = (0..n * cols).map(|_| rng.f32() * 10.0).collect();
            let mut want = vec![0f32; n * rows];
            scalar::matmul_f32(&w, rows, cols, &x, n, &mut want);
            for k in runnable() {
                let mut got = vec![f32::NAN; n * rows];
                (k.matmul_f32)(&w, rows, cols, &x, n, &mut got);
                for (a, b) in want.iter().zip(&got) {
                    assert_eq!(a.to_bits(), b.to_bits(), "{} f32 rows={rows} cols={cols}", k.name);
                }
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
