//! x86_64 kernels, in tiers: AVX2 → AVX-VNNI → AVX-512 VNNI. Each tier replaces only the
//! table entries it wins (tract's `plug` shape); [`best`] picks the highest tier the CPU runs.
//! Every kernel reproduces its scalar twin's arithmetic exactly: the integer part is exact
//! whatever the order, and the float part follows the scalar order.
//!
//! # The int8 product (all tiers)
//!
//! Eight rows are done together against the same activation block. For each group `g` every
//! row gets an `i32x8` vector of partial sums of its codes; a transposing horizontal-add tree
//! turns the eight vectors into one vector holding the eight rows' exact `isum_g`. That
//! vector is converted to f32 and multiplied by `w_scale[r, g] * x_scale[t, g]` lane by lane
//! (lane = row), and added to the eight row accumulators. So every row still sees
//! `acc += isum_g as f32 * (ws * xs)` for `g = 0, 1, …` starting from `0.0`, the scalar order,
//! with no fused multiply-add. The weight block (8 rows) stays in L1 while all tokens of a
//! batch pass over it. Rows beyond the last multiple of 8 go through a one-row loop.
//!
//! How a tier gets the partial sums of 32 codes:
//! - AVX2: `maddubs(|w|, x·sign(w))` then `madd(·, 1)`. `|w| ≤ 128` fits u8, `|x| ≤ 127` so
//!   `x·sign(w)` fits i8, and a pair sums to at most `2·128·127 = 32512 < 2^15`: no saturation.
//! - AVX-VNNI / AVX-512 VNNI: `dpbusd(acc, w ^ 0x80, x)` = `Σ (w + 128)·x` (`w + 128` is in
//!   `[0, 255]`, so any i8 weight, `-128` included, is an exact u8), and the accumulator starts
//!   at `-128·Σx` (one more `dpbusd` per group and row block, shared by the eight rows).
//!   `dpbusd` adds in i32 without saturation, so the result is the exact `Σ w·x`.
//!
//! Activation codes must be in `[-127, 127]` (what [`super::quantize`] produces; the AVX2
//! sign trick needs it). Weights may be any i8.
//!
//! While the first token of a batch streams a row block, the block 8 KiB or more further
//! down is prefetched at the same offsets (see `PF_DIST`): worth 15–45% for matrices read
//! from DRAM.
//!
//! # Measurements
//!
//! 2026-11-28, this project's 2-core KVM guest, Intel Xeon model 207 (Emerald Rapids; AVX2,
//! AVX-VNNI, AVX-512 VNNI; 2 MiB L2 per core, about 32 to 48 MiB of the 300 MiB L3 usable),
//! `cargo bench --bench kernels`: best thread-CPU time of 20 rounds, best of 3 runs, on a
//! shared and noisy machine (±15%). gs 32. "cold": each call reads another copy of the matrix
//! from a pool the size of the model (17 MB for the 15M shapes, from L3; 128 MB for the 110M
//! shapes, mostly from DRAM), as decoding does. `avx2-1row` is the kernel this file had
//! before (one row, one group, one horizontal sum at a time), kept in the benchmark.
//!
//! One token (decode), GB/s of codes + scales streamed:
//!
//! | kernels     | 288×288 | 768×288 | 288×768 | 32000×288 | 768×768 | 2048×768 | 768×2048 | 32000×768 |
//! | ----------- | ------- | ------- | ------- | --------- | ------- | -------- | -------- | --------- |
//! | scalar      | 3.7     | 3.6     | 3.6     | 3.9       | 3.6     | 3.7      | 3.5      | 3.6       |
//! | avx2-1row   | 12.4    | 13.0    | 12.7    | 12.6      | 6.8     | 7.0      | 7.5      | 6.4       |
//! | avx2        | 22.6    | 23.3    | 20.0    | 23.7      | 12.7    | 13.5     | 14.9     | 13.9      |
//! | avx-vnni    | 23.1    | 21.9    | 18.6    | 24.3      | 12.5    | 13.1     | 15.8     | 14.0      |
//! | avx512-vnni | 27.7    | 26.3    | 27.9    | 28.3      | 14.2    | 16.3     | 20.1     | 15.6      |
//!
//! For scale: a plain AVX-512 read loop with the same prefetch streams 17 MB at 24–27 GB/s
//! and 123 MB at 13–17 GB/s on this machine, so the decode kernels run at memory speed. With
//! the matrix in L2 ("hot", 288×288 … 768×2048) the compute ceilings are about 25 GB/s
//! (avx2, avx-vnni) and 46–53 GB/s (avx512-vnni).
//!
//! 32 tokens (prefill), GOP/s (2·rows·cols·tokens per second): scalar 6.3–7.0, avx2-1row
//! 14–24, avx2 46–49, avx-vnni 47–49, avx512-vnni 85–91 at every shape.
//!
//! Decode, `tinygpt bench` (128 tokens) on random-weight models, best of 4–6 runs, wall
//! clock, same day and machine: stories15M shape 617 tok/s before → 1167 tok/s
//! (avx512-vnni); stories110M shape 43 → 100 tok/s.
//!
//! # Batches (prefill): tokens in the lanes
//!
//! From [`TOKENS_MIN`] tokens on, [`AVX512_VNNI`] switches to `q8_tokens`: the 16 lanes of a
//! vector hold 16 tokens (the activations of a block of up to 32 tokens are transposed once
//! per 1024-code chunk, shared by every row), each 4-code step of a weight row is broadcast
//! against them, and each group's `vpdpbusd` accumulator starts at that token's `-128·Σx`.
//! So a lane holds the exact `isum` of (row, token, group) without any horizontal
//! reduction, weights are read once per 32 tokens in the file's own row-major order, and
//! the float part is the scalar order lane by lane. stories15M shape, 128-token prompt,
//! 1 thread (`tinygpt bench`, 2026-11-29, shared machine): prefill 3.6k tok/s with the
//! row-block kernel → 5.5k with this one (then 6.9k with the attention changes).
//!
//! So each tier is wired in where it wins: [`AVX_VNNI`] ties [`AVX2`] for one token and
//! matches or beats it for batches, with 2 instead of 4–5 instructions per 32 codes; the 512-bit
//! [`AVX512_VNNI`] wins everywhere (the 256-bit EVEX form of its step, used for odd group
//! counts and gs 96/160…, is the same instruction as AVX-VNNI's). The f32 product stays the
//! AVX2 one in every tier.

use super::{scalar, Kernels, QActs, QRows, Tier};
use core::arch::x86_64::*;

/// The AVX2 kernel set.
pub static AVX2: Kernels = Kernels {
    name: "avx2",
    matmul_q8: matmul_q8_avx2,
    matmul_f32: matmul_f32_avx2,
    quantize: quantize_avx2,
    attend: attend_avx2,
    layout: super::Layout::RowMajor,
};

/// AVX-VNNI (256-bit `vpdpbusd`, VEX encoded): replaces the int8 product of [`AVX2`].
pub static AVX_VNNI: Kernels = Kernels {
    name: "avx-vnni",
    matmul_q8: matmul_q8_avxvnni,
    matmul_f32: matmul_f32_avx2,
    quantize: quantize_avx2,
    attend: attend_avx2,
    layout: super::Layout::RowMajor,
};

