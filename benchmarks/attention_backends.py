"""scaled_dot_product_attention kernels at the polski-1b3 shape: forward + backward time and TFLOP/s per backend.

    python benchmarks/attention_backends.py [--batch 8 16] [--out benchmarks/results/attention_backends]

Causal attention, bf16, heads 16 x head_dim 96, context 1024; FLOPs = 3.5 x the causal forward's
2 x 2 x B x H x T^2 / 2 x D (backward = 2.5 forwards). The trainer picks one with `train.attention_backend`.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from provenance import provenance  # noqa: E402
from training.atomic import write_json, write_text  # noqa: E402

BACKENDS = {"flash": SDPBackend.FLASH_ATTENTION, "cudnn": SDPBackend.CUDNN_ATTENTION,
            "efficient": SDPBackend.EFFICIENT_ATTENTION}


def time_backend(backend, batch: int, heads: int, length: int, head_dim: int, iters: int) -> float:
    """Seconds per forward + backward."""
    q, k, v = (torch.randn(batch, heads, length, head_dim, device="cuda", dtype=torch.bfloat16, requires_grad=True)
               for _ in range(3))
    grad = torch.randn_like(q)
    with sdpa_kernel([backend]):
        for i in range(iters + 3):
            if i == 3:
                torch.cuda.synchronize()
                start = time.perf_counter()
            F.scaled_dot_product_attention(q, k, v, is_causal=True).backward(grad)
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / iters


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, nargs="+", default=[8, 16])
    ap.add_argument("--heads", type=int, default=16)
    ap.add_argument("--head-dim", type=int, default=96)
    ap.add_argument("--length", type=int, default=1024)
    ap.add_argument("--iters", type=int, default=50)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "attention_backends")
    args = ap.parse_args()
    device = f"one {torch.cuda.get_device_name(0)}, torch {torch.__version__}, cuDNN {torch.backends.cudnn.version()}"
    rows = []
    for batch in args.batch:
        flops = 3.5 * 2 * 2 * batch * args.heads * args.length**2 / 2 * args.head_dim
        for name, backend in BACKENDS.items():
            try:
                seconds = time_backend(backend, batch, args.heads, args.length, args.head_dim, args.iters)
                rows.append({"batch": batch, "backend": name, "ms": seconds * 1e3, "tflops": flops / seconds / 1e12})
            except RuntimeError as err:  # a backend that cannot take this shape on this GPU
                rows.append({"batch": batch, "backend": name, "error": str(err).splitlines()[0][:160]})
            print(rows[-1], flush=True)
    result = {**provenance("attention_backends", {"torch": torch.__version__}, device=device),
              "shape": {"heads": args.heads, "head_dim": args.head_dim, "length": args.length}, "rows": rows}
    write_json(args.out.with_suffix(".json"), result)
    lines = [f"# SDPA backends at the polski-1b3 shape (causal, bf16, {args.heads} × {args.head_dim}, T {args.length})\n",
             f"{result['date']}, {device}; `{result['command']}`\n",
             "| batch | backend | forward + backward (ms) | TFLOP/s |", "|---:|---|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['batch']} | {r['backend']} | " + (f"{r['ms']:.3f} | {r['tflops']:.0f} |" if "ms" in r
                                                             else f"{r['error']} | – |"))
    write_text(args.out.with_suffix(".md"), "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
