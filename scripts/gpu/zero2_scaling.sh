#!/usr/bin/env bash
# ZeRO-2 scaling of polski-1b3 (#4: efficiency >= 0.90 on two GPUs): the same DeepSpeed config on 1 GPU and on N,
# each rank with the same micro-batches (16 x 4), then tokens/s(N) / (N x tokens/s(1)) from the two metrics files.
# Usage: bash scripts/gpu/zero2_scaling.sh DATA WORK OUT [STEPS] [GPUS]
#   DATA as for train_polski_mini.sh (bins, tokenizer). OUT gets metrics-zero2-<n>.jsonl, console logs, scaling.json.
set -euo pipefail
data=$1 work=$2 out=$3 steps=${4:-40} gpus=${5:-2}
config=benchmarks/configs/polski-1b3-deepspeed.toml
mkdir -p "$out"
bash "$(dirname "$0")/unpack_bins.sh" "$data" "$work"
for n in 1 "$gpus"; do
    rm -rf "$work/zero2-$n"
    deepspeed --num_gpus "$n" -m training.cli train --config "$config" --data "$work/bins" --tokenizer "$data/tokenizer" \
        --out "$work/zero2-$n" --max-steps "$steps" 2>&1 | tee "$out/console-zero2-$n.txt"
    cp "$work/zero2-$n/metrics.jsonl" "$out/metrics-zero2-$n.jsonl"
done
python3 benchmarks/scaling.py "$out/metrics-zero2-1.jsonl" "$out/metrics-zero2-$gpus.jsonl" --gpus "$gpus" \
    --out "$out/scaling.json"
