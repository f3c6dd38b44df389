#!/usr/bin/env bash
# Installs what the firmware examples need, idempotently (a fast no-op when present):
#   - rustup targets thumbv7em-none-eabihf (Cortex-M4F) and riscv32imc-unknown-none-elf;
#   - QEMU 10.x system emulators for Arm and RISC-V from bookworm-backports
#     (docs: /work/shared/TOOLCHAIN.md section 5).
#
# Why backports: plain bookworm's qemu-system-arm (7.2) REMOVES the preinstalled qemu-utils
# 10.0.2 (qemu-img, qemu-nbd); backports matches it and gives QEMU 10.0.2. In 10.x,
# qemu-system-riscv32 comes from the package `qemu-system-riscv` (in 7.2: qemu-system-misc).
#
# Usage: scripts/firmware_setup.sh [--no-qemu]   (--no-qemu: rustup targets only)
set -euo pipefail

want_qemu=1
[[ "${1:-}" == "--no-qemu" ]] && want_qemu=0

installed=$(rustup target list --installed)
for t in thumbv7em-none-eabihf riscv32imc-unknown-none-elf; do
  grep -qx "$t" <<<"$installed" || rustup target add "$t"
done

if [[ $want_qemu == 1 ]] && ! { command -v qemu-system-arm && command -v qemu-system-riscv32; } >/dev/null 2>&1; then
  sudo=""
  [[ $(id -u) == 0 ]] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  src=/etc/apt/sources.list.d/bookworm-backports.sources
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  if [[ "$codename" == bookworm && -f /etc/apt/sources.list.d/debian.sources ]]; then
    if [[ ! -f $src ]] && ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
      # Reuse the machine's own mirror entry (the first stanza), with the suite swapped.
      awk 'BEGIN{RS="";ORS="\n\n"} NR==1' /etc/apt/sources.list.d/debian.sources \
        | sed 's/^Suites:.*/Suites: bookworm-backports/' | $sudo tee "$src" >/dev/null
    fi
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends -t bookworm-backports qemu-system-arm qemu-system-riscv
  else
    # Not bookworm: the distribution's own packages (names as in Debian/Ubuntu).
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends qemu-system-arm
    $sudo apt-get install -y -qq --no-install-recommends qemu-system-riscv \
      || $sudo apt-get install -y -qq --no-install-recommends qemu-system-misc
  fi
fi

if [[ $want_qemu == 1 ]]; then
  qemu-system-arm --version | head -1
  qemu-system-riscv32 --version | head -1
fi
echo "firmware setup: ok"
