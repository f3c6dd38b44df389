//! Kernels: the int8 and f32 matrix products behind one table chosen once, plus the small
//! float operations of the decoder block (norms, softmax, activations, activation
//! quantization).
//!
//! Owns: all arithmetic of the forward pass that is worth a kernel, and the only `unsafe`
//! SIMD code. Must not: know about models, files or sessions.
//!
//! Determinism rules:
//! - The int8 product accumulates each group's codes in exact i32 arithmetic; the float part
//!   (`acc += isum as f32 * (w_scale * x_scale)`, groups in ascending order) is done in the
//!   same order by every kernel, so SIMD kernels equal the scalar one bit for bit.
//! - The f32 product uses the eight-lane order documented on [`scalar::dot_f32`].
//! - The float operations below exist once, in portable Rust with `libm`, and are shared by
//!   every platform.
//!
//! Kernel sets, in tiers (sonos/tract's shape: each tier replaces only what it wins, numbers
//! in each file's docs), chosen once by [`best`]:
//! - every target: `scalar` ([`scalar()`], module [`mod@scalar`]: the oracle);
//! - x86_64: `avx2` → `avx-vnni` → `avx512-vnni` ([`x86_64`]);
//! - aarch64: `neon` → `neon-dotprod` (`aarch64`);
//! - wasm32 built with `+simd128`: `simd128` (`wasm32`).
//!
//! With `std` the CPU is probed at run time (`is_x86_feature_detected!`,
//! `is_aarch64_feature_detected!`); without it, `cfg!(target_feature)` decides at compile
//! time. Equality with the scalar set, bit for bit: `kernels/tests.rs` (every set the machine
//! runs; skipped, with a note, when the CPU lacks the ISA), `scripts/aarch64_kernel_test.sh`
//! (the same tests under qemu-aarch64) and `scripts/wasm_kernel_test.sh` (a harness under
//! Node). Speed: `cargo bench --bench kernels` (per kernel, GB/s and GOP/s) and
//! `cargo bench --bench decode` (tok/s per kernel set).

#[cfg(target_arch = "aarch64")]
pub mod aarch64;
pub mod scalar;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub mod wasm32;
#[cfg(target_arch = "x86_64")]
pub mod x86_64;

#[cfg(test)]
mod tests;

/// Rows of an int8 weight matrix: `rows` rows of `stride` codes (a whole number of groups of
/// `gs`, zero-padded) and `rows * stride / gs` scales, row-major or, with `il`, interleaved
/// by four rows ([`Interleave`]) or, with `il` and `quads`, in quads ([`Layout::Quads`],
/// [`Layout::QuadsPlain`] without `bias`).
#[derive(Debug, Clone, Copy)]
pub struct QRows<'a> {
    /// `(rows, stride)` codes.
    pub q: &'a [i8],
    /// `(rows, stride / gs)` scales.
    pub s: &'a [f32],
    /// Number of rows (output features).
    pub rows: usize,
    /// Codes per row (input features rounded up to whole groups).
    pub stride: usize,
    /// Group size.
    pub gs: usize,
    /// `q` and `s` are not row-major: interleaved by four rows ([`Interleave`]), or in quads
    /// with `quads`.
    pub il: bool,
    /// With `il`: `q` and `s` are in quads ([`Layout::Quads`]; `gs` a multiple of 4).
    pub quads: bool,
    /// With `quads`: the codes at even indices of `q` are stored with their sign bit flipped
    /// ([`Layout::Quads`]; without it [`Layout::QuadsPlain`]).
    pub bias: bool,
}

/// The in-memory layouts of a model's int8 matrices. Files are row-major;
/// `Model::from_bytes_in` rewrites a model in place into another layout for the kernels
/// that read it faster ([`Kernels::layout`]). Every layout gives the same bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// As in the file.
    RowMajor,
    /// Interleaved by four rows ([`Interleave`]): what the wasm32 relaxed-SIMD kernel reads.
    Interleaved,
    /// Quads: rows in blocks of 16, each 16-byte vector four codes ("a quad") of each of four
    /// rows, so that an `i32x4` sum has one row per lane and needs no reduction across lanes;
    /// and every code at an even index of the matrix's code array stored with its sign bit
    /// flipped, `code ^ 0x80` (the unsigned byte `code + 128`), so that a 16-bit lane of two
    /// codes is `256·odd + (even + 128)` and needs one arithmetic shift, not two sign
    /// extensions. What the wasm32 simd128 kernel reads (`wasm32.rs`). Group sizes that are
    /// not multiples of 4 stay [`Layout::Interleaved`].
    ///
    /// Codes: with `k = min(16, rows - 16b)` rows in block `b` and quads numbered along the
    /// row (`c = j / 4` for code `j` of the row), code `j` of the block's row `i` is at
    /// `16b * stride + (c * k + i) * 4 + j % 4`; scales like [`Interleave`] with blocks of 16:
    /// group `g` of the block's row `i` at `16b * groups + g * k + i`
    /// ([`Interleave::at_in`] with [`Interleave::QUAD_BLOCK`]).
    Quads,
    /// [`Layout::Quads`] without the flipped sign bits: what the wasm32 relaxed-SIMD kernel
    /// reads (its 8-bit dot product takes the codes as they are).
    QuadsPlain,
}

impl Layout {
    /// Whether the matrices are not row-major.
    pub fn interleaved(self) -> bool {
        self != Layout::RowMajor
    }

    /// Whether the matrices are in quads ([`Layout::Quads`], [`Layout::QuadsPlain`]).
    pub fn quads(self) -> bool {
        matches!(self, Layout::Quads | Layout::QuadsPlain)
    }

