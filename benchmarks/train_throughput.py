"""Training throughput and MFU of the torch engine, and the precision cost of the 12 GiB memory switches.

    python benchmarks/train_throughput.py --out benchmarks/results/train_throughput.json          # one H100
    python benchmarks/train_throughput.py --smoke --out /tmp/smoke.json                          # CPU, tiny shapes

Scenarios (each in the same process, against a bf16 matmul peak measured here with 8192^3 matmuls):
  1b3-uncapped  polski-1b3, compile (each block), bf16 autocast, fp32 weights + fused AdamW, no checkpointing
  1b3-uncapped-graph  the same with the whole model compiled as one graph (compile_scope = "model")
  1b3-uncapped-bf16  no cap, no checkpointing, bf16 weights + AdamW with stochastic rounding (the 12 GiB numerics)
  1b3-uncapped-bf16-graph  the same compiled as one graph
  1b3-cap12     inside max_gpu_memory_gb=12: bf16 weights + AdamW with stochastic rounding, full checkpointing, chunked loss
  1b3-cap12-rtn the same with round-to-nearest bf16 updates (the plain "bf16 AdamW" baseline)
  1b3-cap12-accum8  the 12 GiB run as `polski-1b3` trains: 8 micro-batches a step, loss chunks of 4096
  mini          polski-mini tokens/s
Then --compare-steps steps of training from the same init on the same batches: fp32-master (uncapped)
against the two capped variants; the final loss (mean of the last 20 steps) should be within 1%.
MFU = (6N + 12*L*d*T) * tokens/s / peak, N = matmul parameters (see GPT.flops_per_token); `mfu_6N_all` counts
every parameter (the convention of the anchors in GUIDE.md) for comparison.
Data: a learnable synthetic stream (random phrases, Zipf-distributed) unless --bins DIR is given.
"""
from __future__ import annotations

import argparse
import datetime
import gc
import json
import platform
import sys
import time
from pathlib import Path
from typing import get_args

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.config import TrainConfig, load_config  # noqa: E402
from training.engines.base import measure_peak_flops  # noqa: E402
from training.engines.torch_engine import TorchEngine  # noqa: E402
from training.loader import TokenWindows, to_device  # noqa: E402
from training.model import GPT  # noqa: E402
from training.schedule import lr_at  # noqa: E402
from training.train import cap_gpu_memory, set_attention_backend  # noqa: E402

KERNEL_KINDS = {  # first match wins; names of CUDA kernels as the profiler reports them
    "attention": ("flash", "fmha", "cudnn", "sdpa", "attention"),
    "matmul": ("gemm", "nvjet", "xmma", "cutlass", "sm90", "ampere_bf16", "matmul"),
    "elementwise (fused)": ("triton",),  # inductor's kernels; names like triton_..._to_copy_... are not copies
    "copy/fill": ("memcpy", "memset", "copy", "fill", "cat"),
}


