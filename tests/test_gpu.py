"""The trainer on a CUDA GPU with polski-tiny: the 12 GiB switches, and DeepSpeed's save and resume.

Marked gpu: CI has no GPU; run them on a GPU machine with `pytest -m gpu tests/test_gpu.py`.
"""
import pytest
import torch

from training.config import load_config
from training.metrics import latest_per_step, read_metrics
from training.train import pretrain

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]

QUIET = {"eval_interval": 1000, "log_interval": 1000, "sample_tokens": 0, "eval_batches": 1}


def train_losses(run_dir) -> dict[int, float]:
    return {r["step"]: r["loss"] for r in latest_per_step(read_metrics(run_dir / "metrics.jsonl", "train"))}


def test_memory_switches_train_inside_a_cap(tiny_data, tmp_path):
    """bf16 weights + stochastic-rounding AdamW, full recomputation in compiled blocks, chunked loss, a 1 GiB cap."""
    bins, tok = tiny_data
    config = load_config("polski-tiny", {"train": {
        **QUIET, "device": "cuda", "precision": "bf16", "param_dtype": "bf16", "activation_checkpointing": "full",
        "compile": True, "max_gpu_memory_gb": 1, "loss_chunk_tokens": 64, "micro_batch_size": 8, "grad_accum_steps": 2,
        "max_steps": 40, "checkpoint_interval": 40}})
    pretrain(config, bins, tmp_path / "run", tokenizer_dir=tok, console=lambda *_: None)
    records = latest_per_step(read_metrics(tmp_path / "run" / "metrics.jsonl", "train"))
    losses = [r["loss"] for r in records]
    assert len(losses) == 40 and sum(losses[-5:]) / 5 < losses[0] - 0.5
    assert all(r["mfu"] is not None and r["alloc_retries"] is not None for r in records)
    assert max(r["gpu_mem_gb"] for r in records) < 1.0
    assert (tmp_path / "run" / "checkpoints" / "latest").read_text().strip() == "step-000040"


def test_deepspeed_zero2_saves_and_resumes_where_it_stopped(tiny_data, tmp_path):
    pytest.importorskip("deepspeed")
    bins, tok = tiny_data
    overrides = {**QUIET, "engine": "deepspeed", "zero_stage": 2, "device": "cuda", "precision": "bf16",
                 "micro_batch_size": 4, "grad_accum_steps": 2, "checkpoint_interval": 3}
    optim = {"schedule": "constant", "warmup_steps": 0}  # the lr must not depend on where the first run stopped
    straight = load_config("polski-tiny", {"train": {**overrides, "max_steps": 6}, "optim": optim})
    pretrain(straight, bins, tmp_path / "straight", tokenizer_dir=tok, console=lambda *_: None)
    first = load_config("polski-tiny", {"train": {**overrides, "max_steps": 3}, "optim": optim})
    pretrain(first, bins, tmp_path / "resumed", tokenizer_dir=tok, console=lambda *_: None)
    pretrain(straight, bins, tmp_path / "resumed", tokenizer_dir=tok, resume=True, console=lambda *_: None)

    expected, got = train_losses(tmp_path / "straight"), train_losses(tmp_path / "resumed")
    assert sorted(got) == list(range(1, 7))
    assert [got[s] for s in range(4, 7)] == pytest.approx([expected[s] for s in range(4, 7)], rel=1e-3)