/// AVX-512 VNNI (`vpdpbusd` on 512-bit vectors, two groups of 32 per load): replaces the int8
/// product of [`AVX2`].
pub static AVX512_VNNI: Kernels = Kernels {
    name: "avx512-vnni",
    matmul_q8: matmul_q8_avx512vnni,
    matmul_f32: matmul_f32_avx2,
    quantize: quantize_avx2,
    attend: attend_avx2,
    layout: super::Layout::RowMajor,
};

// ---- feature detection ----------------------------------------------------------------------

/// Whether this CPU runs the [`AVX2`] kernels (run-time check with `std`, compile-time without).
#[inline]
pub fn avx2_available() -> bool {
    #[cfg(feature = "std")]
    {
        std::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(feature = "std"))]
    {
        cfg!(target_feature = "avx2")
    }
}

/// Whether this CPU runs the [`AVX_VNNI`] kernels.
#[inline]
pub fn avxvnni_available() -> bool {
    #[cfg(feature = "std")]
    {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("avxvnni")
    }
    #[cfg(not(feature = "std"))]
    {
        cfg!(all(target_feature = "avx2", target_feature = "avxvnni"))
    }
}

/// Whether this CPU runs the [`AVX512_VNNI`] kernels.
#[inline]
pub fn avx512vnni_available() -> bool {
    #[cfg(feature = "std")]
    {
        std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vl")
            && std::is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(not(feature = "std"))]
    {
        cfg!(all(
            target_feature = "avx2",
            target_feature = "avx512f",
            target_feature = "avx512bw",
            target_feature = "avx512vl",
            target_feature = "avx512vnni"
        ))
    }
}

/// Every x86_64 kernel set with its availability check, lowest tier first.
pub const TIERS: [Tier; 3] =
    [(&AVX2, avx2_available), (&AVX_VNNI, avxvnni_available), (&AVX512_VNNI, avx512vnni_available)];

/// The best x86_64 kernel set this CPU runs, if any.
pub fn best() -> Option<&'static Kernels> {
    if avx512vnni_available() {
        Some(&AVX512_VNNI)
    } else if avxvnni_available() {
        Some(&AVX_VNNI)
    } else if avx2_available() {
        Some(&AVX2)
    } else {
        None
    }
}

// ---- int8 product: shared driver ------------------------------------------------------------

/// Checks every bound the raw-pointer kernels rely on; returns the number of groups.
/// Panics (like the scalar kernel's slice indexing would) on inconsistent shapes.
fn check_q8(w: &QRows<'_>, x: &QActs<'_>, out: &[f32]) -> usize {
    assert!(w.gs > 0 && w.stride.is_multiple_of(w.gs), "stride must be a whole number of groups");
    let groups = w.stride / w.gs;
    assert!(w.q.len() >= w.rows * w.stride && w.s.len() >= w.rows * groups, "weights too short");
    assert!(x.q.len() >= x.n * w.stride && x.s.len() >= x.n * groups, "activations too short");
    assert!(out.len() >= x.n * w.rows, "output too short");
    // the scale gather indexes a row block with i32 offsets `i * groups`, i < 8
    assert!(groups <= (i32::MAX / 8) as usize, "too many groups");
    groups
}

/// How one tier turns 32 weight codes and 32 activation codes into eight i32 partial sums.
///
/// The methods are `#[inline(always)]` and only ever inlined into a `#[target_feature]`
/// entry point that enables what the implementation needs (memchr's pattern).
trait Dot32 {
    /// The accumulator a group starts from, given the group's activation blocks
    /// (`blocks` blocks of 32 codes at `x`).
    ///
    /// # Safety
    /// The CPU runs the tier's features; `x..x + 32 * blocks` is readable.
    unsafe fn group_start(x: *const i8, blocks: usize) -> __m256i;
    /// `acc` plus the partial sums of `w · x` (32 codes each).
    ///
    /// # Safety
    /// The CPU runs the tier's features.
    unsafe fn step(acc: __m256i, w: __m256i, x: __m256i) -> __m256i;
}

struct Avx2Dot;
impl Dot32 for Avx2Dot {
    #[inline(always)]
    unsafe fn group_start(_x: *const i8, _blocks: usize) -> __m256i {
        // SAFETY: AVX is available (caller's contract).
        unsafe { _mm256_setzero_si256() }
    }
    #[inline(always)]
    unsafe fn step(acc: __m256i, w: __m256i, x: __m256i) -> __m256i {
        // SAFETY: AVX2 is available (caller's contract). Exactness: see the module docs
        // (|w| ≤ 128 as u8 times x·sign(w) in [-127, 127]: pair sums ≤ 32512, no saturation).
        unsafe {
            let p16 = _mm256_maddubs_epi16(_mm256_abs_epi8(w), _mm256_sign_epi8(x, w));
            _mm256_add_epi32(acc, _mm256_madd_epi16(p16, _mm256_set1_epi16(1)))
        }
    }
}

struct VnniDot;
impl Dot32 for VnniDot {
    #[inline(always)]
    unsafe fn group_start(x: *const i8, blocks: usize) -> __m256i {
        // SAFETY: AVX2 and AVX-VNNI are available and `x..x + 32 * blocks` is readable
        // (caller's contract); loadu has no alignment requirement.
        unsafe {
            let bias = _mm256_set1_epi8(-128); // the byte 0x80 = 128 as u8
            let mut c = _mm256_setzero_si256();
            for b in 0..blocks {
                c = _mm256_dpbusd_avx_epi32(c, bias, _mm256_loadu_si256(x.add(32 * b).cast()));
            }
            _mm256_sub_epi32(_mm256_setzero_si256(), c) // -128·Σx, per lane
        }
    }
    #[inline(always)]
    unsafe fn step(acc: __m256i, w: __m256i, x: __m256i) -> __m256i {
        // SAFETY: AVX2 and AVX-VNNI are available (caller's contract). `w ^ 0x80` read as u8
        // is `w + 128` in [0, 255]; the i32 sums are exact (module docs).
        unsafe { _mm256_dpbusd_avx_epi32(acc, _mm256_xor_si256(w, _mm256_set1_epi8(-128)), x) }
    }
}

/// Lane `i` of the result is the sum of the eight lanes of `a[i]`.
///
/// # Safety
/// AVX2 must be available.
#[inline(always)]
unsafe fn reduce8(a: &[__m256i; 8]) -> __m256i {
    // SAFETY: AVX2 is available (caller's contract).
    unsafe {
        // hadd works within 128-bit halves: after two rounds, h0123 holds rows 0..4's sums
        // of lanes 0..4 in its low half and of lanes 4..8 in its high half.
        let h01 = _mm256_hadd_epi32(a[0], a[1]);
        let h23 = _mm256_hadd_epi32(a[2], a[3]);
        let h45 = _mm256_hadd_epi32(a[4], a[5]);
        let h67 = _mm256_hadd_epi32(a[6], a[7]);
        let h0123 = _mm256_hadd_epi32(h01, h23);
        let h4567 = _mm256_hadd_epi32(h45, h67);
        let lo = _mm256_permute2x128_si256::<0x20>(h0123, h4567);
        let hi = _mm256_permute2x128_si256::<0x31>(h0123, h4567);
        _mm256_add_epi32(lo, hi)
    }
}

