"""`polski monitor RUN_DIR [RUN_DIR ...]`: live Textual dashboard of one or more training runs."""
from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser("monitor", help="live dashboard (loss, lr, grad norm, tokens/s, MFU, GPU, alerts) of runs")
    p.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR")
    p.add_argument("--refresh", type=float, default=2.0, help="seconds between polls")
    p.add_argument("--stall-minutes", type=float, default=10.0, help="alert when no new metrics arrive for this long")
    p.add_argument("--no-gpu", action="store_true", help="do not query NVML")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from training.errors import DataError
    from training.monitor.app import MonitorApp
    from training.monitor.state import AlertRules

    missing = [str(d) for d in args.run_dirs if not d.is_dir()]
    if missing:
        raise DataError(f"no such run dir: {', '.join(missing)}: give the RUN_DIR of `polski train`")
    MonitorApp(args.run_dirs, refresh_s=args.refresh, gpu=not args.no_gpu,
               rules=AlertRules(stall_minutes=args.stall_minutes)).run()
    return 0
