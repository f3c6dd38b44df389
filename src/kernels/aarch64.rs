//! aarch64 kernels: NEON (always present on aarch64) and NEON + `dotprod` (`sdot`, Armv8.2+,
//! chosen at run time with `std`, at compile time without). Same shape as the x86_64 ones:
//! four rows against the same activation block, exact i32 sums per group and row, a
//! transposing pairwise-add tree that puts the four rows' `isum_g` in one vector, then
//! `acc += isum as f32 * (ws * xs)` per lane (lane = row) with separate multiply and add
//! (`vmulq_f32`, `vaddq_f32`; never `vfmaq`), groups in ascending order: the scalar order.
//!
//! Partial sums of 16 codes:
//! - NEON: `vmull_s8` (low 8) plus `vmlal_high_s8` (high 8) into i16 lanes, then
//!   `vpadalq_s16` into i32. Each i16 lane holds two products, at most `2·128·127 = 32512`
//!   (weights may be -128, activations are in `[-127, 127]`): no overflow.
//! - dotprod: `sdot` (4 products per i32 lane, exact for any i8). `vdotq_s32` is still
//!   unstable in Rust 1.95 (`stdarch_neon_dotprod`), so it is one `sdot` instruction in
//!   inline assembly inside a `#[target_feature(enable = "dotprod")]` function.
//!
//! Not measured on aarch64 hardware (none at hand); verified bit-exact under
//! `qemu-aarch64` (`scripts/aarch64_kernel_test.sh`).

use super::{scalar, Kernels, QActs, QRows, Tier};
use core::arch::aarch64::*;

/// NEON int8 product (f32 product: the scalar kernel, already vectorised by LLVM).
pub static NEON: Kernels = Kernels { name: "neon", matmul_q8: matmul_q8_neon, matmul_f32: scalar::matmul_f32, quantize: super::quantize, attend: super::attend, layout: super::Layout::RowMajor };

/// NEON with the `dotprod` extension (`sdot`).
pub static NEON_DOTPROD: Kernels =
    Kernels { name: "neon-dotprod", matmul_q8: matmul_q8_dotprod, matmul_f32: scalar::matmul_f32, quantize: super::quantize, attend: super::attend, layout: super::Layout::RowMajor };

/// Whether the [`NEON`] kernels run here (always on aarch64 targets with NEON).
#[inline]
pub fn neon_available() -> bool {
    cfg!(target_feature = "neon")
}

/// Whether the [`NEON_DOTPROD`] kernels run here (run-time check with `std`, compile-time
/// without).
#[inline]
pub fn dotprod_available() -> bool {
    #[cfg(feature = "std")]
    {
        neon_available() && std::arch::is_aarch64_feature_detected!("dotprod")
    }
    #[cfg(not(feature = "std"))]
    {
        cfg!(all(target_feature = "neon", target_feature = "dotprod"))
    }
}

/// Every aarch64 kernel set with its availability check, lowest tier first.
pub const TIERS: [Tier; 2] = [(&NEON, neon_available), (&NEON_DOTPROD, dotprod_available)];

/// The best aarch64 kernel set this CPU runs, if any.
pub fn best() -> Option<&'static Kernels> {
    if dotprod_available() {
        Some(&NEON_DOTPROD)
    } else if neon_available() {
        Some(&NEON)
    } else {
        None
    }
}

/// Checks every bound the raw-pointer kernels rely on; returns the number of groups.
fn check_q8(w: &QRows<'_>, x: &QActs<'_>, out: &[f32]) -> usize {
    assert!(w.gs > 0 && w.stride.is_multiple_of(w.gs), "stride must be a whole number of groups");
    let groups = w.stride / w.gs;
    assert!(w.q.len() >= w.rows * w.stride && w.s.len() >= w.rows * groups, "weights too short");
    assert!(x.q.len() >= x.n * w.stride && x.s.len() >= x.n * groups, "activations too short");
    assert!(out.len() >= x.n * w.rows, "output too short");
    groups
}

/// How a tier adds the partial sums of 16 codes to an i32x4 accumulator.
trait Dot16 {
    /// # Safety
    /// The CPU runs the tier's features.
    unsafe fn step(acc: int32x4_t, w: int8x16_t, x: int8x16_t) -> int32x4_t;
}

struct NeonDot;
impl Dot16 for NeonDot {
    #[inline(always)]
    unsafe fn step(acc: int32x4_t, w: int8x16_t, x: int8x16_t) -> int32x4_t {
        // SAFETY: NEON is available (caller's contract). Exactness: each i16 lane holds two
        // products of at most 128·127 (module docs).
        unsafe {
            let p = vmull_s8(vget_low_s8(w), vget_low_s8(x));
            let p = vmlal_high_s8(p, w, x);
            vpadalq_s16(acc, p)
        }
    }
}

struct SdotDot;
impl Dot16 for SdotDot {
    #[inline(always)]
    unsafe fn step(acc: int32x4_t, w: int8x16_t, x: int8x16_t) -> int32x4_t {
        // SAFETY: NEON and dotprod are available (caller's contract); `sdot` only reads and
        // writes the named vector registers.
        unsafe { sdot(acc, w, x) }
    }
}