/// Sum of the eight i32 lanes.
///
/// # Safety
/// AVX2 must be available.
#[inline(always)]
unsafe fn hsum_i32(v: __m256i) -> i32 {
    // SAFETY: AVX2 is available (caller's contract).
    unsafe {
        let s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
        let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b01_00_11_10>(s));
        let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s));
        _mm_cvtsi128_si32(s)
    }
}

/// How far ahead (bytes of weight codes) the int8 kernels prefetch while streaming a matrix
/// for the first token of a batch.
/// How far ahead, in bytes of weight codes, the int8 kernels prefetch while streaming a
/// matrix (first token of a batch only; later tokens find the row block in L1). Measured
/// 2026-11-28 on the 2-core Xeon, stories110M decode (thread CPU time, best of 7 × 128 tokens,
/// noisy ±10%): 4 KiB 72–81, 8 KiB 72–77, 16 KiB 71–79, 32 KiB 65–77 tok/s; 8 KiB is in the
/// flat middle. Without look-ahead (distance 0) the 110M head (32000×768, from DRAM) streamed
/// at 5.8–7.0 GB/s in `benches/kernels.rs`, with 8 KiB at 10.6–14.3 GB/s; the 15M head (from
/// L3) went from 16.7–18.1 to 22.5–25.0 GB/s.
const PF_DIST: usize = 8192;

/// Prefetching for one matrix: while a row block is computed, the block `blocks_ahead` blocks
/// further down gets the same accesses as hints, step by step, so that it is in L1 by the
/// time it is computed.
#[derive(Clone, Copy)]
struct Prefetch {
    /// Bytes from a block's first code to the target block's first code.
    codes: usize,
    /// Scales from a block's first scale to the target block's first scale.
    scales: usize,
    stride: usize,
    groups: usize,
}

impl Prefetch {
    fn new(stride: usize, groups: usize) -> Self {
        let block = 8 * stride;
        let k = PF_DIST.div_ceil(block.max(1)).max(1);
        Prefetch { codes: k * block, scales: k * 8 * groups, stride, groups }
    }

    /// Hints for the step that reads codes `off..off + 64` (or a 32-code half: call with
    /// the lower offset only when `off % 64 == 0`, or always; hints are cheap) of the block's
    /// 8 rows, and the scales of group `g` when `g % 16 == 0`.
    ///
    /// # Safety
    /// SSE must be available (always true on x86_64). The addresses are hints only:
    /// computed with `wrapping_add`, never dereferenced, and they may point past the matrix.
    #[inline(always)]
    unsafe fn step(&self, wb: *const i8, sb: *const f32, off: usize, g: usize) {
        // SAFETY: SSE is part of x86_64; prefetch never faults, whatever the address.
        unsafe {
            let p = wb.wrapping_add(self.codes + off);
            for i in 0..8 {
                _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(i * self.stride));
            }
            if g.is_multiple_of(16) {
                let q = sb.wrapping_add(self.scales + g).cast::<i8>();
                for i in 0..8 {
                    _mm_prefetch::<_MM_HINT_T0>(q.wrapping_add(4 * i * self.groups));
                }
            }
        }
    }
}

/// The 256-bit int8 product, 8 rows at a time, for `gs` a multiple of 32.
///
/// # Safety
/// The CPU runs AVX2 and whatever `D` needs; the shapes passed [`check_q8`] (which returned
/// `groups`), and `w.gs % 32 == 0`.
#[inline(always)]
unsafe fn q8_256<D: Dot32>(w: &QRows<'_>, x: &QActs<'_>, out: &mut [f32], groups: usize) {
    let (gs, stride, rows) = (w.gs, w.stride, w.rows);
    let blocks = gs / 32;
    let rows8 = rows - rows % 8;
    let (wq, ws, xq, xs, o) = (w.q.as_ptr(), w.s.as_ptr(), x.q.as_ptr(), x.s.as_ptr(), out.as_mut_ptr());
    // SAFETY: (whole body) every pointer below stays inside the slices whose lengths
    // check_q8 asserted: rows `r < rows` of `stride` codes and `groups` scales, tokens
    // `t < x.n` likewise, outputs `t * rows + r`. Offsets within a row are `g * gs + 32 * b + 32
    // <= stride`. The CPU features are the caller's contract.
    unsafe {
        let pf = Prefetch::new(stride, groups);
        let g = groups as i32;
        let gather_idx = _mm256_setr_epi32(0, g, 2 * g, 3 * g, 4 * g, 5 * g, 6 * g, 7 * g);
        let mut r0 = 0;
        while r0 < rows8 {
            let wb = wq.add(r0 * stride);
            let sb = ws.add(r0 * groups);
            for t in 0..x.n {
                let xt = xq.add(t * stride);
                let st = xs.add(t * groups);
                let mut acc = _mm256_setzero_ps();
                for g in 0..groups {
                    let xg = xt.add(g * gs);
                    let start = D::group_start(xg, blocks);
                    let mut a = [start; 8];
                    for b in 0..blocks {
                        let off = g * gs + 32 * b;
                        if t == 0 && off % 64 == 0 {
                            pf.step(wb, sb, off, g);
                        }
                        let xv = _mm256_loadu_si256(xg.add(32 * b).cast());
                        let wg = wb.add(g * gs + 32 * b);
                        for (i, a) in a.iter_mut().enumerate() {
                            *a = D::step(*a, _mm256_loadu_si256(wg.add(i * stride).cast()), xv);
                        }
                    }
                    let isum = reduce8(&a);
                    // ws[r0 + i, g] for i < 8: in bounds since r0 + 8 <= rows
                    let wsc = _mm256_i32gather_ps::<4>(sb.add(g), gather_idx);
                    let sc = _mm256_mul_ps(wsc, _mm256_set1_ps(*st.add(g)));
                    acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_cvtepi32_ps(isum), sc));
                }
                _mm256_storeu_ps(o.add(t * rows + r0), acc);
            }
            r0 += 8;
        }
        q8_tail::<D>(w, x, out, rows8, groups);
    }
}

/// Rows `from..w.rows`, one at a time (the rows after the last whole block of 8), in the
/// scalar float order.
///
/// # Safety
/// As [`q8_256`].
#[inline(always)]
unsafe fn q8_tail<D: Dot32>(w: &QRows<'_>, x: &QActs<'_>, out: &mut [f32], from: usize, groups: usize) {
    let (gs, stride, rows) = (w.gs, w.stride, w.rows);
    let blocks = gs / 32;
    let (wq, ws, xq, xs, o) = (w.q.as_ptr(), w.s.as_ptr(), x.q.as_ptr(), x.s.as_ptr(), out.as_mut_ptr());
    // SAFETY: bounds as in q8_256 (check_q8's asserts); features are the caller's contract.
    unsafe {
        for r in from..rows {
            let wr = wq.add(r * stride);
            for t in 0..x.n {
                let xt = xq.add(t * stride);
                let mut acc = 0.0f32;
                for g in 0..groups {
                    let xg = xt.add(g * gs);
                    let mut a = D::group_start(xg, blocks);
                    for b in 0..blocks {
                        let xv = _mm256_loadu_si256(xg.add(32 * b).cast());
                        a = D::step(a, _mm256_loadu_si256(wr.add(g * gs + 32 * b).cast()), xv);
                    }
                    acc += hsum_i32(a) as f32 * (*ws.add(r * groups + g) * *xs.add(t * groups + g));
                }
                *o.add(t * rows + r) = acc;
            }
        }
    }
}

