"""Data parallel through torchrun on CPU (gloo): two processes of half the micro-batch train like one process."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.polish_text import build_tiny_bins, build_tiny_tokenizer
from training.checkpoint import load_checkpoint
from training.config import dump_config, load_config
from training.metrics import read_metrics
from training.model import GPT

ROOT = Path(__file__).resolve().parents[1]


def train(tmp_path: Path, name: str, micro_batch_size: int, launcher: list[str]) -> subprocess.CompletedProcess:
    config = load_config("polski-tiny", {"model": {"dropout": 0.0}, "train": {
        "device": "cpu", "precision": "fp32", "micro_batch_size": micro_batch_size, "max_steps": 8, "peak_tflops": 1.0,
        "checkpoint_interval": 8, "eval_interval": 1000, "log_interval": 1, "sample_tokens": 0, "eval_batches": 1}})
    (tmp_path / f"{name}.toml").write_text(dump_config(config))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run([*launcher, "-m", "training.cli", "train", "--config", tmp_path / f"{name}.toml",
                           "--data", tmp_path / "bins", "--tokenizer", tmp_path / "tokenizer-512", "--out", tmp_path / name],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_two_ranks_of_half_the_batch_match_one_process(tmp_path):
    build_tiny_bins(tmp_path, build_tiny_tokenizer(tmp_path))
    one = train(tmp_path, "one", 4, [sys.executable])
    two = train(tmp_path, "two", 2, [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"])
    assert one.returncode == 0, one.stdout + one.stderr
    assert two.returncode == 0, two.stdout + two.stderr
    assert two.stdout.count("done: step 8") == 1  # rank 1 stays quiet

    # rank r of 2 takes samples 4i+2r, 4i+2r+1 of step i: the same 4 samples a step as the single process,
    # with gradients averaged by DDP, so only the order of float additions differs
    losses = [[r["loss"] for r in read_metrics(tmp_path / run / "metrics.jsonl", "train")] for run in ("one", "two")]
    assert len(losses[0]) == 8 and losses[1] == pytest.approx(losses[0], rel=1e-5)
    assert losses[0][-1] < losses[0][0]
    # MFU is over all ranks' peak: the global tokens/s against one rank's peak would double it
    flops = GPT(load_config(tmp_path / "two.toml").model).flops_per_token(128)
    for run, world in (("one", 1), ("two", 2)):
        for r in read_metrics(tmp_path / run / "metrics.jsonl", "train"):
            assert r["mfu"] == pytest.approx(r["tokens_per_s"] * flops / (1e12 * world))
    a, b = (load_checkpoint(tmp_path / run, weights_only=True) for run in ("one", "two"))
    assert b.meta["tokens_seen"] == a.meta["tokens_seen"] == 8 * 4 * 128
    for key, weight in a.model_state.items():
        torch.testing.assert_close(b.model_state[key], weight, rtol=1e-4, atol=1e-5)