    /// Whether even-indexed codes are stored with their sign bit flipped ([`Layout::Quads`]).
    pub fn biased(self) -> bool {
        self == Layout::Quads
    }
}

/// The four-row interleaved layout of an int8 matrix, an alternative to row-major that a
/// kernel can read with one pointer and whose four scales per group are one vector load
/// (the wasm32 kernels: 15–30% faster there, see `wasm32.rs`).
///
/// Rows go in blocks of four, `rows 4b..4b + k` with `k = min(4, rows - 4b)` (only the last
/// block can be shorter). A block occupies the same `k * stride` codes and `k * groups`
/// scales as in row-major order, but ordered group by group: group `g` of the block's row
/// `i` starts at code `4b * stride + (g * k + i) * gs` and its scale is at
/// `4b * groups + g * k + i`. The same sizes, so a matrix is converted in place
/// ([`Interleave::apply`]); a row range that starts at a multiple of four is again such a
/// matrix (how the threads split rows).
///
/// The same arrangement with blocks of 16 rows and "groups" of four codes is
/// [`Layout::Quads`]' (the `_in` functions take the block size).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interleave {
    /// Rows.
    pub rows: usize,
    /// Groups per row.
    pub groups: usize,
}

impl Interleave {
    /// Rows per block.
    pub const BLOCK: usize = 4;
    /// Rows per block of [`Layout::Quads`].
    pub const QUAD_BLOCK: usize = 16;

    /// Where group `g` of row `r` starts, in elements (`per` of them per group): codes with
    /// `per = gs`, scales with `per = 1`; row-major with `il = false`.
    #[inline(always)]
    pub fn at(self, il: bool, r: usize, g: usize, per: usize) -> usize {
        if !il {
            return (r * self.groups + g) * per;
        }
        self.at_in(Self::BLOCK, r, g, per)
    }

    /// [`Interleave::at`] (interleaved) with blocks of `block` rows.
    #[inline(always)]
    pub fn at_in(self, block: usize, r: usize, g: usize, per: usize) -> usize {
        let b0 = r - r % block;
        let k = (self.rows - b0).min(block);
        (b0 * self.groups + g * k + (r - b0)) * per
    }

    /// Where code `j` of row `r` of a matrix in quads ([`Layout::Quads`]) with `stride`
    /// codes per row (a multiple of 4) is.
    #[inline(always)]
    pub fn quad_code_at(rows: usize, stride: usize, r: usize, j: usize) -> usize {
        Interleave { rows, groups: stride / 4 }.at_in(Self::QUAD_BLOCK, r, j / 4, 4) + j % 4
    }

    /// Rewrites a row-major matrix (`rows * groups * per` elements: codes with `per = gs`,
    /// scales with `per = 1`) into the interleaved layout, block by block through `scratch`
    /// (at least [`Interleave::scratch_len`]`(per)` elements). Returns `false`, changing
    /// nothing, if `m` or `scratch` is too short.
    pub fn apply<T: Copy>(self, m: &mut [T], per: usize, scratch: &mut [T]) -> bool {
        self.apply_in(Self::BLOCK, m, per, scratch)
    }

    /// [`Interleave::apply`] with blocks of `block` rows (scratch: `block * groups * per`).
    #[allow(clippy::indexing_slicing, reason = "need <= m.len() and a block <= scratch.len() are checked first; `at_in` keeps each group inside its block")]
    pub fn apply_in<T: Copy>(self, block: usize, m: &mut [T], per: usize, scratch: &mut [T]) -> bool {
        let Some(need) = self.rows.checked_mul(self.groups).and_then(|n| n.checked_mul(per)) else {
            return false;
        };
        if block == 0 || m.len() < need || scratch.len() < self.scratch_len_in(block, per) {
            return false;
        }
        if need == 0 {
            return true;
        }
        let row = self.groups * per;
        for (b, blk) in m[..need].chunks_mut(block * row).enumerate() {
            let k = blk.len() / row;
            let tmp = &mut scratch[..blk.len()];
            tmp.copy_from_slice(blk);
            for i in 0..k {
                for g in 0..self.groups {
                    let from = (i * self.groups + g) * per;
                    let to = self.at_in(block, b * block + i, g, per) - b * block * row;
                    blk[to..to + per].copy_from_slice(&tmp[from..from + per]);
                }
            }
        }
        true
    }

    /// Elements of scratch [`Interleave::apply`] needs: one block of four rows.
    pub fn scratch_len(self, per: usize) -> usize {
        self.scratch_len_in(Self::BLOCK, per)
    }

    /// Elements of scratch [`Interleave::apply_in`] needs: one block of `block` rows.
    pub fn scratch_len_in(self, block: usize, per: usize) -> usize {
        block.saturating_mul(self.groups).saturating_mul(per)
    }

    /// Rewrites a row-major matrix's codes (`rows * stride`, `stride` a multiple of 4) and
    /// scales (`rows * groups`) into quads ([`Layout::Quads`]) through `scratch` (at least
    /// [`Interleave::quads_scratch_len`] bytes), with the even codes biased if `bias`
    /// ([`Layout::Quads`]) or not ([`Layout::QuadsPlain`]). Returns `false`, changing nothing,
    /// if anything is too short or `stride` is not a multiple of 4.
    pub fn apply_quads(rows: usize, stride: usize, groups: usize, q: &mut [u8], s: &mut [u8], scratch: &mut [u8], bias: bool) -> bool {
        let (codes, scales) = (Interleave { rows, groups: stride / 4 }, Interleave { rows, groups });
        if !stride.is_multiple_of(4)
            || scratch.len() < Self::quads_scratch_len(stride, groups)
            || q.len() < rows.saturating_mul(stride)
            || s.len() < rows.saturating_mul(groups).saturating_mul(4)
        {
            return false;
        }
        // codes in "groups" of four, scales as four-byte elements
        let ok = codes.apply_in(Self::QUAD_BLOCK, q, 4, scratch) && scales.apply_in(Self::QUAD_BLOCK, s, 4, scratch);
        if let (true, true, Some(q)) = (ok, bias, q.get_mut(..rows * stride)) {
            Self::bias_even(q);
        }
        ok
    }

