#!/usr/bin/env bash
# Benchmarks (numbers only, never assertions): native decode/prefill for the TinyStories
# shapes at 1 and 2 threads with the roofline and peak RSS, then wasm in Node and Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 scripts/bench.py "$@"
if [ "${TINYGPT_BENCH_WEB:-1}" = 1 ]; then bash scripts/web_bench.sh; fi
