#!/usr/bin/env bash
# The checks of polski-mini's shipping rule that run on a CPU (docs/polski-mini.md, "Shipping rule"), for one candidate
# GGUF: registers it with the shipped Modelfile as cand-NAME, then loops over 630 sampled replies and echoes over 60
# conversations, each beside the shipped polski-mini, and the chat tasks through llama.cpp. Needs `ollama serve`
# running; ~16 min on 2 cores. NTREX, validation and pairs come from the GPU run's evaluation.
# Usage: bash benchmarks/candidate_checks.sh NAME GGUF OUT_DIR
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: bash benchmarks/candidate_checks.sh NAME GGUF OUT_DIR"; exit 2; }
name=cand-$1 gguf=$(realpath "$2") out=$(realpath -m "$3")
[ -f "$gguf" ] || { echo "no GGUF at $2: give the candidate's .gguf file"; exit 2; }
cd "$(dirname "$0")/.."
modelfile_dir=$(mktemp -d)
trap 'rm -rf "$modelfile_dir"' EXIT
cp modelfiles/polski-mini/Modelfile "$modelfile_dir/"  # FROM ./polski-mini.gguf: the GGUF goes beside it
ln -s "$gguf" "$modelfile_dir/polski-mini.gguf"
python3 -m training.cli register --name "$name" --modelfile "$modelfile_dir/Modelfile"
mkdir -p "$out"
python3 benchmarks/reply_loops.py --models polski-mini "$name" --seeds $(seq 1 90) --out "$out/reply_loops"
python3 benchmarks/multi_turn.py --models polski-mini "$name" --seeds $(seq 1 10) --out "$out/multi_turn"
python3 -m training.cli eval "$gguf" --chat-tasks ../shared/data/eval/heldout-text/ntrex128-pol.jsonl --out "$out/chat_tasks"
echo "wrote $out/reply_loops.md, $out/multi_turn.md, $out/chat_tasks/eval.md"