    /// Bytes of scratch [`Interleave::apply_quads`] needs: 16 rows of codes or of scales.
    pub fn quads_scratch_len(stride: usize, groups: usize) -> usize {
        Self::QUAD_BLOCK.saturating_mul(stride.max(groups.saturating_mul(4)))
    }

    /// Flips the sign bit of every code at an even index of `q` (a matrix's whole code
    /// array): the bias of [`Layout::Quads`] (it is its own inverse).
    pub fn bias_even(q: &mut [u8]) {
        for c in q.iter_mut().step_by(2) {
            *c ^= 0x80;
        }
    }

    /// The code stored as `v` at index `i` of a matrix's code array, biased
    /// ([`Layout::Quads`]) or not.
    #[inline(always)]
    pub fn code(v: i8, i: usize, bias: bool) -> i8 {
        if bias && i.is_multiple_of(2) {
            (v as u8 ^ 0x80) as i8
        } else {
            v
        }
    }
}

/// Quantized activations of `n` tokens: `(n, stride)` codes and `(n, stride / gs)` scales.
#[derive(Debug, Clone, Copy)]
pub struct QActs<'a> {
    /// `(n, stride)` codes in `[-127, 127]` (as [`quantize`] makes them; the SIMD kernels
    /// rely on it: `-128` would make them differ from the scalar kernel), pad zero.
    pub q: &'a [i8],
    /// `(n, stride / gs)` scales.
    pub s: &'a [f32],
    /// Number of tokens.
    pub n: usize,
}

/// The kernel table: one entry per operation, filled with the best implementation the
/// machine can run.
#[derive(Debug, Clone, Copy)]
pub struct Kernels {
    /// Name of the implementation set, e.g. `"scalar"`, `"avx2"`.
    pub name: &'static str,
    /// `out[t * w.rows + r] = row r · token t`, int8 (see [`scalar::matmul_q8`]).
    pub matmul_q8: fn(&QRows<'_>, &QActs<'_>, &mut [f32]),
    /// `out[t * rows + r] = w[r] · x[t]`, f32 (see [`scalar::matmul_f32`]).
    pub matmul_f32: MatmulF32,
    /// [`quantize`], compiled for the set's vector width (same source, same bits).
    pub quantize: fn(&[f32], usize, &mut [i8], &mut [f32]),
    /// [`attend`], compiled for the set's vector width (same source, same bits).
    pub attend: Attend,
    /// The int8 matrix layout this set reads fastest (it reads every layout correctly):
    /// what the npm package rewrites a model into at load.
    pub layout: Layout,
}

/// The type of [`Kernels::matmul_f32`]: `(w, rows, cols, x, n, out)`.
pub type MatmulF32 = fn(&[f32], usize, usize, &[f32], usize, &mut [f32]);

/// The type of [`Kernels::attend`]: `(kv, kstride, vstride, q, scale, scores, out)`.
pub type Attend = fn(KvHead<'_>, usize, usize, &[f32], f32, &mut [f32], &mut [f32]);

/// One attention head's view of the KV cache (strides passed to [`attend`]): keys
/// transposed, dimension `j` of position `s` at `k[j * kstride + s]`; position `s`'s value
/// at `v[s * vstride..s * vstride + hs]`.
#[derive(Debug, Clone, Copy)]
pub enum KvHead<'a> {
    /// f32 cache.
    F32 {
        /// Keys, from this head's first key on.
        k: &'a [f32],
        /// Values, likewise.
        v: &'a [f32],
    },
    /// f16 cache.
    F16 {
        /// Keys, from this head's first key on.
        k: &'a [half::f16],
        /// Values, likewise.
        v: &'a [half::f16],
    },
}

/// A kernel set and the check that says whether this machine runs it.
pub type Tier = (&'static Kernels, fn() -> bool);

static SCALAR: Kernels = Kernels {
    name: "scalar",
    matmul_q8: scalar::matmul_q8,
    matmul_f32: scalar::matmul_f32,
    quantize,
    attend,
    layout: Layout::RowMajor,
};

/// The portable reference kernels.
pub fn scalar() -> &'static Kernels {
    &SCALAR
}

/// The fastest kernels this machine runs, chosen once: run-time CPU detection with `std`,
/// compile-time `target_feature` without it (and always on wasm32, which has no run-time
/// detection).
pub fn best() -> &'static Kernels {
    #[cfg(feature = "std")]
    {
        static BEST: std::sync::OnceLock<&'static Kernels> = std::sync::OnceLock::new();
        BEST.get_or_init(arch_best)
    }
    #[cfg(not(feature = "std"))]
    {
        arch_best()
    }
}

/// The highest tier of this architecture's kernel sets that runs here, else the scalar set.
fn arch_best() -> &'static Kernels {
    #[cfg(target_arch = "x86_64")]
    if let Some(k) = x86_64::best() {
        return k;
    }
    #[cfg(target_arch = "aarch64")]
    if let Some(k) = aarch64::best() {
        return k;
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    if let Some(k) = wasm32::best() {
        return k;
    }
    &SCALAR
}

