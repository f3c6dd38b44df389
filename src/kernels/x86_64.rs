//! x86_64 kernels (AVX2). Each one reproduces its scalar twin's arithmetic exactly: the
//! integer part is exact whatever the order, and the float part follows the scalar order.

use super::{scalar, Kernels, QActs, QRows};
use core::arch::x86_64::*;

/// The AVX2 kernel set (f32 product falls back to the scalar kernel).
pub static AVX2: Kernels = Kernels { name: "avx2", matmul_q8: matmul_q8_avx2, matmul_f32: matmul_f32_avx2 };

/// Whether this CPU runs the AVX2 kernels.
#[cfg(feature = "std")]
pub fn avx2_available() -> bool {
    std::is_x86_feature_detected!("avx2")
}

/// Whether this CPU runs the AVX2 kernels (compile-time without `std`).
#[cfg(not(feature = "std"))]
pub fn avx2_available() -> bool {
    cfg!(target_feature = "avx2")
}

fn matmul_q8_avx2(w: &QRows<'_>, x: &QActs<'_>, out: &mut [f32]) {
    if w.gs % 32 != 0 || !avx2_available() {
        return scalar::matmul_q8(w, x, out);
    }
    let groups = w.stride / w.gs;
    assert!(w.q.len() >= w.rows * w.stride && w.s.len() >= w.rows * groups);
    assert!(x.q.len() >= x.n * w.stride && x.s.len() >= x.n * groups && out.len() >= x.n * w.rows);
    // SAFETY: AVX2 is available (checked above); the asserts establish every bound the
    // kernel's raw loads rely on.
    unsafe { matmul_q8_avx2_inner(w, x, out, groups) }
}

/// Horizontal sum of eight i32 lanes.
#[inline]
#[target_feature(enable = "avx2")]
fn hsum_i32(v: __m256i) -> i32 {
    let lo = _mm256_castsi256_si128(v);
    let hi = _mm256_extracti128_si256::<1>(v);
    let s = _mm_add_epi32(lo, hi);
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b01_00_11_10>(s));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s));
    _mm_cvtsi128_si32(s)
}

/// # Safety
/// AVX2 must be available; `w`, `x`, `out` must hold the lengths asserted by the caller.
#[target_feature(enable = "avx2")]
unsafe fn matmul_q8_avx2_inner(w: &QRows<'_>, x: &QActs<'_>, out: &mut [f32], groups: usize) {
    let ones = _mm256_set1_epi16(1);
    let blocks = w.gs / 32;
    for t in 0..x.n {
        let xq = x.q.as_ptr().wrapping_add(t * w.stride);
        let xs = &x.s[t * groups..(t + 1) * groups];
        for r in 0..w.rows {
            let wq = w.q.as_ptr().wrapping_add(r * w.stride);
            let ws = &w.s[r * groups..(r + 1) * groups];
            let mut acc = 0.0f32;
            for g in 0..groups {
                let mut isum = _mm256_setzero_si256();
                for b in 0..blocks {
                    let off = g * w.gs + b * 32;
                    // SAFETY: off + 32 <= stride and both rows have `stride` codes in bounds
                    // (caller's asserts); loadu has no alignment requirement.
                    let (wv, xv) = unsafe {
                        (
                            _mm256_loadu_si256(wq.add(off).cast::<__m256i>()),
                            _mm256_loadu_si256(xq.add(off).cast::<__m256i>()),
                        )
                    };
                    // |w| as unsigned (|-128| = 128 fits u8) times x·sign(w) (x is in
                    // [-127, 127], so its negation cannot overflow): pairs sum to at most
                    // 2·128·127 = 32512, so maddubs never saturates and the sum is exact.
                    let aw = _mm256_abs_epi8(wv);
                    let sx = _mm256_sign_epi8(xv, wv);
                    let p16 = _mm256_maddubs_epi16(aw, sx);
                    isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p16, ones));
                }
                acc += hsum_i32(isum) as f32 * (ws[g] * xs[g]);
            }
            out[t * w.rows + r] = acc;
        }
    }
}

fn matmul_f32_avx2(w: &[f32], rows: usize, cols: usize, x: &[f32], n: usize, out: &mut [f32]) {
    if !avx2_available() {
        return scalar::matmul_f32(w, rows, cols, x, n, out);
    }
    assert!(w.len() >= rows * cols && x.len() >= n * cols && out.len() >= n * rows);
    // SAFETY: AVX2 is available (checked above) and the assert bounds every access.
    unsafe { matmul_f32_avx2_inner(w, rows, cols, x, n, out) }
}

/// # Safety
/// AVX2 must be available; lengths as asserted by the caller.
#[target_feature(enable = "avx2")]
unsafe fn matmul_f32_avx2_inner(w: &[f32], rows: usize, cols: usize, x: &[f32], n: usize, out: &mut [f32]) {
    let body = cols - cols % 8;
    for t in 0..n {
        let xt = &x[t * cols..(t + 1) * cols];
        for r in 0..rows {
            let wr = &w[r * cols..(r + 1) * cols];
            let mut l = _mm256_setzero_ps();
            let mut i = 0;
            while i < body {
                // SAFETY: i + 8 <= body <= cols = len of both row slices.
                let (a, b) = unsafe { (_mm256_loadu_ps(wr.as_ptr().add(i)), _mm256_loadu_ps(xt.as_ptr().add(i))) };
                // mul then add (no FMA), as the scalar lane order prescribes
                l = _mm256_add_ps(l, _mm256_mul_ps(a, b));
                i += 8;
            }
            let mut lanes = [0.0f32; 8];
            // SAFETY: `lanes` has room for 8 f32; storeu has no alignment requirement.
            unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), l) };
            let mut acc = ((lanes[0] + lanes[4]) + (lanes[2] + lanes[6])) + ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7]));
            for j in body..cols {
                acc += wr[j] * xt[j];
            }
            out[t * rows + r] = acc;
        }
    }
}
