#!/usr/bin/env bash
# Installs what the web build and tests need, skipping whatever is already there
# (idempotent; a second run takes about a second):
#   rustup target wasm32-unknown-unknown; wasm-bindgen CLI at exactly the version in
#   wasm/Cargo.lock (from crates.io, without --locked: see docs in TOOLCHAIN notes);
#   Debian binaryen (wasm-opt) and chromium; npm ci in tests/web (playwright-core, pinned);
#   binaryen $BINARYEN_VERSION from the npm registry (its wasm-opt runs on Node and, unlike
#   Debian's 108, reads relaxed SIMD), cached in ~/.cache/tinygpt/binaryen-<version>.
# Usage: scripts/web_setup.sh [--no-browser]   (--no-browser: skip chromium and npm ci)
set -euo pipefail
cd "$(dirname "$0")/.."

browser=1
[[ "${1:-}" == "--no-browser" ]] && browser=0

say() { printf '== web setup: %s\n' "$*"; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

want=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/"/,"",$3); print $3}' wasm/Cargo.lock)
[[ -n "$want" ]] || { echo "error: no wasm-bindgen in wasm/Cargo.lock" >&2; exit 1; }
if ! wasm-bindgen --version 2>/dev/null | grep -qx "wasm-bindgen $want"; then
  say "cargo install wasm-bindgen-cli --version $want (takes about 5 minutes)"
  # Not --locked: the CLI's own lock file pins a webpki-roots this registry lacks.
  cargo install wasm-bindgen-cli --version "$want"
fi

apt_need=()
command -v wasm-opt >/dev/null || apt_need+=(binaryen)
if (( browser )); then
  [[ -x /usr/bin/chromium ]] || apt_need+=(chromium)
fi
if (( ${#apt_need[@]} )); then
  say "apt-get install ${apt_need[*]}"
  sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${apt_need[@]}"
fi

# binaryen from npm (pinned; scripts/web_build.sh runs its wasm-opt on both builds)
BINARYEN_VERSION=132.0.0
bdir=${XDG_CACHE_HOME:-$HOME/.cache}/tinygpt/binaryen-$BINARYEN_VERSION
if [[ ! -f $bdir/bin/wasm-opt ]]; then
  say "npm pack binaryen@$BINARYEN_VERSION (wasm-opt for the relaxed-SIMD build)"
  tmp=$(mktemp -d)
  if (cd "$tmp" && npm pack --silent "binaryen@$BINARYEN_VERSION" >/dev/null && tar xzf "binaryen-$BINARYEN_VERSION.tgz"); then
    mkdir -p "$(dirname "$bdir")"
    rm -rf "$bdir"
    mv "$tmp/package" "$bdir"
  else
    echo "warning: could not fetch binaryen@$BINARYEN_VERSION from npm; web_build.sh falls back to Debian's wasm-opt (simd128 build only)" >&2
  fi
  rm -rf "$tmp"
fi

if (( browser )); then
  # playwright-core drives the system chromium; never download a browser.
  pinned=$(node -p "require('./tests/web/package.json').devDependencies['playwright-core']")
  have=$(node -p "try { require('./tests/web/node_modules/playwright-core/package.json').version } catch { '' }")
  if [[ "$have" != "$pinned" ]]; then
    say "npm ci (tests/web)"
    (cd tests/web && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
  fi
fi
say "ok (wasm-bindgen $want, $(wasm-opt --version 2>/dev/null || echo 'no Debian wasm-opt'), npm binaryen: $([[ -f $bdir/bin/wasm-opt ]] && echo "$BINARYEN_VERSION" || echo missing))"