/// Every kernel set this machine (or emulator) can run, the scalar one first: what the
/// equality tests and the micro-benchmarks iterate over.
pub fn runnable() -> heapless::Vec<&'static Kernels, 8> {
    let mut v: heapless::Vec<&'static Kernels, 8> = heapless::Vec::new();
    let _ = v.push(&SCALAR);
    #[cfg(target_arch = "x86_64")]
    let tiers: &[Tier] = &x86_64::TIERS;
    #[cfg(target_arch = "aarch64")]
    let tiers: &[Tier] = &aarch64::TIERS;
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    let tiers: &[Tier] = &wasm32::TIERS;
    #[cfg(not(any(
        target_arch = "x86_64",
        target_arch = "aarch64",
        all(target_arch = "wasm32", target_feature = "simd128")
    )))]
    let tiers: &[Tier] = &[];
    for &(k, available) in tiers {
        if available() {
            let _ = v.push(k);
        }
    }
    v
}

// ---- activation quantization ---------------------------------------------------------------

/// Quantizes `x` (length `cols`) into groups of `gs`: `q` gets `groups * gs` codes in
/// `[-127, 127]` (pad zero), `s` one scale per group (`max|x| / 127`; 0 for an all-zero
/// group, whose codes are then 0). Non-finite inputs give code 0 for that element (and do not
/// count towards `max|x|`). Codes round half away from zero: `trunc(v + copysign(0.5, v))`
/// with `v = x * (127 / max|x|)`, identically on every platform (no `round` intrinsic).
///
/// Written without branches on the data so that it vectorizes (it used to be an `if v >= 0`
/// per element, which mispredicted on every other sign change: about 4% of a stories15M
/// decode step on the 2026-11-28 Xeon). The results are unchanged; `kernels/tests.rs` keeps
/// the branchy version and checks them equal.
pub fn quantize(x: &[f32], gs: usize, q: &mut [i8], s: &mut [f32]) {
    quantize_body(x, gs, q, s)
}

/// The body of [`quantize`], inlined into each kernel set's copy (compiled there for wider
/// vectors: the operations are element-wise or exact, so the bits do not change).
#[inline(always)]
#[allow(clippy::indexing_slicing, reason = "kernel contract: callers pass slices of the documented lengths, derived from a validated Config (never from input values); a mismatch is a caller bug")]
pub(crate) fn quantize_body(x: &[f32], gs: usize, q: &mut [i8], s: &mut [f32]) {
    let groups = x.len().div_ceil(gs);
    for (g, sg) in s[..groups].iter_mut().enumerate() {
        let lo = g * gs;
        let hi = (lo + gs).min(x.len());
        let xg = &x[lo..hi];
        // max over the finite |x|, in eight lanes (max is exact: any order gives the same)
        let mut lanes = [0.0f32; 8];
        let mut chunks = xg.chunks_exact(8);
        for c in &mut chunks {
            for (m, &v) in lanes.iter_mut().zip(c) {
                *m = max_finite_abs(*m, v);
            }
        }
        let mut amax = 0.0f32;
        for &m in &lanes {
            amax = if m > amax { m } else { amax };
        }
        for &v in chunks.remainder() {
            amax = max_finite_abs(amax, v);
        }
        let scale = amax / 127.0;
        *sg = scale;
        let inv = if scale > 0.0 { 127.0 / amax } else { 0.0 };
        for (c, &xv) in q[lo..hi].iter_mut().zip(xg) {
            let v = xv * inv;
            // a non-finite v (x non-finite, or inv infinite for a subnormal max) gives 0
            let v = if v.is_finite() { v } else { 0.0 };
            // v + 0.5 for v >= +0.0, v - 0.5 below, truncated; clamping before the
            // truncation equals clamping after it (the bounds are integers)
            let r = (v + 0.5f32.copysign(v)).clamp(-127.0, 127.0);
            // SAFETY: r is finite and in [-127, 127], so its truncation fits an i32 (the
            // unchecked conversion is what lets this loop vectorize).
            *c = unsafe { r.to_int_unchecked::<i32>() } as i8;
        }
        for c in &mut q[hi..lo + gs] {
            *c = 0;
        }
    }
}

/// `max(m, |v|)`, with non-finite `v` counting as 0 (branch-free; `m >= 0`).
#[inline(always)]
fn max_finite_abs(m: f32, v: f32) -> f32 {
    let a = v.abs();
    let a = if a.is_finite() { a } else { 0.0 };
    if a > m {
        a
    } else {
        m
    }
}

// ---- float operations (one implementation, every platform) ---------------------------------

/// One head's attention for one query `q` (length `hs`) over positions `s < sc.len()`:
/// scores `sc[s] = (Σ_j q[j] · k_j[s]) * scale` with `j` ascending (each position its own
/// running sum, so the loop runs along positions and vectorizes at any head size), then
/// [`softmax`] over `sc`, then `out = Σ_s sc[s] · v_s` (positions ascending, element-wise).
///
/// Layout (see [`KvHead`]): the keys are stored transposed, `k_j[s] = k[j * kstride + s]`
/// (dimension-major: one row of positions per dimension); values by position,
/// `v_s = v[s * vstride..s * vstride + hs]`.
pub fn attend(kv: KvHead<'_>, kstride: usize, vstride: usize, q: &[f32], scale: f32, sc: &mut [f32], out: &mut [f32]) {
    attend_body(kv, kstride, vstride, q, scale, sc, out, softmax)
}

