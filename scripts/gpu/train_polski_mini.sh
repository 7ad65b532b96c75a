#!/usr/bin/env bash
# The recipe that produced the shipped polski-mini, on one GPU, from prepared inputs:
#   DATA/bins (from `polski data tokenize`; train.bin may be zstd-compressed as train.bin.zst),
#   DATA/tokenizer, DATA/chat/chat.jsonl (from `polski chat-data build`), DATA/eval (held-out text and minimal pairs).
# Usage: bash scripts/gpu/train_polski_mini.sh DATA WORK OUT [PRETRAIN_STEPS]
# WORK gets the run dirs; OUT gets the shareable results (evals, metrics, samples, GGUF).
# STAGES=pretrain or STAGES=finish (chat SFT, and refine and merge where the config has them, export, evals) splits
# the work over two runs; default: both.
# A second pretrain run resumes one that was cut short (WORK/run is kept). On an H200 the whole recipe takes about
# 720 s, 550 s of it pretraining with the soup of decays.
# CHAT_TASKS=1 also runs the chat tasks on the chat model (about a minute more; on a CPU machine,
# `polski eval OUT/polski-mini.gguf --chat-tasks ntrex128-pol.jsonl` measures the same from the GGUF).
set -euo pipefail
data=$1 work=$2 out=$3 steps=${4:-}
config=${POLSKI_CONFIG:-polski-mini}
polski() { python3 -m training.cli "$@"; }
mkdir -p "$out"
bash "$(dirname "$0")/unpack_bins.sh" "$data" "$work"

stages=${STAGES:-pretrain finish}
start=$(date +%s)
if [[ $stages == *pretrain* ]]; then
    resume=  # a run a call's time limit cut continues from its last checkpoint (and its decay branches from theirs)
    [ -e "$work/run/checkpoints/latest" ] && resume=--resume
    polski train --config "$config" --data "$work/bins" --tokenizer "$data/tokenizer" --out "$work/run" ${steps:+--max-steps "$steps"} \
        --heldout-text "$data/eval/ntrex128-pol.jsonl" $resume  # NTREX BPB at every eval, in metrics.jsonl
    echo "pretrain wall time: $(( $(date +%s) - start )) s" | tee -a "$out/timing.txt"
    cp "$work/run/metrics.jsonl" "$out/metrics-run.jsonl"
fi
[[ $stages == *finish* ]] || exit 0

evaluate() {  # the pretrained model is evaluated on the same GPU while SFT runs (both are small)
    bash "$(dirname "$0")/eval_model.sh" "$data" "$work" "$work/$1" "$out/eval-$1" "${@:2}" || echo "eval of $1 failed"
}
base=$(python3 -c "from training.config import load_config; from training.layout import pretrained_run
print(pretrained_run(load_config('$config')).name)")  # run, or run-soup with train.decay_seeds
[[ ${EVAL_BASE:-1} == 0 ]] || evaluate "$base" > "$out/eval-$base.log" 2>&1 &  # EVAL_BASE=0: evaluated elsewhere

start=$(date +%s)
polski sft --config "$config" --init-from "$work/$base" --out "$work/sft" --source "$data/chat/chat.jsonl" --bins "$work/bins" \
    --heldout-text "$data/eval/ntrex128-pol.jsonl"
echo "sft wall time: $(( $(date +%s) - start )) s" | tee -a "$out/timing.txt"
chat=sft
if python3 -c "from training.config import load_config; exit(load_config('$config').refine is None)"; then
    start=$(date +%s)  # the second chat stage ([refine]) from the first one's result
    polski sft --config "$config" --refine --init-from "$work/sft" --out "$work/refine" --source "$data/chat/chat.jsonl" \
        --bins "$work/bins" --heldout-text "$data/eval/ntrex128-pol.jsonl"
    echo "refine wall time: $(( $(date +%s) - start )) s" | tee -a "$out/timing.txt"
    chat=refine
fi
merge=$(python3 -c "from training.config import load_config; m = load_config('$config').merge
print(' '.join([str(m.base_share), '--only', *m.tensors] if m and m.tensors else [str(m.base_share)] if m else []))")
if [ -n "$merge" ]; then  # [merge]: the chat model pulled back toward the pretrained run
    rm -rf "$work/merge"
    polski merge "$work/$base" "$work/$chat" --out "$work/merge" --base-share $merge
    chat=merge
fi

polski export "$work/$chat" --out "$out/polski-mini.gguf" --dtype q8_0 --force
members=(run)
[ "$base" = run ] || members+=("$base")
for stage in "${members[@]}" sft refine merge; do  # an imported base (`polski import`) has no metrics, nor WORK/run
    [ -e "$work/$stage" ] || continue
    cp "$work/$stage/metrics.jsonl" "$out/metrics-$stage.jsonl" 2>/dev/null || true
    cp "$work/$stage/samples.jsonl" "$out/samples-$stage.jsonl" 2>/dev/null || true
done
cp "$work/run/config.toml" "$out/config.toml" 2>/dev/null || cp "$work/$chat/config.toml" "$out/config.toml"
chat_args=()
[[ ${CHAT_TASKS:-0} == 1 ]] && chat_args=(--chat-tasks "$data/eval/ntrex128-pol.jsonl")  # restoring diacritics, punctuation
evaluate "$chat" "${chat_args[@]}"
wait
