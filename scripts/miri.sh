#!/usr/bin/env bash
# Runs the core's tests under Miri (undefined-behaviour checker): the no_std unit tests of
# kernels, sampler and tokenizer, and the `miri_*` integration test, which drives the unsafe
# code of format (aligned f32/i8 views), session (workspace carving from a misaligned start),
# parallel (SharedMut) and AlignedBytes on tiny f32/Q8 models, plus the AVX2 kernels (built
# with `-C target-feature=+avx2`, which Miri interprets).
#
#   scripts/miri.sh            # the subset below (measured time: see fuzz/README.md)
#   MIRI_FULL=1 scripts/miri.sh  # also the long randomized sweeps (hours under Miri)
#
# Installs the nightly toolchain and the miri + rust-src components if missing (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! rustup toolchain list | grep -q '^nightly'; then
    rustup toolchain install nightly --profile minimal
fi
if ! rustup +nightly component list --installed | grep -q '^miri'; then
    rustup +nightly component add miri rust-src
fi

# The randomized sweeps re-run the same code paths thousands of times; natively they take
# milliseconds, under Miri tens of minutes each. Skipped unless MIRI_FULL is set.
skip=()
if [ -z "${MIRI_FULL:-}" ]; then
    for t in \
        kernels::tests::q8_kernels_equal_scalar \
        kernels::tests::f32_kernels_equal_scalar \
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
echo "== miri: unsafe paths of format/session/generate on tiny models (scalar kernels)"
cargo +nightly miri test "${soft[@]}" --test hostile_inputs miri_
echo "== miri: the same with the AVX2 kernels"
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+avx2" CARGO_TARGET_DIR=target/miri-avx2 \
    cargo +nightly miri test "${soft[@]}" --test hostile_inputs miri_
echo "miri: passed in $(( $(date +%s) - start )) s"
