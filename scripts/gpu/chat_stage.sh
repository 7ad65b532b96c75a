#!/usr/bin/env bash
# polski-mini's chat stage on one GPU: candidate SFTs of a start model on the built chat set, each judged on dev data
# only (chat-dev replies, corpus validation BPB, the dev half of the minimal pairs); the pick is exported to Q8_0.
# Usage: bash scripts/gpu/chat_stage.sh DATA WORK OUT
#   DATA: tokenizer/, bins/ (val split; train.bin.zst or .xz: windows for sft.pretrain_mix), chat/chat.jsonl,
#         eval/*pairs*.jsonl, and start.gguf (or START_GGUF=FILE, or START=RUN_DIR): the model the SFTs start from
#   CANDIDATES: "NAME:STEPS:LR:MIX ..." (default below); all train at once on the one GPU.
# OUT gets results.tar.xz (replies-NAME.json, eval-NAME/, logs, ranking.md) and the pick's GGUF in 15 MB parts
# (polski-mini.gguf.part-*): a GPU machine returns few files.
set -euo pipefail
data=$1 work=$2 dest=$3
out=$work/results
trap 'tar -cJf "$dest/results.tar.xz" -C "$work" results' EXIT
trap 'exit 143' TERM  # a time limit still packs the results
config=${POLSKI_CONFIG:-polski-mini}
device=${POLSKI_DEVICE:-cuda}
reply_args=${REPLY_ARGS:-}  # e.g. "--seeds 1 --max-tokens 40" for a quick check
candidates=${CANDIDATES:-"a:600:5e-5:0.5 b:1200:1e-4:0.5 c:1200:1e-4:0.3 d:2400:1e-4:0.5"}
polski() { python3 -m training.cli "$@"; }
mkdir -p "$out" "$dest"
bash "$(dirname "$0")/unpack_bins.sh" "$data" "$work"
start=${START:-$work/start}
[ -e "$start/checkpoints/latest" ] || polski import "${START_GGUF:-$data/start.gguf}" --tokenizer "$data/tokenizer" --out "$start"
pair_args=()
for f in "$data"/eval/*pairs*.jsonl; do pair_args+=(--pairs "$f"); done

one() {  # NAME STEPS LR MIX: tune, then the dev judgements
    local name=$1 t0=$(date +%s)
    polski sft --config "$config" --init-from "$start" --out "$work/$name" --source "$data/chat/chat.jsonl" \
        --bins "$work/bins" --max-steps "$2" --lr "$3" --pretrain-mix "$4" > "$out/sft-$name.log" 2>&1
    echo "$name: sft $(( $(date +%s) - t0 )) s" >> "$out/timing.txt"
    python3 scripts/gpu/chat_replies.py "$work/$name" training/resources/chat-eval/chat-dev.jsonl "$out/replies-$name.json" --device "$device" $reply_args &
    polski eval "$work/$name" --bins "$work/bins" "${pair_args[@]}" --pairs-split dev --device "$device" --batch-size 64 \
        --out "$out/eval-$name" > "$out/eval-$name.log" 2>&1
    wait
    echo "$name: done $(( $(date +%s) - t0 )) s" >> "$out/timing.txt"
}
names=()
for c in $candidates; do
    IFS=: read -r name steps lr mix <<< "$c"
    names+=("$name")
    one "$name" "$steps" "$lr" "$mix" &
done
python3 scripts/gpu/chat_replies.py "$start" training/resources/chat-eval/chat-dev.jsonl "$out/replies-start.json" --device "$device" $reply_args &
wait
pick=$(python3 scripts/gpu/pick_chat.py training/resources/chat-eval/chat-dev.jsonl "$out" "${names[@]}" --no-language-check | tail -n 1)
[ -n "$pick" ] || { echo "no candidate passed the guards"; exit 1; }
polski export "$work/$pick" --out "$work/polski-mini.gguf" --dtype q8_0 --force
split -b 15M "$work/polski-mini.gguf" "$dest/polski-mini.gguf.part-"
sha256sum "$work/polski-mini.gguf" | tee "$out/pick.txt"
echo "pick: $pick" >> "$out/pick.txt"
