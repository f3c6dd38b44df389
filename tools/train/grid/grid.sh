#!/bin/bash
# Shape / regularisation / schedule sweep used to choose train.py's defaults.
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
run A_do1_6k  $A --dropout 0.1 --max-steps 6000 "$@" &
run A_do1_3k  $A --dropout 0.1 --max-steps 3000 "$@" &
run A_do2_6k  $A --dropout 0.2 --max-steps 6000 "$@" &
run A_do2_10k $A --dropout 0.2 --max-steps 10000 "$@" &
run B_do1_6k  $B --dropout 0.1 --max-steps 6000 "$@" &
run C_do1_6k  $C --dropout 0.1 --max-steps 6000 "$@" &
wait
python3 "$HERE/grid_select.py" "$RUNS" "$OUT"
