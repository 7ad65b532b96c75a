"""`polski register --name NAME --gguf FILE | --modelfile FILE`: upload to Ollama and create the model (HTTP API)."""
from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser("register", help="register a GGUF in Ollama (blob upload + /api/create)", description=__doc__)
    p.add_argument("--name", required=True, help="model name in Ollama, e.g. polski-mini")
    p.add_argument("--gguf", default=None, help="the GGUF (overrides the Modelfile's FROM)")
    p.add_argument("--modelfile", default=None, help="Modelfile (default: one generated from the GGUF's own config)")
    p.add_argument("--quantize", choices=["q8_0", "q4_0", "q4_K_M"], default=None,
                   help="let Ollama quantize an f16/f32 GGUF while creating")
    p.add_argument("--host", default=None, help="Ollama URL (default: $OLLAMA_HOST or http://127.0.0.1:11434)")
    p.add_argument("--start-server", action="store_true", help="start `ollama serve` on localhost if nothing answers")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from training.ollama_server import ensure_server
    from training.register import register_model

    host = ensure_server(args.host) if args.start_server else args.host
    console = Console(stderr=True)
    with Progress(TextColumn("{task.description:<28}"), BarColumn(), DownloadColumn(), TimeElapsedColumn(),
                  console=console, transient=True, disable=not console.is_terminal) as bar:
        tasks: dict[str, int] = {}

        def progress(stage: str, done, total) -> None:
            if stage.startswith("create: "):
                bar.console.print(f"  {stage.removeprefix('create: ')}", highlight=False, markup=False)
                return
            if stage not in tasks:
                tasks[stage] = bar.add_task({"hash": "sha256", "upload": "upload", "create": "create"}[stage], total=total)
            if done is not None:
                bar.update(tasks[stage], completed=done, total=total)

        reg = register_model(args.name, modelfile=args.modelfile, gguf=args.gguf, host=host,
                             quantize=args.quantize, progress=progress)
    sent = "uploaded" if reg.uploaded else "already on the server"
    print(f"registered {reg.name} from {reg.gguf} ({reg.digest[:19]}…, {sent}); try: ollama run {reg.name}")
    return 0
