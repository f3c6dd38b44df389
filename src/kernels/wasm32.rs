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
//! activations are in `[-127, 127]`) into i32 lanes. All exact.
//!
//! # The interleaved layout
//!
//! The kernels read every weight layout (`QRows::il`, `QRows::quads`): row-major; the
//! four-row interleaved one ([`super::Interleave`]), which the npm package rewrote every
//! int8 matrix into at load before quads (below) replaced it (`Model::from_bytes_in`, in
//! place). Interleaved, a block's four rows of a group are 4 × gs adjacent codes and its four
//! scales one vector load: one pointer with constant offsets instead of four, no scale
//! gather. Measured 2026-11-29 on the Xeon (`scripts/wasm_kernel_test.sh`, stories15M
//! shapes, hot): simd128 under Node 20 13.8–14.9 GB/s row-major, 17.3–18.1 interleaved;
//! relaxed in Chromium 156 11–20 → 17–26 GB/s. Row-major and interleaved matrices now take
//! one general copy per set (`Dot4::BLOCK`, and `block4` for whole interleaved blocks).
//!
//! What bounds it in V8 (read from `node --print-wasm-code`): per 16 codes and row, two
//! `vpmovsxbw` loads, two `vpmaddwd`, two `vpaddd` and one `lea` per load (V8 computes every
//! wasm address `base + offset` with a 32-bit add before the load, also for memarg
//! offsets); TurboFan schedules a group's loads first and its arithmetic last, so with 16
//! vector registers it spills about a dozen widened loads per group. Tried without gain:
//! eight rows per block, a volatile store after each row's step to pin the order, touching
//! weights ahead (wasm has no prefetch), `i16x8.extmul` + `extadd_pairwise` (8 GB/s).
//!
//! # Quads (simd128)
//!
//! The `vpmovsxbw` sign extensions are shuffles, and on Intel cores every shuffle waits for
//! one port: ten per block of four rows and 16 codes, so at most 6.4 codes per cycle
//! (about 18 GB/s at this Xeon's clock: where the widening kernel stops). The `simd128` set's
//! own layout is quads ([`super::Layout::Quads`], `Kernels::layout`): rows in blocks of 16,
//! each 16-byte vector four consecutive codes of each of four rows, and every even-indexed
//! code stored as `code ^ 0x80`. A 16-bit lane of two codes is then `256·odd + (even + 128)`
//! and needs one arithmetic shift (`vpsraw`, either of two ports) for the odd code and
//! nothing for the even one, against activations prepared once per token; and a vector's
//! `i32x4.dot_i16x8_s` sums have one row per lane, so a group needs no shuffle-and-add
//! reduction ([`matmul_q8_quads`] gives the algebra; exact). Two blocks of 16 rows share
//! each activation load ([`quads32`]). Measured 2026-11-29 on the Xeon: a prototype of the
//! kernel, alternating in one process with the widening kernel on the interleaved layout,
//! 25–26 GB/s on stories15M's layer shapes and 18–20 on its 9 MB classifier against 17–19
//! and 13–15; this kernel in `scripts/wasm_kernel_test.sh` 20–25 GB/s on the layer shapes;
//! 15M decode in Node 20 +30–40% (923–983 tok/s against 691–719, the two packages
//! alternating in one process). On the way, the interleaved layout with biased even codes alone gave +15%
//! (the reduction per group was then the cost). Only the simd128 build compiles it: the
//! relaxed build's `simd128` set (kept as the lower tier) reads biased quads through the
//! scalar kernel. Tried without gain: two groups per loop iteration (more spills), rows outer,
//! stores that pin the order.
//!
//! # Float kernels
//!
//! `quantize`, SwiGLU and attention (with its softmax) have explicit four-lane versions
//! here: LLVM leaves the portable ones' conversion and `exp` loops scalar on wasm32 (about
//! 15% of a stories15M decode step's profile in Node 24 before, 10% after). Every operation in them is
//! an exact element-wise one (add, multiply, divide, compare, select, bit operations,
//! truncation of an integral value), in the portable functions' order, so they give the same
//! bits; `scripts/wasm_kernel_test.sh` compares them on NaN, infinities, -0.0, subnormals
//! and values past `exp`'s clamps.
//!
//! # Relaxed SIMD
//!
//! With the crate feature `wasm-relaxed-simd` (the npm package ships both builds and loads
//! this one where the engine validates it and passes a self-test, see `npm/src/detect.js`),
//! the `simd128-relaxed` set replaces the 16-code step with two
//! `i32x4.relaxed_dot_i8x16_i7x16_add_s`: the activation codes `x` in `[-127, 127]` are split
//! into `x⁺ = max(x, 0)` and `x⁻ = x⁺ - x`, both in `[0, 127]`, and
//! `Σ w·x = Σ w·x⁺ - Σ w·x⁻`. With the second operand in `[0, 127]` the relaxed dot product
//! is deterministic (every lowering — `vpdpbusd`, `pmaddubsw` + `pmaddwd`, ARM `sdot` —
//! treats it alike, and `|w·x⁺ + w'·x'⁺| <= 2·128·127` cannot saturate the 16-bit
//! intermediate of `pmaddubsw`), so this set equals the scalar kernel bit for bit too.
//! Where the engine maps the instruction to `vpdpbusd` (V8 13.6 in Node 24 and Chromium 156
//! on a VNNI CPU) a 16-code step is two instructions instead of six. Measured 2026-11-29
//! under Node 24 (V8 13.6), same harness, stories15M shapes: 16–21 GB/s against 13–16 for
//! `simd128`. V8 11.3 (Node 20) accepts it only behind `--experimental-wasm-relaxed-simd`,
//! lowers it to `vpmaddubsw` (no gain) and computes something else for negative first
//! operands (the loader's self-test rejects it).
//!
//! The relaxed set's own layout is quads without the bias ([`super::Layout::QuadsPlain`]):
//! a relaxed dot product's lanes then sum four products of one row, so it needs neither the
//! reduction per group nor the corrections ([`rquads16`]). Measured 2026-11-29 in Chromium
//! 156, same harness: 37–40 GB/s on stories15M's layer shapes against 20–25 on the
//! interleaved layout.
//!
//! The matrix product is compiled with `target_feature(enable = "relaxed-simd")`, but LLVM
//! applies wasm target features module-wide, and with relaxed SIMD it lowers vectorized
//! float maxima (`f32::max`, `if a > b { a } else { b }`) to `f32x4.relaxed_max` (read from
//! `--emit=asm`: attention's score maximum, activation quantization's absolute maximum, one
//! in the forward pass). `relaxed_max` may differ from `max` only for NaN and for `±0`
//! pairs. Quantization's maximum sees only finite values `>= +0` (`max_finite_abs`);
//! attention's maximum `m` is used as `exp(s - m)`, where `m = ±0` gives the same value
//! for every `s`; a ReLU's `±0` is quantized to code 0 either way. So the two builds agree
//! on every finite input; a model that produces NaN (non-finite weights) may give different
//! NaN-laden garbage in the two builds.
//!
use super::{scalar, Kernels, QActs, QRows, Tier};
use core::arch::wasm32::*;

