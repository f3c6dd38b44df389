#!/usr/bin/env bash
# The firmware check on its own: installs the toolchain (idempotent), then runs
# tests/firmware.rs with QEMU required (a missing emulator fails instead of skipping): the
# Cortex-M4F and riscv32imc builds in QEMU must produce the host library's tokens exactly,
# the panic path must exit with status 1, the STM32F405 build must fit or fail to link for
# lack of room, and docs/EMBEDDED.md's memory table must be current.
# Then prints the footprint (flash/RAM split, stack high-water) of the Cortex-M4F build.
#
# `cargo test --all-targets` runs the same tests; from scripts/test.sh it is enough to run
# scripts/firmware_setup.sh first and export TINYGPT_FIRMWARE=require.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/firmware_setup.sh
TINYGPT_FIRMWARE=require cargo test --release --test firmware -- --nocapture 2>&1 \
  | grep -E '^(test |test result|SKIPPED|NOTE|thread|  left|  right|TOKENS|STACK|RESULT|PANIC|ERROR)' 
test "${PIPESTATUS[0]}" -eq 0
bash scripts/firmware_footprint.sh arm