// ---- int8 product: entry points -------------------------------------------------------------

fn matmul_q8_avx2(w: &QRows<'_>, x: &QActs<'_>, out: &mut [f32]) {
    // the interleaved layout is the wasm32 kernels' (`super::Interleave`); here the oracle
    // reads it
    if w.il || !w.gs.is_multiple_of(32) || !avx2_available() {
        return scalar::matmul_q8(w, x, out);
    }
    let groups = check_q8(w, x, out);
    // SAFETY: AVX2 is available (checked above), check_q8 passed, gs % 32 == 0.
    unsafe { q8_avx2(w, x, out, groups) }
}

/// # Safety
/// As [`q8_256`] with AVX2.
#[target_feature(enable = "avx2")]
unsafe fn q8_avx2(w: &QRows<'_>, x: &QActs<'_>, out: &mut [f32], groups: usize) {
    // SAFETY: forwarded contract; this function enables AVX2, all Avx2Dot needs.
    unsafe { q8_256::<Avx2Dot>(w, x, out, groups) }
}

fn matmul_q8_avxvnni(w: &QRows<'_>, x: &QActs<'_>, out: &mut [f32]) {
    if w.il || !w.gs.is_multiple_of(32) || !avxvnni_available() {
        return matmul_q8_avx2(w, x, out);
    }
    let groups = check_q8(w, x, out);
    // SAFETY: AVX2 and AVX-VNNI are available (checked above), check_q8 passed, gs % 32 == 0.
    unsafe { q8_avxvnni(w, x, out, groups) }
}

/// # Safety
/// As [`q8_256`] with AVX2 and AVX-VNNI.
#[target_feature(enable = "avx2,avxvnni")]
unsafe fn q8_avxvnni(w: &QRows<'_>, x: &QActs<'_>, out: &mut [f32], groups: usize) {
    // SAFETY: forwarded contract; this function enables AVX2 and AVX-VNNI, all VnniDot needs.
    unsafe { q8_256::<VnniDot>(w, x, out, groups) }
}

fn matmul_q8_avx512vnni(w: &QRows<'_>, x: &QActs<'_>, out: &mut [f32]) {
    if !w.il && x.n >= TOKENS_MIN && w.gs.is_multiple_of(4) && avx512vnni_available() {
        let groups = check_q8(w, x, out);
        // SAFETY: the AVX-512 features are available (checked above), check_q8 passed,
        // gs % 4 == 0.
        return unsafe { q8_tokens_avx512vnni(w, x, out, groups) };
    }
    if w.il || !w.gs.is_multiple_of(32) || !avx512vnni_available() {
        return matmul_q8_avxvnni(w, x, out);
    }
    let groups = check_q8(w, x, out);
    // SAFETY: the AVX-512 features are available (checked above), check_q8 passed,
    // gs % 32 == 0.
    unsafe { q8_avx512vnni(w, x, out, groups) }
}

/// # Safety
/// As [`q8_256`] with AVX2, AVX-512 F/BW/VL and AVX-512 VNNI.
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn q8_avx512vnni(w: &QRows<'_>, x: &QActs<'_>, out: &mut [f32], groups: usize) {
    // SAFETY: forwarded contract; this function enables every feature q8_512 and
    // Vnni512Dot use.
    unsafe {
        if w.gs == 32 || w.gs.is_multiple_of(64) {
            q8_512(w, x, out, groups)
        } else {
            q8_256::<Vnni512Dot>(w, x, out, groups)
        }
    }
}

/// `-128·Σx` per lane for 64 activation codes (the VNNI bias correction, 512-bit).
///
/// # Safety
/// AVX-512 F + VNNI must be available.
#[inline(always)]
unsafe fn neg_bias_512(xv: __m512i) -> __m512i {
    // SAFETY: the features are the caller's contract.
    unsafe {
        let c = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(-128), xv);
        _mm512_sub_epi32(_mm512_setzero_si512(), c)
    }
}

/// Transposing reduction of eight 16-lane vectors, one per row, whose lanes 0..8 belong to
/// one block of 32 codes ("A") and lanes 8..16 to the next ("B"). Returns
/// `(A sums of rows 0..8, B sums of rows 0..8)`.
///
/// # Safety
/// AVX-512 F must be available.
#[inline(always)]
unsafe fn reduce8x2(a: &[__m512i; 8]) -> (__m256i, __m256i) {
    // SAFETY: the features are the caller's contract.
    unsafe {
        // within each 128-bit lane: pairs of rows, then quads of rows
        let pair = |x: __m512i, y: __m512i| _mm512_add_epi32(_mm512_unpacklo_epi32(x, y), _mm512_unpackhi_epi32(x, y));
        let (s01, s23, s45, s67) = (pair(a[0], a[1]), pair(a[2], a[3]), pair(a[4], a[5]), pair(a[6], a[7]));
        let quad = |x: __m512i, y: __m512i| _mm512_add_epi32(_mm512_unpacklo_epi64(x, y), _mm512_unpackhi_epi64(x, y));
        // q0123's 128-bit lanes: rows 0..4 summed over lanes 0..4, 4..8 (A), 8..12, 12..16 (B)
        let (q0123, q4567) = (quad(s01, s23), quad(s45, s67));
        let p = _mm512_shuffle_i32x4::<0b10_00_10_00>(q0123, q4567); // L0, L2 of each
        let q = _mm512_shuffle_i32x4::<0b11_01_11_01>(q0123, q4567); // L1, L3 of each
        let r = _mm512_add_epi32(p, q); // [A r0-3, B r0-3, A r4-7, B r4-7]
        let r = _mm512_shuffle_i32x4::<0b11_01_10_00>(r, r); // [A r0-3, A r4-7, B r0-3, B r4-7]
        (_mm512_castsi512_si256(r), _mm512_extracti64x4_epi64::<1>(r))
    }
}

