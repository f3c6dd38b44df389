//! wasm32 `simd128` kernels, compiled in only when the target enables `simd128`
//! (`RUSTFLAGS="-C target-feature=+simd128"`): WebAssembly has no run-time feature detection,
//! a module either validates with SIMD or not at all.
//!
//! Same shape as the other SIMD kernels: four rows against the same activation block, exact
//! i32 sums per group and row, a transposing shuffle-and-add tree that puts the four rows'
//! `isum_g` in one `i32x4`, then `acc += isum as f32 * (ws * xs)` per lane (lane = row) with
//! separate `f32x4_mul` and `f32x4_add` (WebAssembly SIMD has no fused multiply-add outside
//! the relaxed-simd proposal), groups in ascending order: the scalar order.
//!
//! Partial sums of 16 codes: both operands loaded widened to i16 (`i16x8.load8x8_s`, one
//! `pmovsxbw`/`sxtl` each; the activations once per four rows), then `i32x4.dot_i16x8_s`
//! (`pmaddwd`: pairs of products, at most `2·128·127 = 32512`, weights may be -128,
//! activations are in `[-127, 127]`) into i32 lanes. All exact. Two 16-code blocks per pass.
//! Under Node 20 (V8) on the 2026-11-29 Xeon this is 14.4–14.8 GB/s at the stories15M
//! shapes (hot, best of 20), against 8.2–8.6 GB/s for the previous
//! `i16x8.extmul_{low,high}` + `extadd_pairwise` form (`scripts/wasm_kernel_test.sh`).
//!
//! Verified bit-exact against the scalar kernel under Node (V8) by
//! `scripts/wasm_kernel_test.sh`, which also prints its speed there.

use super::{scalar, Kernels, QActs, QRows, Tier};
use core::arch::wasm32::*;

/// The simd128 kernel set (f32 product: the scalar kernel).
pub static SIMD128: Kernels = Kernels { name: "simd128", matmul_q8: matmul_q8_simd128, matmul_f32: scalar::matmul_f32, quantize: super::quantize, attend: super::attend };

/// Every wasm32 kernel set with its availability check (compile-time), lowest tier first.
pub const TIERS: [Tier; 1] = [(&SIMD128, || true)];

/// The best wasm32 kernel set.
pub fn best() -> Option<&'static Kernels> {
    Some(&SIMD128)
}

/// `acc` plus the partial sums of `w · x` for 16 codes at `w` and the 16 activation codes
/// already widened to i16 (`xl` = codes 0..8, `xh` = 8..16): the weights are loaded widened
/// (`i16x8.load8x8_s`, one instruction each on x86 and ARM), multiplied and pair-summed by
/// `i32x4.dot_i16x8_s` (`pmaddwd`). Exact: `|w·x| <= 128·127`.
///
/// # Safety
/// `w..w + 16` must be readable.
#[inline(always)]
unsafe fn step(acc: v128, w: *const i8, xl: v128, xh: v128) -> v128 {
    // SAFETY: the caller's contract; the loads have no alignment requirement.
    let (wl, wh) = unsafe { (i16x8_load_extend_i8x8(w), i16x8_load_extend_i8x8(w.wrapping_add(8))) };
    i32x4_add(acc, i32x4_add(i32x4_dot_i16x8(wl, xl), i32x4_dot_i16x8(wh, xh)))
}

/// Lane `i` of the result is the sum of the four lanes of `a[i]`.
#[inline(always)]
fn reduce4(a: &[v128; 4]) -> v128 {
    let pair = |x: v128, y: v128| {
        // [x0 + x2, y0 + y2, x1 + x3, y1 + y3]
        i32x4_add(i32x4_shuffle::<0, 4, 1, 5>(x, y), i32x4_shuffle::<2, 6, 3, 7>(x, y))
    };
    let (s01, s23) = (pair(a[0], a[1]), pair(a[2], a[3]));
    // [a0 (0+2), a1 (0+2), a2 (0+2), a3 (0+2)] + [a0 (1+3), a1 (1+3), …]
    i32x4_add(i32x4_shuffle::<0, 1, 4, 5>(s01, s23), i32x4_shuffle::<2, 3, 6, 7>(s01, s23))
}

