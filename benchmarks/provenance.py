"""Where, when and how a benchmark ran: the fields every results/*.json starts with."""
from __future__ import annotations

import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path


def cpu_device() -> str:
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores (CPU only)"


def provenance(benchmark: str, versions: dict, argv: list[str] | None = None, device: str | None = None) -> dict:
    """{"benchmark", "date", "command", "device", "versions"}: `versions` gets Python's added."""
    args = sys.argv[1:] if argv is None else argv
    return {
        "benchmark": benchmark,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(["python", f"benchmarks/{benchmark}.py", *args]),
        "device": device or cpu_device(),
        "versions": {"python": platform.python_version(), **versions},
    }


def write_results(out: Path, result: dict, md_lines: list[str]) -> None:
    """OUT.json and OUT.md (atomic writes), and the Markdown on stdout."""
    from training.atomic import write_json, write_text

    out.parent.mkdir(parents=True, exist_ok=True)
    write_json(out.with_suffix(".json"), result)
    write_text(out.with_suffix(".md"), "\n".join(md_lines) + "\n")
    print("\n".join(md_lines))