/// The simd128 kernel set (f32 product: the scalar kernel).
pub static SIMD128: Kernels = Kernels { name: "simd128", matmul_q8: matmul_q8_simd128, matmul_f32: scalar::matmul_f32, quantize: quantize_simd128, attend: attend_simd128, layout: super::Layout::Quads };

/// The relaxed-SIMD kernel set (module docs, "Relaxed SIMD"); compiled in only with the
/// `wasm-relaxed-simd` feature. Its matrix product is the only function compiled with
/// `target_feature(enable = "relaxed-simd")`.
#[cfg(feature = "wasm-relaxed-simd")]
pub static RELAXED: Kernels = Kernels { name: "simd128-relaxed", matmul_q8: matmul_q8_relaxed, matmul_f32: scalar::matmul_f32, quantize: quantize_simd128, attend: attend_simd128, layout: super::Layout::QuadsPlain };

/// Every wasm32 kernel set with its availability check (compile-time), lowest tier first.
#[cfg(not(feature = "wasm-relaxed-simd"))]
pub const TIERS: [Tier; 1] = [(&SIMD128, || true)];
/// Every wasm32 kernel set with its availability check (compile-time), lowest tier first.
#[cfg(feature = "wasm-relaxed-simd")]
pub const TIERS: [Tier; 2] = [(&SIMD128, || true), (&RELAXED, || true)];

/// The best wasm32 kernel set.
pub fn best() -> Option<&'static Kernels> {
    #[cfg(feature = "wasm-relaxed-simd")]
    return Some(&RELAXED);
    #[cfg(not(feature = "wasm-relaxed-simd"))]
    Some(&SIMD128)
}

/// One way of computing [`rows_q8`]'s per-group partial sums.
trait Dot4 {
    /// Per row `i`, four i32 partial sums whose total is the exact `Σ w·x` over row `i`'s
    /// codes at `w[i]..w[i] + 16 * n16` and the activation codes at `x..x + 16 * n16`
    /// (in `[-127, 127]`).
    ///
    /// # Safety
    /// `w[i]..w[i] + 16 * n16` and `x..x + 16 * n16` must be readable.
    unsafe fn dot4(w: &[*const i8; 4], x: *const i8, n16: usize) -> [v128; 4];

    /// [`block`] with this `D`, not inlined: one copy per `D` serves row-major matrices and
    /// the interleaved layout's last, shorter block (code size: the npm package). A function
    /// of its own per `D` so that the relaxed one carries the `relaxed-simd` target feature
    /// (without it the relaxed instructions would be calls).
    const BLOCK: BlockFn;
}

/// The type of [`Dot4::BLOCK`]: [`block`]'s arguments.
type BlockFn = unsafe fn([*const i8; 4], usize, [*const f32; 4], usize, *const i8, *const f32, usize, usize, usize) -> v128;

/// [`block`] with [`Widen`] (safety: [`block`]'s).
#[inline(never)]
#[allow(clippy::too_many_arguments)]
unsafe fn block_widen(wp: [*const i8; 4], gstep: usize, sp: [*const f32; 4], sgstep: usize, xp: *const i8, xsp: *const f32, gs: usize, groups: usize, n16: usize) -> v128 {
    // SAFETY: the caller's contract is `block`'s.
    unsafe { block::<Widen>(wp, gstep, sp, sgstep, xp, xsp, gs, groups, n16) }
}

/// [`block`] with [`Relaxed`] (safety: [`block`]'s).
#[cfg(feature = "wasm-relaxed-simd")]
#[inline(never)]
#[target_feature(enable = "relaxed-simd")]
#[allow(clippy::too_many_arguments)]
unsafe fn block_relaxed(wp: [*const i8; 4], gstep: usize, sp: [*const f32; 4], sgstep: usize, xp: *const i8, xsp: *const f32, gs: usize, groups: usize, n16: usize) -> v128 {
    // SAFETY: the caller's contract is `block`'s.
    unsafe { block::<Relaxed>(wp, gstep, sp, sgstep, xp, xsp, gs, groups, n16) }
}

/// `i32x4.dot_i16x8_s` on operands widened to i16: [`dot4`].
struct Widen;

impl Dot4 for Widen {
    const BLOCK: BlockFn = block_widen;
    #[inline(always)]
    unsafe fn dot4(w: &[*const i8; 4], x: *const i8, n16: usize) -> [v128; 4] {
        // SAFETY: the same contract.
        unsafe { dot4([i32x4_splat(0); 4], w, x, n16) }
    }
}

/// `i32x4.relaxed_dot_i8x16_i7x16_add_s` on the split activations (module docs).
#[cfg(feature = "wasm-relaxed-simd")]
struct Relaxed;

#[cfg(feature = "wasm-relaxed-simd")]
impl Dot4 for Relaxed {
    const BLOCK: BlockFn = block_relaxed;
    #[inline(always)]
    unsafe fn dot4(w: &[*const i8; 4], x: *const i8, n16: usize) -> [v128; 4] {
        let (mut p, mut n) = ([i32x4_splat(0); 4], [i32x4_splat(0); 4]);
        // SAFETY: the caller's contract (every offset is below 16 * n16); WebAssembly loads
        // have no alignment requirement.
        unsafe {
            for b in 0..n16 {
                let xv = v128_load(x.add(16 * b).cast::<v128>());
                // x in [-127, 127]: both halves in [0, 127], the relaxed dot's exact domain
                let xp = i8x16_max(xv, i8x16_splat(0));
                let xn = i8x16_sub(xp, xv);
                for ((p, n), &w) in p.iter_mut().zip(n.iter_mut()).zip(w) {
                    let wv = v128_load(w.add(16 * b).cast::<v128>());
                    *p = i32x4_relaxed_dot_i8x16_i7x16_add(wv, xp, *p);
                    *n = i32x4_relaxed_dot_i8x16_i7x16_add(wv, xn, *n);
                }
            }
        }
        // Σ w·x⁺ - Σ w·x⁻ per lane, in wrapping i32 arithmetic like every other kernel's sums
        for (p, n) in p.iter_mut().zip(n) {
            *p = i32x4_sub(*p, n);
        }
        p
    }
}

