"""`polski modelfile RUN_DIR|GGUF [--out FILE]`: an Ollama Modelfile (ChatML template, stop, sampling, Polish system prompt)."""
from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser("modelfile", help="write an Ollama Modelfile for a GGUF or a run", description=__doc__)
    p.add_argument("path", metavar="RUN_DIR|GGUF", help="an exported GGUF, or a run dir (then see --gguf)")
    p.add_argument("--out", default=None, help="Modelfile path (default: print to stdout)")
    p.add_argument("--gguf", default=None, help="with a RUN_DIR: the GGUF the Modelfile points at "
                   "(default: NAME.gguf beside --out)")
    p.add_argument("--config", default=None, metavar="NAME|FILE",
                   help="take the sampling settings and system prompt ([ollama]) from this config instead of the "
                        "model's own: a shipped GGUF gets new defaults without a new file")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from training.atomic import write_text
    from training.errors import ExportError
    from training.export.modelfile import gguf_ref_for, render_modelfile

    path = Path(args.path)
    out = Path(args.out) if args.out else None
    if path.is_file():
        from training.register import check_gguf_file, config_from_gguf

        check_gguf_file(path, "GGUF")
        config, gguf = config_from_gguf(path), path
    else:
        from training.export.source import load_source

        config = load_source(path).config
        base = out.parent if out else Path.cwd()
        gguf = Path(args.gguf) if args.gguf else base / f"{config.model.name}.gguf"
    if args.config:
        from training.config import load_config

        config = config.model_copy(update={"ollama": load_config(args.config).ollama})
    ref = gguf_ref_for(gguf, out) if out else str(gguf)
    text = render_modelfile(ref, config)
    if out is None:
        print(text, end="")
        return 0
    if out.exists() and not args.force:
        raise ExportError(f"{out} exists: pass --force to overwrite it")
    write_text(out, text)
    print(f"wrote {out} (FROM {ref})")
    return 0
