#!/usr/bin/env bash
# polski-1b3 on real Polish bins: the 12 GiB trainer run, its fp32-master reference (same data order and
# micro-batches), the uncapped bf16-weight run (MFU target) or the DeepSpeed ZeRO-2 engine.
# Usage: bash scripts/gpu/polski_1b3_12gb.sh cap12|reference|uncapped|deepspeed DATA WORK OUT [STEPS]
#   DATA/bins (train.bin may be zstd-compressed as train.bin.zst) and DATA/tokenizer, as for train_polski_mini.sh.
# OUT gets metrics-<variant>.jsonl, samples and the console log; compare the two locally with
#   python benchmarks/loss_comparison.py RUN_REFERENCE RUN_CAP12 --out benchmarks/results/train_loss_comparison
set -euo pipefail
variant=$1 data=$2 work=$3 out=$4 steps=${5:-300}
case $variant in
    cap12) config=polski-1b3 ;;
    reference) config=benchmarks/configs/polski-1b3-fp32-reference.toml ;;
    uncapped) config=benchmarks/configs/polski-1b3-uncapped.toml ;;
    deepspeed) config=benchmarks/configs/polski-1b3-deepspeed.toml ;;
    *) echo "variant must be cap12, reference, uncapped or deepspeed" >&2; exit 2 ;;
esac
mkdir -p "$out"
bash "$(dirname "$0")/unpack_bins.sh" "$data" "$work"
rm -rf "$work/1b3-$variant"
# the metrics come back even when a time limit (TIME_LIMIT seconds) cuts the run short
trap 'cp "$work/1b3-$variant/metrics.jsonl" "$out/metrics-$variant.jsonl"; cp "$work/1b3-$variant/samples.jsonl" "$out/samples-$variant.jsonl" 2>/dev/null || true' EXIT
timeout "${TIME_LIMIT:-0}" python3 -m training.cli train --config "$config" --data "$work/bins" --tokenizer "$data/tokenizer" \
    --out "$work/1b3-$variant" --max-steps "$steps" 2>&1 | tee "$out/console-$variant.txt"
