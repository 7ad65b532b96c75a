#!/usr/bin/env bash
# The DATA folder the GPU scripts take, from a work dir on the CPU machine: bins/ (train.bin zstd-compressed, 73 -> 38 MB,
# so a copy to the GPU machine stays small), tokenizer/, chat/ (from `polski chat-data build`) and eval/ from ../shared/data.
# Usage: bash scripts/gpu/pack_data.sh WORK_DIR DATA     e.g. work/polski-mini DATA
# Then copy DATA to the GPU machine: scripts/gpu/unpack_bins.sh undoes the compression there.
set -euo pipefail
work=$1 data=$2 shared=${SHARED:-../shared/data}
rm -rf "$data.tmp" && mkdir -p "$data.tmp/bins" "$data.tmp/eval"
zstd -q -19 --long=27 -T0 "$work/bins/train.bin" -o "$data.tmp/bins/train.bin.zst"
for f in "$work"/bins/*; do [ "${f##*/}" = train.bin ] || cp "$f" "$data.tmp/bins/"; done
cp -r "$work/tokenizer" "$data.tmp/tokenizer"
cp -r "$work/chat" "$data.tmp/chat"
chmod -R u+w "$data.tmp"  # ../shared is read-only; the copies need not be
cp "$shared"/eval/heldout-text/ntrex128-pol.jsonl "$shared"/eval/minimal-pairs/*pairs*.jsonl "$data.tmp/eval/"
rm -rf "$data" && mv "$data.tmp" "$data"
du -sh "$data"