/// `a[i]` plus the partial sums of row `i`'s codes at `w[i]..w[i] + 16 * n16` times the
/// activation codes at `x..x + 16 * n16`: every operand loaded widened to i16
/// (`i16x8.load8x8_s`, one `pmovsxbw`/`sxtl` each; the activations once for the four rows),
/// multiplied and pair-summed by `i32x4.dot_i16x8_s` (`pmaddwd`). Exact: `|w·x| <= 128·127`,
/// a pair at most `32512`. Constant offsets from four row pointers, so that with `n16` a
/// constant (the callers below) every load's address is a register plus an immediate.
///
/// # Safety
/// `w[i]..w[i] + 16 * n16` and `x..x + 16 * n16` must be readable.
#[inline(always)]
unsafe fn dot4(mut a: [v128; 4], w: &[*const i8; 4], x: *const i8, n16: usize) -> [v128; 4] {
    // SAFETY: the caller's contract (every offset is below 16 * n16); WebAssembly loads have
    // no alignment requirement.
    unsafe {
        for b in 0..n16 {
            let (xl, xh) = (i16x8_load_extend_i8x8(x.add(16 * b)), i16x8_load_extend_i8x8(x.add(16 * b + 8)));
            for (a, &w) in a.iter_mut().zip(w) {
                let (wl, wh) = (i16x8_load_extend_i8x8(w.add(16 * b)), i16x8_load_extend_i8x8(w.add(16 * b + 8)));
                *a = i32x4_add(i32x4_add(*a, i32x4_dot_i16x8(wl, xl)), i32x4_dot_i16x8(wh, xh));
            }
        }
    }
    a
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

fn matmul_q8_simd128(w: &QRows<'_>, x: &QActs<'_>, out: &mut [f32]) {
    if w.quads {
        // the relaxed build runs its own set on quads without the bias, and keeps this set
        // only as the lower tier (tests): there quads take the scalar kernel (one quads
        // kernel per module)
        #[cfg(not(feature = "wasm-relaxed-simd"))]
        if w.bias {
            return matmul_q8_quads(w, x, out);
        }
        return scalar::matmul_q8(w, x, out);
    }
    matmul_q8_with::<Widen>(w, x, out);
}

#[cfg(feature = "wasm-relaxed-simd")]
#[target_feature(enable = "relaxed-simd")]
fn matmul_q8_relaxed(w: &QRows<'_>, x: &QActs<'_>, out: &mut [f32]) {
    if w.quads {
        if !w.bias {
            return matmul_q8_quads(w, x, out);
        }
        // not this set's layout (`RELAXED.layout`): correct, not fast
        return scalar::matmul_q8(w, x, out);
    }
    matmul_q8_with::<Relaxed>(w, x, out);
}

// ---- quads (simd128) ---------------------------------------------------------------------------

/// 16-byte vectors of prepared activations on the stack (64 KiB): [`matmul_q8_quads`]
/// prepares as many tokens at a time as fit (rows up to 8,192 codes).
const PREP: usize = 4096;
/// Group corrections on the stack (16 KiB), likewise.
const PREP_GROUPS: usize = 1024;

/// The int8 product on weights in quads ([`super::Layout::Quads`], the `simd128` set's
/// layout): each 16-byte vector holds one quad (four consecutive codes) of each of four rows,
/// so `i32x4.dot_i16x8_s` leaves one row per lane and a group's sums need no reduction
/// across lanes; and the even codes are stored biased, so a 16-bit lane of two codes is
/// `256·w_odd + (w_even + 128)`: the even code is the lane's low byte taken unsigned, the
/// odd code the lane shifted right arithmetically by 8. With the activations of quad
/// `(x0, x1, x2, x3)` prepared once per token as the vectors `e = (x0, x2)` and
/// `o = (x1 - 256·x0, x3 - 256·x2)` repeated in every 32-bit lane (16-bit values;
/// `|o| <= 127 + 256·127 = 32639`), `dot(lane, e) + dot(lane >> 8, o)` sums
/// `256·w1·x0 + (w0 + 128)·x0 + w1·x1 - 256·w1·x0 + …` `= w0·x0 + w1·x1 + w2·x2 + w3·x3 +
/// 128·(x0 + x2)`; each row's sums start from `-128·Σ x_even` of the group (prepared too),
/// which leaves the exact `Σ w·x` of the scalar kernel. The products `|lane·e| <= 32768·127`
/// and `|(lane >> 8)·o| <= 128·32639` exceed 16 bits but `vpmaddwd` keeps them in 32; the sums
/// wrap like every kernel's i32 sums and their exact total fits.
///
/// Per quad and four rows: one plain load, one `vpsraw`, two `vpmaddwd`, two `vpaddd`; the
/// widening kernel needed two `vpmovsxbw` (which in V8 on x86 all wait for the one shuffle
/// port) and a shuffle-and-add reduction per group. Then `acc += isum as f32 * (ws * xs)`
/// per row and group ascending: the scalar order.
///
/// Blocks of 16 rows against each token of a chunk of tokens; the last block, when `rows`
/// is not a multiple of 16, through the scalar kernel (which reads every layout), as are
/// group sizes that are not multiples of 4 (not in quads: `Model::from_bytes_in` keeps those
/// interleaved), matrices that are not in quads, and rows wider than the stack buffers.
///
/// In the relaxed build the same function reads [`super::Layout::QuadsPlain`] (codes as
/// they are) with `i32x4.relaxed_dot_i8x16_i7x16_add_s`, whose lanes also sum four products
/// of one row: per quad the activations' `x⁺ = max(x, 0)` and `x⁻ = x⁺ - x` (both in
/// `[0, 127]`, the instruction's exact domain, as in [`Relaxed`]) repeated in every lane,
/// and `Σ w·x = Σ w·x⁺ - Σ w·x⁻` per row ([`rquads16`]); no corrections.
#[allow(clippy::indexing_slicing, reason = "lengths asserted at the top (a mismatch is a caller bug)")]
fn matmul_q8_quads(w: &QRows<'_>, x: &QActs<'_>, out: &mut [f32]) {
    if !w.il || w.gs == 0 || !w.gs.is_multiple_of(4) || !w.stride.is_multiple_of(w.gs) {
        return scalar::matmul_q8(w, x, out);
    }
    let (rows, stride, gs) = (w.rows, w.stride, w.gs);
    let (groups, nq) = (stride / gs, stride / 4);
    // tokens whose prepared activations fit the stack buffers
    let per = (PREP / (2 * nq).max(1)).min(PREP_GROUPS / groups.max(1));
    if per == 0 {
        return scalar::matmul_q8(w, x, out);
    }
    assert!(w.q.len() >= rows * stride && w.s.len() >= rows * groups, "weights too short");
    assert!(x.q.len() >= x.n * stride && x.s.len() >= x.n * groups, "activations too short");
    assert!(out.len() >= x.n * rows, "output too short");
    // not zeroed (80 KiB, as much as a small product costs): every entry a product reads is
    // written first, through raw pointers
    let mut prep = core::mem::MaybeUninit::<[v128; PREP]>::uninit();
    let mut corr = core::mem::MaybeUninit::<[v128; PREP_GROUPS]>::uninit();
    let (pp, cp) = (prep.as_mut_ptr().cast::<v128>(), corr.as_mut_ptr().cast::<v128>());
    let full = rows - rows % 16;
    let mut t0 = 0;
    while t0 < x.n {
        let nt = (x.n - t0).min(per);
        for t in 0..nt {
            let xq = &x.q[(t0 + t) * stride..(t0 + t + 1) * stride];
            // 16 codes (four quads) at a time, then the last quads one by one
            let mut c = 0;
            while c < nq {
                let v = if c + 4 <= nq {
                    // SAFETY: 16 readable bytes at 4c (4c + 16 <= stride); WebAssembly loads
                    // have no alignment requirement.
                    unsafe { v128_load(xq.as_ptr().add(4 * c).cast::<v128>()) }
                } else {
                    // the last one to three quads, zero-padded to 16 codes
                    let mut b = [0i8; 16];
                    b[..4 * (nq - c)].copy_from_slice(&xq[4 * c..4 * nq]);
                    // SAFETY: b is 16 readable bytes.
                    unsafe { v128_load(b.as_ptr().cast::<v128>()) }
                };
                // simd128: 16-bit lanes of (even, odd) code pairs, the sign-extended even and
                // odd codes; as 32-bit lanes, quad i's (x0, x2) and (x1 - 256·x0, x3 - 256·x2)
                #[cfg(not(feature = "wasm-relaxed-simd"))]
                let (e, o) = {
                    let e = i16x8_shr(i16x8_shl(v, 8), 8);
                    (e, i16x8_sub(i16x8_shr(v, 8), i16x8_shl(e, 8)))
                };
                // relaxed: x⁺ and x⁻ (x in [-127, 127]: both in [0, 127])
                #[cfg(feature = "wasm-relaxed-simd")]
                let (e, o) = {
                    let xp = i8x16_max(v, i8x16_splat(0));
                    (xp, i8x16_sub(xp, v))
                };
                let n = (nq - c).min(4);
                let lanes = [
                    (i32x4_shuffle::<0, 0, 0, 0>(e, e), i32x4_shuffle::<0, 0, 0, 0>(o, o)),
                    (i32x4_shuffle::<1, 1, 1, 1>(e, e), i32x4_shuffle::<1, 1, 1, 1>(o, o)),
                    (i32x4_shuffle::<2, 2, 2, 2>(e, e), i32x4_shuffle::<2, 2, 2, 2>(o, o)),
                    (i32x4_shuffle::<3, 3, 3, 3>(e, e), i32x4_shuffle::<3, 3, 3, 3>(o, o)),
                ];
                for (i, &(ev, ov)) in lanes.iter().enumerate().take(n) {
                    // SAFETY: 2·(t·nq + c + i) + 1 < 2·nt·nq <= PREP by the choice of `per`.
                    unsafe {
                        pp.add(2 * (t * nq + c + i)).write(ev);
                        pp.add(2 * (t * nq + c + i) + 1).write(ov);
                    }
                }
                c += n;
            }
            for g in 0..groups {
                // the relaxed build's sums need no correction
                let even: i32 = if cfg!(feature = "wasm-relaxed-simd") { 0 } else { xq[g * gs..(g + 1) * gs].iter().step_by(2).map(|&v| v as i32).sum() };
                // SAFETY: t·groups + g < nt·groups <= PREP_GROUPS by the choice of `per`.
                unsafe { cp.add(t * groups + g).write(i32x4_splat(-128 * even)) };
            }
        }
        let mut r0 = 0;
        while r0 < full {
            // two blocks at a time where there are two (they share each activation load; the
            // relaxed kernel's two sums per row leave no registers for a second block)
            let two = r0 + 32 <= full && cfg!(not(feature = "wasm-relaxed-simd"));
            for t in 0..nt {
                // SAFETY: blocks r0..r0 + 16 (and r0 + 16..r0 + 32 with `two`) <= full <=
                // rows: their codes from r0·stride and scales from r0·groups are inside the
                // asserted lengths; token t0 + t < x.n; prep and corr hold token t's written
                // entries (above); out[(t0 + t)·rows + r0 + 31 or 15] < x.n·rows.
                unsafe {
                    let (wq, ws) = (w.q.as_ptr().add(r0 * stride), w.s.as_ptr().add(r0 * groups));
                    let (pt, ct, xst) = (pp.add(2 * t * nq), cp.add(t * groups), x.s.as_ptr().add((t0 + t) * groups));
                    let op = out.as_mut_ptr().add((t0 + t) * rows + r0);
                    #[cfg(not(feature = "wasm-relaxed-simd"))]
                    if two {
                        let o = quads32(wq, wq.add(16 * stride), ws, ws.add(16 * groups), pt, ct, xst, groups, gs / 4);
                        for (b, v) in o.iter().enumerate() {
                            v128_store(op.add(4 * b).cast::<v128>(), *v);
                        }
                        continue;
                    }
                    #[cfg(not(feature = "wasm-relaxed-simd"))]
                    let o = quads16(wq, ws, pt, ct, xst, groups, gs / 4);
                    #[cfg(feature = "wasm-relaxed-simd")]
                    let o = rquads16(wq, ws, pt, ct, xst, groups, gs / 4);
                    for (b, v) in o.iter().enumerate() {
                        v128_store(op.add(4 * b).cast::<v128>(), *v);
                    }
                }
            }
            r0 += if two { 32 } else { 16 };
        }
        if full < rows {
            // the last, shorter block is a quads matrix of its own (its rows start at a
            // multiple of 16): the scalar kernel, token by token (its output rows are this
            // matrix's rows `full..rows`)
            let ws = QRows { q: &w.q[full * stride..rows * stride], s: &w.s[full * groups..rows * groups], rows: rows - full, ..*w };
            for t in t0..t0 + nt {
                let xt = QActs { q: &x.q[t * stride..(t + 1) * stride], s: &x.s[t * groups..(t + 1) * groups], n: 1 };
                scalar::matmul_q8(&ws, &xt, &mut out[t * rows + full..(t + 1) * rows]);
            }
        }
        t0 += nt;
    }
}

#[cfg(not(feature = "wasm-relaxed-simd"))]
/// One whole block of 16 rows in quads against one token: lane `i` of vector `b` is row
/// `4b + i`'s output. The block's quad `c` is the 64 bytes at `w + 64c` (four vectors of
/// four rows), its scales of group `g` the 16 at `s + 16g`; the token's prepared quad `c` is
/// `p[2c]`, `p[2c + 1]` and its group corrections `cr[g]`.
///
/// # Safety
/// `64 * groups * qpg` codes from `w`, `16 * groups` scales from `s`, `2 * groups * qpg`
/// vectors from `p`, `groups` vectors from `cr` and scales from `xs` must be readable;
/// `qpg = gs / 4` quads per group.
#[inline(never)]
unsafe fn quads16(mut w: *const i8, mut s: *const f32, mut p: *const v128, mut cr: *const v128, mut xs: *const f32, groups: usize, qpg: usize) -> [v128; 4] {
    let mut acc = [f32x4_splat(0.0); 4];
    // SAFETY: the caller's contract; WebAssembly loads have no alignment requirement.
    unsafe {
        for _ in 0..groups {
            let mut a = [*cr; 4];
            for _ in 0..qpg {
                let (e, o) = (*p, *p.add(1));
                for (b, a) in a.iter_mut().enumerate() {
                    let v = v128_load(w.add(16 * b).cast::<v128>());
                    *a = i32x4_add(i32x4_add(*a, i32x4_dot_i16x8(v, e)), i32x4_dot_i16x8(i16x8_shr(v, 8), o));
                }
                w = w.add(64);
                p = p.add(2);
            }
            let xv = f32x4_splat(*xs);
            for (b, (acc, a)) in acc.iter_mut().zip(a).enumerate() {
                let sc = f32x4_mul(v128_load(s.add(4 * b).cast::<v128>()), xv);
                *acc = f32x4_add(*acc, f32x4_mul(f32x4_convert_i32x4(a), sc));
            }
            s = s.add(16);
            cr = cr.add(1);
            xs = xs.add(1);
        }
    }
    acc
}

#[cfg(feature = "wasm-relaxed-simd")]
/// [`quads16`] for the relaxed build: codes as they are ([`super::Layout::QuadsPlain`]),
/// the token's prepared quad `c` is `x⁺` at `p[2c]` and `x⁻` at `p[2c + 1]`, and each row
/// lane sums `Σ w·x⁺ - Σ w·x⁻` over a group with two `i32x4.relaxed_dot_i8x16_i7x16_add_s`
/// per vector, the first starting from `cr[g]` (zero in this build).
///
/// # Safety
/// [`quads16`]'s.
#[inline(never)]
#[target_feature(enable = "relaxed-simd")]
unsafe fn rquads16(mut w: *const i8, mut s: *const f32, mut p: *const v128, mut cr: *const v128, mut xs: *const f32, groups: usize, qpg: usize) -> [v128; 4] {
    let mut acc = [f32x4_splat(0.0); 4];
    // SAFETY: the caller's contract; WebAssembly loads have no alignment requirement.
    unsafe {
        for _ in 0..groups {
            let (mut pa, mut na) = ([*cr; 4], [i32x4_splat(0); 4]);
            for _ in 0..qpg {
                let (xp, xn) = (*p, *p.add(1));
                for (b, (pa, na)) in pa.iter_mut().zip(na.iter_mut()).enumerate() {
                    let v = v128_load(w.add(16 * b).cast::<v128>());
                    *pa = i32x4_relaxed_dot_i8x16_i7x16_add(v, xp, *pa);
                    *na = i32x4_relaxed_dot_i8x16_i7x16_add(v, xn, *na);
                }
                w = w.add(64);
                p = p.add(2);
            }
            let xv = f32x4_splat(*xs);
            for (b, (acc, (pa, na))) in acc.iter_mut().zip(pa.iter().zip(na)).enumerate() {
                // Σ w·x⁺ - Σ w·x⁻ per lane, in wrapping i32 arithmetic like every other sum
                let isum = i32x4_sub(*pa, na);
                let sc = f32x4_mul(v128_load(s.add(4 * b).cast::<v128>()), xv);
                *acc = f32x4_add(*acc, f32x4_mul(f32x4_convert_i32x4(isum), sc));
            }
            s = s.add(16);
            cr = cr.add(1);
            xs = xs.add(1);
        }
    }
    acc
}

#[cfg(not(feature = "wasm-relaxed-simd"))]
/// [`quads16`] for two blocks of 16 rows at once (`wa`/`sa` and `wb`/`sb`, in the same
/// layout): each activation vector is loaded once for eight row vectors. Vectors 0..4 are
/// block `a`'s rows, 4..8 block `b`'s.
///
/// # Safety
/// [`quads16`]'s, for both blocks.
#[inline(never)]
#[allow(clippy::too_many_arguments)]
unsafe fn quads32(
    mut wa: *const i8,
    mut wb: *const i8,
    mut sa: *const f32,
    mut sb: *const f32,
    mut p: *const v128,
    mut cr: *const v128,
    mut xs: *const f32,
    groups: usize,
    qpg: usize,
) -> [v128; 8] {
    let mut acc = [f32x4_splat(0.0); 8];
    // SAFETY: the caller's contract; WebAssembly loads have no alignment requirement.
    unsafe {
        for _ in 0..groups {
            let mut a = [*cr; 8];
            for _ in 0..qpg {
                let (e, o) = (*p, *p.add(1));
                for (b, a) in a.iter_mut().enumerate() {
                    let v = if b < 4 { v128_load(wa.add(16 * b).cast::<v128>()) } else { v128_load(wb.add(16 * (b - 4)).cast::<v128>()) };
                    *a = i32x4_add(i32x4_add(*a, i32x4_dot_i16x8(v, e)), i32x4_dot_i16x8(i16x8_shr(v, 8), o));
                }
                wa = wa.add(64);
                wb = wb.add(64);
                p = p.add(2);
            }
            let xv = f32x4_splat(*xs);
            for (b, (acc, a)) in acc.iter_mut().zip(a).enumerate() {
                let sp = if b < 4 { sa.add(4 * b) } else { sb.add(4 * (b - 4)) };
                let sc = f32x4_mul(v128_load(sp.cast::<v128>()), xv);
                *acc = f32x4_add(*acc, f32x4_mul(f32x4_convert_i32x4(a), sc));
            }
            sa = sa.add(16);
            sb = sb.add(16);
            cr = cr.add(1);
            xs = xs.add(1);
        }
    }
    acc
}

/// The checks and the dispatch on group size and layout shared by both sets.
#[inline(always)]
#[allow(clippy::indexing_slicing, reason = "lengths asserted at the top (a mismatch is a caller bug)")]
fn matmul_q8_with<D: Dot4>(w: &QRows<'_>, x: &QActs<'_>, out: &mut [f32]) {
    if !w.gs.is_multiple_of(16) {
        return scalar::matmul_q8(w, x, out);
    }
    assert!(w.gs > 0 && w.stride.is_multiple_of(w.gs), "stride must be a whole number of groups");
    let (rows, stride, groups) = (w.rows, w.stride, w.stride / w.gs);
    assert!(w.q.len() >= rows * stride && w.s.len() >= rows * groups, "weights too short");
    assert!(x.q.len() >= x.n * stride && x.s.len() >= x.n * groups, "activations too short");
    assert!(out.len() >= x.n * rows, "output too short");
    // SAFETY: the asserts above are `rows_q8`'s contract. One general copy per layout: the
    // npm package runs quads, so the constant-block-count copies that the interleaved
    // layout had for group sizes 32 and 64 (5–8% faster) no longer earn their module bytes.
    unsafe {
        if w.il {
            rows_q8::<D, 0, true>(w, x, out)
        } else {
            rows_q8::<D, 0, false>(w, x, out)
        }
    }
}

/// The product for `w.gs == 16 * N16` (`N16 == 0`: any multiple of 16, a run-time count) in
/// the layout `IL` says (row-major, or interleaved by four rows: [`super::Interleave`]): four
/// rows at a time against each token (the last block of fewer than four rows repeats its
/// last row and stores only the real ones), per group `isum` of the four rows by `D` and
/// [`reduce4`] (lane = row), then `acc += isum as f32 * (ws * xs)` per lane with separate
/// `f32x4_mul`, `f32x4_add`, groups in ascending order: the scalar order.
///
/// A whole interleaved block is read from one pointer (the four rows' codes of a group are
/// adjacent: constant offsets) and its four scales with one vector load; row-major blocks
/// and the interleaved layout's last, shorter block from four row pointers and four scale
/// loads. Measured under Node 20 and 24 (`scripts/wasm_kernel_test.sh`'s speed lines), the
/// interleaved layout is 15–20% faster with `Widen` and 25–35% with `Relaxed`.
///
/// # Safety
/// `w.gs` a positive multiple of 16 (`16 * N16` unless `N16 == 0`), `w.stride` a multiple of `w.gs`, `w.q.len() >= rows * stride`,
/// `w.s.len() >= rows * groups`, `x.q.len() >= x.n * stride`, `x.s.len() >= x.n * groups`,
/// `out.len() >= x.n * rows`.
#[inline(always)]
unsafe fn rows_q8<D: Dot4, const N16: usize, const IL: bool>(w: &QRows<'_>, x: &QActs<'_>, out: &mut [f32]) {
    let (gs, stride, rows) = (w.gs, w.stride, w.rows);
    let n16 = if N16 == 0 { gs / 16 } else { N16 };
    let groups = stride / gs;
    let (wq, ws, xq, xs, op) = (w.q.as_ptr(), w.s.as_ptr(), x.q.as_ptr(), x.s.as_ptr(), out.as_mut_ptr());
    let mut r0 = 0;
    while r0 < rows {
        let live = (rows - r0).min(4);
        // rows r0.. r0 + 3, the last real row standing in for missing ones
        let rs = [0, 1, 2, 3].map(|i| i.min(live - 1));
        // where row r0 + i's codes and scales start and how far they move per group
        let (rstep, gstep, sstep, sgstep) = if IL { (gs, live * gs, 1, live) } else { (stride, gs, groups, 1) };
        for t in 0..x.n {
            // SAFETY: by the layout (row-major, or `Interleave`), group g of row r0 + rs[i]
            // starts at code r0 * stride + rs[i] * rstep + g * gstep and its scale at
            // r0 * groups + rs[i] * sstep + g * sgstep, inside the rows * stride codes and
            // rows * groups scales; token t < x.n of x.q, x.s; `out[t * rows + r0 + i]` for
            // i < live is below x.n * rows. All by the contract.
            unsafe {
                let wb = wq.add(r0 * stride);
                let sb = ws.add(r0 * groups);
                let (xp, xsp) = (xq.add(t * stride), xs.add(t * groups));
                let acc = if IL && live == 4 {
                    block4::<D, N16>(wb, sb, xp, xsp, gs, groups, n16)
                } else {
                    let wp = rs.map(|i| wb.add(i * rstep));
                    let sp = rs.map(|i| sb.add(i * sstep));
                    D::BLOCK(wp, gstep, sp, sgstep, xp, xsp, gs, groups, gs / 16)
                };
                let o = op.add(t * rows + r0);
                *o = f32x4_extract_lane::<0>(acc);
                if live > 1 {
                    *o.add(1) = f32x4_extract_lane::<1>(acc);
                }
                if live > 2 {
                    *o.add(2) = f32x4_extract_lane::<2>(acc);
                }
                if live > 3 {
                    *o.add(3) = f32x4_extract_lane::<3>(acc);
                }
            }
        }
        r0 += live;
    }
}

/// One block of four rows against one token, rows from four pointers that move `gstep`
/// codes per group and scales from four pointers that move `sgstep`: lane `i` is row `i`'s
/// output.
///
/// Called through [`Dot4::BLOCK`] (not inlined, a run-time block count).
///
/// # Safety
/// Every `groups` groups of `gs = 16 * n16` codes from each `wp[i]` (stepping `gstep`), each
/// scale from `sp[i]` (stepping `sgstep`), `groups * gs` codes from `xp` and `groups` scales
/// from `xsp` must be readable.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn block<D: Dot4>(
    mut wp: [*const i8; 4],
    gstep: usize,
    mut sp: [*const f32; 4],
    sgstep: usize,
    mut xp: *const i8,
    mut xsp: *const f32,
    gs: usize,
    groups: usize,
    n16: usize,
) -> v128 {
    let mut acc = f32x4_splat(0.0);
    // SAFETY: the caller's contract.
    unsafe {
        for _ in 0..groups {
            let isum = reduce4(&D::dot4(&wp, xp, n16));
            let sc = f32x4_mul(f32x4(*sp[0], *sp[1], *sp[2], *sp[3]), f32x4_splat(*xsp));
            acc = f32x4_add(acc, f32x4_mul(f32x4_convert_i32x4(isum), sc));
            wp = wp.map(|p| p.add(gstep));
            sp = sp.map(|p| p.add(sgstep));
            xp = xp.add(gs);
            xsp = xsp.add(1);
        }
    }
    acc
}

