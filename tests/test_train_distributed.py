"""Data parallel through torchrun on CPU (gloo): two processes of half the micro-batch train like one process."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.polish_text import build_tiny_bins, build_tiny_tokenizer
from training.checkpoint import load_checkpoint
from training.config import dump_config, load_config
from training.metrics import latest_per_step, read_metrics
from training.model import GPT

ROOT = Path(__file__).resolve().parents[1]


TORCHRUN_2 = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]


def train(tmp_path: Path, name: str, micro_batch_size: int, launcher: list[str], dropout: float = 0.0,
          out: str | None = None, extra: tuple = (), numerics: dict | None = None,
          entry: tuple = ("-m", "training.cli")) -> subprocess.CompletedProcess:
    config = load_config("polski-tiny", {"model": {"dropout": dropout}, "train": {
        "device": "cpu", "precision": "fp32", "micro_batch_size": micro_batch_size, "max_steps": 8, "peak_tflops": 1.0,
        "checkpoint_interval": 4, "eval_interval": 1000, "log_interval": 1, "sample_tokens": 0, "eval_batches": 1,
        **(numerics or {})}})
    (tmp_path / f"{name}.toml").write_text(dump_config(config))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    run = subprocess.run([*launcher, *entry, "train", "--config", tmp_path / f"{name}.toml", "--data",
                          tmp_path / "bins", "--tokenizer", tmp_path / "tokenizer-512", "--out", tmp_path / (out or name), *extra],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    return run


# bf16 weights (the 12 GiB numerics, flat optimizer buffers under DDP), round-to-nearest so both runs are
# deterministic; a different order of additions can move a weight by a bf16 step or two (Adam's update of a
# weight whose gradients are near zero is sensitive to that)
BF16_WEIGHTS = {"precision": "bf16", "param_dtype": "bf16", "stochastic_rounding": False}


@pytest.mark.slow
@pytest.mark.parametrize("numerics,loss_rel,weight_tol", [({}, 1e-5, (1e-4, 1e-5)), (BF16_WEIGHTS, 1e-4, (1e-2, 5e-3))],
                         ids=["fp32", "bf16-weights"])
def test_two_ranks_of_half_the_batch_match_one_process(tmp_path, numerics, loss_rel, weight_tol):
    build_tiny_bins(tmp_path, build_tiny_tokenizer(tmp_path))
    one = train(tmp_path, "one", 4, [sys.executable], numerics=numerics)
    two = train(tmp_path, "two", 2, TORCHRUN_2, numerics=numerics)
    assert "done: step 8" in one.stdout and two.stdout.count("done: step 8") == 1  # rank 1 stays quiet

    # rank r of 2 takes samples 4i+2r, 4i+2r+1 of step i: the same 4 samples a step as the single process,
    # with gradients averaged by DDP, so only the order of float additions differs
    losses = [[r["loss"] for r in read_metrics(tmp_path / run / "metrics.jsonl", "train")] for run in ("one", "two")]
    assert len(losses[0]) == 8 and losses[1] == pytest.approx(losses[0], rel=loss_rel)
    assert losses[0][-1] < losses[0][0]
    # MFU is over all ranks' peak: the global tokens/s against one rank's peak would double it
    flops = GPT(load_config(tmp_path / "two.toml").model).flops_per_token(128)
    for run, world in (("one", 1), ("two", 2)):
        for r in read_metrics(tmp_path / run / "metrics.jsonl", "train"):
            assert r["mfu"] == pytest.approx(r["tokens_per_s"] * flops / (1e12 * world))
    a, b = (load_checkpoint(tmp_path / run, weights_only=True) for run in ("one", "two"))
    assert b.meta["tokens_seen"] == a.meta["tokens_seen"] == 8 * 4 * 128
    for key, weight in a.model_state.items():
        torch.testing.assert_close(b.model_state[key], weight, rtol=weight_tol[0], atol=weight_tol[1])


@pytest.mark.slow
def test_two_ranks_resume_with_their_own_dropout_masks(tmp_path):
    """Each rank draws its own dropout masks; a checkpoint keeps every rank's RNG state, so a two-rank run resumed
    from step 4 repeats the uninterrupted run's losses exactly (with rank 0's state on both ranks it does not)."""
    build_tiny_bins(tmp_path, build_tiny_tokenizer(tmp_path))
    train(tmp_path, "straight", 2, TORCHRUN_2, dropout=0.1)
    crashed = tmp_path / "crashed"
    shutil.copytree(tmp_path / "straight", crashed)
    shutil.rmtree(crashed / "checkpoints" / "step-000008")  # as if killed between step 4 and step 8: after step 6
    (crashed / "checkpoints" / "latest").write_text("step-000004")
    kept = [line for line in (crashed / "metrics.jsonl").read_text().splitlines(keepends=True)
            if json.loads(line)["step"] <= 6]
    (crashed / "metrics.jsonl").write_text("".join(kept))
    train(tmp_path, "straight", 2, TORCHRUN_2, dropout=0.1, out="crashed", extra=("--resume",))
    straight = {r["step"]: r["loss"] for r in read_metrics(tmp_path / "straight" / "metrics.jsonl", "train")}
    records = read_metrics(crashed / "metrics.jsonl")
    resumed_at = [i for i, r in enumerate(records) if r["kind"] == "event" and r["event"] == "resumed"]
    assert len(resumed_at) == 1 and records[resumed_at[0]]["step"] == 4
    # what the resumed run itself wrote: steps 5-8 again, each once, with the uninterrupted run's losses
    after = [r for r in records[resumed_at[0] + 1:] if r["kind"] == "train"]
    assert [r["step"] for r in after] == [5, 6, 7, 8]
    assert [r["loss"] for r in after] == [straight[s] for s in range(5, 9)]
    assert sorted(r["step"] for r in latest_per_step(read_metrics(crashed / "metrics.jsonl", "train"))) == list(range(1, 9))


# `polski train` with a look at the process group when the command ends the rank
PROBE = """
import sys
import torch.distributed as dist
import training.cli as cli
real_exit = cli.exit_without_teardown
def probe(code):
    print(f"group still up at the end: {dist.is_initialized()}; exit code {code}", flush=True)
    real_exit(code)
cli.exit_without_teardown = probe
cli.main(sys.argv[1:])
print("returned to the interpreter", flush=True)
"""


@pytest.mark.slow
def test_every_rank_destroys_the_process_group_and_ends_without_teardown(tmp_path):
    """Left to the interpreter's exit, the group is torn down by C++ destructors after Python has stopped, and a rank
    that had finished could die of SIGABRT ("terminate called without an active exception"): torchrun then reported
    the run as failed. The command destroys it itself (after a barrier) on every rank, then ends the rank with
    os._exit, its output flushed, so no C++ teardown runs (training/distributed.py)."""
    build_tiny_bins(tmp_path, build_tiny_tokenizer(tmp_path))
    (tmp_path / "probe.py").write_text(PROBE)
    run = train(tmp_path, "probe", 2, TORCHRUN_2, entry=(str(tmp_path / "probe.py"),))
    assert run.stdout.count("group still up at the end: False; exit code 0") == 2, run.stdout + run.stderr
    assert "returned to the interpreter" not in run.stdout
    assert "done: step 8" in run.stdout and "terminate called" not in run.stderr
    assert (tmp_path / "probe" / "checkpoints" / "latest").exists()  # the run's files were written before the exit
