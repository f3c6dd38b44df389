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

echo "== web test: node --test"
set +e
(cd "$WORK/app" && TINYGPT_BIN=$BIN TINYGPT_MODELS=$MODEL_LIST node --test --test-reporter=spec node.test.mjs) 2>&1 | tee "$WORK/node.log"
node_rc=${PIPESTATUS[0]}
set -e
node_pass=$(sed -n 's/^ℹ pass \([0-9]*\)$/\1/p' "$WORK/node.log" | tail -n 1)
node_fail=$(sed -n 's/^ℹ fail \([0-9]*\)$/\1/p' "$WORK/node.log" | tail -n 1)
node_pass=${node_pass:-0}; node_fail=${node_fail:-0}
(( node_rc == 0 )) || (( node_fail > 0 )) || node_fail=1
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
