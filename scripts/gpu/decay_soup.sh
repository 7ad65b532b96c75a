#!/usr/bin/env bash
# A soup of WSD decays: the pretrained run's decay replayed from its first step with other data orders, and the
# uniform average of every decay's end (`polski merge`), all evaluated like the run itself.
# Usage: bash scripts/gpu/decay_soup.sh DATA WORK OUT SEED [SEED ...]
#   WORK/run is a pretrained run (STAGES=pretrain scripts/gpu/train_polski_mini.sh) of POLSKI_CONFIG, a WSD config
#   whose run kept the checkpoint at the decay's start (checkpoint_interval and keep_last). Each SEED resumes a copy
#   of that checkpoint as WORK/run-seedSEED with train.seed = SEED (the step's weights, optimizer and RNG state, but
#   another order of batches), to the run's last step. WORK/run-soup is the average of run and every branch.
#   OUT gets eval-run, eval-run-seedSEED, eval-run-soup, metrics-run-seedSEED.jsonl and soup.md (a row each); then
#   `BASE=run-soup bash scripts/gpu/sft_sweep.sh DATA WORK OUT VARIANT ...` tunes the soup.
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

info=$(python3 -c "
from training.config import load_config, resolve_config_path
from training.schedule import decay_start
c = load_config('$config')
if c.optim.schedule != 'wsd':
    raise SystemExit('$config: optim.schedule is ' + c.optim.schedule + ', a soup of decays needs \"wsd\"')
print(resolve_config_path('$config').resolve(), decay_start(c.optim, c.train.max_steps), c.train.max_steps)")
read -r config_path first last <<< "$info"
branch_point=$(printf 'step-%06d' "$first")
if [ ! -f "$work/run/checkpoints/$branch_point/meta.json" ]; then
    kept=$(cd "$work/run/checkpoints" 2>/dev/null && ls -d step-* | xargs)
    echo "no $branch_point (the decay's start) in $work/run/checkpoints (kept: ${kept:-none}): train with a" \
        "checkpoint_interval that divides $first and a keep_last that keeps it"
    exit 2
fi

evaluate() {  # NAME: WORK/NAME -> OUT/eval-NAME, unless done already
    fresh_eval "$work/$1" "$out/eval-$1" || bash "$here/eval_model.sh" "$data" "$work" "$work/$1" "$out/eval-$1" \
        > "$out/eval-$1.log" 2>&1 || echo "eval of $1 failed: $out/eval-$1.log"
}
evaluate run &

members=("$work/run")
for seed in "$@"; do
    branch=$work/run-seed$seed
    if [ ! -f "$branch/checkpoints/latest" ]; then  # written last: a copy cut short is made again
        rm -rf "$branch"
        mkdir -p "$branch/checkpoints"
        cp -r "$work/run/tokenizer" "$work/run/metrics.jsonl" "$branch/"
        cp -r "$work/run/checkpoints/$branch_point" "$branch/checkpoints/"
        echo "$branch_point" > "$branch/checkpoints/latest"
    fi
    if [ "$(cat "$branch/checkpoints/latest")" != "$(printf 'step-%06d' "$last")" ]; then  # resumes a cut branch too
        # evaluated once at the end only: every member is fully evaluated below, and the GPU time counts
        printf 'extends = "%s"\n\n[train]\nseed = %s\neval_interval = %s\n' "$config_path" "$seed" "$last" > "$work/seed$seed.toml"
        start=$(date +%s)
        polski train --resume --config "$work/seed$seed.toml" --data "$work/bins" --tokenizer "$data/tokenizer" \
            --out "$branch" --heldout-text "$data/eval/ntrex128-pol.jsonl"
        echo "decay branch seed $seed (steps $((first + 1))..$last) wall time: $(( $(date +%s) - start )) s" | tee -a "$out/timing.txt"
    fi
    cp "$branch/metrics.jsonl" "$out/metrics-run-seed$seed.jsonl"
    evaluate "run-seed$seed" &
    members+=("$branch")
done

# the uniform average, one member at a time: soup_k = (k-1)/k soup_(k-1) + 1/k member_k
soup=${members[0]}
for k in $(seq 2 ${#members[@]}); do
    rm -rf "$work/soup-$k"
    polski merge "$soup" "${members[k-1]}" --out "$work/soup-$k" --base-share "$(python3 -c "print(($k - 1) / $k)")"
    [[ $soup == "$work"/soup-* ]] && rm -rf "$soup"
    soup=$work/soup-$k
done
rm -rf "$work/run-soup" "$out/eval-run-soup"
mv "$soup" "$work/run-soup"
cp "$work/run/metrics.jsonl" "$work/run-soup/metrics.jsonl"  # the trunk's curve, for sft_sweep's metrics copy
evaluate run-soup
wait
python3 "$here/pick_sft.py" "$work" "$out" --keep 0 --evals "eval-run*" --table soup.md
python3 - "$work" "$@" >> "$out/soup.md" <<'PY'  # the soup's training time (a branch's file starts with the trunk's)
import sys
from training.metrics import read_metrics, segment_seconds
work, seeds = sys.argv[1], sys.argv[2:]
trunk = sum(segment_seconds(read_metrics(f"{work}/run/metrics.jsonl")))
branches = [sum(segment_seconds(read_metrics(f"{work}/run-seed{s}/metrics.jsonl"))[1:]) for s in seeds]
print(f"\nTraining time, first to last record of each stretch (process starts and first-step compilations not counted): "
      f"trunk {trunk:.0f} s + branches {' + '.join(f'{b:.0f}' for b in branches)} s = {trunk + sum(branches):.0f} s")
PY
