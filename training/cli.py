"""`polski`: the command line mirrors the pipeline, one subcommand per stage."""
from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading

from training import __version__
from training.distributed import exit_without_teardown, leave_process_group
from training.errors import PolskiError

# Each module in training/commands/ has `register(subparsers)`, which adds its
# subcommand and sets `func(args) -> int | None`. Heavy imports stay inside `func`.
COMMANDS = [
    "corpus",
    "tokenizer",
    "data",
    "chat_data",
    "train",
    "sft",
    "merge",
    "eval",
    "inspect",
    "monitor",
    "report",
    "export",
    "import_gguf",
    "modelfile",
    "register",
    "pipeline",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="polski", description="Train a Polish language model from raw text to Ollama.")
    parser.add_argument("--version", action="version", version=f"polski {__version__}")
    parser.add_argument("--debug", action="store_true", help="show a traceback on errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"training.commands.{name}")
        except ModuleNotFoundError as err:
            if err.name != f"training.commands.{name}":
                raise
            continue
        module.register(sub)
    return parser


def _exit_on_sigterm() -> object:
    """SIGTERM (kill, timeout, systemd) unwinds like Ctrl-C, so temp files and dirs are removed on the way out."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    previous = _exit_on_sigterm()
    finished, rc = False, 1
    try:
        rc = int(args.func(args) or 0)
        finished = True
    except PolskiError as err:
        if args.debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        rc = 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        rc = 130
    finally:
        # under torchrun: every rank at the end, then the process group destroyed (training/distributed.py)
        left = leave_process_group(ok=finished)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    if left:
        exit_without_teardown(rc)
    return rc


if __name__ == "__main__":
    sys.exit(main())
