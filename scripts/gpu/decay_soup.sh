#!/usr/bin/env bash
# A soup of WSD decays, evaluated: `polski train` with train.decay_seeds = [SEED ...] (training/soup.py) on the
# pretrained WORK/run, then each member and the soup evaluated like the run itself.
# Usage: bash scripts/gpu/decay_soup.sh DATA WORK OUT SEED [SEED ...]
#   WORK/run is a pretrained run (STAGES=pretrain scripts/gpu/train_polski_mini.sh) of POLSKI_CONFIG, a WSD config
#   whose run kept the checkpoint at the decay's start (train.decay_seeds set keeps it in WORK/run/decay-start;
#   otherwise checkpoint_interval and keep_last must keep it). Each SEED resumes a copy of it as WORK/run-seedSEED
#   with train.seed = SEED (the step's weights, optimizer and RNG state, another order of batches) to the last step;
#   WORK/run-soup is the uniform average of run and every branch.
#   OUT gets eval-run, eval-run-seedSEED, eval-run-soup, metrics-run-seedSEED.jsonl and soup.md (a row each, and the
#   training time); then `BASE=run-soup bash scripts/gpu/sft_sweep.sh DATA WORK OUT VARIANT ...` tunes the soup.
#   A branch that reached the last step is kept, not trained again; one a deadline cut resumes from its last checkpoint.
set -euo pipefail
data=$1 work=$2 out=$3
shift 3
(( $# > 0 )) || { echo "give at least one SEED: bash scripts/gpu/decay_soup.sh DATA WORK OUT SEED [SEED ...]"; exit 2; }
config=${POLSKI_CONFIG:-polski-mini}
here=$(dirname "$0")
polski() { python3 -m training.cli "$@"; }
source "$here/fresh_eval.sh"
mkdir -p "$out"
bash "$here/unpack_bins.sh" "$data" "$work"

config_path=$(python3 -c "from training.config import resolve_config_path; print(resolve_config_path('$config').resolve())")
printf 'extends = "%s"\n\n[train]\ndecay_seeds = [%s]\n' "$config_path" "$(IFS=,; echo "$*")" > "$work/soup.toml"

evaluate() {  # NAME: WORK/NAME -> OUT/eval-NAME, unless done already
    fresh_eval "$work/$1" "$out/eval-$1" || bash "$here/eval_model.sh" "$data" "$work" "$work/$1" "$out/eval-$1" \
        > "$out/eval-$1.log" 2>&1 || echo "eval of $1 failed: $out/eval-$1.log"
}

# the finished trunk resumes at its last step (nothing to train), then training/soup.py replays the decay per seed
# (finished branches are kept, a cut one resumes) and writes WORK/run-soup
start=$(date +%s)
polski train --resume --config "$work/soup.toml" --data "$work/bins" --tokenizer "$data/tokenizer" --out "$work/run" \
    --heldout-text "$data/eval/ntrex128-pol.jsonl"
echo "decay branches (seeds $*) and their average wall time: $(( $(date +%s) - start )) s" | tee -a "$out/timing.txt"
evaluate run &
for seed in "$@"; do
    cp "$work/run-seed$seed/metrics.jsonl" "$out/metrics-run-seed$seed.jsonl"
    evaluate "run-seed$seed" &
done
rm -rf "$out/eval-run-soup"
evaluate run-soup
wait
python3 "$here/pick_sft.py" "$work" "$out" --keep 0 --evals "eval-run*" --table soup.md
python3 - "$work" "$@" >> "$out/soup.md" <<'PY'
import sys
from pathlib import Path
from training.soup import training_seconds
trunk, branches = training_seconds(Path(sys.argv[1]) / "run", [int(s) for s in sys.argv[2:]])
print(f"\nTraining time, first to last record of each stretch (process starts and first-step compilations not counted): "
      f"trunk {trunk:.0f} s + branches {' + '.join(f'{b:.0f}' for b in branches)} s = {trunk + sum(branches):.0f} s")
PY