/// [`block`] for a whole block of the interleaved layout: the four rows' codes of group `g`
/// are the `4 * gs` codes at `w + 4 * gs * g` (one pointer, constant offsets when `N16` is
/// a constant) and their scales the four at `s + 4 * g` (one vector load).
///
/// # Safety
/// `4 * gs * groups` codes from `w`, `4 * groups` scales from `s`, `groups * gs` codes
/// from `xp` and `groups` scales from `xsp` must be readable; `gs = 16 * n16` (`= 16 * N16`
/// unless `N16 == 0`).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn block4<D: Dot4, const N16: usize>(
    mut w: *const i8,
    mut s: *const f32,
    mut xp: *const i8,
    mut xsp: *const f32,
    gs: usize,
    groups: usize,
    n16: usize,
) -> v128 {
    let gs = if N16 == 0 { gs } else { 16 * N16 };
    let mut acc = f32x4_splat(0.0);
    // SAFETY: the caller's contract; WebAssembly loads have no alignment requirement.
    unsafe {
        for _ in 0..groups {
            let wp = [w, w.add(gs), w.add(2 * gs), w.add(3 * gs)];
            let isum = reduce4(&D::dot4(&wp, xp, n16));
            let sc = f32x4_mul(v128_load(s.cast::<v128>()), f32x4_splat(*xsp));
            acc = f32x4_add(acc, f32x4_mul(f32x4_convert_i32x4(isum), sc));
            w = w.add(4 * gs);
            s = s.add(4);
            xp = xp.add(gs);
            xsp = xsp.add(1);
        }
    }
    acc
}