def synthetic_tokens(vocab: int, n_tokens: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    phrases = rng.integers(6, vocab, size=(4096, 8))
    weights = 1.0 / np.arange(1, 4097) ** 1.1
    ids = rng.choice(4096, size=n_tokens // 8 + 1, p=weights / weights.sum())
    return phrases[ids].reshape(-1)[:n_tokens].astype(np.uint16)


def scenarios(smoke: bool, micro: int | None) -> dict[str, tuple[str, dict]]:
    if smoke:
        tiny = {"device": "cpu", "precision": "bf16", "micro_batch_size": micro or 2, "compile": False}
        return {
            "tiny-fp32master": ("polski-tiny", tiny),
            "tiny-capped-sr": ("polski-tiny", {**tiny, "param_dtype": "bf16", "activation_checkpointing": "full",
                                               "loss_chunk_tokens": 128}),
            "tiny-capped-rtn": ("polski-tiny", {**tiny, "param_dtype": "bf16", "stochastic_rounding": False,
                                                "activation_checkpointing": "full", "loss_chunk_tokens": 128}),
        }
    gpu = {"device": "cuda", "precision": "bf16", "compile": True, "grad_accum_steps": 1, "max_gpu_memory_gb": None,
           "activation_checkpointing": "none", "param_dtype": "fp32", "loss_chunk_tokens": 0}
    capped = {**gpu, "micro_batch_size": micro or 8, "max_gpu_memory_gb": 12, "param_dtype": "bf16",
              "activation_checkpointing": "full", "loss_chunk_tokens": 8192}
    return {
        "1b3-uncapped": ("polski-1b3", {**gpu, "micro_batch_size": micro or 16}),
        "1b3-uncapped-graph": ("polski-1b3", {**gpu, "micro_batch_size": micro or 16, "compile_scope": "model"}),
        "1b3-uncapped-bf16": ("polski-1b3", {**gpu, "micro_batch_size": micro or 16, "param_dtype": "bf16"}),
        "1b3-uncapped-bf16-graph": ("polski-1b3", {**gpu, "micro_batch_size": micro or 16, "param_dtype": "bf16",
                                                   "compile_scope": "model"}),
        "1b3-cap12": ("polski-1b3", capped),
        "1b3-cap12-rtn": ("polski-1b3", {**capped, "stochastic_rounding": False}),
        "1b3-cap12-accum8": ("polski-1b3", {**capped, "grad_accum_steps": 8, "loss_chunk_tokens": 4096}),
        "mini": ("polski-mini", {**gpu, "micro_batch_size": micro or 64, "compile_scope": "model"}),
    }


def build(name: str, train: dict, max_steps: int, seed: int = 0):
    config = load_config(name)  # then the scenario's settings, None included (load_config drops None overrides)
    config.train = config.train.model_copy(update={**train, "max_steps": max_steps})
    device = torch.device("cuda", torch.cuda.current_device()) if config.train.device == "cuda" else torch.device(config.train.device)
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        torch.cuda.set_per_process_memory_fraction(1.0, device)
        cap_gpu_memory(device, config.train.max_gpu_memory_gb)  # as the trainer does it
        set_attention_backend(device, config.train.attention_backend)
    torch.manual_seed(seed)
    model = GPT(config.model)
    return config, TorchEngine(config, model, device), device


def run_steps(config, engine, device, source, steps: int, warmup: int):
    """Returns (losses, tokens/s over the steps after warmup, step seconds)."""
    losses, t_start = [], None
    for step in range(steps + warmup):
        if step == warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            t_start = time.perf_counter()
        lr = lr_at(step, config.optim, steps + warmup)
        loss_sum = 0.0
        for m in range(config.train.grad_accum_steps):
            x, y = source.batch(step * config.train.grad_accum_steps + m)
            x, y = to_device(x, y, device)  # as the trainer does
            loss = engine.forward(x, y, True)
            engine.backward(loss, config.train.grad_accum_steps, True, False)
            loss_sum += loss.detach().float()
        engine.step(lr, False)
        losses.append(float(loss_sum) / config.train.grad_accum_steps)
    if device.type == "cuda":
        torch.cuda.synchronize()
    dt = time.perf_counter() - t_start
    tokens = steps * config.train.tokens_per_step_factor * config.model.context_length
    return losses, tokens / dt, dt / steps


def profile_steps(config, engine, device, source, steps: int = 2) -> dict:
    """GPU time per step by kernel kind (matmul, attention, copy/fill, other) and the 12 costliest kernels."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        run_steps(config, engine, device, source, steps, 0)
    kinds: dict[str, float] = {}
    kernels = []
    for event in prof.key_averages():
        us = getattr(event, "device_time_total", None) or getattr(event, "cuda_time_total", 0)
        if not us or event.key.startswith("ProfilerStep"):
            continue
        name = event.key.lower()
        kind = next((k for k, words in KERNEL_KINDS.items() if any(w in name for w in words)), "other")
        kinds[kind] = kinds.get(kind, 0.0) + us / 1e3 / steps
        kernels.append((us / 1e3 / steps, event.key[:90], kind))
    kernels.sort(reverse=True)
    return {"ms_per_step": {k: round(v, 1) for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])},
            "top_kernels": [{"ms": round(ms, 2), "kernel": name, "kind": kind} for ms, name, kind in kernels[:12]]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--smoke", action="store_true", help="tiny shapes on CPU: checks the script, measures nothing useful")
    ap.add_argument("--steps", type=int, default=None, help="timed steps per scenario (default 30; smoke 2)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed steps first, incl. compilation (default 8; smoke 1)")
    ap.add_argument("--compare-steps", type=int, default=None, help="steps of the loss comparison (default 300; smoke 6; 0 skips)")
    ap.add_argument("--micro-batch-size", type=int, default=None)
    ap.add_argument("--only", nargs="*", help="scenario names to run")
    ap.add_argument("--bins", help="BINS_DIR to train on instead of synthetic tokens")
    ap.add_argument("--attention", choices=["auto", "flash", "cudnn", "efficient"], help="train.attention_backend for every scenario")
    ap.add_argument("--compile-mode", choices=get_args(TrainConfig.model_fields["compile_mode"].annotation), help="train.compile_mode for every scenario")
    ap.add_argument("--profile", action="store_true", help="after timing, profile 2 steps: GPU time by kernel kind")
    args = ap.parse_args(argv)
    steps = args.steps or (2 if args.smoke else 30)
    warmup = args.warmup if args.warmup is not None else (1 if args.smoke else 8)
    compare_steps = args.compare_steps if args.compare_steps is not None else (6 if args.smoke else 300)
    todo = scenarios(args.smoke, args.micro_batch_size)
    if args.only:
        todo = {k: v for k, v in todo.items() if k in args.only}
    if args.attention:
        todo = {k: (name, {**train, "attention_backend": args.attention}) for k, (name, train) in todo.items()}
    if args.compile_mode:
        todo = {k: (name, {**train, "compile_mode": args.compile_mode}) for k, (name, train) in todo.items()}

    device = torch.device("cpu" if args.smoke else "cuda")
    peak = measure_peak_flops(device)
    results = {"device": torch.cuda.get_device_name(0) if device.type == "cuda" else platform.processor() or "cpu",
               "torch": torch.__version__, "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]), "peak_bf16_tflops": peak and peak / 1e12,
               "data": args.bins or "synthetic", "scenarios": {}, "comparison": None}
    token_cache: dict[int, np.ndarray] = {}

    def tokens_for(vocab: int) -> np.ndarray:
        if args.bins:
            from training.data import TokenBins

            return TokenBins(args.bins, "train").tokens
        if vocab not in token_cache:
            token_cache[vocab] = synthetic_tokens(vocab, 4_000_000 if args.smoke else 60_000_000)
        return token_cache[vocab]

    print(f"peak bf16 matmul: {results['peak_bf16_tflops'] or float('nan'):.0f} TFLOP/s on {results['device']}")
    for label, (name, train) in todo.items():
        row = {"config": name, "train": train}
        try:
            config, engine, dev = build(name, train, steps + warmup)
            source = TokenWindows(tokens_for(config.model.vocab_size), config.train.micro_batch_size,
                                  config.model.context_length, seed=0)
            _, tok_s, step_s = run_steps(config, engine, dev, source, steps, warmup)
            model = engine.model
            row.update(tokens_per_s=tok_s, step_s=step_s, params=model.num_params(),
                       mfu=tok_s * model.flops_per_token() / peak if peak else None,
                       mfu_6N_all=tok_s * (6 * model.num_params() + 12 * config.model.n_layers * config.model.d_model
                                           * config.model.context_length) / peak if peak else None,
                       gpu_mem_gb=torch.cuda.max_memory_reserved() / 2**30 if dev.type == "cuda" else None,
                       alloc_retries=torch.cuda.memory_stats().get("num_alloc_retries") if dev.type == "cuda" else None)
            if args.profile and dev.type == "cuda":
                row["profile"] = profile_steps(config, engine, dev, source)
                print(json.dumps(row["profile"], indent=1))
        except torch.cuda.OutOfMemoryError as err:
            row["error"] = f"out of memory: {str(err).splitlines()[0][:200]}"
        finally:
            engine = model = None
            gc.collect()
        results["scenarios"][label] = row
        print(f"{label:16s} " + (row.get("error") or f"{row['tokens_per_s']:>12,.0f} tok/s  mfu {row['mfu'] or float('nan'):.3f}  "
                                 f"mfu_6N_all {row['mfu_6N_all'] or float('nan'):.3f}  mem {row['gpu_mem_gb'] or float('nan'):.1f} GiB  "
                                 f"alloc retries {row.get('alloc_retries')}"))

    if compare_steps:
        results["comparison"] = compare(todo, compare_steps, tokens_for, args.smoke)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


def compare(todo, steps: int, tokens_for, smoke: bool) -> dict:
    """Same init, same batches: the final loss of each capped variant against the fp32-master reference."""
    names = ["tiny-fp32master", "tiny-capped-sr", "tiny-capped-rtn"] if smoke else ["1b3-uncapped", "1b3-cap12", "1b3-cap12-rtn"]
    out = {"steps": steps, "runs": {}}
    for label in names:
        if label not in todo:
            continue
        name, train = todo[label]
        train = {**train, "compile": train.get("compile", False)}
        try:
            config, engine, dev = build(name, train, steps, seed=1234)
            source = TokenWindows(tokens_for(config.model.vocab_size), config.train.micro_batch_size,
                                  config.model.context_length, seed=1)
            losses, _, _ = run_steps(config, engine, dev, source, steps, 0)
            out["runs"][label] = {"final_loss": float(np.mean(losses[-20:])), "first_loss": losses[0],
                                  "curve": losses[:: max(1, steps // 50)]}
        except torch.cuda.OutOfMemoryError as err:
            out["runs"][label] = {"error": f"out of memory: {str(err).splitlines()[0][:200]}"}
        finally:
            engine = None
            gc.collect()
    ref = out["runs"].get(names[0], {}).get("final_loss")
    print(f"loss comparison over {steps} steps (mean of the last 20):")
    for label, run in out["runs"].items():
        if "final_loss" in run and ref:
            run["rel_diff"] = (run["final_loss"] - ref) / ref
            print(f"  {label:16s} {run['final_loss']:.4f}  ({run['rel_diff']:+.2%} vs {names[0]})")
        else:
            print(f"  {label:16s} {run.get('error')}")
    return out


if __name__ == "__main__":
    raise SystemExit(main())