/// The body of [`attend`] with `sm` for [`softmax`], inlined into each kernel set's copy
/// (same source, same bits; `sm` is [`softmax`] or a set's copy of it with the same bits).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
#[allow(clippy::indexing_slicing, reason = "kernel contract: callers pass slices of the documented lengths, derived from a validated Config (never from input values); a mismatch is a caller bug")]
pub(crate) fn attend_body(
    kv: KvHead<'_>,
    kstride: usize,
    vstride: usize,
    q: &[f32],
    scale: f32,
    sc: &mut [f32],
    out: &mut [f32],
    sm: impl Fn(&mut [f32]),
) {
    let hs = q.len();
    // scores, eight positions at a time in a register-sized accumulator (then the tail)
    let pos = |sc: &mut [f32], base: usize, kk: &dyn Fn(usize, usize) -> f32| {
        let mut acc = [0.0f32; 8];
        for (j, &qj) in q.iter().enumerate() {
            for (i, a) in acc.iter_mut().enumerate().take(sc.len()) {
                *a += qj * kk(j * kstride + base + i, 0);
            }
        }
        for (d, a) in sc.iter_mut().zip(acc) {
            *d = a * scale;
        }
    };
    match kv {
        KvHead::F32 { k, .. } => {
            let mut chunks = sc.chunks_exact_mut(8);
            let mut base = 0;
            for c in &mut chunks {
                let mut acc = [0.0f32; 8];
                for (j, &qj) in q.iter().enumerate() {
                    let kr = &k[j * kstride + base..j * kstride + base + 8];
                    for i in 0..8 {
                        acc[i] += qj * kr[i];
                    }
                }
                for (d, a) in c.iter_mut().zip(acc) {
                    *d = a * scale;
                }
                base += 8;
            }
            pos(chunks.into_remainder(), base, &|at, _| k[at]);
        }
        KvHead::F16 { k, .. } => {
            let mut chunks = sc.chunks_exact_mut(8);
            let mut base = 0;
            for c in &mut chunks {
                let mut acc = [0.0f32; 8];
                for (j, &qj) in q.iter().enumerate() {
                    let kr = &k[j * kstride + base..j * kstride + base + 8];
                    for i in 0..8 {
                        acc[i] += qj * kr[i].to_f32();
                    }
                }
                for (d, a) in c.iter_mut().zip(acc) {
                    *d = a * scale;
                }
                base += 8;
            }
            pos(chunks.into_remainder(), base, &|at, _| k[at].to_f32());
        }
    }
    sm(sc);
    // out = Σ_s sc[s]·v_s, eight elements at a time in a register-sized accumulator
    let out = &mut out[..hs];
    let mut c0 = 0;
    for oc in out.chunks_mut(8) {
        let w = oc.len();
        let mut acc = [0.0f32; 8];
        match kv {
            KvHead::F32 { v, .. } => {
                for (s, &a) in sc.iter().enumerate() {
                    let vr = &v[s * vstride + c0..s * vstride + c0 + w];
                    if w == 8 {
                        for i in 0..8 {
                            acc[i] += a * vr[i];
                        }
                    } else {
                        for (o, &b) in acc.iter_mut().zip(vr) {
                            *o += a * b;
                        }
                    }
                }
            }
            KvHead::F16 { v, .. } => {
                for (s, &a) in sc.iter().enumerate() {
                    let vr = &v[s * vstride + c0..s * vstride + c0 + w];
                    for (o, &b) in acc.iter_mut().zip(vr) {
                        *o += a * b.to_f32();
                    }
                }
            }
        }
        oc.copy_from_slice(&acc[..w]);
        c0 += w;
    }
}

/// Most query rows one [`attend_rows`] call takes.
pub const ATT_ROWS: usize = 8;

/// Queries for [`attend_rows`]: `n ≤ ATT_ROWS` rows of width `hs` against one KV head, row `i`
/// at `q[at[i]..at[i] + hs]`, attending to positions `0..len[i]` (`len[i] ≥ 1`).
#[derive(Debug, Clone, Copy)]
pub struct AttRows<'a> {
    /// The buffer the queries are in.
    pub q: &'a [f32],
    /// Where each row's query starts in `q`.
    pub at: [usize; ATT_ROWS],
    /// How many positions each row attends to.
    pub len: [usize; ATT_ROWS],
    /// Rows in use.
    pub n: usize,
    /// Head size.
    pub hs: usize,
}

/// The type of [`attend_rows`]: `(kv, kstride, vstride, rows, scale, scores, sstride, out)`.
pub type AttendRows = fn(KvHead<'_>, usize, usize, &AttRows<'_>, f32, &mut [f32], usize, &mut [f32]);

/// [`attend`] for several queries against the same KV head at once (prefill: the tokens of
/// a block, and the query heads that share a KV head): row `i`'s scores go to
/// `sc[i * sstride..i * sstride + len[i]]` and its output to `out[i * hs..(i + 1) * hs]`, and
/// both are bit for bit what `attend(kv, kstride, vstride, query i, scale, that score row,
/// that output)` gives: every score, the softmax of each row and every output element are
/// computed by the same operations in the same order; only the loops are arranged so that
/// the rows share each key and value load and give the CPU independent sums to interleave
/// (one query's value sum is a chain of dependent additions). Needs `sstride` and `kstride`
/// at least the largest `len`; the score entries past a row's `len` (up to the largest) are
/// scratch.
#[allow(clippy::too_many_arguments)]
pub fn attend_rows(kv: KvHead<'_>, kstride: usize, vstride: usize, rows: &AttRows<'_>, scale: f32, sc: &mut [f32], sstride: usize, out: &mut [f32]) {
    // Where code size counts more than prefill speed (wasm: the npm package; 32-bit
    // microcontrollers): one `attend` per row, by definition the same bits (the grouped body,
    // 2 cache types × 4 group sizes, made the wasm module 115 KB larger).
    if cfg!(not(any(target_arch = "x86_64", target_arch = "aarch64"))) {
        return attend_each_row(kv, kstride, vstride, rows, scale, sc, sstride, out);
    }
    attend_rows_body(kv, kstride, vstride, rows, scale, sc, sstride, out, softmax)
}

