#!/bin/bash
# Second sweep (3 runs in parallel, so each is faster): fully annealed schedules.
# Runs every configuration as its own process on one GPU (they are tiny and
# launch-bound), then grid_select.py keeps the run with the lowest held-out loss.
#   usage: grid.sh DATA_DIR OUT_DIR [extra train.py args...]
set -u
HERE="$(cd "$(dirname "$0")" && pwd)"
DATA="$1"; OUT="$2"; shift 2
DEVICE="${DEVICE:-cuda}"
RUNS="${RUNS:-/tmp/tinygpt_grid}"
mkdir -p "$RUNS" "$OUT"
run() {
  local name=$1; shift
  python3 "$HERE/../train.py" --device "$DEVICE" --threads 2 --data "$DATA" --out "$RUNS/$name/hf" \
      --no-samples "$@" > "$RUNS/$name.log" 2>&1
  echo "[grid] $name rc=$?"
}
A="--dim 160 --layers 4 --heads 5 --kv-heads 1 --hidden 448"
B="--dim 192 --layers 3 --heads 6 --kv-heads 2 --hidden 384"
C="--dim 128 --layers 6 --heads 4 --kv-heads 2 --hidden 384"
run C_do1_5k  $C --dropout 0.1 --max-steps 5000 "$@" &
run C_do1_7k  $C --dropout 0.1 --max-steps 7000 "$@" &
run A_do1_7k  $A --dropout 0.1 --max-steps 7000 "$@" &
wait
python3 "$HERE/grid_select.py" "$RUNS" "$OUT"
