"""`polski export RUN_DIR|CHECKPOINT --out FILE.gguf`: GGUF for llama.cpp/Ollama (optionally quantized) or HF format."""
from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser("export", help="write a checkpoint as GGUF (llama.cpp, Ollama) or Hugging Face format",
                              description=__doc__)
    p.add_argument("path", metavar="RUN_DIR|CHECKPOINT", help="a run dir (uses checkpoints/latest) or a checkpoint dir")
    p.add_argument("--out", required=True, help="FILE.gguf, or a folder with --format hf")
    p.add_argument("--dtype", choices=["f16", "bf16", "f32", "q8_0"], default=None, help="weights dtype (default: [export] dtype)")
    p.add_argument("--quantize", choices=["q8_0", "q4_0", "q4_K_M"], default=None,
                   help="quantize with llama.cpp's quantizer after writing an f16 GGUF")
    p.add_argument("--format", dest="fmt", choices=["gguf", "hf"], default="gguf")
    p.add_argument("--tokenizer", default=None, help="TOKENIZER_DIR (default: the run's tokenizer/)")
    p.add_argument("--force", action="store_true", help="overwrite an existing output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from training.export.export_model import export_model

    console = Console(stderr=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task("tensors", total=None)

        def progress(name: str, done: int, total: int) -> None:
            bar.update(task, description=name, completed=done, total=total)

        report = export_model(args.path, args.out, dtype=args.dtype, quantize=args.quantize, force=args.force,
                              fmt=args.fmt, tokenizer_dir=args.tokenizer, progress=progress)
    for step in report.steps:
        print(f"{step['step']:<16} {step['bytes'] / 1e6:10.1f} MB {step['seconds']:8.1f} s")
    print(f"wrote {report.path} ({report.bytes / 1e6:.1f} MB, {report.seconds:.1f} s), read back and validated")
    return 0
