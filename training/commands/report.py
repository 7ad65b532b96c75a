"""`polski report RUN_DIR --out DIR`: PNG plots and a Markdown/HTML summary of a training run."""
from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser("report", help="PNG plots + Markdown/HTML summary of a run's metrics")
    p.add_argument("run_dir", type=Path, help="RUN_DIR of `polski train`")
    p.add_argument("--out", type=Path, help="output dir (default: RUN_DIR/report)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from training.report import write_run_report

    written = write_run_report(args.run_dir, args.out or args.run_dir / "report")
    for path in written.values():
        print(path)
    return 0
