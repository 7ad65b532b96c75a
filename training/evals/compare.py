"""`polski eval compare A.json B.json`: two eval results side by side with their differences."""
from __future__ import annotations

from rich.table import Table
from rich.text import Text


def rows(a: dict, b: dict) -> list[tuple[str, float | None, float | None, bool]]:
    """(metric, value in A, value in B, lower is better) for every metric either result has."""
    out = []
    for name in sorted(set(a.get("bpb", {})) | set(b.get("bpb", {}))):
        for key in ("bpb", "loss", "perplexity"):
            out.append((f"{name} {key}", a.get("bpb", {}).get(name, {}).get(key), b.get("bpb", {}).get(name, {}).get(key), True))
    for name in sorted(set(a.get("minimal_pairs", {})) | set(b.get("minimal_pairs", {}))):
        ra, rb = a.get("minimal_pairs", {}).get(name, {}), b.get("minimal_pairs", {}).get(name, {})
        out.append((f"{name} accuracy", ra.get("accuracy"), rb.get("accuracy"), False))
        for ph in sorted(set(ra.get("per_phenomenon", {})) | set(rb.get("per_phenomenon", {}))):
            out.append((f"  {ph}", ra.get("per_phenomenon", {}).get(ph, {}).get("accuracy"),
                        rb.get("per_phenomenon", {}).get(ph, {}).get("accuracy"), False))
    return out


def table(a: dict, b: dict, name_a: str = "A", name_b: str = "B") -> Table:
    t = Table(title="polski eval compare")
    t.add_column("metric")
    t.add_column(name_a, justify="right")
    t.add_column(name_b, justify="right")
    t.add_column("B - A", justify="right")
    for metric, va, vb, lower_better in rows(a, b):
        diff = ""
        if isinstance(va, (int, float)) and isinstance(vb, (int, float)):
            d = vb - va
            better = (d < 0) if lower_better else (d > 0)
            style = "green" if better and d else ("red" if d else "")
            diff = f"[{style}]{d:+.4f}[/]" if style else f"{d:+.4f}"
        t.add_row(Text(metric), f"{va:.4f}" if isinstance(va, (int, float)) else "-", f"{vb:.4f}" if isinstance(vb, (int, float)) else "-", diff)
    return t


def headline(result: dict) -> dict[str, float]:
    """The figures a model is judged by: BPB per text, accuracy over all pairs, chat-task similarity per task."""
    out = {f"{name} bpb": r["bpb"] for name, r in result.get("bpb", {}).items()}
    pairs = result.get("minimal_pairs", {}).values()
    if pairs:
        out["pairs accuracy"] = sum(r["correct"] for r in pairs) / sum(r["pairs"] for r in pairs)
    for task, score in result.get("chat_tasks", {}).get("scores", {}).get("model", {}).items():
        out[f"chat {task}"] = score["similarity"]
    return out
