#!/usr/bin/env bash
# Builds the WebAssembly shim and assembles:
#   npm/pkg/  the npm package's generated files: tinygpt_wasm.js + tinygpt_wasm_bg.wasm
#             (simd128; wasm-opt, then wasm-bindgen --target web), tinygpt_wasm_relaxed.js +
#             tinygpt_wasm_relaxed_bg.wasm (the same with the relaxed-SIMD int8 kernel, feature
#             `relaxed`; loaded where the engine has relaxed SIMD, see npm/src/detect.js) and
#             tinygpt.tgpt (the built-in model, a copy of models/tinygpt.tgpt: the model the
#             CLI embeds);
#   web/pkg/  the demo's copy of the package (src/ and pkg/), so web/ is servable as is:
#             python3 -m http.server -d web 8000
# Needs what scripts/web_setup.sh installs. Prints the sizes. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

[[ -f models/tinygpt.tgpt ]] || { echo "error: models/tinygpt.tgpt (the built-in model) is missing" >&2; exit 1; }
command -v wasm-bindgen >/dev/null || { echo "error: wasm-bindgen not found: run scripts/web_setup.sh" >&2; exit 1; }

echo "== web build: cargo build (wasm32-unknown-unknown, simd128; see wasm/.cargo/config.toml)"
(cd wasm && cargo build --release)
raw=wasm/target/wasm32-unknown-unknown/release/tinygpt_wasm.wasm

# wasm-opt runs on cargo's output, before wasm-bindgen (Debian's binaryen 108 cannot parse
# what wasm-bindgen 0.2.130 writes: its externref table code uses `table.fill`). The npm
# registry's binaryen (scripts/web_setup.sh, pinned, run on Node) reads both builds; Debian's
# 108 predates the final relaxed-SIMD opcodes, so with it only the simd128 build is optimised.
BINARYEN_VERSION=132.0.0
npm_opt=${XDG_CACHE_HOME:-$HOME/.cache}/tinygpt/binaryen-$BINARYEN_VERSION/bin/wasm-opt
FEATURES=(--enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext
  --enable-mutable-globals --enable-multivalue --enable-reference-types)
optimise() { # in out relaxed(0/1) -> prints the path to use
  local in=$1 out=$2 relaxed=$3
  if [[ "${WASM_OPT:-1}" == 0 ]]; then
    echo "warning: wasm-opt skipped (WASM_OPT=0); $in is not post-optimised" >&2
  elif [[ -f $npm_opt ]]; then
    local extra=(); (( relaxed )) && extra=(--enable-relaxed-simd)
    node "$npm_opt" -O3 "${FEATURES[@]}" "${extra[@]}" "$in" -o "$out" && { echo "$out"; return; }
    echo "warning: binaryen $BINARYEN_VERSION wasm-opt failed on $in; not post-optimised" >&2
  elif (( ! relaxed )) && command -v wasm-opt >/dev/null; then
    wasm-opt -O3 "$in" -o "$out" && { echo "$out"; return; }
  else
    echo "warning: no wasm-opt for $in (run scripts/web_setup.sh); not post-optimised" >&2
  fi
  echo "$in"
}
mkdir -p wasm/target/opt
echo "== web build: wasm-opt -O3 (simd128 build)"
input=$(optimise "$raw" wasm/target/opt/tinygpt_wasm.wasm 0)

echo "== web build: cargo build --features relaxed (the relaxed-SIMD build)"
(cd wasm && cargo build --release --features relaxed --target-dir target/relaxed)
echo "== web build: wasm-opt -O3 (relaxed-SIMD build)"
raw_relaxed=$(optimise wasm/target/relaxed/wasm32-unknown-unknown/release/tinygpt_wasm.wasm wasm/target/opt/tinygpt_wasm_relaxed.wasm 1)

echo "== web build: wasm-bindgen --target web"
rm -rf npm/pkg
wasm-bindgen --target web --no-typescript --out-dir npm/pkg "$input"
wasm-bindgen --target web --no-typescript --out-dir npm/pkg --out-name tinygpt_wasm_relaxed "$raw_relaxed"
bg=npm/pkg/tinygpt_wasm_bg.wasm
bg_relaxed=npm/pkg/tinygpt_wasm_relaxed_bg.wasm
cp models/tinygpt.tgpt npm/pkg/tinygpt.tgpt

rm -rf web/pkg
mkdir -p web/pkg
cp -r npm/src npm/pkg npm/package.json web/pkg/

wasm_bytes=$(stat -c %s "$bg")
wasm_gz=$(gzip -9 -c "$bg" | wc -c)
model_bytes=$(stat -c %s npm/pkg/tinygpt.tgpt)
model_gz=$(gzip -9 -c npm/pkg/tinygpt.tgpt | wc -c)
js_bytes=$(cat npm/pkg/tinygpt_wasm.js npm/src/*.js | wc -c)
relaxed_bytes=$(stat -c %s "$bg_relaxed")
relaxed_gz=$(gzip -9 -c "$bg_relaxed" | wc -c)
printf '== web build: sizes (bytes)\n'
printf '  %-40s %10s\n' "cargo .wasm" "$(stat -c %s "$raw")"
printf '  %-40s %10s  (gzip -9: %s)\n' "tinygpt_wasm_bg.wasm (no model)" "$wasm_bytes" "$wasm_gz"
printf '  %-40s %10s  (gzip -9: %s)\n' "tinygpt_wasm_relaxed_bg.wasm (no model)" "$relaxed_bytes" "$relaxed_gz"
printf '  %-40s %10s  (gzip -9: %s)\n' "tinygpt.tgpt (built-in model)" "$model_bytes" "$model_gz"
printf '  %-40s %10s\n' "JavaScript (glue + API)" "$js_bytes"