/// [`super::quantize`] with explicit simd128, bit for bit the same: LLVM keeps the portable
/// code's code loop scalar on wasm32 (one `i32.trunc_f32_s` and `i32.store8` per element;
/// 4% of a stories15M decode step in Node 24). Per group: the maximum of the finite `|x|`
/// in four lanes (exact in any order), the same scale and inverse, then per 16 elements
/// `v = x * inv` (non-finite → 0), `m = min(|v| + 0.5, 127)`, truncated, negated where
/// `v < 0`: the portable `trunc(v + copysign(0.5, v))` clamped to ±127, computed on the
/// magnitude (`|v| + 0.5` rounds like `v ± 0.5`; truncation and clamp are symmetric; -0.0
/// gives 0 either way), narrowed to i8 with saturation (values are within ±127). Elements
/// past the last multiple of 16 in a group go through the portable formula one by one.
#[allow(clippy::indexing_slicing, reason = "lengths asserted at the top (a mismatch is a caller bug)")]
fn quantize_simd128(x: &[f32], gs: usize, q: &mut [i8], s: &mut [f32]) {
    if gs == 0 {
        return super::quantize(x, gs, q, s);
    }
    let groups = x.len().div_ceil(gs);
    assert!(q.len() >= groups * gs && s.len() >= groups, "quantize: output too short");
    let zero = f32x4_splat(0.0);
    let inf = f32x4_splat(f32::INFINITY);
    for (g, sg) in s[..groups].iter_mut().enumerate() {
        let lo = g * gs;
        let hi = (lo + gs).min(x.len());
        let xg = &x[lo..hi];
        let body = xg.len() - xg.len() % 4;
        let mut mv = zero;
        for c in xg[..body].chunks_exact(4) {
            // SAFETY: c is 4 floats (16 bytes); WebAssembly loads have no alignment
            // requirement.
            let a = f32x4_abs(unsafe { v128_load(c.as_ptr().cast::<v128>()) });
            // non-finite |x| (NaN compares false) count as 0
            let a = v128_and(a, f32x4_lt(a, inf));
            mv = f32x4_pmax(mv, a);
        }
        let mut amax = f32x4_extract_lane::<0>(mv)
            .max(f32x4_extract_lane::<1>(mv))
            .max(f32x4_extract_lane::<2>(mv))
            .max(f32x4_extract_lane::<3>(mv));
        for &v in &xg[body..] {
            let a = v.abs();
            if a.is_finite() && a > amax {
                amax = a;
            }
        }
        let scale = amax / 127.0;
        *sg = scale;
        let inv = if scale > 0.0 { 127.0 / amax } else { 0.0 };
        let invv = f32x4_splat(inv);
        let qg = &mut q[lo..lo + gs];
        let body16 = xg.len() - xg.len() % 16;
        let code4 = |p: *const f32| -> v128 {
            // SAFETY: the caller passes a pointer to 4 readable floats.
            let v = f32x4_mul(unsafe { v128_load(p.cast::<v128>()) }, invv);
            let v = v128_and(v, f32x4_lt(f32x4_abs(v), inf));
            let m = f32x4_pmin(f32x4_add(f32x4_abs(v), f32x4_splat(0.5)), f32x4_splat(127.0));
            let a = i32x4_trunc_sat_f32x4(m);
            let neg = f32x4_lt(v, zero);
            // (a ^ neg) - neg: -a where neg is all ones
            i32x4_sub(v128_xor(a, neg), neg)
        };
        for (i, c) in xg[..body16].chunks_exact(16).enumerate() {
            let p = c.as_ptr();
            // SAFETY: p..p + 16 are the chunk's floats; the store writes qg[16 i..16 i + 16],
            // inside qg (body16 <= gs).
            unsafe {
                let lo16 = i16x8_narrow_i32x4(code4(p), code4(p.add(4)));
                let hi16 = i16x8_narrow_i32x4(code4(p.add(8)), code4(p.add(12)));
                v128_store(qg.as_mut_ptr().add(16 * i).cast::<v128>(), i8x16_narrow_i16x8(lo16, hi16));
            }
        }
        for (c, &xv) in qg[body16..xg.len()].iter_mut().zip(&xg[body16..]) {
            let v = xv * inv;
            let v = if v.is_finite() { v } else { 0.0 };
            let r = (v + 0.5f32.copysign(v)).clamp(-127.0, 127.0);
            *c = r as i32 as i8;
        }
        qg[xg.len()..].fill(0);
    }
}

