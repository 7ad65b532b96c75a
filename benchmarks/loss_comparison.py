"""Per-step training loss of a memory-capped run against its reference, on the same data order: one plot, one table.

    python benchmarks/loss_comparison.py REFERENCE_RUN CAPPED_RUN [MORE_RUNS...] --out benchmarks/results/train_loss_comparison

The runs are `polski train` run dirs (their metrics.jsonl); the first is the reference. For each other run:
the largest per-step relative difference, the same over a 20-step moving average (per-step losses of two runs
on the same batches differ by precision noise that averages out), and the mean of the last 20 steps.
Writes OUT.json, OUT.md and OUT.png.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from provenance import provenance  # noqa: E402
from training.atomic import atomic_path, write_text  # noqa: E402
from training.metrics import latest_per_step, read_metrics  # noqa: E402

WINDOW = 20


def losses(run: Path) -> dict[int, float]:
    """run: a run dir, or a metrics.jsonl file."""
    records = latest_per_step(read_metrics(run if run.is_file() else run / "metrics.jsonl", "train"))
    return {r["step"]: r["loss"] for r in records if r.get("loss") is not None}


def moving_average(values: list[float], window: int) -> list[float]:
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v - (values[i - window] if i >= window else 0.0)
        out.append(total / min(i + 1, window))
    return out


def compare(ref: dict[int, float], run: dict[int, float]) -> dict:
    steps = sorted(set(ref) & set(run))
    if not steps:
        raise SystemExit("the runs share no steps: compare runs of the same length")
    a, b = [ref[s] for s in steps], [run[s] for s in steps]
    rel = [(y - x) / x for x, y in zip(a, b)]
    rel_avg = [(y - x) / x for x, y in zip(moving_average(a, WINDOW), moving_average(b, WINDOW))]
    worst = max(range(len(rel)), key=lambda i: abs(rel[i]))
    worst_avg = max(range(len(rel_avg)), key=lambda i: abs(rel_avg[i]))
    return {"steps": len(steps), "max_abs_rel_diff": abs(rel[worst]), "at_step": steps[worst],
            f"max_abs_rel_diff_{WINDOW}_step_mean": abs(rel_avg[worst_avg]), "at_step_mean": steps[worst_avg],
            "final_loss_ref": sum(a[-WINDOW:]) / len(a[-WINDOW:]), "final_loss": sum(b[-WINDOW:]) / len(b[-WINDOW:]),
            "first_loss": b[0], "last_loss": b[-1]}


def plot(path: Path, curves: dict[str, dict[int, float]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 7), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    ref_name, ref = next(iter(curves.items()))
    for name, curve in curves.items():
        steps = sorted(curve)
        top.plot(steps, [curve[s] for s in steps], label=name, linewidth=1)
        if name != ref_name:
            shared = [s for s in steps if s in ref]
            bottom.plot(shared, [100 * (curve[s] - ref[s]) / ref[s] for s in shared], label=name, linewidth=1)
    for limit in (-1, 1):
        bottom.axhline(limit, color="grey", linestyle="--", linewidth=0.8)
    top.set_ylabel("training loss")
    top.legend()
    top.grid(alpha=0.3)
    bottom.set_ylabel(f"% vs {ref_name}")
    bottom.set_xlabel("step")
    bottom.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path, help="run dirs or metrics.jsonl files; the first is the reference")
    ap.add_argument("--out", required=True, type=Path, help="output path without extension")
    ap.add_argument("--device", help="where the runs trained (recorded in the results)")
    args = ap.parse_args(argv)
    if len(args.runs) < 2:
        ap.error("give a reference run and at least one run to compare")
    def label(run: Path) -> str:
        return run.name.removesuffix(".metrics.jsonl") if run.is_file() else run.name

    curves = {label(run): losses(run) for run in args.runs}
    ref_name = label(args.runs[0])
    rows = {name: compare(curves[ref_name], curve) for name, curve in curves.items() if name != ref_name}
    result = {**provenance("loss_comparison", {}, device=args.device), "reference": ref_name, "runs": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_text(args.out.with_suffix(".json"), json.dumps(result, indent=2) + "\n")
    plot(args.out.with_suffix(".png"), curves)
    lines = [f"# Loss against `{ref_name}` (same data order)", "",
             f"{result['date']}, {result['device']}; `{result['command']}`", "",
             f"| run | steps | max per-step diff | max diff of {WINDOW}-step means | last {WINDOW} steps (ref) | first → last loss |",
             "|---|---:|---:|---:|---:|---|"]
    for name, r in rows.items():
        lines.append(f"| {name} | {r['steps']} | {r['max_abs_rel_diff']:.2%} (step {r['at_step']}) | "
                     f"{r[f'max_abs_rel_diff_{WINDOW}_step_mean']:.2%} (step {r['at_step_mean']}) | "
                     f"{r['final_loss']:.4f} ({r['final_loss_ref']:.4f}) | {r['first_loss']:.3f} → {r['last_loss']:.3f} |")
    lines += ["", f"![loss curves]({args.out.with_suffix('.png').name})", ""]
    write_text(args.out.with_suffix(".md"), "\n".join(lines))
    for name, r in rows.items():
        print(f"{name}: max per-step diff {r['max_abs_rel_diff']:.2%}, max {WINDOW}-step-mean diff "
              f"{r[f'max_abs_rel_diff_{WINDOW}_step_mean']:.2%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
