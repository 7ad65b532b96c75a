#!/usr/bin/env bash
# `polski eval` of one model of a GPU run on DATA's held-out text, WORK's val bins and DATA's minimal pairs, with samples.
# Usage: bash scripts/gpu/eval_model.sh DATA WORK MODEL_DIR OUT_DIR [extra polski eval args, e.g. --chat-tasks FILE]
# OUT_DIR appears only once the evaluation is complete (it is written as OUT_DIR.partial first).
set -euo pipefail
data=$1 work=$2 model=$3 dest=$4
shift 4
pair_args=()
for f in "$data"/eval/*pairs*.jsonl; do pair_args+=(--pairs "$f"); done
rm -rf "$dest.partial"
python3 -m training.cli eval "$model" --text "$data/eval/ntrex128-pol.jsonl" --bins "$work/bins" "${pair_args[@]}" --samples \
    --device "${POLSKI_DEVICE:-cuda}" --batch-size 64 --out "$dest.partial" "$@"
rm -rf "$dest" && mv "$dest.partial" "$dest"
