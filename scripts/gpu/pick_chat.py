"""Ranks the chat models of scripts/gpu/finish_variants.sh (chat stages and their merges) and names the one to bring back.

Usage: python3 scripts/gpu/pick_chat.py WORK OUT [--max-looping N]
Reads OUT/screen.json (the loop screen) and each screened run's evaluation, OUT/NAME/eval-STAGE/eval.json for the run
WORK-NAME/STAGE; writes OUT/ranking.md (a row per model) and prints the run with the lowest NTREX BPB among those whose
screen counted at most N looping replies (nothing when none did). A device call returns one GGUF: this picks it.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script on the device, outside the package
from training.evals.compare import headline  # noqa: E402

NTREX = "ntrex128-pol.jsonl bpb"


def evaluation(work: Path, out: Path, run: Path) -> dict[str, float]:
    name = run.parent.name.removeprefix(f"{work.name}-")
    path = out / name / f"eval-{run.name}" / "eval.json"
    return headline(json.loads(path.read_text(encoding="utf-8"))) if path.is_file() else {}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("work", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--max-looping", type=int, default=4)
    args = ap.parse_args()

    screen = json.loads((args.out / "screen.json").read_text(encoding="utf-8"))["runs"]
    rows = {run: (evaluation(args.work, args.out, Path(run)), s["looping"], s["replies"]) for run, s in screen.items()}
    metrics = sorted({m for figures, _, _ in rows.values() for m in figures})
    lines = ["| run | looping | " + " | ".join(metrics) + " |", "|---|---:|" + "---:|" * len(metrics)]
    for run, (figures, looping, replies) in sorted(rows.items(), key=lambda r: r[1][0].get(NTREX, float("inf"))):
        cells = " | ".join(f"{figures[m]:.4f}" if m in figures else "" for m in metrics)
        lines.append(f"| {run} | {looping} of {replies} | {cells} |")
    (args.out / "ranking.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    passing = [run for run, (figures, looping, _) in rows.items() if looping <= args.max_looping and NTREX in figures]
    if passing:
        print(min(passing, key=lambda run: rows[run][0][NTREX]))


if __name__ == "__main__":
    main()
