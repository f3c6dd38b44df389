#!/usr/bin/env bash
# Smoke-runs every cargo-fuzz target in fuzz/ for a short time each; exits non-zero if any
# target crashes (panic, sanitizer report, timeout, out of memory). See fuzz/README.md.
#
#   scripts/fuzz_smoke.sh                       # 30 s per target
#   FUZZ_SECONDS=600 scripts/fuzz_smoke.sh      # the 10-minute runs of fuzz/README.md
#   FUZZ_TARGETS="sampler tokenizer" scripts/fuzz_smoke.sh
#
# Installs what it needs if missing (idempotent): the nightly toolchain and cargo-fuzz.
# New corpus entries go to fuzz/corpus/<target> (git-ignored); the committed seeds are read
# from fuzz/seeds/<target>; a crashing input lands in fuzz/artifacts/<target>/ and its path is
# printed. Logs: $FUZZ_LOG_DIR (default: a temporary directory).
set -euo pipefail

cd "$(dirname "$0")/.."
secs="${FUZZ_SECONDS:-30}"
targets="${FUZZ_TARGETS:-parse_model mutate_model tokenizer sampler generate llama2c}"
logs="${FUZZ_LOG_DIR:-$(mktemp -d)}"
mkdir -p "$logs"

if ! rustup toolchain list | grep -q '^nightly'; then
    rustup toolchain install nightly --profile minimal
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

cd fuzz
cargo +nightly fuzz build

failed=()
for t in $targets; do
    mkdir -p "corpus/$t" "seeds/$t"
    log="$logs/$t.log"
    echo "== $t: ${secs}s (log: $log)"
    # -timeout: one input running 60 s counts as a crash (a hang)
    if cargo +nightly fuzz run "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$secs" -timeout=60 -print_final_stats=1 >"$log" 2>&1; then
        grep -E '^Done|stat::number_of_executed_units|stat::average_exec_per_sec' "$log" | sed 's/^/   /'
    else
        echo "   CRASH in $t:"
        grep -E 'panicked at|ERROR: |SUMMARY|Test unit written to|artifact_prefix' "$log" | head -n 8 | sed 's/^/   /'
        failed+=("$t")
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz smoke: crashes in: ${failed[*]}"
    exit 1
fi
echo "fuzz smoke: all targets ran ${secs}s without a crash"
