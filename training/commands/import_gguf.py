"""`polski import`: a GGUF written by `polski export` back into a RUN_DIR (to tune a shipped model further)."""
from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser("import", help="turn a GGUF written by `polski export` back into a RUN_DIR")
    p.add_argument("gguf", metavar="GGUF")
    p.add_argument("--tokenizer", required=True, metavar="DIR", help="the tokenizer dir the model was trained with")
    p.add_argument("--out", required=True, metavar="RUN_DIR")
    p.set_defaults(func=run)


def run(args) -> int:
    from training.export.import_gguf import import_gguf

    step_dir = import_gguf(args.gguf, args.tokenizer, args.out)
    print(f"imported {args.gguf} -> {step_dir}")
    return 0
