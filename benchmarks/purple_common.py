"""Shared bits of Purple's benchmarks: seeding a store, and recording results into
benchmarks/results/purple.json (one entry per figure) and purple.md."""

from __future__ import annotations

import datetime
import json
import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results"


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def environment() -> dict:
    import textual

    return {
        "device": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores (CPU only)",
        "python": platform.python_version(),
        "textual": textual.__version__,
        "sqlite": __import__("sqlite3").sqlite_version,
        "date": datetime.date.today().isoformat(),
    }


def record(name: str, figures: dict, target: str, passed: bool) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "purple.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data[name] = {**figures, "target": target, "passed": passed, **environment(),
                  "command": "python " + " ".join(["benchmarks/" + Path(sys.argv[0]).name,
                                                   *sys.argv[1:]])}
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    lines = ["# Purple benchmarks", "", "| benchmark | figures | target | passed | date | command |",
             "|---|---|---|---|---|---|"]
    for key, entry in sorted(data.items()):
        shown = ", ".join(f"{k}={v}" for k, v in entry.items()
                          if k not in ("target", "passed", "command", "device", "python",
                                       "textual", "sqlite", "date"))
        lines.append(f"| {key} | {shown} | {entry['target']} | {entry['passed']} | {entry['date']} |"
                     f" `{entry['command']}` |")
    any_entry = next(iter(data.values()))
    lines += ["", f"Device: {any_entry['device']}; Python {any_entry['python']}, Textual "
              f"{any_entry['textual']}, SQLite {any_entry['sqlite']}."]
    (RESULTS / "purple.md").write_text("\n".join(lines) + "\n")
    print(f"{name}: {figures} (target {target}: {'ok' if passed else 'MISSED'})")


def purple_batch(prompts: Path, model: str, out: Path, seed: int, options: dict, host: str | None = None,
                 concurrency: int = 1) -> list[dict]:
    """`purple batch` over a prompts JSONL into `out`; every output record, failed ones included, in file order."""
    import subprocess

    cmd = [sys.executable, "-m", "purple.cli", "batch", str(prompts), "-m", model, "-o", str(out), "-q",
           "-c", str(concurrency), "--seed", str(seed)]
    cmd += [arg for key, value in options.items() for arg in ("--option", f"{key}={value}")]
    cmd += ["--host", host] if host else []
    subprocess.run(cmd, check=False)  # exits 1 when a prompt failed; the output file still has every record
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
