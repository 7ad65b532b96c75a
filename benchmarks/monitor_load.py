"""How long the monitor's reader takes to open a long metrics.jsonl (first load of `polski monitor`).

    python benchmarks/monitor_load.py [--lines 1000000]

Writes benchmarks/results/monitor.json and monitor.md.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from training.atomic import write_json, write_text  # noqa: E402
from training.monitor.reader import MetricsReader  # noqa: E402


def write_metrics(path: Path, lines: int) -> None:
    with open(path, "w") as f:
        for s in range(lines):
            if s % 100 == 99:
                f.write(json.dumps({"step": s, "time": 1.7e9 + s, "kind": "eval", "val_loss": 3.1, "val_bpb": 1.2}) + "\n")
            else:
                f.write(json.dumps({"step": s, "time": 1.7e9 + s * 0.1, "kind": "train", "loss": 3.0 + (s % 7) / 10, "lr": 3e-4,
                                    "grad_norm": 0.5, "tokens_per_s": 81234.5, "mfu": 0.41, "tokens_seen": s * 524288,
                                    "gpu_mem_gb": 37.9, "loss_scale": 65536.0, "max_steps": lines}) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "metrics.jsonl"
        write_metrics(path, args.lines)
        size = path.stat().st_size
        times = []
        for _ in range(args.repeats):
            r = MetricsReader(path)
            t = time.perf_counter()
            r.poll()
            times.append(time.perf_counter() - t)
        with open(path, "a") as f:  # one more line: the incremental poll
            f.write(json.dumps({"step": args.lines, "time": 0.0, "kind": "train", "loss": 2.0}) + "\n")
        t = time.perf_counter()
        new = r.poll()
        incremental = time.perf_counter() - t
    import numpy
    import textual

    result = {
        "what": "MetricsReader first load of a metrics.jsonl (train lines strided, every eval/event/non-finite line and the tail parsed)",
        "lines": args.lines, "file_bytes": size, "seconds_min": min(times), "seconds_all": times,
        "parsed_train": len(r.data.train), "parsed_eval": len(r.data.evals), "stride": r.data.stride,
        "incremental_poll_seconds": incremental, "incremental_new_records": new,
        "device": f"{platform.processor() or platform.machine()} CPU, {__import__('os').cpu_count()} cores",
        "load_average_1m": __import__("os").getloadavg()[0],  # the machine is shared; high load slows every figure
        "python": platform.python_version(), "numpy": numpy.__version__, "textual": textual.__version__,
        "date": dt.date.today().isoformat(), "command": f"python benchmarks/monitor_load.py --lines {args.lines}",
    }
    out = ROOT / "benchmarks" / "results"
    write_json(out / "monitor.json", result)
    write_text(out / "monitor.md", "\n".join([
        "# Monitor: opening a long metrics.jsonl", "",
        "| lines | file | first load (min of %d) | stride | parsed train/eval lines | incremental poll |" % args.repeats,
        "|---:|---:|---:|---:|---:|---:|",
        f"| {args.lines:,} | {size / 1e6:.0f} MB | {min(times):.2f} s | {r.data.stride} | {len(r.data.train):,}/{len(r.data.evals):,} | {incremental * 1000:.1f} ms |",
        "", f"`{result['command']}` on {result['device']} (1-min load average {result['load_average_1m']:.1f}), {result['date']}.", ""]))
    print(open(out / "monitor.md").read())


if __name__ == "__main__":
    main()
