#!/usr/bin/env bash
# Several chat SFTs of one pretrained run, each exported and evaluated (chat tasks included), then ranked.
# Usage: bash scripts/gpu/sft_sweep.sh DATA WORK OUT NAME:STEPS:LR:MIX[:OPTIONS] ...
#   OPTIONS, comma-separated: frozen (--freeze-embeddings: only the chat markers' embedding rows learn);
#   seed=N (train.seed = N: another order of the conversations and other plain-text rows; any N but train.seed);
#   turns=SHARE (sft.multi_turn_share = SHARE: that share of conversations opens a chain of up to three turns);
#   from=step-003000 (start from that checkpoint of WORK/run instead of its last one: with [sft] schedule = "linear"
#   and the pretraining's lr, the SFT replaces the pretraining's decay; the run's [train] keep_last must have kept it:
#   every variant's start is checked before any work, and a missing one exits 2 naming the kept steps).
#   WORK/run is the pretrained run (`STAGES=pretrain bash scripts/gpu/train_polski_mini.sh DATA WORK OUT`), DATA as there;
#   BASE=NAME tunes WORK/NAME instead (e.g. BASE=run-soup after scripts/gpu/decay_soup.sh).
#   A variant whose OUT/eval-sft-NAME/eval.json is newer than its model (scripts/gpu/fresh_eval.sh) is skipped, and
#   one whose WORK/NAME.gguf exists is only evaluated, so a call cut short can be continued by the next.
#   BARS="METRIC<=VALUE;METRIC>=VALUE" and KEEP=N choose which GGUFs come back in OUT (scripts/gpu/pick_sft.py).
#   MERGES="0.2 0.4" also evaluates each SFT pulled back toward the pretrained run by those shares (`polski merge`),
#   as variants NAME-b20, NAME-b40.
#   AVERAGES="NAME=MEMBER+MEMBER ..." evaluates each uniform average of tuned variants as variant NAME (a soup of SFTs,
#   `polski merge --average`); a MEMBER is a variant's name, or NAME@step-000900 for one of its kept checkpoints.
set -euo pipefail
data=$1 work=$2 out=$3
shift 3
config=${POLSKI_CONFIG:-polski-mini}
base=${BASE:-run}
polski() { python3 -m training.cli "$@"; }
source "$(dirname "$0")/fresh_eval.sh"
mkdir -p "$out"
bash "$(dirname "$0")/unpack_bins.sh" "$data" "$work"
config_path=$(python3 -c "from training.config import resolve_config_path; print(resolve_config_path('$config').resolve())")

parse_variant() {  # VARIANT -> name steps lr mix init frozen; exits 2 on an unknown option or a missing checkpoint
    IFS=: read -r name steps lr mix options <<< "$1"
    init=$work/$base frozen= seed= turns=
    IFS=, read -ra option_list <<< "${options:-}"
    for option in "${option_list[@]}"; do
        case $option in
            frozen) frozen=1 ;;
            seed=*) seed=${option#seed=} ;;
            turns=*) turns=${option#turns=} ;;
            from=*) init=$work/$base/checkpoints/${option#from=} ;;
            *) echo "unknown option '$option' in $1: use frozen, seed=N, turns=SHARE or from=step-NNNNNN"; exit 2 ;;
        esac
    done
    if [ "$init" != "$work/$base" ] && [ ! -f "$init/meta.json" ]; then
        kept=$(cd "$work/$base/checkpoints" 2>/dev/null && ls -d step-* | xargs)
        echo "$name: no checkpoint $(basename "$init") in $work/$base/checkpoints (kept: ${kept:-none});" \
            "pick a kept one, or raise [train] keep_last (evaluations with a new best also save) and train again"
        exit 2
    fi
}
for variant in "$@"; do parse_variant "$variant"; done  # every variant checked before any work starts