/// Whether `k` is one of this file's kernel sets (they share the float kernels below).
pub(super) fn is_ours(k: &'static Kernels) -> bool {
    #[cfg(feature = "wasm-relaxed-simd")]
    if core::ptr::eq(k, &RELAXED) {
        return true;
    }
    core::ptr::eq(k, &SIMD128)
}

// ---- float kernels: super::exp and what uses it, four lanes at a time -----------------------
//
// LLVM keeps the portable `exp` (and so SwiGLU and the attention softmax) scalar on wasm32
// (one `i32.trunc_f32_s` per element; 10% of a stories15M decode step in Node 24 between the
// two). These are the same operations in the same order on four lanes: additions,
// multiplications, the division, comparisons, selects and bit operations are exact
// element-wise operations in WebAssembly SIMD as in scalar code, so the bits are the same
// (`scripts/wasm_kernel_test.sh` compares them with the portable functions).

/// The first four floats of `s` as a vector (`s` shorter than 4: a caller bug, which panics).
#[inline(always)]
#[allow(clippy::indexing_slicing, reason = "kernel contract: callers pass at least four floats")]
fn ld4(s: &[f32]) -> v128 {
    let c = &s[..4];
    // SAFETY: c is 4 floats, 16 readable bytes; WebAssembly loads have no alignment
    // requirement.
    unsafe { v128_load(c.as_ptr().cast::<v128>()) }
}

