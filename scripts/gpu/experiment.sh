#!/usr/bin/env bash
# One pretraining and its SFT variants in a single device call: the run lives in the device machine's /tmp, which is
# gone once the machine is released (30 s after a call), so an SFT in a later call may find nothing to tune.
# Usage: bash scripts/gpu/experiment.sh DATA WORK OUT CONFIG NAME:STEPS:LR:MIX[:frozen] ...
#   DEADLINE (default 580 s, a device call's limit minus a margin) bounds the whole; the sweep stops at it, and
#   variants left unevaluated are run by `sft_sweep.sh` in the next call (evaluated ones are skipped there).
#   KEEP (default 1: one 42 MB GGUF fits the 64 MiB a device call returns) is how many GGUFs OUT gets.
#   Logs: OUT/run.log, OUT/sweep.log.
set -euo pipefail
data=$1 work=$2 out=$3 config=$4
shift 4
here=$(dirname "$0")
deadline=${DEADLINE:-580}
mkdir -p "$out"
STAGES=pretrain POLSKI_CONFIG=$config timeout "$deadline" bash "$here/train_polski_mini.sh" "$data" "$work" "$out" \
    > "$out/run.log" 2>&1 || { echo "pretraining failed or passed the deadline: $out/run.log"; exit 1; }
left=$(( deadline - SECONDS ))
(( left > 0 )) || { echo "no time left for the SFTs after the pretraining"; exit 0; }
POLSKI_CONFIG=$config KEEP=${KEEP:-1} timeout "$left" bash "$here/sft_sweep.sh" "$data" "$work" "$out" "$@" \
    > "$out/sweep.log" 2>&1 || echo "the sweep stopped (deadline or error): $out/sweep.log"
grep -h "wall time" "$out/timing.txt" || true
