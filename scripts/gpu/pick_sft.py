"""Ranks the SFT variants of scripts/gpu/sft_sweep.sh and keeps the GGUFs worth bringing back.

Usage: python3 scripts/gpu/pick_sft.py WORK OUT [--keep N] [--bar "METRIC<=VALUE" ...] [--evals GLOB --table FILE]
Reads OUT/eval-sft-NAME/eval.json, writes OUT/sft-sweep.md (a row per variant), and copies WORK/NAME.gguf to OUT for
at most N variants that meet every bar, lowest NTREX BPB first (a device call returns at most 64 MiB, a GGUF is ~43 MB).
A bar is "METRIC<=VALUE" or "METRIC>=VALUE" with METRIC a headline figure, e.g. "ntrex128-pol.jsonl bpb<=1.584".
--evals "eval-run*" --table soup.md --keep 0 tabulates other evaluations the same way (scripts/gpu/decay_soup.sh).
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path

from training.evals.compare import headline


def meets(figures: dict[str, float], bar: str) -> bool:
    match = re.fullmatch(r"(.+?)\s*(<=|>=)\s*([0-9.]+)", bar)
    if not match:
        raise SystemExit(f"bar {bar!r} is not METRIC<=VALUE or METRIC>=VALUE")
    metric, op, value = match.group(1), match.group(2), float(match.group(3))
    if metric not in figures:
        return False
    return figures[metric] <= value if op == "<=" else figures[metric] >= value


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("work", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--keep", type=int, default=2)
    ap.add_argument("--bar", action="append", default=[])
    ap.add_argument("--evals", default="eval-sft-*", help="glob of OUT's evaluation dirs")
    ap.add_argument("--table", default="sft-sweep.md")
    args = ap.parse_args()

    rows = {}
    for path in sorted(args.out.glob(f"{args.evals}/eval.json")):
        name = path.parent.name.removeprefix("eval-").removeprefix("sft-")
        rows[name] = headline(json.loads(path.read_text(encoding="utf-8")))
    metrics = sorted({m for figures in rows.values() for m in figures})
    passing = sorted((n for n, f in rows.items() if all(meets(f, b) for b in args.bar)),
                     key=lambda n: rows[n].get("ntrex128-pol.jsonl bpb", float("inf")))
    kept = [n for n in passing if (args.work / f"{n}.gguf").is_file()][:args.keep]
    for name in kept:
        shutil.copy(args.work / f"{name}.gguf", args.out / f"{name}.gguf")

    lines = ["| variant | " + " | ".join(metrics) + " | meets the bar | GGUF kept |",
             "|---|" + "---:|" * len(metrics) + "---|---|"]
    for name, figures in rows.items():
        cells = [f"{figures[m]:.4f}" if m in figures else "-" for m in metrics]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {'yes' if name in passing else 'no'} | {'yes' if name in kept else ''} |")
    bars = "; ".join(args.bar) or "none"
    text = f"Bar: {bars}\n\n" + "\n".join(lines) + "\n"
    (args.out / args.table).write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
