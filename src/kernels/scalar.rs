//! The portable scalar kernels: the oracle every SIMD kernel must equal bit for bit.
//!
//! Kept for clarity, never "optimised" past it. The float order in each kernel is part of
//! its contract (see `kernels/mod.rs`), and the SIMD kernels reproduce it exactly.

use super::{QActs, QRows};

/// Exact i32 dot product of two int8 slices of equal length.
#[inline]
pub fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    a.iter().zip(b).map(|(&x, &y)| x as i32 * y as i32).sum()
}

/// int8 matrix product: for each token `t < x.n` and row `r < w.rows`,
/// `out[t * w.rows + r] = Σ_g (isum_g as f32) * (w.s[r, g] * x.s[t, g])`, with `g` in
/// ascending order, starting from `0.0`, where `isum_g` is the exact i32 dot product of the
/// group's codes. Row `r`'s group `g` is where [`Interleave::at`](super::Interleave::at)
/// puts it (row-major, or interleaved by four rows with `w.il`), or with `w.quads` each code
/// where [`Interleave::quad_code_at`](super::Interleave::quad_code_at) puts it (read back
/// through [`Interleave::code`](super::Interleave::code) with `w.bias`) and the scale at
/// [`Interleave::at_in`](super::Interleave::at_in) with blocks of 16.
#[allow(clippy::indexing_slicing, reason = "kernel contract: callers pass slices of the documented lengths, derived from a validated Config (never from input values); a mismatch is a caller bug")]
pub fn matmul_q8(w: &QRows<'_>, x: &QActs<'_>, out: &mut [f32]) {
    use super::Interleave;
    let groups = w.stride / w.gs;
    let lay = Interleave { rows: w.rows, groups };
    for t in 0..x.n {
        let xq = &x.q[t * w.stride..(t + 1) * w.stride];
        let xs = &x.s[t * groups..(t + 1) * groups];
        let o = &mut out[t * w.rows..(t + 1) * w.rows];
        for (r, o) in o.iter_mut().enumerate() {
            let mut acc = 0.0f32;
            if w.il && w.quads {
                for (g, &xsg) in xs.iter().enumerate() {
                    let isum: i32 = (g * w.gs..(g + 1) * w.gs)
                        .map(|j| {
                            let at = Interleave::quad_code_at(w.rows, w.stride, r, j);
                            Interleave::code(w.q[at], at, w.bias) as i32 * xq[j] as i32
                        })
                        .sum();
                    acc += isum as f32 * (w.s[lay.at_in(Interleave::QUAD_BLOCK, r, g, 1)] * xsg);
                }
            } else if w.il {
                for g in 0..groups {
                    let at = lay.at(true, r, g, w.gs);
                    let isum = dot_i8(&w.q[at..at + w.gs], &xq[g * w.gs..(g + 1) * w.gs]);
                    acc += isum as f32 * (w.s[lay.at(true, r, g, 1)] * xs[g]);
                }
            } else {
                // row-major: the row's codes and scales are contiguous (what the
                // microcontroller builds run, so kept free of the layout arithmetic)
                let wq = &w.q[r * w.stride..(r + 1) * w.stride];
                let ws = &w.s[r * groups..(r + 1) * groups];
                for g in 0..groups {
                    let isum = dot_i8(&wq[g * w.gs..(g + 1) * w.gs], &xq[g * w.gs..(g + 1) * w.gs]);
                    acc += isum as f32 * (ws[g] * xs[g]);
                }
            }
            *o = acc;
        }
    }
}

/// f32 dot product in the fixed order shared by all f32 kernels: eight lane accumulators
/// (`lane[i % 8] += a[i] * b[i]` over the largest multiple of 8, multiply then add, no fused
/// multiply-add), reduced as `((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7))`, then the tail added in
/// order.
#[inline(always)]
#[allow(clippy::indexing_slicing, reason = "n is the shorter length and body <= n, so every range is in bounds")]
pub fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let body = n - n % 8;
    let (a, b) = (&a[..n], &b[..n]);
    let mut l = [0.0f32; 8];
    // written over fixed-size chunks so that it compiles to SIMD on any target (the lanes
    // are independent: the order stays exactly the one documented above)
    for (ca, cb) in a[..body].chunks_exact(8).zip(b[..body].chunks_exact(8)) {
        for j in 0..8 {
            l[j] += ca[j] * cb[j];
        }
    }
    let mut acc = ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]));
    for (&x, &y) in a[body..].iter().zip(&b[body..]) {
        acc += x * y;
    }
    acc
}

/// f32 matrix product: `out[t * rows + r] = dot_f32(w[r], x[t])`.
#[allow(clippy::indexing_slicing, reason = "kernel contract: callers pass slices of the documented lengths, derived from a validated Config (never from input values); a mismatch is a caller bug")]
pub fn matmul_f32(w: &[f32], rows: usize, cols: usize, x: &[f32], n: usize, out: &mut [f32]) {
    for t in 0..n {
        let xt = &x[t * cols..(t + 1) * cols];
        for r in 0..rows {
            out[t * rows + r] = dot_f32(&w[r * cols..(r + 1) * cols], xt);
        }
    }
}
