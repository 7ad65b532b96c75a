#!/usr/bin/env bash
# The chat stages ([sft], [refine], export, evaluations) of several configs from one pretrained WORK, side by side on
# one GPU (the 40M model's SFT leaves most of an H200 idle: four finish in about the time of two).
# Usage: bash scripts/gpu/finish_variants.sh DATA WORK OUT CONFIG ...
#   WORK holds the pretraining (`STAGES=pretrain bash scripts/gpu/train_polski_mini.sh DATA WORK OUT`); each CONFIG
#   (a path or name extending that pretraining's config, differing only in [sft] / [refine]) finishes in
#   WORK-NAME, which links WORK's bins and runs, with its results in OUT/NAME (NAME: the config file's stem).
#   The pretrained model is evaluated once, by the first CONFIG (OUT/NAME/eval-BASE). Logs: OUT/NAME.log.
#   WORK's pretrained run may also be a GGUF brought back by `polski import GGUF --out WORK/run-soup` (no WORK/run).
#   Then every chat model's replies are screened for loops (OUT/screen.md, `benchmarks/reply_loops_torch.py`), so
#   that only the best GGUFs need to travel to Ollama's check; SCREEN=0 skips it.
#   MERGES="0.1 0.2" also pulls each chat model that share of the way back to the pretrained soup (`polski merge`,
#   WORK-NAME/merge-W), evaluated (OUT/NAME/eval-merge-W) and screened beside the chat models; MERGE_ONLY=feed_forward
#   merges only the tensors so named (`polski merge --only`). A CONFIG's own [merge] stage (WORK-NAME/merge) is
#   screened too.
set -euo pipefail
data=$1 work=$2 out=$3
shift 3
here=$(dirname "$0")
mkdir -p "$out"
bash "$here/unpack_bins.sh" "$data" "$work"
first=1
for config in "$@"; do
    name=$(basename "$config" .toml)
    mkdir -p "$work-$name"
    for d in "$work"/*; do ln -sfn "$d" "$work-$name/$(basename "$d")"; done
    rm -rf "$work-$name/sft" "$work-$name/refine"  # links to WORK's own chat stages, if it had any
    STAGES=finish EVAL_BASE=$first POLSKI_CONFIG=$config bash "$here/train_polski_mini.sh" "$data" "$work-$name" \
        "$out/$name" > "$out/$name.log" 2>&1 || echo "$name failed: $out/$name.log" &
    first=0
done
wait
chats=()
for config in "$@"; do
    name=$(basename "$config" .toml)
    for stage in refine sft; do
        if [ -e "$work-$name/$stage/checkpoints/latest" ]; then chats+=("$work-$name/$stage"); break; fi
    done
done
base=$work/run-soup
[ -e "$base" ] || base=$work/run
rm -f "$out/merges.txt"
for chat in "${chats[@]}"; do
    name=$(basename "$(dirname "$chat")")
    name=${name#"$(basename "$work")-"}
    for w in ${MERGES:-}; do
        merged=$(dirname "$chat")/merge-$w
        rm -rf "$merged"
        python3 -m training.cli merge "$base" "$chat" --out "$merged" --base-share "$w" ${MERGE_ONLY:+--only $MERGE_ONLY} > "$out/$name-merge-$w.log" 2>&1 &&
            bash "$here/eval_model.sh" "$data" "$work" "$merged" "$out/$name/eval-merge-$w" >> "$out/$name-merge-$w.log" 2>&1 &&
            echo "$merged" >> "$out/merges.txt" || echo "merge $w of $name failed: $out/$name-merge-$w.log" &
    done
done
wait
for config in "$@"; do  # each config's own [merge] stage, when it has one
    merged=$work-$(basename "$config" .toml)/merge
    [ -e "$merged/checkpoints/latest" ] && echo "$merged" >> "$out/merges.txt"
done
[ -e "$out/merges.txt" ] && mapfile -t -O "${#chats[@]}" chats < "$out/merges.txt"
if [[ ${SCREEN:-1} == 1 && ${#chats[@]} -gt 0 ]]; then
    python3 "$here/../../benchmarks/reply_loops_torch.py" "${chats[@]}" --samples "${SCREEN_SAMPLES:-20}" \
        --out "$out/screen" > "$out/screen.log" 2>&1 || echo "screen failed: $out/screen.log"
fi
