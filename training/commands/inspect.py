"""`polski inspect CHECKPOINT|FILE.gguf "zdanie"`: surprisal per token, top-k next tokens, attention PNGs."""
from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser("inspect", help="per-token surprisal, top-k next tokens and attention maps of one sentence")
    p.add_argument("target", type=Path, help="RUN_DIR, checkpoint dir or FILE.gguf")
    p.add_argument("text", help="the Polish sentence to inspect")
    p.add_argument("--position", type=int, help="token position for the top-k table (0 = after BOS; default: the last)")
    p.add_argument("--top-k", type=int, default=10)
    p.add_argument("--attention-dir", type=Path, help="write attention-layerNN.png heatmaps here (checkpoints only)")
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from training.errors import ConfigError
    from training.evals.backends import TorchBackend, open_backend
    from training.inspection import attention_maps, save_attention_pngs, surprisal_text, surprisals, top_k

    console = Console()
    backend = open_backend(args.target, device=args.device)
    try:
        scores, logp = surprisals(backend, args.text)
        console.print(surprisal_text(scores))
        table = Table(title="surprisal (bits)")
        table.add_column("#", justify="right")
        table.add_column("token")
        table.add_column("id", justify="right")
        table.add_column("bits", justify="right")
        for i, s in enumerate(scores):
            table.add_row(str(i), Text(repr(s.piece)), str(s.id), "-" if s.surprisal_bits is None else f"{s.surprisal_bits:.2f}")
        console.print(table)
        pos = len(scores) - 1 if args.position is None else args.position
        if not 0 <= pos < len(scores):
            raise ConfigError(f"--position must be in 0..{len(scores) - 1} (the sentence has {len(scores)} tokens with BOS)")
        cand = Table(title=f"top {args.top_k} after position {pos} ({scores[pos].piece!r})")
        cand.add_column("token")
        cand.add_column("id", justify="right")
        cand.add_column("p", justify="right")
        for piece, tid, prob in top_k(backend, logp, pos, args.top_k):
            cand.add_row(Text(repr(piece)), str(tid), f"{prob:.4f}")
        console.print(cand)
        if args.attention_dir:
            if not isinstance(backend, TorchBackend):
                raise ConfigError("--attention-dir needs a PyTorch checkpoint (a GGUF exposes no attention weights)")
            ids = [s.id for s in scores]
            paths = save_attention_pngs(attention_maps(backend.model, ids), [s.piece for s in scores], args.attention_dir)
            console.print(f"wrote {len(paths)} attention maps to {args.attention_dir}", markup=False)
    finally:
        backend.close()
    return 0
