#!/usr/bin/env bash
# Sets up and runs every tinygpt test. Installs what is missing (idempotent, fast when
# present): rustup targets and tools. Called by .ci/run; the README's test command.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s ==\n' "$*"; }

step "setup: rustup targets"
need_targets=(thumbv7em-none-eabihf riscv32imc-unknown-none-elf wasm32-unknown-unknown)
installed=$(rustup target list --installed)
for t in "${need_targets[@]}"; do
  grep -qx "$t" <<<"$installed" || rustup target add "$t"
done

step "setup: QEMU for the firmware tests"
bash scripts/firmware_setup.sh
export TINYGPT_FIRMWARE=require

step "clippy: panic-free core (deny lints in src/lib.rs \"Panics\"), no_std and std builds"
cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
cargo clippy --release --lib --no-default-features -- -D warnings
cargo clippy --release --lib -- -D warnings
# the wasm32 kernels, both builds (the simd128 one has the biased-layout kernel, the relaxed
# one the relaxed-SIMD set); the target is added further down too, add it here first so
# this step works on a fresh machine
rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
RUSTFLAGS="-C target-feature=+simd128" cargo clippy --release --lib --no-default-features \
  --target wasm32-unknown-unknown --target-dir target/clippy-wasm -- -D warnings
RUSTFLAGS="-C target-feature=+simd128" cargo clippy --release --lib --no-default-features \
  --features wasm-relaxed-simd --target wasm32-unknown-unknown --target-dir target/clippy-wasm -- -D warnings

step "cargo test (unit, integration, doc tests)"
cargo test --release --all-targets 2>&1 | tee /tmp/tinygpt-cargo-test.log
cargo test --release --doc

step "no_std core builds for microcontroller and wasm targets"
for t in thumbv7em-none-eabihf riscv32imc-unknown-none-elf wasm32-unknown-unknown; do
  cargo build --release --lib --no-default-features --target "$t"
  echo "ok: $t"
done

step "WebAssembly: npm package under Node, demo page in headless Chromium"
bash scripts/web_test.sh

step "SIMD kernels of other ISAs equal the scalar kernel: aarch64 (qemu-aarch64), wasm32 (Node, Chromium)"
bash scripts/aarch64_kernel_test.sh
TINYGPT_REQUIRE_RELAXED=1 bash scripts/wasm_kernel_test.sh

step "fuzz smoke: every cargo-fuzz target for ${FUZZ_SECONDS:-30} s each (fuzz/README.md)"
bash scripts/fuzz_smoke.sh

step "Miri: core unit tests and the miri_* unsafe-path tests (subset: fuzz/README.md, \"Miri\")"
bash scripts/miri.sh

step "all tests passed"
