"""`polski report RUN_DIR --out DIR`: PNG plots of a run's metrics plus a Markdown and an HTML summary."""
from __future__ import annotations

import html
import math
from pathlib import Path

from training.atomic import atomic_path, write_text
from training.errors import DataError
from training.metrics import segment_seconds
from training.monitor.reader import MetricsReader
from training.monitor.state import bpb_lines, format_duration, line_keys, other_bpb_keys, progress, series

PLOTS = [  # file, title, [(group, key, label)] or a function of the data giving them, log y
    ("loss.png", "loss", [("train", "loss", "train loss"), ("evals", "val_loss", "val loss")], False),
    ("val_bpb.png", "bits per byte", bpb_lines, False),
    ("lr.png", "learning rate", [("train", "lr", "lr")], False),
    ("grad_norm.png", "gradient norm", [("train", "grad_norm", "grad norm")], True),
    ("tokens_per_s.png", "throughput (tokens/s)", [("train", "tokens_per_s", "tokens/s")], False),
    ("mfu.png", "model FLOPs utilisation", [("train", "mfu", "MFU")], False),
]


def _plot(path: Path, title: str, lines: list[tuple[str, list[float], list[float]]], log_y: bool) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for label, xs, ys in lines:
        ax.plot(xs, ys, label=label, marker="o" if len(xs) < 30 else None, markersize=3)
    if log_y:
        ax.set_yscale("log")
    ax.set_title(title)
    ax.set_xlabel("step")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}" if math.isfinite(v) else str(v)
    return "-" if v is None else str(v)


def summary_rows(data) -> list[tuple[str, str]]:
    p = progress(data)
    last = data.last_train or {}
    rows = [("step", f"{p.step}" + (f" / {p.max_steps}" if p.max_steps else "")), ("tokens seen", _fmt(p.tokens_seen))]
    for key in ("loss", "lr", "grad_norm", "tokens_per_s", "mfu", "gpu_mem_gb"):
        rows.append((f"final {key}", _fmt(last.get(key))))
    _, val = series(data.evals, "val_loss")
    _, bpb = series(data.evals, "val_bpb")
    rows += [("final val_loss", _fmt(val[-1] if val else None)), ("best val_loss", _fmt(min(val) if val else None)),
             ("final val_bpb", _fmt(bpb[-1] if bpb else None))]
    rows += [(f"final {k}", _fmt(series(data.evals, k)[1][-1])) for k in other_bpb_keys(data)]
    rows.append(("training time", _training_time(data)))
    rows.append(("events", ", ".join(f"{k}×{n}" for k, n in _event_counts(data).items()) or "-"))
    return rows


def _training_time(data) -> str:
    if len(data.train) < 2:
        return "-"
    stretches = segment_seconds(sorted([*data.train, *data.evals, *data.events], key=lambda r: r.get("time") or 0))
    shown = format_duration(sum(stretches))
    return shown if len(stretches) == 1 else f"{shown} in {len(stretches)} stretches (the waits for a resume not counted)"


def _event_counts(data) -> dict[str, int]:
    counts: dict[str, int] = {}
    for e in data.events:
        counts[str(e.get("event"))] = counts.get(str(e.get("event")), 0) + 1
    return counts


def write_run_report(run_dir: Path | str, out_dir: Path | str) -> dict[str, Path]:
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    reader = MetricsReader(run_dir, max_points=10**9)  # the report reads every line
    reader.poll()
    data = reader.data
    if not (data.train or data.evals):
        raise DataError(f"no metrics in {reader.path}: give the RUN_DIR of `polski train` (it writes metrics.jsonl)")
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for name, title, keys, log_y in PLOTS:
        lines = [(label, *series(getattr(data, group), key)) for group, key, label in line_keys(keys, data)]
        lines = [line for line in lines if line[1]]
        if lines:
            _plot(out_dir / name, title, lines, log_y)
            written[name] = out_dir / name
    rows = summary_rows(data)
    md = [f"# Training report: {run_dir.name}", "", "| metric | value |", "|---|---|"]
    md += [f"| {k} | {v} |" for k, v in rows]
    md += [""] + [f"![{name}]({name})" for name in written] + [""]
    if data.events:
        md += ["## Events", "", "| step | event | message |", "|---:|---|---|"]
        md += [f"| {e.get('step')} | {e.get('event')} | {str(e.get('message', '')).replace('|', '/')} |" for e in data.events[-200:]]
        md.append("")
    write_text(out_dir / "report.md", "\n".join(md))
    esc = html.escape
    body = "".join(f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in rows)
    imgs = "".join(f'<figure><img src="{esc(n)}" alt="{esc(n)}"></figure>' for n in written)
    write_text(out_dir / "report.html", f"<!doctype html><html lang=\"pl\"><meta charset=\"utf-8\"><title>{esc(run_dir.name)}</title>"
               f"<style>body{{font-family:sans-serif;max-width:900px;margin:auto}}td{{padding:2px 8px}}img{{max-width:100%}}</style>"
               f"<h1>Training report: {esc(run_dir.name)}</h1><table>{body}</table>{imgs}</html>\n")
    written["report.md"], written["report.html"] = out_dir / "report.md", out_dir / "report.html"
    return written