/// The 512-bit int8 product (AVX-512 VNNI), 8 rows at a time: for `gs == 32` one load covers
/// two groups (an odd last group goes through the 256-bit step); for `gs % 64 == 0` a group
/// is `gs / 64` loads. Same float order as the scalar kernel.
///
/// # Safety
/// The CPU runs AVX2, AVX-512 F/BW/VL/VNNI; the shapes passed [`check_q8`] (which returned
/// `groups`); `w.gs == 32 || w.gs % 64 == 0`.
#[inline(always)]
unsafe fn q8_512(w: &QRows<'_>, x: &QActs<'_>, out: &mut [f32], groups: usize) {
    let (gs, stride, rows) = (w.gs, w.stride, w.rows);
    let rows8 = rows - rows % 8;
    let (wq, ws, xq, xs, o) = (w.q.as_ptr(), w.s.as_ptr(), x.q.as_ptr(), x.s.as_ptr(), out.as_mut_ptr());
    // SAFETY: (whole body) as in q8_256, every pointer stays inside the slices whose
    // lengths check_q8 asserted (rows r < rows of `stride` codes and `groups` scales, tokens
    // t < x.n likewise, outputs t * rows + r). 64-byte loads read offsets off..off + 64 with
    // off + 64 <= stride: gs == 32 reads groups g, g + 1 < groups; gs % 64 == 0 reads inside
    // group g. The CPU features are the caller's contract.
    unsafe {
        let pf = Prefetch::new(stride, groups);
        let g32 = groups as i32;
        let gather_idx = _mm256_setr_epi32(0, g32, 2 * g32, 3 * g32, 4 * g32, 5 * g32, 6 * g32, 7 * g32);
        let bias = _mm512_set1_epi8(-128);
        let mut r0 = 0;
        while r0 < rows8 {
            let wb = wq.add(r0 * stride);
            let sb = ws.add(r0 * groups);
            // ws[r0 + i, g] * xs[t, g] for i < 8 (in bounds: r0 + 8 <= rows, g < groups)
            let scales = |st: *const f32, g: usize| {
                _mm256_mul_ps(_mm256_i32gather_ps::<4>(sb.add(g), gather_idx), _mm256_set1_ps(*st.add(g)))
            };
            for t in 0..x.n {
                let xt = xq.add(t * stride);
                let st = xs.add(t * groups);
                let mut acc = _mm256_setzero_ps();
                if gs == 32 {
                    let mut g = 0;
                    while g + 2 <= groups {
                        let off = g * 32;
                        if t == 0 {
                            pf.step(wb, sb, off, g);
                        }
                        let xv = _mm512_loadu_si512(xt.add(off).cast());
                        let mut a = [neg_bias_512(xv); 8];
                        for (i, a) in a.iter_mut().enumerate() {
                            let wv = _mm512_loadu_si512(wb.add(i * stride + off).cast());
                            *a = _mm512_dpbusd_epi32(*a, _mm512_xor_si512(wv, bias), xv);
                        }
                        // lanes 0..8 hold group g, lanes 8..16 group g + 1: add g first
                        let (ia, ib) = reduce8x2(&a);
                        acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_cvtepi32_ps(ia), scales(st, g)));
                        acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_cvtepi32_ps(ib), scales(st, g + 1)));
                        g += 2;
                    }
                    if g < groups {
                        // an odd number of groups: the last one with 256-bit vectors
                        let off = g * 32;
                        if t == 0 && off % 64 == 0 {
                            pf.step(wb, sb, off, g);
                        }
                        let xg = xt.add(off);
                        let xv = _mm256_loadu_si256(xg.cast());
                        let mut a = [Vnni512Dot::group_start(xg, 1); 8];
                        for (i, a) in a.iter_mut().enumerate() {
                            *a = Vnni512Dot::step(*a, _mm256_loadu_si256(wb.add(i * stride + off).cast()), xv);
                        }
                        let isum = reduce8(&a);
                        acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_cvtepi32_ps(isum), scales(st, g)));
                    }
                } else {
                    for g in 0..groups {
                        let base = g * gs;
                        let mut start = _mm512_setzero_si512();
                        let mut off = base;
                        while off < base + gs {
                            start = _mm512_add_epi32(start, neg_bias_512(_mm512_loadu_si512(xt.add(off).cast())));
                            off += 64;
                        }
                        let mut a = [start; 8];
                        let mut off = base;
                        while off < base + gs {
                            if t == 0 {
                                pf.step(wb, sb, off, g);
                            }
                            let xv = _mm512_loadu_si512(xt.add(off).cast());
                            for (i, a) in a.iter_mut().enumerate() {
                                let wv = _mm512_loadu_si512(wb.add(i * stride + off).cast());
                                *a = _mm512_dpbusd_epi32(*a, _mm512_xor_si512(wv, bias), xv);
                            }
                            off += 64;
                        }
                        // both halves of every 64-code load belong to group g
                        let (ia, ib) = reduce8x2(&a);
                        let isum = _mm256_add_epi32(ia, ib);
                        acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_cvtepi32_ps(isum), scales(st, g)));
                    }
                }
                _mm256_storeu_ps(o.add(t * rows + r0), acc);
            }
            r0 += 8;
        }
        q8_tail::<Vnni512Dot>(w, x, out, rows8, groups);
    }
}

// ---- int8 product for a batch of tokens (prefill): tokens in lanes --------------------------

/// From this many tokens on, [`AVX512_VNNI`] uses [`q8_tokens`] instead of the row-block
/// kernel.
pub const TOKENS_MIN: usize = 8;
/// Tokens per pass of [`q8_tokens`]: two 16-lane vectors.
const TOK_BLOCK: usize = 32;
/// Weight codes per K chunk of [`q8_tokens`] (rounded down to whole groups, at least one).
const K_CHUNK: usize = 1024;
/// Most groups in a K chunk (smaller groups make shorter chunks: the block is zeroed per
/// call, so it is kept small).
const K_CHUNK_GROUPS: usize = 64;

/// The activations of up to [`TOK_BLOCK`] tokens for one K chunk, transposed so that a
/// vector load gives 16 tokens' codes at the same 4-code step (`q[step][token]`, 4 codes per
/// `u32`), with each group's `-128·Σx` and activation scale per token.
#[repr(C, align(64))]
struct TokBlock {
    q: [[u32; TOK_BLOCK]; K_CHUNK / 4],
    nbias: [[i32; TOK_BLOCK]; K_CHUNK_GROUPS],
    scale: [[f32; TOK_BLOCK]; K_CHUNK_GROUPS],
}

/// The int8 product with the tokens in the vector lanes (AVX-512 VNNI), for batches: each
/// weight row is read once, sequentially, straight from the file's layout, and its 4-code
/// steps are broadcast against 16 or 32 tokens' codes (transposed once per K chunk into
/// [`TokBlock`], shared by every row). `vpdpbusd(acc, w ^ 0x80, x)` gives `Σ (w + 128)·x`
/// per lane, and each group's accumulator starts at `-128·Σx` of that token and group, so a
/// lane holds the exact `isum` of (row, token, group) with no horizontal reduction. Then
/// `acc += isum as f32 * (ws[r, g] * xs[t, g])` lane by lane, groups ascending: the scalar
/// order. Four rows share each activation load. Across K chunks the running sums wait in
/// `out` (exact: a store and a load).
///
/// # Safety
/// The CPU runs AVX2, AVX-512 F/BW/VL/VNNI; the shapes passed [`check_q8`] (which returned
/// `groups`); `w.gs % 4 == 0`.
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn q8_tokens_avx512vnni(w: &QRows<'_>, x: &QActs<'_>, out: &mut [f32], groups: usize) {
    let gs = w.gs;
    let cg = (K_CHUNK / gs).clamp(1, K_CHUNK_GROUPS); // groups per chunk
    // not zeroed (48 KiB, which for small matrices cost as much as the product):
    // `transpose_tokens` writes every entry `q8_tokens` then reads
    let mut tb = core::mem::MaybeUninit::<TokBlock>::uninit();
    let tb = tb.as_mut_ptr();
    let mut t0 = 0;
    while t0 < x.n {
        let nt = (x.n - t0).min(TOK_BLOCK);
        let mut g0 = 0;
        while g0 < groups {
            let ng = cg.min(groups - g0);
            if gs * ng > K_CHUNK {
                // a single group wider than the chunk buffer (gs > 1024): not in any valid
                // file; the row-block kernels take it
                // SAFETY: forwarded contract (features, check_q8).
                return unsafe { q8_avx512vnni_rows(w, x, out, groups) };
            }
            // SAFETY: `tb` points to a TokBlock-sized, aligned local; the features are this
            // function's contract; the block covers tokens t0..t0 + nt <= x.n and groups
            // g0..g0 + ng <= groups (ng·gs <= K_CHUNK), as q8_tokens requires, and
            // transpose_tokens has just written the entries q8_tokens reads.
            unsafe {
                transpose_tokens(w, x, t0, nt, g0, ng, tb);
                if nt > 16 {
                    q8_tokens::<2>(w, out, tb, t0, nt, g0, ng);
                } else {
                    q8_tokens::<1>(w, out, tb, t0, nt, g0, ng);
                }
            }
            g0 += ng;
        }
        t0 += nt;
    }
}