/// Stores `x` into the first four floats of `d` (`d` shorter than 4: a caller bug, which
/// panics).
#[inline(always)]
#[allow(clippy::indexing_slicing, reason = "kernel contract: callers pass at least four floats")]
fn st4(d: &mut [f32], x: v128) {
    let c = &mut d[..4];
    // SAFETY: c is 4 floats, 16 writable bytes; no alignment requirement.
    unsafe { v128_store(c.as_mut_ptr().cast::<v128>(), x) }
}

/// [`super::exp`] on four lanes.
#[inline(always)]
fn exp4(x: v128) -> v128 {
    use super::exp_consts::*;
    let nan = f32x4_ne(x, x);
    // clamp(x, LO, HI) for non-NaN x (pmax/pmin: `LO < x ? x : LO`, `x < HI ? x : HI`); NaN → 0
    let xc = v128_andnot(f32x4_pmin(f32x4_pmax(f32x4_splat(LO), x), f32x4_splat(HI)), nan);
    let kf = f32x4_sub(f32x4_add(f32x4_mul(xc, f32x4_splat(LOG2E)), f32x4_splat(MAGIC)), f32x4_splat(MAGIC));
    let r = f32x4_sub(f32x4_sub(xc, f32x4_mul(kf, f32x4_splat(LN2_HI))), f32x4_mul(kf, f32x4_splat(LN2_LO)));
    let mut p = f32x4_splat(P[0]);
    for &k in &P[1..] {
        p = f32x4_add(f32x4_mul(p, r), f32x4_splat(k));
    }
    let er = f32x4_add(f32x4_add(f32x4_mul(f32x4_mul(r, r), p), r), f32x4_splat(1.0));
    // kf is an integer in [-126, 128]: the truncation is exact
    let k = i32x4_trunc_sat_f32x4(kf);
    let big = i32x4_gt(k, i32x4_splat(127));
    let kk = v128_bitselect(i32x4_splat(127), k, big);
    let two = v128_bitselect(f32x4_splat(2.0), f32x4_splat(1.0), big);
    let y = f32x4_mul(f32x4_mul(er, two), i32x4_shl(i32x4_add(kk, i32x4_splat(127)), 23));
    // NaN → x, x < LO → 0, x > HI → +inf, else y (the portable function's order of tests)
    let y = v128_bitselect(f32x4_splat(f32::INFINITY), y, f32x4_gt(x, f32x4_splat(HI)));
    let y = v128_andnot(y, f32x4_lt(x, f32x4_splat(LO)));
    v128_bitselect(x, y, nan)
}

/// [`super::swiglu`]: `a[i] = silu(a[i]) * b[i]`, `silu(x) = x / (1 + e^-x)`.
pub(super) fn swiglu_simd128(a: &mut [f32], b: &[f32]) {
    let mut ca = a.chunks_exact_mut(4);
    let mut cb = b.chunks_exact(4);
    for (x, y) in (&mut ca).zip(&mut cb) {
        let v = ld4(x);
        let silu = f32x4_div(v, f32x4_add(f32x4_splat(1.0), exp4(f32x4_neg(v))));
        st4(x, f32x4_mul(silu, ld4(y)));
    }
    for (x, &y) in ca.into_remainder().iter_mut().zip(cb.remainder()) {
        *x = super::silu(*x) * y;
    }
}