evaluate() {  # DIR NAME [ARGS]: runs beside the next SFT on the same GPU (both are small)
    bash "$(dirname "$0")/eval_model.sh" "$data" "$work" "$work/$1" "$out/eval-$2" "${@:3}" || echo "eval of $1 failed"
}
fresh_eval "$work/$base" "$out/eval-$base" || evaluate "$base" "$base" > "$out/eval-$base.log" 2>&1 &
cp "$work/$base/metrics.jsonl" "$out/metrics-$base.jsonl"

for variant in "$@"; do
    parse_variant "$variant"
    fresh_eval "$work/sft-$name" "$out/eval-sft-$name" && { echo "$name: evaluated already"; continue; }
    if [ -f "$work/$name.gguf" ]; then  # tuned and exported by an earlier call whose deadline cut the evaluation
        echo "$name: tuned already, evaluating"
    else
        rm -rf "$work/sft-$name"
        # one SFT per variant (sft.seeds, a soup of SFTs, is what AVERAGES measures); the decay's seeds mean nothing here
        variant_config=$work/sft-$name.toml
        printf 'extends = "%s"\n\n[train]\ndecay_seeds = []\n%s\n[sft]\nseeds = []\n%s\n' "$config_path" \
            "${seed:+seed = $seed}" "${turns:+multi_turn_share = $turns}" > "$variant_config"
        start=$(date +%s)
        polski sft --config "$variant_config" --init-from "$init" --out "$work/sft-$name" --source "$data/sft" --bins "$work/bins" \
            --max-steps "$steps" --lr "$lr" --pretrain-mix "$mix" ${frozen:+--freeze-embeddings} \
            --heldout-text "$data/eval/ntrex128-pol.jsonl"
        echo "sft $name ($steps steps, lr $lr, mix $mix) wall time: $(( $(date +%s) - start )) s" | tee -a "$out/timing.txt"
        polski export "$work/sft-$name" --out "$work/$name.gguf" --dtype q8_0 --force
    fi
    cp "$work/sft-$name/metrics.jsonl" "$out/metrics-sft-$name.jsonl"
    evaluate "sft-$name" "sft-$name" --chat-tasks "$data/eval/ntrex128-pol.jsonl" > "$out/eval-sft-$name.log" 2>&1 &
    for share in ${MERGES:-}; do
        merged="$name-b$(python3 -c "print(round($share * 100))")"
        rm -rf "$work/sft-$merged"
        polski merge "$init" "$work/sft-$name" --out "$work/sft-$merged" --base-share "$share"
        polski export "$work/sft-$merged" --out "$work/$merged.gguf" --dtype q8_0 --force
        evaluate "sft-$merged" "sft-$merged" --chat-tasks "$data/eval/ntrex128-pol.jsonl" > "$out/eval-sft-$merged.log" 2>&1 &
    done
done
for average in ${AVERAGES:-}; do
    name=${average%%=*} members=()
    IFS=+ read -ra member_list <<< "${average#*=}"
    for m in "${member_list[@]}"; do
        if [[ $m == *@* ]]; then members+=("$work/sft-${m%@*}/checkpoints/${m#*@}"); else members+=("$work/sft-$m"); fi
    done
    fresh_eval "$work/sft-$name" "$out/eval-sft-$name" && { echo "$name: evaluated already"; continue; }
    rm -rf "$work/sft-$name"
    polski merge "${members[@]}" --out "$work/sft-$name" --average
    polski export "$work/sft-$name" --out "$work/$name.gguf" --dtype q8_0 --force
    evaluate "sft-$name" "sft-$name" --chat-tasks "$data/eval/ntrex128-pol.jsonl" > "$out/eval-sft-$name.log" 2>&1 &
done
wait

bars=()
IFS=';' read -ra bar_list <<< "${BARS:-}"
for b in "${bar_list[@]}"; do bars+=(--bar "$b"); done
python3 "$(dirname "$0")/pick_sft.py" "$work" "$out" --keep "${KEEP:-2}" "${bars[@]}"