/// The row-block kernels for what [`q8_tokens_avx512vnni`] does not take.
///
/// # Safety
/// As [`q8_tokens_avx512vnni`].
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn q8_avx512vnni_rows(w: &QRows<'_>, x: &QActs<'_>, out: &mut [f32], groups: usize) {
    // SAFETY: forwarded contract.
    unsafe {
        if w.gs.is_multiple_of(32) {
            q8_avx512vnni(w, x, out, groups)
        } else {
            matmul_q8_avxvnni(w, x, out)
        }
    }
}

/// Fills `tb` for tokens `t0..t0 + nt` and groups `g0..g0 + ng` (codes `g0·gs..(g0+ng)·gs`):
/// rows `q[..ng·gs/4]`, `nbias[..ng]` and `scale[..ng]`, every lane, through raw pointers (the
/// block may be uninitialized); lanes of tokens past `nt` are zero (codes, bias and scale), so
/// they compute zeros that are never stored.
///
/// # Safety
/// `tb` points to a writable `TokBlock`; `ng·gs <= K_CHUNK`, `ng <= K_CHUNK_GROUPS`.
#[allow(clippy::indexing_slicing, reason = "kernel contract: callers pass slices of the documented lengths, derived from a validated Config (never from input values); a mismatch is a caller bug")]
unsafe fn transpose_tokens(w: &QRows<'_>, x: &QActs<'_>, t0: usize, nt: usize, g0: usize, ng: usize, tb: *mut TokBlock) {
    // SAFETY: (whole body) the array places below are projections of `*tb` (no reference
    // to the possibly uninitialized block is made), indexed within its bounds (caller's
    // contract); the writes need no initialized memory.
    unsafe {
        let (gs, stride) = (w.gs, w.stride);
        let groups = stride / gs;
        let steps = ng * gs / 4;
        let c0 = g0 * gs;
        for j in 0..TOK_BLOCK {
            if j < nt {
                let t = t0 + j;
                let xt = &x.q[t * stride + c0..t * stride + c0 + ng * gs];
                for (s, c) in xt.chunks_exact(4).enumerate() {
                    (*tb).q[s][j] = u32::from_le_bytes([c[0] as u8, c[1] as u8, c[2] as u8, c[3] as u8]);
                }
                for g in 0..ng {
                    let sum: i32 = xt[g * gs..(g + 1) * gs].iter().map(|&v| v as i32).sum();
                    (*tb).nbias[g][j] = -128 * sum;
                    (*tb).scale[g][j] = x.s[t * groups + g0 + g];
                }
            } else {
                for s in 0..steps {
                    (*tb).q[s][j] = 0;
                }
                for g in 0..ng {
                    (*tb).nbias[g][j] = 0;
                    (*tb).scale[g][j] = 0.0;
                }
            }
        }
    }
}

/// One K chunk of [`q8_tokens_avx512vnni`] for `V` vectors of 16 tokens: every row, four at
/// a time (then one at a time), against the transposed block.
///
/// # Safety
/// AVX-512 F/BW/VL/VNNI available; `w` and `out` passed [`check_q8`] with `n` tokens;
/// `tb` filled by [`transpose_tokens`] for tokens `t0..t0 + nt` (`nt <= 16·V`, `t0 + nt <= n`)
/// and groups `g0..g0 + ng` of `w` (`(g0 + ng)·gs <= stride`, `ng·gs <= K_CHUNK`).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
#[allow(clippy::indexing_slicing, reason = "g < ng <= K_CHUNK_GROUPS indexes the token block (see the SAFETY note)")]
unsafe fn q8_tokens<const V: usize>(
    w: &QRows<'_>,
    out: &mut [f32],
    tb: *const TokBlock,
    t0: usize,
    nt: usize,
    g0: usize,
    ng: usize,
) {
    let (gs, stride, rows) = (w.gs, w.stride, w.rows);
    let groups = stride / gs;
    let rows4 = rows - rows % 4;
    let steps_g = gs / 4;
    // SAFETY: (whole body) row r < rows reads codes r·stride + g0·gs + 4·s + 0..4 for
    // s < ng·gs/4, inside row r (g0·gs + ng·gs <= stride), and scales r·groups + g0 + g;
    // `tb` is indexed by s < K_CHUNK/4, g < ng <= K_CHUNK_GROUPS and lane v·16 + 0..16 <
    // TOK_BLOCK; outputs (t0 + j)·rows + r for j < nt are inside `out` (t0 + nt <= n).
    unsafe {
        let lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        // token j of vector v is at out[(t0 + 16v + j)·rows + r]
        let idx = _mm512_mullo_epi32(lanes, _mm512_set1_epi32(rows as i32));
        let mask = |v: usize| -> __mmask16 {
            let left = nt.saturating_sub(16 * v).min(16);
            ((1u32 << left) - 1) as __mmask16
        };
        let bias = _mm512_set1_epi32(0x8080_8080u32 as i32);
        let first = g0 == 0;
        let o = out.as_mut_ptr();
        let (wq, ws) = (w.q.as_ptr(), w.s.as_ptr());
        let tq = core::ptr::addr_of!((*tb).q).cast::<i32>();
        let load_acc = |r: usize, v: usize| -> __m512 {
            if first {
                _mm512_setzero_ps()
            } else {
                let base = o.add((t0 + 16 * v) * rows + r);
                _mm512_mask_i32gather_ps::<4>(_mm512_setzero_ps(), mask(v), idx, base.cast())
            }
        };
        let store_acc = |r: usize, v: usize, a: __m512| {
            let base = o.add((t0 + 16 * v) * rows + r);
            _mm512_mask_i32scatter_ps::<4>(base.cast(), mask(v), idx, a);
        };
        let mut r = 0;
        while r < rows4 {
            let wr = [0, 1, 2, 3].map(|i| wq.add((r + i) * stride + g0 * gs));
            let mut acc = [[_mm512_setzero_ps(); V]; 4];
            for (i, a) in acc.iter_mut().enumerate() {
                for (v, a) in a.iter_mut().enumerate() {
                    *a = load_acc(r + i, v);
                }
            }
            for g in 0..ng {
                let mut ia = [[_mm512_setzero_si512(); V]; 4];
                for v in 0..V {
                    let nb = _mm512_load_si512(core::ptr::addr_of!((*tb).nbias[g]).cast::<i32>().add(16 * v).cast());
                    for a in &mut ia {
                        a[v] = nb;
                    }
                }
                for s in g * steps_g..(g + 1) * steps_g {
                    let mut xv = [_mm512_setzero_si512(); V];
                    for (v, xv) in xv.iter_mut().enumerate() {
                        *xv = _mm512_load_si512(tq.add(s * TOK_BLOCK + 16 * v).cast());
                    }
                    for i in 0..4 {
                        let wv = _mm512_xor_si512(_mm512_set1_epi32(wr[i].add(4 * s).cast::<i32>().read_unaligned()), bias);
                        for v in 0..V {
                            ia[i][v] = _mm512_dpbusd_epi32(ia[i][v], wv, xv[v]);
                        }
                    }
                }
                for i in 0..4 {
                    let wsc = _mm512_set1_ps(*ws.add((r + i) * groups + g0 + g));
                    for v in 0..V {
                        let sc = _mm512_mul_ps(wsc, _mm512_load_ps(core::ptr::addr_of!((*tb).scale[g]).cast::<f32>().add(16 * v)));
                        acc[i][v] = _mm512_add_ps(acc[i][v], _mm512_mul_ps(_mm512_cvtepi32_ps(ia[i][v]), sc));
                    }
                }
            }
            for (i, a) in acc.iter().enumerate() {
                for (v, &a) in a.iter().enumerate() {
                    store_acc(r + i, v, a);
                }
            }
            r += 4;
        }
        while r < rows {
            let wr = wq.add(r * stride + g0 * gs);
            let mut acc = [_mm512_setzero_ps(); V];
            for (v, a) in acc.iter_mut().enumerate() {
                *a = load_acc(r, v);
            }
            for g in 0..ng {
                let mut ia = [_mm512_setzero_si512(); V];
                for (v, a) in ia.iter_mut().enumerate() {
                    *a = _mm512_load_si512(core::ptr::addr_of!((*tb).nbias[g]).cast::<i32>().add(16 * v).cast());
                }
                for s in g * steps_g..(g + 1) * steps_g {
                    let wv = _mm512_xor_si512(_mm512_set1_epi32(wr.add(4 * s).cast::<i32>().read_unaligned()), bias);
                    for (v, a) in ia.iter_mut().enumerate() {
                        *a = _mm512_dpbusd_epi32(*a, wv, _mm512_load_si512(tq.add(s * TOK_BLOCK + 16 * v).cast()));
                    }
                }
                let wsc = _mm512_set1_ps(*ws.add(r * groups + g0 + g));
                for v in 0..V {
                    let sc = _mm512_mul_ps(wsc, _mm512_load_ps(core::ptr::addr_of!((*tb).scale[g]).cast::<f32>().add(16 * v)));
                    acc[v] = _mm512_add_ps(acc[v], _mm512_mul_ps(_mm512_cvtepi32_ps(ia[v]), sc));
                }
            }
            for (v, &a) in acc.iter().enumerate() {
                store_acc(r, v, a);
            }
            r += 1;
        }
    }
}