#[allow(clippy::indexing_slicing, reason = "lengths asserted at the top (a mismatch is a caller bug); t < x.n, r0 + 4 <= rows")]
fn matmul_q8_simd128(w: &QRows<'_>, x: &QActs<'_>, out: &mut [f32]) {
    if !w.gs.is_multiple_of(16) {
        return scalar::matmul_q8(w, x, out);
    }
    assert!(w.gs > 0 && w.stride.is_multiple_of(w.gs), "stride must be a whole number of groups");
    let (gs, stride, rows) = (w.gs, w.stride, w.rows);
    let groups = stride / gs;
    assert!(w.q.len() >= rows * stride && w.s.len() >= rows * groups, "weights too short");
    assert!(x.q.len() >= x.n * stride && x.s.len() >= x.n * groups, "activations too short");
    assert!(out.len() >= x.n * rows, "output too short");
    let blocks = gs / 16;
    let rows4 = rows - rows % 4;
    let (wq, xq, wsp) = (w.q.as_ptr(), x.q.as_ptr(), w.s.as_ptr());
    // SAFETY: (both loops) every code pointer is `row * stride + g * gs + 16 * b` plus 0..16
    // with b < blocks, g < groups, so inside a row of `w.q` (row < rows) or of `x.q`
    // (token t < x.n), in bounds by the asserts above; scale reads are `r * groups + g` with
    // r < rows, g < groups. WebAssembly loads have no alignment requirement.
    unsafe {
        let mut r0 = 0;
        while r0 < rows4 {
            for t in 0..x.n {
                let xs = &x.s[t * groups..(t + 1) * groups];
                let xt = xq.add(t * stride);
                let mut acc = f32x4_splat(0.0);
                let wr = [0, 1, 2, 3].map(|i| wq.add((r0 + i) * stride));
                for (g, &xsg) in xs.iter().enumerate() {
                    let mut a = [i32x4_splat(0); 4];
                    let mut off = g * gs;
                    let end = off + gs;
                    while off < end {
                        // two blocks of 16 per pass (gs is a multiple of 16)
                        let (xl, xh) = (i16x8_load_extend_i8x8(xt.add(off)), i16x8_load_extend_i8x8(xt.add(off + 8)));
                        for (a, &wr) in a.iter_mut().zip(&wr) {
                            *a = step(*a, wr.add(off), xl, xh);
                        }
                        if off + 16 < end {
                            let (yl, yh) = (i16x8_load_extend_i8x8(xt.add(off + 16)), i16x8_load_extend_i8x8(xt.add(off + 24)));
                            for (a, &wr) in a.iter_mut().zip(&wr) {
                                *a = step(*a, wr.add(off + 16), yl, yh);
                            }
                        }
                        off += 32;
                    }
                    let isum = reduce4(&a);
                    let s = |i: usize| *wsp.add((r0 + i) * groups + g);
                    let sc = f32x4_mul(f32x4(s(0), s(1), s(2), s(3)), f32x4_splat(xsg));
                    acc = f32x4_add(acc, f32x4_mul(f32x4_convert_i32x4(isum), sc));
                }
                let o = &mut out[t * rows + r0..t * rows + r0 + 4];
                o[0] = f32x4_extract_lane::<0>(acc);
                o[1] = f32x4_extract_lane::<1>(acc);
                o[2] = f32x4_extract_lane::<2>(acc);
                o[3] = f32x4_extract_lane::<3>(acc);
            }
            r0 += 4;
        }
        for r in rows4..rows {
            for t in 0..x.n {
                let xt = xq.add(t * stride);
                let mut acc = 0.0f32;
                for g in 0..groups {
                    let mut a = i32x4_splat(0);
                    for b in 0..blocks {
                        let off = g * gs + 16 * b;
                        let (xl, xh) = (i16x8_load_extend_i8x8(xt.add(off)), i16x8_load_extend_i8x8(xt.add(off + 8)));
                        a = step(a, wq.add(r * stride + off), xl, xh);
                    }
                    let isum = i32x4_extract_lane::<0>(a)
                        .wrapping_add(i32x4_extract_lane::<1>(a))
                        .wrapping_add(i32x4_extract_lane::<2>(a))
                        .wrapping_add(i32x4_extract_lane::<3>(a));
                    acc += isum as f32 * (*wsp.add(r * groups + g) * x.s[t * groups + g]);
                }
                out[t * rows + r] = acc;
            }
        }
    }
}
