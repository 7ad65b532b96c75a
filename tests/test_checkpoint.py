"""Checkpoints: atomic save, pointers, pruning, safe loading, RNG round trip."""
import os
import random

import numpy as np
import pytest
import torch

from training.checkpoint import (find_checkpoint, load_checkpoint, load_gpt, rng_state, save_checkpoint, set_rng_state)
from training.config import load_config
from training.errors import CheckpointError
from training.model import GPT


def _save(run, step, value=0.0, **kw):
    weights = {"w": torch.full((3,), value)}
    return save_checkpoint(run, step, weights, {"opt": {"x": torch.ones(2)}}, {"tokens_seen": step}, **kw)


def test_save_then_load_round_trip(tmp_path):
    _save(tmp_path, 7, 1.5)
    ckpt = load_checkpoint(tmp_path)
    assert ckpt.path.name == "step-000007"
    assert ckpt.meta["step"] == 7 and ckpt.meta["tokens_seen"] == 7
    assert torch.equal(ckpt.model_state["w"], torch.full((3,), 1.5))
    assert torch.equal(ckpt.train_state["opt"]["x"], torch.ones(2))


def test_crash_while_saving_leaves_previous_checkpoint_and_latest(tmp_path):
    _save(tmp_path, 5, 1.0)

    def boom(tmp_dir):
        assert (tmp_dir / "model.safetensors").is_file()  # mid-save: files written, not yet renamed
        raise OSError("disk full (injected)")

    with pytest.raises(OSError, match="injected"):
        _save(tmp_path, 10, 2.0, _before_commit=boom)
    root = tmp_path / "checkpoints"
    assert (root / "latest").read_text().strip() == "step-000005"
    assert not (root / "step-000010").exists()
    assert not [p for p in root.iterdir() if p.name.startswith(".")]  # no temp dir left behind
    assert torch.equal(load_checkpoint(tmp_path).model_state["w"], torch.full((3,), 1.0))


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def test_malicious_pickle_in_state_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    step_dir = _save(tmp_path, 3)
    torch.save({"opt": _Evil()}, step_dir / "state.pt")
    with pytest.raises(CheckpointError, match="refused by safe loading"):
        load_checkpoint(tmp_path)
    assert not (tmp_path / "PWNED").exists()


def test_truncated_weights_are_a_checkpoint_error(tmp_path):
    step_dir = _save(tmp_path, 3)
    (step_dir / "model.safetensors").write_bytes(b"\x00\x01garbage")
    with pytest.raises(CheckpointError, match="safetensors"):
        load_checkpoint(tmp_path)


def test_keep_last_and_best(tmp_path):
    _save(tmp_path, 1, is_best=True)
    for step in (2, 3, 4):
        _save(tmp_path, step, keep_last=2)
    names = sorted(p.name for p in (tmp_path / "checkpoints").iterdir() if p.is_dir())
    assert names == ["step-000001", "step-000003", "step-000004"]
    assert find_checkpoint(tmp_path, "best").name == "step-000001"
    assert find_checkpoint(tmp_path).name == "step-000004"

    with pytest.raises(CheckpointError) as err:  # a step the run did not keep names the ones it did
        load_checkpoint(tmp_path / "checkpoints" / "step-000002")
    assert "the run kept step-000001, step-000003, step-000004 (train.keep_last" in str(err.value)


def test_no_checkpoint_is_a_clear_error(tmp_path):
    assert find_checkpoint(tmp_path) is None
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_checkpoint(tmp_path)


def test_rng_state_round_trip_is_weights_only_safe(tmp_path):
    torch.save(rng_state(), tmp_path / "rng.pt")
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    set_rng_state(torch.load(tmp_path / "rng.pt", weights_only=True))
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first


def test_load_gpt_rebuilds_the_model_from_meta(tmp_path):
    config = load_config("polski-tiny")
    model = GPT(config.model)
    save_checkpoint(tmp_path, 1, model.state_dict(), {}, {"config": config.model_dump(mode="json")})
    loaded, cfg, meta = load_gpt(tmp_path)
    assert cfg.model == config.model and meta["step"] == 1
    idx = torch.tensor([[1, 2, 3]])
    assert torch.equal(loaded(idx)[0], model.eval()(idx)[0])
