#!/usr/bin/env bash
# polski-1b3 uncapped MFU under inductor's modes, one process per variant (benchmarks/train_throughput.py, synthetic
# tokens, micro-batch 16, no accumulation). Each variant gets at most LIMIT seconds; what finished is in OUT.
# Usage: bash scripts/gpu/mfu_variants.sh OUT LIMIT VARIANT...
#   VARIANT: SCENARIO:MODE[:coord]  e.g. 1b3-uncapped-bf16:default 1b3-uncapped-bf16:reduce-overhead
#   (coord: also TORCHINDUCTOR_COORDINATE_DESCENT_TUNING=1, inductor tunes its elementwise kernels' block sizes)
#   THROUGHPUT_ARGS: more arguments for train_throughput.py (the test runs `--smoke` scenarios on a CPU this way)
set -uo pipefail
out=$1 limit=$2; shift 2
mkdir -p "$out"
for variant in "$@"; do
    IFS=: read -r scenario mode coord <<< "$variant"
    name=${variant//:/-}
    env ${coord:+TORCHINDUCTOR_COORDINATE_DESCENT_TUNING=1} timeout "$limit" python3 benchmarks/train_throughput.py \
        --only "$scenario" --compile-mode "$mode" --compare-steps 0 --profile --out "$out/$name.json" ${THROUGHPUT_ARGS:-} \
        > "$out/$name.log" 2>&1
    echo "$variant: exit $? $(grep -E "tok/s|Error" "$out/$name.log" | tail -1)"
done