/// The EVEX (AVX-512 VL) encoding of the same 256-bit `vpdpbusd`.
struct Vnni512Dot;
impl Dot32 for Vnni512Dot {
    #[inline(always)]
    unsafe fn group_start(x: *const i8, blocks: usize) -> __m256i {
        // SAFETY: AVX-512 VL + VNNI are available and `x..x + 32 * blocks` is readable
        // (caller's contract).
        unsafe {
            let bias = _mm256_set1_epi8(-128);
            let mut c = _mm256_setzero_si256();
            for b in 0..blocks {
                c = _mm256_dpbusd_epi32(c, bias, _mm256_loadu_si256(x.add(32 * b).cast()));
            }
            _mm256_sub_epi32(_mm256_setzero_si256(), c)
        }
    }
    #[inline(always)]
    unsafe fn step(acc: __m256i, w: __m256i, x: __m256i) -> __m256i {
        // SAFETY: AVX-512 VL + VNNI are available (caller's contract); exactness as VnniDot.
        unsafe { _mm256_dpbusd_epi32(acc, _mm256_xor_si256(w, _mm256_set1_epi8(-128)), x) }
    }
}

// ---- f32 product ----------------------------------------------------------------------------

// ---- the portable float operations, compiled for AVX2 -----------------------------------------

/// [`super::quantize`], the same source compiled with AVX2 (8-wide vectors; element-wise and
/// exact operations only, so the same bits).
fn quantize_avx2(x: &[f32], gs: usize, q: &mut [i8], s: &mut [f32]) {
    if !avx2_available() {
        return super::quantize(x, gs, q, s);
    }
    // SAFETY: AVX2 is available (checked above); the body is safe code.
    unsafe { quantize_avx2_inner(x, gs, q, s) }
}

/// # Safety
/// AVX2 must be available.
#[target_feature(enable = "avx2")]
unsafe fn quantize_avx2_inner(x: &[f32], gs: usize, q: &mut [i8], s: &mut [f32]) {
    super::quantize_body(x, gs, q, s)
}

/// [`super::attend`], the same source compiled with AVX2 (every loop runs along independent
/// positions or elements, in the source's order: the same bits).
fn attend_avx2(kv: super::KvHead<'_>, ks: usize, vs: usize, q: &[f32], scale: f32, sc: &mut [f32], out: &mut [f32]) {
    if !avx2_available() {
        return super::attend(kv, ks, vs, q, scale, sc, out);
    }
    // SAFETY: AVX2 is available (checked above); the body is safe code.
    unsafe { attend_avx2_inner(kv, ks, vs, q, scale, sc, out) }
}

/// # Safety
/// AVX2 must be available.
#[target_feature(enable = "avx2")]
unsafe fn attend_avx2_inner(kv: super::KvHead<'_>, ks: usize, vs: usize, q: &[f32], scale: f32, sc: &mut [f32], out: &mut [f32]) {
    // SAFETY: AVX2 is available (this function's contract).
    super::attend_body(kv, ks, vs, q, scale, sc, out, |x: &mut [f32]| unsafe { softmax_avx2(x) })
}

/// [`super::exp`] on eight lanes: the same operations in the same order (multiply and add
/// separately, no fused multiply-add), so the same bits.
///
/// # Safety
/// AVX2 must be available.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn exp8(x: __m256) -> __m256 {
    use super::exp_consts::*;
    let c = _mm256_set1_ps;
    let nan = _mm256_cmp_ps::<_CMP_UNORD_Q>(x, x);
    // clamp(x, LO, HI) for non-NaN x (`maxps(x, LO)` is `x > LO ? x : LO`, then
    // `minps(., HI)` is `. < HI ? . : HI`); NaN → 0
    let xc = _mm256_andnot_ps(nan, _mm256_min_ps(_mm256_max_ps(x, c(LO)), c(HI)));
    let kf = _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(xc, c(LOG2E)), c(MAGIC)), c(MAGIC));
    let r = _mm256_sub_ps(_mm256_sub_ps(xc, _mm256_mul_ps(kf, c(LN2_HI))), _mm256_mul_ps(kf, c(LN2_LO)));
    let mut p = c(P[0]);
    for &k in &P[1..] {
        p = _mm256_add_ps(_mm256_mul_ps(p, r), c(k));
    }
    let er = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(_mm256_mul_ps(r, r), p), r), c(1.0));
    // kf is an integer in [-126, 128]: the truncation is exact
    let k = _mm256_cvttps_epi32(kf);
    let big = _mm256_castsi256_ps(_mm256_cmpgt_epi32(k, _mm256_set1_epi32(127)));
    let kk = _mm256_min_epi32(k, _mm256_set1_epi32(127));
    let two = _mm256_blendv_ps(c(1.0), c(2.0), big);
    let pow2 = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(kk, _mm256_set1_epi32(127))));
    let y = _mm256_mul_ps(_mm256_mul_ps(er, two), pow2);
    // NaN → x, x < LO → 0, x > HI → +inf, else y (the portable function's order of tests)
    let y = _mm256_blendv_ps(y, c(f32::INFINITY), _mm256_cmp_ps::<_CMP_GT_OQ>(x, c(HI)));
    let y = _mm256_andnot_ps(_mm256_cmp_ps::<_CMP_LT_OQ>(x, c(LO)), y);
    _mm256_blendv_ps(y, x, nan)
}

