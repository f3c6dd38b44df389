#!/usr/bin/env bash
# Builds tinygpt for aarch64 Linux and runs the kernel equality tests (every kernel set the
# emulated CPU runs — NEON, and NEON + dotprod — against the scalar kernels) under
# qemu-aarch64 user-mode emulation. Installs what is missing, idempotently:
#   rustup target aarch64-unknown-linux-gnu; apt packages gcc-aarch64-linux-gnu,
#   libc6-dev-arm64-cross and qemu-user (from bookworm-backports when that suite is
#   configured, matching the QEMU 10 packages already on these machines).
# Usage: scripts/aarch64_kernel_test.sh [TEST-NAME FILTER, default "kernels"]
set -euo pipefail
cd "$(dirname "$0")/.."

target=aarch64-unknown-linux-gnu
rustup target list --installed | grep -qx "$target" || rustup target add "$target"

need=()
command -v aarch64-linux-gnu-gcc >/dev/null || need+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
command -v qemu-aarch64 >/dev/null || need+=(qemu-user)
if ((${#need[@]})); then
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  export DEBIAN_FRONTEND=noninteractive
  for p in "${need[@]}"; do
    if [ "$p" = qemu-user ] && apt-cache policy qemu-user | grep -q bookworm-backports; then
      $sudo apt-get install -y --no-install-recommends -t bookworm-backports qemu-user
    else
      $sudo apt-get install -y --no-install-recommends "$p"
    fi
  done
fi

export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
# qemu's default user-mode CPU ("max") has NEON and dotprod, so both kernel sets run.
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu"

filter=${1:-kernels}
log=$(mktemp)
echo "== cargo test --lib $filter --target $target (under qemu-aarch64) =="
cargo test --release --lib --target "$target" "$filter" -- --nocapture 2>&1 | tee "$log"
grep -q "aarch64_neon::q8_all_widths_equal_scalar ... ok" "$log" ||
  { echo "error: the NEON equality tests did not run" >&2; exit 1; }
if grep -q "skipped: this CPU does not run the aarch64_neon_dotprod" "$log"; then
  echo "note: the emulated CPU lacks dotprod; NEON + dotprod was not checked" >&2
fi
echo "ok: aarch64 kernels equal scalar"
