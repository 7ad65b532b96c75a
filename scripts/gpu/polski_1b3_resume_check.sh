#!/usr/bin/env bash
# Crash and resume of polski-1b3 inside the 12 GiB cap: train toward STEPS with a checkpoint every 20 steps,
# SIGKILL the trainer once step KILL_AFTER is logged (after the step-20 checkpoint), then `polski train --resume`.
# Compare the resumed losses with an uninterrupted run of the same STEPS (`polski_1b3_12gb.sh cap12 ... STEPS`: the
# warm-up depends on max_steps).
# Usage: bash scripts/gpu/polski_1b3_resume_check.sh DATA WORK OUT [STEPS] [KILL_AFTER]
set -euo pipefail
data=$1 work=$2 out=$3 steps=${4:-60} kill_after=${5:-26}
run=$work/1b3-resume
mkdir -p "$out"
bash "$(dirname "$0")/unpack_bins.sh" "$data" "$work"
rm -rf "$run"
trap 'cp "$run/metrics.jsonl" "$out/metrics-resume.jsonl" 2>/dev/null || true' EXIT
python3 -m training.cli train --config benchmarks/configs/polski-1b3-resume-check.toml --data "$work/bins" \
    --tokenizer "$data/tokenizer" --out "$run" --max-steps "$steps" > "$out/console-first.txt" 2>&1 &
pid=$!
until grep -q "\"step\": $kill_after, \"time\"[^}]*\"kind\": \"train\"" "$run/metrics.jsonl" 2>/dev/null; do
    kill -0 $pid 2>/dev/null || { echo "trainer ended before step $kill_after" >&2; exit 1; }
    sleep 0.5
done
kill -9 $pid; wait $pid || true
echo "killed after step $kill_after; checkpoints: $(ls "$run/checkpoints")" | tee "$out/kill.txt"
python3 -m training.cli train --resume --data "$work/bins" --out "$run" --max-steps "$steps" > "$out/console-resume.txt" 2>&1
