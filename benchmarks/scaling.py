"""Data-parallel scaling efficiency from two runs' metrics.jsonl: tokens/s on N GPUs over N x tokens/s on one.

    python benchmarks/scaling.py ONE_GPU/metrics.jsonl N_GPUS/metrics.jsonl --gpus N [--skip 10] [--out FILE]

Medians over the steps after --skip (compilation and warm-up). For ZeRO-2: the runs of
`deepspeed --num_gpus 1|N -m training.cli train --config benchmarks/configs/polski-1b3-deepspeed.toml ...`.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.atomic import write_json  # noqa: E402
from training.metrics import latest_per_step, read_metrics  # noqa: E402


def median_of(path: Path, key: str, skip: int) -> float:
    values = [r[key] for r in latest_per_step(read_metrics(path, "train")) if r["step"] > skip and r.get(key) is not None]
    if not values:
        sys.exit(f"{path}: no {key} after step {skip}: did the run get that far?")
    return statistics.median(values)


def scaling(one: Path, many: Path, gpus: int, skip: int = 10) -> dict:
    base, scaled = median_of(one, "tokens_per_s", skip), median_of(many, "tokens_per_s", skip)
    return {"gpus": gpus, "tokens_per_s_1": round(base), f"tokens_per_s_{gpus}": round(scaled),
            "efficiency": round(scaled / (gpus * base), 3),
            "mfu_1": round(median_of(one, "mfu", skip), 3), f"mfu_{gpus}": round(median_of(many, "mfu", skip), 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("one", type=Path)
    ap.add_argument("many", type=Path)
    ap.add_argument("--gpus", type=int, required=True)
    ap.add_argument("--skip", type=int, default=10)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    result = scaling(args.one, args.many, args.gpus, args.skip)
    if args.out:
        write_json(args.out, result)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