/// [`attend_rows`] as one [`attend`] per row (what it does on wasm32 and 32-bit targets).
/// Rows whose slices are out of range (a caller bug) are skipped.
#[allow(clippy::too_many_arguments)]
pub fn attend_each_row(kv: KvHead<'_>, kstride: usize, vstride: usize, rows: &AttRows<'_>, scale: f32, sc: &mut [f32], sstride: usize, out: &mut [f32]) {
    attend_each_row_with(attend, kv, kstride, vstride, rows, scale, sc, sstride, out)
}

/// [`attend_each_row`] with another implementation of [`attend`] (a kernel set's).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn attend_each_row_with(
    attend: Attend,
    kv: KvHead<'_>,
    kstride: usize,
    vstride: usize,
    rows: &AttRows<'_>,
    scale: f32,
    sc: &mut [f32],
    sstride: usize,
    out: &mut [f32],
) {
    let hs = rows.hs;
    for ((i, &at), &len) in rows.at.iter().enumerate().zip(&rows.len).take(rows.n.min(ATT_ROWS)) {
        if let (Some(q), Some(s), Some(o)) = (
            rows.q.get(at..at + hs),
            sc.get_mut(i * sstride..i * sstride + len),
            out.get_mut(i * hs..(i + 1) * hs),
        ) {
            attend(kv, kstride, vstride, q, scale, s, o);
        }
    }
}

/// The [`attend_rows`] of kernel set `k`: the same source compiled for the set's vector
/// width where the target needs a separate copy (x86_64), else the portable one.
pub fn attend_rows_for(k: &'static Kernels) -> AttendRows {
    #[cfg(target_arch = "x86_64")]
    if let Some(f) = x86_64::attend_rows_for(k) {
        return f;
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    if wasm32::is_ours(k) {
        return wasm32::attend_rows_simd128;
    }
    let _ = k;
    attend_rows
}

/// A KV-cache element read as f32.
trait KvElem: Copy {
    fn f(self) -> f32;
}
impl KvElem for f32 {
    #[inline(always)]
    fn f(self) -> f32 {
        self
    }
}
impl KvElem for half::f16 {
    #[inline(always)]
    fn f(self) -> f32 {
        self.to_f32()
    }
}

/// The body of [`attend_rows`] with `sm` for [`softmax`], inlined into each kernel set's
/// copy (same source, same bits; `sm` is [`softmax`] or a set's copy of it with the same bits).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn attend_rows_body(
    kv: KvHead<'_>,
    kstride: usize,
    vstride: usize,
    rows: &AttRows<'_>,
    scale: f32,
    sc: &mut [f32],
    sstride: usize,
    out: &mut [f32],
    sm: impl Fn(&mut [f32]) + Copy,
) {
    match kv {
        KvHead::F32 { k, v } => rows_typed(k, v, kstride, vstride, rows, scale, sc, sstride, out, sm),
        KvHead::F16 { k, v } => rows_typed(k, v, kstride, vstride, rows, scale, sc, sstride, out, sm),
    }
}

/// [`attend_rows_body`] for one cache type: the rows in groups of 8, 4, 2, 1.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn rows_typed<T: KvElem>(
    k: &[T],
    v: &[T],
    ks: usize,
    vs: usize,
    rows: &AttRows<'_>,
    scale: f32,
    sc: &mut [f32],
    ss: usize,
    out: &mut [f32],
    sm: impl Fn(&mut [f32]) + Copy,
) {
    let n = rows.n.min(ATT_ROWS);
    let mut r0 = 0;
    while r0 < n {
        let left = n - r0;
        r0 += if left >= 8 {
            rows_group::<T, 8>(k, v, ks, vs, rows, r0, scale, sc, ss, out, sm)
        } else if left >= 4 {
            rows_group::<T, 4>(k, v, ks, vs, rows, r0, scale, sc, ss, out, sm)
        } else if left >= 2 {
            rows_group::<T, 2>(k, v, ks, vs, rows, r0, scale, sc, ss, out, sm)
        } else {
            rows_group::<T, 1>(k, v, ks, vs, rows, r0, scale, sc, ss, out, sm)
        };
    }
}

