#!/usr/bin/env bash
# The flagship path on one GPU, as a user with a 12 GB card runs it: `polski train` inside the 12 GiB cap, cut by a
# time limit and continued with --resume, then `polski eval`, `polski export` (F16, then Q4_0), registration in a real
# Ollama and `ollama run` plus a streamed /api/chat.
# Usage: bash scripts/gpu/polski_1b3_serve.sh DATA WORK OUT
#   DATA: tokenizer/ (32k), bins/ (train.bin.xz), eval/*pairs*.jsonl, ollama.xz (the binary scripts/ollama/install.sh
#         builds), llama_cpp.tar.xz (the llama_cpp package, for the Q4_0 quantizer)
#   FIRST_S: seconds before the first run is killed (SIGKILL); SECOND_S: the resumed run's limit.
set -euo pipefail
data=$1 work=$2 dest=$3
config=${POLSKI_CONFIG:-benchmarks/configs/polski-1b3-short.toml}
out=$work/results run=$work/run
polski() { python3 -m training.cli "$@"; }
mkdir -p "$out" "$dest" "$work/bins"
trap 'cp "$run/metrics.jsonl" "$out/" 2>/dev/null; tar -cJf "$dest/results.tar.xz" -C "$work" results' EXIT
trap 'exit 143' TERM  # a time limit still packs the results
for f in "$data"/bins/*; do
    case $f in *.xz) [ -f "$work/bins/train.bin" ] || xz -dc "$f" > "$work/bins/train.bin" ;; *) cp "$f" "$work/bins/" ;; esac
done
tar -xJf "$data/llama_cpp.tar.xz" -C /tmp/site
xz -dc "$data/ollama.xz" > "$work/ollama" && chmod +x "$work/ollama"

t0=$(date +%s)
timeout -s KILL "${FIRST_S:-240}" python3 -m training.cli train --config "$config" --data "$work/bins" \
    --tokenizer "$data/tokenizer" --out "$run" > "$out/train-first.txt" 2>&1 || echo "first run ended: $?" >> "$out/timing.txt"
echo "first run: $(( $(date +%s) - t0 )) s; checkpoints: $(ls "$run/checkpoints" | tr '\n' ' ')" >> "$out/timing.txt"
t0=$(date +%s)
timeout -s KILL "${SECOND_S:-170}" python3 -m training.cli train --resume --data "$work/bins" --out "$run" \
    > "$out/train-resume.txt" 2>&1 || echo "resumed run ended: $?" >> "$out/timing.txt"
echo "resumed run: $(( $(date +%s) - t0 )) s; checkpoints: $(ls "$run/checkpoints" | tr '\n' ' ')" >> "$out/timing.txt"
nvidia-smi --query-gpu=name,memory.total --format=csv > "$out/gpu.txt"

pair_args=()
for f in "$data"/eval/*pairs*.jsonl; do pair_args+=(--pairs "$f"); done
t0=$(date +%s)
polski eval "$run" --bins "$work/bins" "${pair_args[@]}" --samples --device cuda --batch-size 16 --out "$out/eval" \
    > "$out/eval.txt" 2>&1 || echo "eval failed" >> "$out/timing.txt"
echo "eval: $(( $(date +%s) - t0 )) s" >> "$out/timing.txt"
t0=$(date +%s)
polski export "$run" --out "$work/polski-1b3-f16.gguf" --dtype f16 --force > "$out/export.txt" 2>&1
polski export "$run" --out "$work/polski-1b3.gguf" --dtype f16 --quantize q4_0 --force >> "$out/export.txt" 2>&1
echo "export: $(( $(date +%s) - t0 )) s" >> "$out/timing.txt"
ls -l "$work"/*.gguf > "$out/gguf.txt"; sha256sum "$work/polski-1b3.gguf" >> "$out/gguf.txt"

export OLLAMA_HOST=127.0.0.1:11434 OLLAMA_MODELS=$work/ollama-models
"$work/ollama" serve > "$out/ollama-serve.txt" 2>&1 &
cp modelfiles/polski-1b3.Modelfile "$work/Modelfile"
t0=$(date +%s)
polski register --name polski-1b3 --modelfile "$work/Modelfile" --host "http://$OLLAMA_HOST" > "$out/register.txt" 2>&1
echo "register: $(( $(date +%s) - t0 )) s" >> "$out/timing.txt"
"$work/ollama" run polski-1b3 "Jaka jest stolica Polski?" > "$out/ollama-run.txt" 2>&1
curl -s "http://$OLLAMA_HOST/api/chat" -d '{"model": "polski-1b3", "stream": true, "options": {"seed": 1, "num_predict": 64},
  "messages": [{"role": "user", "content": "Opowiedz mi coś o jesieni w polskich górach."}]}' > "$out/api-chat.ndjson"
curl -s "http://$OLLAMA_HOST/api/generate" -d '{"model": "polski-1b3", "stream": false, "options": {"seed": 1, "num_predict": 64},
  "prompt": "Polska jest krajem"}' > "$out/api-generate.json"
