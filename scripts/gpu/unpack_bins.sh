#!/usr/bin/env bash
# DATA/bins -> WORK/bins, decompressing train.bin.zst (zstd --long=27 needs a 2 GiB window) or train.bin.xz once.
# Usage: bash scripts/gpu/unpack_bins.sh DATA WORK
set -euo pipefail
data=$1 work=$2
# bins of another tokenizer or corpus left in WORK by an earlier run on the same machine are replaced
cmp -s "$data/bins/manifest.json" "$work/bins/manifest.json" 2>/dev/null || rm -rf "$work/bins"
mkdir -p "$work/bins"
if [ -f "$data/bins/train.bin.zst" ] && [ ! -f "$work/bins/train.bin" ]; then
    python3 -c "import sys, zstandard; zstandard.ZstdDecompressor(max_window_size=2**31).copy_stream(open(sys.argv[1], 'rb'), open(sys.argv[2], 'wb'))" \
        "$data/bins/train.bin.zst" "$work/bins/train.bin"
elif [ -f "$data/bins/train.bin.xz" ] && [ ! -f "$work/bins/train.bin" ]; then
    xz -dc "$data/bins/train.bin.xz" > "$work/bins/train.bin"
fi
for f in "$data"/bins/*; do
    case ${f##*.} in zst|xz) continue ;; esac
    [ -e "$work/bins/${f##*/}" ] || cp "$f" "$work/bins/"
done
