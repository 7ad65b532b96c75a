"""`polski`: the command line mirrors the pipeline, one subcommand per stage."""
from __future__ import annotations

import argparse
import importlib
import sys

from training import __version__
from training.errors import PolskiError

# Each module in training/commands/ has `register(subparsers)`, which adds its
# subcommand and sets `func(args) -> int | None`. Heavy imports stay inside `func`.
COMMANDS = [
    "corpus",
    "tokenizer",
    "data",
    "train",
    "sft",
    "eval",
    "inspect",
    "monitor",
    "report",
    "export",
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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except PolskiError as err:
        if args.debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