/// Rows `r0..r0 + R` of [`attend_rows_body`]; returns `R`. Scores in chunks of 8 positions
/// (each `(Σ_j q[j]·k_j[s]) * scale`, `j` ascending from 0.0, as in [`attend_body`]) up to the
/// longest row, one [`softmax`] per row over its own length, then each output element
/// `Σ_s p[s]·v_s` from 0.0 with `s` ascending: first the positions all rows have, together,
/// then each row's remaining ones.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
#[allow(clippy::indexing_slicing, reason = "kernel contract: callers pass slices of the documented lengths, derived from a validated Config (never from input values); a mismatch is a caller bug")]
fn rows_group<T: KvElem, const R: usize>(
    k: &[T],
    v: &[T],
    ks: usize,
    vs: usize,
    rows: &AttRows<'_>,
    r0: usize,
    scale: f32,
    sc: &mut [f32],
    ss: usize,
    out: &mut [f32],
    sm: impl Fn(&mut [f32]),
) -> usize {
    let hs = rows.hs;
    let q: [&[f32]; R] = core::array::from_fn(|i| &rows.q[rows.at[r0 + i]..rows.at[r0 + i] + hs]);
    let len: [usize; R] = core::array::from_fn(|i| rows.len[r0 + i]);
    let maxlen = len.iter().fold(0, |a, &b| a.max(b));
    let minlen = len.iter().fold(usize::MAX, |a, &b| a.min(b));
    let sc = &mut sc[r0 * ss..(r0 + R) * ss];
    // scores
    let mut base = 0;
    while base + 8 <= maxlen {
        let mut acc = [[0.0f32; 8]; R];
        for j in 0..hs {
            let kr = &k[j * ks + base..j * ks + base + 8];
            let kf: [f32; 8] = core::array::from_fn(|i| kr[i].f());
            for (a, qr) in acc.iter_mut().zip(&q) {
                let qj = qr[j];
                for i in 0..8 {
                    a[i] += qj * kf[i];
                }
            }
        }
        for (r, a) in acc.iter().enumerate() {
            let d = &mut sc[r * ss + base..r * ss + base + 8];
            for i in 0..8 {
                d[i] = a[i] * scale;
            }
        }
        base += 8;
    }
    for s in base..maxlen {
        for (r, qr) in q.iter().enumerate() {
            let mut a = 0.0f32;
            for (j, &qj) in qr.iter().enumerate() {
                a += qj * k[j * ks + s].f();
            }
            sc[r * ss + s] = a * scale;
        }
    }
    for (r, &l) in len.iter().enumerate() {
        sm(&mut sc[r * ss..r * ss + l]);
    }
    // outputs, eight elements at a time
    let sc = &*sc;
    let p: [&[f32]; R] = core::array::from_fn(|r| &sc[r * ss..r * ss + len[r]]);
    let out = &mut out[r0 * hs..(r0 + R) * hs];
    let mut c0 = 0;
    while c0 < hs {
        let w = (hs - c0).min(8);
        let mut acc = [[0.0f32; 8]; R];
        if w == 8 {
            for s in 0..minlen {
                let vr = &v[s * vs + c0..s * vs + c0 + 8];
                let vf: [f32; 8] = core::array::from_fn(|i| vr[i].f());
                for (a, pr) in acc.iter_mut().zip(&p) {
                    let ps = pr[s];
                    for i in 0..8 {
                        a[i] += ps * vf[i];
                    }
                }
            }
        } else {
            for s in 0..minlen {
                let vr = &v[s * vs + c0..s * vs + c0 + w];
                for (a, pr) in acc.iter_mut().zip(&p) {
                    let ps = pr[s];
                    for (o, &b) in a.iter_mut().zip(vr) {
                        *o += ps * b.f();
                    }
                }
            }
        }
        for (a, pr) in acc.iter_mut().zip(&p) {
            for (s, &ps) in pr.iter().enumerate().skip(minlen) {
                let vr = &v[s * vs + c0..s * vs + c0 + w];
                for (o, &b) in a.iter_mut().zip(vr) {
                    *o += ps * b.f();
                }
            }
        }
        for (r, a) in acc.iter().enumerate() {
            out[r * hs + c0..r * hs + c0 + w].copy_from_slice(&a[..w]);
        }
        c0 += w;
    }
    R
}

/// RMSNorm: `o = x / sqrt(mean(x²) + eps) * w`.
pub fn rmsnorm(o: &mut [f32], x: &[f32], w: &[f32], eps: f32) {
    let mut ss = 0.0f32;
    for &v in x {
        ss += v * v;
    }
    let inv = 1.0 / libm::sqrtf(ss / x.len() as f32 + eps);
    for ((o, &v), &w) in o.iter_mut().zip(x).zip(w) {
        *o = w * (v * inv);
    }
}

/// LayerNorm: `o = (x - mean) / sqrt(var + eps) * w + b`.
pub fn layernorm(o: &mut [f32], x: &[f32], w: &[f32], b: &[f32], eps: f32) {
    let n = x.len() as f32;
    let mut sum = 0.0f32;
    for &v in x {
        sum += v;
    }
    let mean = sum / n;
    let mut var = 0.0f32;
    for &v in x {
        let d = v - mean;
        var += d * d;
    }
    let inv = 1.0 / libm::sqrtf(var / n + eps);
    for (((o, &v), &w), &b) in o.iter_mut().zip(x).zip(w).zip(b) {
        *o = (v - mean) * inv * w + b;
    }
}

/// In-place softmax (max-subtracted), with [`exp`] and the sum in eight lanes
/// (`lane[i % 8]`, reduced as in [`scalar::dot_f32`]): every step is element-wise or in a
/// fixed order, so it compiles to SIMD and gives the same bits on every target.
#[inline(always)]
#[allow(clippy::indexing_slicing, reason = "body = len - len % 8 <= len; the tail is shorter than 8")]
pub fn softmax(x: &mut [f32]) {
    // the max in eight lanes (NaN never wins a `>`, as in one running max; the lanes may end
    // with -0.0 where a running max has +0.0 or the reverse, and `v - max` is the same for
    // both unless v is -0.0, where e^±0 = 1 either way: the results do not change)
    let body = x.len() - x.len() % 8;
    let mut lanes = [f32::NEG_INFINITY; 8];
    for c in x[..body].chunks_exact(8) {
        for j in 0..8 {
            lanes[j] = if c[j] > lanes[j] { c[j] } else { lanes[j] };
        }
    }
    let mut max = f32::NEG_INFINITY;
    for &v in lanes.iter().chain(&x[body..]) {
        if v > max {
            max = v;
        }
    }
    // e^(v - max), and the lane sums in the same pass; the last len % 8 values through an
    // eight-lane array (so they too take the vector code: exp is element-wise)
    let (head, tail) = x.split_at_mut(body);
    let mut l = [0.0f32; 8];
    for c in head.chunks_exact_mut(8) {
        for j in 0..8 {
            c[j] = exp(c[j] - max);
            l[j] += c[j];
        }
    }
    if !tail.is_empty() {
        let mut t = [0.0f32; 8];
        t[..tail.len()].copy_from_slice(tail);
        for v in t.iter_mut() {
            *v = exp(*v - max);
        }
        tail.copy_from_slice(&t[..tail.len()]);
    }
    let mut sum = ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]));
    for &v in tail.iter() {
        sum += v;
    }
    let inv = 1.0 / sum;
    for v in x.iter_mut() {
        *v *= inv;
    }
}