/// `acc + sdot(w, x)`: each i32 lane adds the four products of its four byte lanes.
///
/// # Safety
/// The CPU must have the `dotprod` extension.
#[inline]
#[target_feature(enable = "neon,dotprod")]
unsafe fn sdot(mut acc: int32x4_t, w: int8x16_t, x: int8x16_t) -> int32x4_t {
    // SAFETY: dotprod is enabled for this function and available (caller's contract); the
    // instruction touches no memory, stack or flags.
    unsafe {
        core::arch::asm!(
            "sdot {acc:v}.4s, {w:v}.16b, {x:v}.16b",
            acc = inout(vreg) acc,
            w = in(vreg) w,
            x = in(vreg) x,
            options(pure, nomem, nostack, preserves_flags)
        );
    }
    acc
}

/// The int8 product, 4 rows at a time, for `gs` a multiple of 16.
///
/// # Safety
/// The CPU runs NEON and whatever `D` needs; the shapes passed [`check_q8`] (which returned
/// `groups`); `w.gs % 16 == 0`.
#[inline(always)]
unsafe fn q8_neon<D: Dot16>(w: &QRows<'_>, x: &QActs<'_>, out: &mut [f32], groups: usize) {
    let (gs, stride, rows) = (w.gs, w.stride, w.rows);
    let blocks = gs / 16;
    let rows4 = rows - rows % 4;
    let (wq, ws, xq, xs, o) = (w.q.as_ptr(), w.s.as_ptr(), x.q.as_ptr(), x.s.as_ptr(), out.as_mut_ptr());
    // SAFETY: (whole body) every pointer stays inside the slices whose lengths check_q8
    // asserted: rows r < rows of `stride` codes and `groups` scales, tokens t < x.n likewise,
    // outputs t * rows + r; loads read offsets g * gs + 16 * b + 16 <= stride. The CPU
    // features are the caller's contract.
    unsafe {
        let mut r0 = 0;
        while r0 < rows4 {
            let wb = wq.add(r0 * stride);
            let sb = ws.add(r0 * groups);
            for t in 0..x.n {
                let xt = xq.add(t * stride);
                let st = xs.add(t * groups);
                let mut acc = vdupq_n_f32(0.0);
                for g in 0..groups {
                    let mut a = [vdupq_n_s32(0); 4];
                    for b in 0..blocks {
                        let off = g * gs + 16 * b;
                        let xv = vld1q_s8(xt.add(off));
                        for (i, a) in a.iter_mut().enumerate() {
                            *a = D::step(*a, vld1q_s8(wb.add(i * stride + off)), xv);
                        }
                    }
                    // [sum a0, sum a1, sum a2, sum a3]
                    let isum = vpaddq_s32(vpaddq_s32(a[0], a[1]), vpaddq_s32(a[2], a[3]));
                    let wsc = [*sb.add(g), *sb.add(groups + g), *sb.add(2 * groups + g), *sb.add(3 * groups + g)];
                    let sc = vmulq_f32(vld1q_f32(wsc.as_ptr()), vdupq_n_f32(*st.add(g)));
                    acc = vaddq_f32(acc, vmulq_f32(vcvtq_f32_s32(isum), sc));
                }
                vst1q_f32(o.add(t * rows + r0), acc);
            }
            r0 += 4;
        }
        for r in rows4..rows {
            let wr = wq.add(r * stride);
            for t in 0..x.n {
                let xt = xq.add(t * stride);
                let mut acc = 0.0f32;
                for g in 0..groups {
                    let mut a = vdupq_n_s32(0);
                    for b in 0..blocks {
                        let off = g * gs + 16 * b;
                        a = D::step(a, vld1q_s8(wr.add(off)), vld1q_s8(xt.add(off)));
                    }
                    acc += vaddvq_s32(a) as f32 * (*ws.add(r * groups + g) * *xs.add(t * groups + g));
                }
                *o.add(t * rows + r) = acc;
            }
        }
    }
}

fn matmul_q8_neon(w: &QRows<'_>, x: &QActs<'_>, out: &mut [f32]) {
    // the interleaved layout is the wasm32 kernels' (`super::Interleave`); here the oracle
    // reads it
    if w.il || !w.gs.is_multiple_of(16) || !neon_available() {
        return scalar::matmul_q8(w, x, out);
    }
    let groups = check_q8(w, x, out);
    // SAFETY: NEON is available (checked above), check_q8 passed, gs % 16 == 0.
    unsafe { q8_neon_entry(w, x, out, groups) }
}

/// # Safety
/// As [`q8_neon`] with NEON.
#[target_feature(enable = "neon")]
unsafe fn q8_neon_entry(w: &QRows<'_>, x: &QActs<'_>, out: &mut [f32], groups: usize) {
    // SAFETY: forwarded contract; NEON is all NeonDot needs.
    unsafe { q8_neon::<NeonDot>(w, x, out, groups) }
}

fn matmul_q8_dotprod(w: &QRows<'_>, x: &QActs<'_>, out: &mut [f32]) {
    if w.il || !w.gs.is_multiple_of(16) || !dotprod_available() {
        return matmul_q8_neon(w, x, out);
    }
    let groups = check_q8(w, x, out);
    // SAFETY: NEON and dotprod are available (checked above), check_q8 passed, gs % 16 == 0.
    unsafe { q8_dotprod_entry(w, x, out, groups) }
}

/// # Safety
/// As [`q8_neon`] with NEON and dotprod.
#[target_feature(enable = "neon,dotprod")]
unsafe fn q8_dotprod_entry(w: &QRows<'_>, x: &QActs<'_>, out: &mut [f32], groups: usize) {
    // SAFETY: forwarded contract; NEON + dotprod is all SdotDot needs.
    unsafe { q8_neon::<SdotDot>(w, x, out, groups) }
}
