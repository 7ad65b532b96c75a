"""Exact resume: a `polski train` process SIGKILLed between checkpoints and resumed logs bitwise the same losses."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.polish_text import build_tiny_bins, build_tiny_tokenizer
from training.config import dump_config, load_config
from training.metrics import latest_per_step, read_metrics

ROOT = Path(__file__).resolve().parents[1]
STEPS, KILL_AFTER = 14, 8  # checkpoints every 5 steps: the kill lands between step 5 and step 10


def polski(*args) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "training.cli", *map(str, args)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def losses(run: Path) -> dict[int, float]:
    return {r["step"]: r["loss"] for r in latest_per_step(read_metrics(run / "metrics.jsonl", "train"))}


# the 12 GiB numerics: bf16 weights in flat buffers, stochastic rounding (CPU generator state in the checkpoint)
BF16_WEIGHTS = {"train": {"precision": "bf16", "param_dtype": "bf16", "activation_checkpointing": "full", "loss_chunk_tokens": 64}}
MUON = {"optim": {"optimizer": "muon"}}  # two optimizers' states in one checkpoint


@pytest.mark.slow
@pytest.mark.parametrize("numerics", [{}, BF16_WEIGHTS, MUON], ids=["fp32", "bf16-weights", "muon"])
def test_sigkill_then_resume_gives_bitwise_identical_losses(tmp_path, numerics):
    tok = build_tiny_tokenizer(tmp_path)
    bins = build_tiny_bins(tmp_path, tok)
    config = load_config("polski-tiny", {**numerics, "train": {
        "micro_batch_size": 2, "grad_accum_steps": 2, "max_steps": STEPS, "checkpoint_interval": 5,
        "eval_interval": 1000, "log_interval": 1000, "sample_tokens": 0, "eval_batches": 1, **numerics.get("train", {})}})
    config_file = tmp_path / "tiny.toml"
    config_file.write_text(dump_config(config))
    common = ["--config", config_file, "--data", bins, "--tokenizer", tok]

    straight = polski("train", *common, "--out", tmp_path / "straight")
    killed_run = tmp_path / "killed"
    victim = polski("train", *common, "--out", killed_run)
    deadline = time.time() + 300
    while max(losses(killed_run), default=0) < KILL_AFTER:
        assert victim.poll() is None, victim.stdout.read()
        assert time.time() < deadline, "the run to be killed made no progress"
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    killed_at = max(losses(killed_run))
    assert (killed_run / "checkpoints" / "latest").read_text().strip() == "step-000005"
    assert killed_at < STEPS

    resumed = polski("train", "--resume", *common, "--out", killed_run)
    out, _ = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, out
    out, _ = straight.communicate(timeout=300)
    assert straight.returncode == 0, out

    expected, got = losses(tmp_path / "straight"), losses(killed_run)
    assert sorted(got) == list(range(1, STEPS + 1))
    assert got == expected  # float equality: bitwise
    events = [e["event"] for e in read_metrics(killed_run / "metrics.jsonl", "event")]
    assert "resumed" in events