/// Lane masks for the last `n < 8` elements: lanes below `n` all ones.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn tail_mask(n: usize) -> __m256i {
    _mm256_cmpgt_epi32(_mm256_set1_epi32(n as i32), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
}

/// [`super::softmax`] with explicit AVX2, bit for bit the same: the same eight lanes for the
/// maximum (`maxps(c, lane)` is `c > lane ? c : lane`) and for the sums, [`exp8`], the same
/// reduction and the tail's values added one by one in order. The tail goes through masked
/// loads and stores instead of the portable function's copy to an array (two `memcpy`
/// calls per row: a third of a short row's time, and prefill's rows are short).
///
/// # Safety
/// AVX2 must be available.
#[inline]
#[target_feature(enable = "avx2")]
#[allow(clippy::indexing_slicing, reason = "body = len - len % 8 <= len; lane arrays have 8 entries")]
pub(super) unsafe fn softmax_avx2(x: &mut [f32]) {
    let n = x.len();
    let body = n - n % 8;
    let p = x.as_mut_ptr();
    // SAFETY: (whole body) every full-vector access is at i + 8 <= body <= n, the tail's
    // are masked to the lanes below n - body; AVX2 is this function's contract.
    unsafe {
        let mut lanes = _mm256_set1_ps(f32::NEG_INFINITY);
        let mut i = 0;
        while i < body {
            lanes = _mm256_max_ps(_mm256_loadu_ps(p.add(i)), lanes);
            i += 8;
        }
        let mut la = [0.0f32; 8];
        _mm256_storeu_ps(la.as_mut_ptr(), lanes);
        let mut max = f32::NEG_INFINITY;
        for &v in la.iter().chain(&x[body..]) {
            if v > max {
                max = v;
            }
        }
        let mv = _mm256_set1_ps(max);
        let mut l = _mm256_setzero_ps();
        let mut i = 0;
        while i < body {
            let e = exp8(_mm256_sub_ps(_mm256_loadu_ps(p.add(i)), mv));
            _mm256_storeu_ps(p.add(i), e);
            l = _mm256_add_ps(l, e);
            i += 8;
        }
        let mask = tail_mask(n - body);
        if body < n {
            let t = _mm256_maskload_ps(p.add(body), mask);
            _mm256_maskstore_ps(p.add(body), mask, exp8(_mm256_sub_ps(t, mv)));
        }
        // ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7))
        let a = _mm_add_ps(_mm256_castps256_ps128(l), _mm256_extractf128_ps::<1>(l));
        let b = _mm_add_ps(a, _mm_movehl_ps(a, a));
        let mut sum = _mm_cvtss_f32(b) + _mm_cvtss_f32(_mm_shuffle_ps::<1>(b, b));
        for &v in &x[body..] {
            sum += v;
        }
        let inv = 1.0 / sum;
        let iv = _mm256_set1_ps(inv);
        let mut i = 0;
        while i < body {
            _mm256_storeu_ps(p.add(i), _mm256_mul_ps(_mm256_loadu_ps(p.add(i)), iv));
            i += 8;
        }
        if body < n {
            let t = _mm256_maskload_ps(p.add(body), mask);
            _mm256_maskstore_ps(p.add(body), mask, _mm256_mul_ps(t, iv));
        }
    }
}

/// [`softmax_avx2`] where AVX2 runs, else the portable one (for the tests).
#[cfg(test)]
pub(super) fn softmax_checked(x: &mut [f32]) {
    if avx2_available() {
        // SAFETY: AVX2 is available.
        unsafe { softmax_avx2(x) }
    } else {
        super::softmax(x)
    }
}

/// Whether `k` is one of this file's kernel sets (all of them run AVX2).
pub(super) fn is_ours(k: &'static Kernels) -> bool {
    [&AVX2, &AVX_VNNI, &AVX512_VNNI].iter().any(|&s| core::ptr::eq(k, s))
}

/// [`super::swiglu`], the same source compiled with AVX2 (element-wise: the same bits).
pub(super) fn swiglu_avx2(a: &mut [f32], b: &[f32]) {
    if !avx2_available() {
        return super::swiglu(a, b);
    }
    // SAFETY: AVX2 is available (checked above); the body is safe code.
    unsafe { swiglu_avx2_inner(a, b) }
}

/// # Safety
/// AVX2 must be available.
#[target_feature(enable = "avx2")]
unsafe fn swiglu_avx2_inner(a: &mut [f32], b: &[f32]) {
    super::swiglu_body(a, b)
}

/// The [`super::attend_rows`] for kernel set `k` if it is one of this file's (all of them
/// run AVX2), else `None`.
pub(super) fn attend_rows_for(k: &'static Kernels) -> Option<super::AttendRows> {
    if is_ours(k) {
        Some(attend_rows_avx2)
    } else {
        None
    }
}

/// [`super::attend_rows`], the same source compiled with AVX2 (the same bits, as
/// [`attend_avx2`]).
#[allow(clippy::too_many_arguments)]
fn attend_rows_avx2(kv: super::KvHead<'_>, ks: usize, vs: usize, rows: &super::AttRows<'_>, scale: f32, sc: &mut [f32], ss: usize, out: &mut [f32]) {
    if !avx2_available() {
        return super::attend_rows(kv, ks, vs, rows, scale, sc, ss, out);
    }
    // SAFETY: AVX2 is available (checked above); the body is safe code.
    unsafe { attend_rows_avx2_inner(kv, ks, vs, rows, scale, sc, ss, out) }
}

/// # Safety
/// AVX2 must be available.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2")]
unsafe fn attend_rows_avx2_inner(kv: super::KvHead<'_>, ks: usize, vs: usize, rows: &super::AttRows<'_>, scale: f32, sc: &mut [f32], ss: usize, out: &mut [f32]) {
    // SAFETY: AVX2 is available (this function's contract).
    super::attend_rows_body(kv, ks, vs, rows, scale, sc, ss, out, |x: &mut [f32]| unsafe { softmax_avx2(x) })
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
#[allow(clippy::indexing_slicing, reason = "lengths asserted by matmul_f32_avx2")]
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
            let mut acc =
                ((lanes[0] + lanes[4]) + (lanes[2] + lanes[6])) + ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7]));
            for j in body..cols {
                acc += wr[j] * xt[j];
            }
            out[t * rows + r] = acc;
        }
    }
}
