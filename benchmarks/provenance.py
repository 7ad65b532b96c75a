"""Where, when and how a benchmark ran: the fields every results/*.json starts with."""
from __future__ import annotations

import os
import platform
import sys
from datetime import datetime, timezone


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