/// The constants of [`exp`], shared by its vector copies in the kernel sets (same constants,
/// same operations, same bits).
pub(crate) mod exp_consts {
    pub(crate) const LOG2E: f32 = core::f32::consts::LOG2_E;
    /// 0x3f318000: few bits, so `k·LN2_HI` is exact.
    pub(crate) const LN2_HI: f32 = 0.693_359_4;
    pub(crate) const LN2_LO: f32 = -2.121_944_4e-4;
    /// ln(2^-126), the smallest normal result.
    pub(crate) const LO: f32 = -87.336_55;
    /// Just below ln(f32::MAX).
    pub(crate) const HI: f32 = 88.722_83;
    /// 1.5·2^23: adding it rounds to an integer.
    pub(crate) const MAGIC: f32 = 12_582_912.0;
    /// Cephes' degree-5 minimax polynomial for `expf`, highest degree first (Horner); the
    /// last is Cephes' 5.0000001201e-1, which rounds to 0.5 in f32.
    pub(crate) const P: [f32; 6] = [1.987_569_1e-4, 1.398_199_9e-3, 8.333_452e-3, 4.166_579_6e-2, 1.666_666_5e-1, 0.5];
}

/// `e^x` to about 1 ulp, branch-free so that loops over it vectorize, from `+`, `*` and bit
/// operations only (no fused multiply-add, no platform maths), hence the same bits on every
/// target. `x = k·ln 2 + r` with `k = round(x·log2 e)` (ties to even, by the 1.5·2^23 trick)
/// and `|r| ≤ ln 2 / 2` (ln 2 split in two parts so `r` is exact), then
/// `e^r ≈ 1 + r + r²·P(r)` with Cephes' degree-5 minimax `P` for `expf`, scaled by `2^k`
/// through the exponent bits. Results below `e^-87.33` (where `2^k` would be subnormal) are
/// 0, above `e^88.72` `+inf`; NaN stays NaN. Measured against `libm::expf` on every f32 in
/// `[-87.3, 88.7]` (every 61st bit pattern) in `kernels/tests.rs`: at most 1 ulp apart.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    use exp_consts::*;
    // NaN becomes 0 here (the result is replaced by NaN below), so that kf is always an
    // integer in [-126, 128]
    let xc = if x.is_nan() { 0.0 } else { x.clamp(LO, HI) };
    let kf = (xc * LOG2E + MAGIC) - MAGIC;
    let r = (xc - kf * LN2_HI) - kf * LN2_LO;
    let mut p = P[0];
    for &c in &P[1..] {
        p = p * r + c;
    }
    let er = (r * r) * p + r + 1.0;
    // 2^k for k in -126..=128; 2^128 is not an f32, so for k = 128 (x just below HI, where
    // e^r < 1 keeps the result finite) it is applied as 2 · 2^127
    // SAFETY: xc is finite and in [LO, HI], so kf is an integer in [-126, 128]: it fits an
    // i32 (the unchecked conversion is what lets loops over exp vectorize).
    let k = unsafe { kf.to_int_unchecked::<i32>() };
    let big = k > 127;
    let kk = if big { 127 } else { k };
    let y = (er * if big { 2.0 } else { 1.0 }) * f32::from_bits(((kk + 127) as u32) << 23);
    if x.is_nan() {
        x
    } else if x < LO {
        0.0
    } else if x > HI {
        f32::INFINITY
    } else {
        y
    }
}

/// GELU, tanh approximation (GPT-2 `gelu_new`).
#[inline]
pub fn gelu_tanh(x: f32) -> f32 {
    const C: f32 = 0.797_884_6; // sqrt(2/pi)
    0.5 * x * (1.0 + libm::tanhf(C * (x + 0.044715 * x * x * x)))
}

/// GELU, exact erf form.
#[inline]
pub fn gelu_erf(x: f32) -> f32 {
    0.5 * x * (1.0 + libm::erff(x * core::f32::consts::FRAC_1_SQRT_2))
}

/// The SwiGLU gate of a feed-forward block: `a[i] = silu(a[i]) * b[i]`.
pub fn swiglu(a: &mut [f32], b: &[f32]) {
    swiglu_body(a, b)
}

/// The body of [`swiglu`], inlined into each kernel set's copy (element-wise: same bits).
#[inline(always)]
pub(crate) fn swiglu_body(a: &mut [f32], b: &[f32]) {
    for (x, &y) in a.iter_mut().zip(b) {
        *x = silu(*x) * y;
    }
}

/// The [`swiglu`] of kernel set `k`: compiled for the set's vector width where the target
/// needs a separate copy (x86_64), else the portable one.
pub fn swiglu_for(k: &'static Kernels) -> fn(&mut [f32], &[f32]) {
    #[cfg(target_arch = "x86_64")]
    if x86_64::is_ours(k) {
        return x86_64::swiglu_avx2;
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    if wasm32::is_ours(k) {
        return wasm32::swiglu_simd128;
    }
    let _ = k;
    swiglu
}

/// SiLU: `x * sigmoid(x)`, as `x / (1 + e^-x)` with [`exp`] (vectorizes; same bits everywhere).
#[inline(always)]
pub fn silu(x: f32) -> f32 {
    x / (1.0 + exp(-x))
}