/// [`super::softmax`] with the same eight lanes (two vectors) for the maximum and the sums.
#[allow(clippy::indexing_slicing, reason = "body = len - len % 8 <= len; the tail is shorter than 8")]
fn softmax_simd128(x: &mut [f32]) {
    let body = x.len() - x.len() % 8;
    let (mut m0, mut m1) = (f32x4_splat(f32::NEG_INFINITY), f32x4_splat(f32::NEG_INFINITY));
    for c in x[..body].chunks_exact(8) {
        // `c > lane ? c : lane`, as the portable lanes (NaN never wins)
        let (a, b) = (ld4(c), ld4(&c[4..]));
        m0 = v128_bitselect(a, m0, f32x4_gt(a, m0));
        m1 = v128_bitselect(b, m1, f32x4_gt(b, m1));
    }
    let mut lanes = [0.0f32; 8];
    st4(&mut lanes, m0);
    st4(&mut lanes[4..], m1);
    let mut max = f32::NEG_INFINITY;
    for &v in lanes.iter().chain(&x[body..]) {
        if v > max {
            max = v;
        }
    }
    let mv = f32x4_splat(max);
    let (head, tail) = x.split_at_mut(body);
    let (mut l0, mut l1) = (f32x4_splat(0.0), f32x4_splat(0.0));
    for c in head.chunks_exact_mut(8) {
        let (a, b) = (exp4(f32x4_sub(ld4(c), mv)), exp4(f32x4_sub(ld4(&c[4..]), mv)));
        st4(c, a);
        st4(&mut c[4..], b);
        l0 = f32x4_add(l0, a);
        l1 = f32x4_add(l1, b);
    }
    for v in tail.iter_mut() {
        *v = super::exp(*v - max);
    }
    st4(&mut lanes, l0);
    st4(&mut lanes[4..], l1);
    let l = lanes;
    let mut sum = ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]));
    for &v in tail.iter() {
        sum += v;
    }
    let inv = 1.0 / sum;
    let iv = f32x4_splat(inv);
    let mut chunks = x.chunks_exact_mut(4);
    for c in &mut chunks {
        st4(c, f32x4_mul(ld4(c), iv));
    }
    for v in chunks.into_remainder() {
        *v *= inv;
    }
}

/// [`super::attend`] for an f32 cache with four-lane vectors (an f16 cache takes the
/// portable function): scores 32 then eight positions at a time (`j` ascending, then
/// `* scale`), [`softmax_simd128`], outputs 24 then eight elements at a time (`s`
/// ascending); the tails as in the portable function. The wide steps give the CPU
/// independent chains of additions (a step of two vectors waited on each addition's
/// latency: 6.5% of a stories15M decode step in Node 20).
#[allow(clippy::too_many_arguments)]
#[allow(clippy::indexing_slicing, reason = "kernel contract: callers pass slices of the documented lengths, derived from a validated Config (never from input values); a mismatch is a caller bug")]
fn attend_simd128(kv: super::KvHead<'_>, ks: usize, vs: usize, q: &[f32], scale: f32, sc: &mut [f32], out: &mut [f32]) {
    let super::KvHead::F32 { k, v } = kv else {
        return super::attend(kv, ks, vs, q, scale, sc, out);
    };
    let hs = q.len();
    let len = sc.len();
    let body = len - len % 8;
    let scv = f32x4_splat(scale);
    // scores, 32 positions at a time (eight independent sums: one sum's additions are a
    // chain), then 8; every score is its own `Σ_j q[j]·k_j[s]` with `j` ascending either way
    let mut base = 0;
    while base + 32 <= body {
        let mut a = [f32x4_splat(0.0); 8];
        for (j, &qj) in q.iter().enumerate() {
            let kr = &k[j * ks + base..j * ks + base + 32];
            let qv = f32x4_splat(qj);
            for (i, a) in a.iter_mut().enumerate() {
                *a = f32x4_add(*a, f32x4_mul(qv, ld4(&kr[4 * i..])));
            }
        }
        for (i, a) in a.iter().enumerate() {
            st4(&mut sc[base + 4 * i..base + 4 * i + 4], f32x4_mul(*a, scv));
        }
        base += 32;
    }
    while base < body {
        let (mut a0, mut a1) = (f32x4_splat(0.0), f32x4_splat(0.0));
        for (j, &qj) in q.iter().enumerate() {
            let kr = &k[j * ks + base..j * ks + base + 8];
            let qv = f32x4_splat(qj);
            a0 = f32x4_add(a0, f32x4_mul(qv, ld4(kr)));
            a1 = f32x4_add(a1, f32x4_mul(qv, ld4(&kr[4..])));
        }
        st4(&mut sc[base..base + 4], f32x4_mul(a0, scv));
        st4(&mut sc[base + 4..base + 8], f32x4_mul(a1, scv));
        base += 8;
    }
    for s in body..len {
        let mut a = 0.0f32;
        for (j, &qj) in q.iter().enumerate() {
            a += qj * k[j * ks + s];
        }
        sc[s] = a * scale;
    }
    softmax_simd128(sc);
    // outputs, 24 elements at a time (six independent sums), then 8; each element is
    // `Σ_s p[s]·v_s` with `s` ascending either way
    let out = &mut out[..hs];
    let mut c0 = 0;
    while c0 + 24 <= hs {
        let mut a = [f32x4_splat(0.0); 6];
        for (s, &p) in sc.iter().enumerate() {
            let vr = &v[s * vs + c0..s * vs + c0 + 24];
            let pv = f32x4_splat(p);
            for (i, a) in a.iter_mut().enumerate() {
                *a = f32x4_add(*a, f32x4_mul(pv, ld4(&vr[4 * i..])));
            }
        }
        for (i, a) in a.iter().enumerate() {
            st4(&mut out[c0 + 4 * i..c0 + 4 * i + 4], *a);
        }
        c0 += 24;
    }
    while c0 + 8 <= hs {
        let (mut a0, mut a1) = (f32x4_splat(0.0), f32x4_splat(0.0));
        for (s, &p) in sc.iter().enumerate() {
            let vr = &v[s * vs + c0..s * vs + c0 + 8];
            let pv = f32x4_splat(p);
            a0 = f32x4_add(a0, f32x4_mul(pv, ld4(vr)));
            a1 = f32x4_add(a1, f32x4_mul(pv, ld4(&vr[4..])));
        }
        st4(&mut out[c0..c0 + 4], a0);
        st4(&mut out[c0 + 4..c0 + 8], a1);
        c0 += 8;
    }
    if c0 < hs {
        let w = hs - c0;
        let mut acc = [0.0f32; 8];
        for (s, &p) in sc.iter().enumerate() {
            for (o, &b) in acc.iter_mut().zip(&v[s * vs + c0..s * vs + c0 + w]) {
                *o += p * b;
            }
        }
        out[c0..].copy_from_slice(&acc[..w]);
    }
}

/// [`super::attend_rows`] for this file's sets: one [`attend_simd128`] per row (as the
/// portable `attend_rows` does on wasm32 with the portable `attend`: code size).
#[allow(clippy::too_many_arguments)]
pub(super) fn attend_rows_simd128(kv: super::KvHead<'_>, ks: usize, vs: usize, rows: &super::AttRows<'_>, scale: f32, sc: &mut [f32], ss: usize, out: &mut [f32]) {
    super::attend_each_row_with(attend_simd128, kv, ks, vs, rows, scale, sc, ss, out)
}
