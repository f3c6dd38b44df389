#!/usr/bin/env bash
# Runs the core's tests under Miri (undefined-behaviour checker): the no_std unit tests of
# kernels, sampler and tokenizer, and the `miri_*` integration test, which drives the unsafe
# code of format (aligned f32/i8 views), session (workspace carving from a misaligned start),
# parallel (SharedMut) and AlignedBytes on tiny f32/Q8 models, plus the AVX2 kernels (built
# with `-C target-feature=+avx2`, which Miri interprets).
#
#   scripts/miri.sh            # the CI subset below (measured time: see fuzz/README.md)
#   MIRI_FULL=1 scripts/miri.sh  # also the long randomized sweeps (hours under Miri) and
#                                # the scalar-kernel run of the miri_* test
# Not covered: the AVX-512 VNNI kernels (Miri does not implement AVX-512), aarch64/wasm
# kernels (other targets), the std thread pool (`threads`, tested natively).
#
# Installs the nightly toolchain and the miri + rust-src components if missing (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! rustup toolchain list | grep -q '^nightly'; then
    # with the components, rustup picks the newest nightly that has them
    rustup toolchain install nightly --profile minimal --component miri,rust-src
fi
if ! rustup +nightly component list --installed | grep -q '^miri'; then
    rustup +nightly component add miri rust-src
fi

# The randomized sweeps re-run the same code paths thousands of times; natively they take
# milliseconds, under Miri minutes to tens of minutes each (measured: q8_extremes_exact
# 11 min, quantize_equals_reference 5 min). Skipped unless MIRI_FULL is set. The kernel
# sweeps are skipped by name in every kernel set (`--skip` matches substrings):
# under Miri only the scalar set runs there (no CPU feature detection), which has no unsafe
# code; the SIMD kernels' unsafe code is what the AVX2 run of the `miri_*` test covers.
skip=()
if [ -z "${MIRI_FULL:-}" ]; then
    for t in \
        q8_all_widths_equal_scalar \
        q8_group_sizes_equal_scalar \
        q8_model_shapes_equal_scalar \
        q8_hostile_scales_equal_scalar \
        q8_extremes_exact \
        q8_batches_equal_scalar \
        f32_equal_scalar \
        float_ops_equal_portable \
        exp_is_within_2_ulp_of_libm \
        exp_edges \
        attend_rows_equal_attend \
        attend_each_row_equals_attend \
        softmax_equals_running_max_reference \
        kernels::tests::quantize_equals_reference \
        kernels::tests::softmax_avx2_equals_portable \
        sampler::tests::top_p_cutoff_trick_equals_full_sort \
        tokenizer::bpe::tests::matches_naive_on_random_words \
        tokenizer::bpe::tests::in_place_merge_matches_the_engine; do
        skip+=(--skip "$t")
    done
fi

# Fixtures are read from disk.
export MIRIFLAGS="${MIRIFLAGS:--Zmiri-disable-isolation}"

start=$(date +%s)
echo "== miri: core unit tests (no_std build: kernels, sampler, tokenizer)"
cargo +nightly miri test --lib --no-default-features -- "${skip[@]}"
# libm's x86 sqrtf is inline assembly, which Miri cannot run: use its portable version
# (IEEE sqrt is correctly rounded either way, so results are the same).
soft=(--features libm/force-soft-floats)
if [ -n "${MIRI_FULL:-}" ]; then
    # the scalar-kernel run: the same format/session/generate unsafe code as the AVX2 run
    # below (which adds the AVX2 kernels), so CI runs only that one (about 7 min)
    echo "== miri: unsafe paths of format/session/generate on tiny models (scalar kernels)"
    cargo +nightly miri test "${soft[@]}" --test hostile_inputs miri_
fi
echo "== miri: unsafe paths of format/session/generate on tiny models, AVX2 kernels"
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+avx2" CARGO_TARGET_DIR=target/miri-avx2 \
    cargo +nightly miri test "${soft[@]}" --test hostile_inputs miri_
echo "miri: passed in $(( $(date +%s) - start )) s"
