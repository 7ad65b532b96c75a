"""Checkpoints: RUN_DIR/checkpoints/step-000123/{model.safetensors, state.pt, meta.json} (names: training.layout).

A step dir is written to a temp dir, fsynced and renamed (training.atomic.atomic_dir); only then do
`latest` (and `best`) name it, so a crash mid-save leaves the previous checkpoint and pointers intact.
Loading is safe: weights through safetensors, the rest through torch.load(weights_only=True) and JSON;
a state.pt that needs arbitrary pickled objects is refused.
"""
from __future__ import annotations

import json
import os
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from training.atomic import atomic_dir, write_text
from training.config import Config, dump_config, parse_config
from training.errors import CheckpointError
from training.layout import (BEST, CHECKPOINT_META_FILE, CHECKPOINTS_DIR, CONFIG_FILE, LATEST, STEP_RE, TOKENIZER_DIR,
                             TRAIN_STATE_FILE, WEIGHTS_FILE, checkpoints_dir, locate, read_pointer, step_dir_name)


@dataclass
class Checkpoint:
    path: Path
    meta: dict
    model_state: dict[str, torch.Tensor]
    train_state: dict | None  # None when loaded with weights_only


# ---------------------------------------------------------------- RNG state (tensors and numbers only)


def rng_state() -> dict:
    np_state = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": {"keys": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                  "has_gauss": int(np_state[3]), "gauss": float(np_state[4])},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(_as_tuple(state["python"]))
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _as_tuple(x):
    return tuple(_as_tuple(v) for v in x) if isinstance(x, (list, tuple)) else x


# ---------------------------------------------------------------- save


def prepare_run_dir(run_dir: Path, config: Config, tokenizer_dir: Path | str | None) -> None:
    """config.toml and tokenizer/ make a RUN_DIR self-contained."""
    run_dir.mkdir(parents=True, exist_ok=True)
    write_text(run_dir / CONFIG_FILE, dump_config(config))
    if tokenizer_dir is not None and Path(tokenizer_dir).resolve() != (run_dir / TOKENIZER_DIR).resolve():
        target = run_dir / TOKENIZER_DIR
        tmp = run_dir / f".{TOKENIZER_DIR}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(tokenizer_dir, tmp)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)


def save_checkpoint(
    run_dir: Path | str,
    step: int,
    model_state: dict[str, torch.Tensor],
    train_state: dict,
    meta: dict,
    keep_last: int = 2,
    is_best: bool = False,
    _before_commit: Callable[[Path], None] | None = None,  # test seam: runs inside the temp dir before the rename
) -> Path:
    from safetensors.torch import save_file

    root = checkpoints_dir(run_dir)
    target = root / step_dir_name(step)
    with atomic_dir(target) as tmp:
        save_file({k: v.detach().contiguous().cpu() for k, v in model_state.items()}, str(tmp / WEIGHTS_FILE),
                  metadata={"format": "pt", "step": str(step)})
        torch.save(train_state, tmp / TRAIN_STATE_FILE)
        (tmp / CHECKPOINT_META_FILE).write_text(json.dumps({**meta, "step": step}, ensure_ascii=False, indent=2, sort_keys=True) + "\n",
                                     encoding="utf-8")
        if _before_commit is not None:
            _before_commit(tmp)
    write_text(root / LATEST, target.name + "\n")
    if is_best:
        write_text(root / BEST, target.name + "\n")
    prune(root, keep_last)
    return target


def prune(root: Path, keep_last: int) -> None:
    """Keeps the newest `keep_last` step dirs plus those named by `latest` and `best`; removes stale temp dirs."""
    steps = sorted(p for p in root.iterdir() if p.is_dir() and STEP_RE.match(p.name))
    keep = {p.name for p in steps[-keep_last:]} | {read_pointer(root, LATEST), read_pointer(root, BEST)}
    for p in steps:
        if p.name not in keep:
            shutil.rmtree(p, ignore_errors=True)
    for p in root.glob(".step-*"):
        shutil.rmtree(p, ignore_errors=True)


# ---------------------------------------------------------------- find and load


def find_checkpoint(path: Path | str, which: str = LATEST) -> Path | None:
    """A step dir from a RUN_DIR, its checkpoints/ dir or a step dir itself; None if the run has none yet."""
    return locate(path, which).step_dir


def load_checkpoint(path: Path | str, which: str = LATEST, weights_only: bool = False) -> Checkpoint:
    path = Path(path)
    if not path.exists() and path.parent.name == CHECKPOINTS_DIR and STEP_RE.match(path.name):
        kept = sorted(p.name for p in path.parent.glob("step-*") if (p / CHECKPOINT_META_FILE).is_file())
        raise CheckpointError(f"no checkpoint {path}: the run kept {', '.join(kept) or 'none'} (train.keep_last; an eval "
                              "with a new best also saves): give one of those, or raise keep_last and train again")
    step_dir = find_checkpoint(path, which)
    if step_dir is None:
        raise CheckpointError(f"no checkpoint in {path}: train first (`polski train`), or give a step dir")
    meta = read_meta(step_dir)
    model_state = load_weights(step_dir / WEIGHTS_FILE)
    train_state = None if weights_only else load_state(step_dir / TRAIN_STATE_FILE)
    return Checkpoint(step_dir, meta, model_state, train_state)


def read_meta(step_dir: Path) -> dict:
    """A step dir's meta.json (step, tokens seen, losses, config) without loading its tensors."""
    try:
        return json.loads((step_dir / CHECKPOINT_META_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{step_dir / CHECKPOINT_META_FILE} is unreadable ({err}): resume from an older step dir") from None


def reached(run_dir: Path | str, steps: int) -> bool:
    """Whether RUN_DIR's latest checkpoint is at step STEPS or later (a finished run, kept rather than redone)."""
    latest = find_checkpoint(run_dir)
    return latest is not None and read_meta(latest)["step"] >= steps


def load_weights(path: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except (OSError, SafetensorError) as err:
        raise CheckpointError(f"{path} is not a readable safetensors file ({err}): use another checkpoint") from None


def load_state(path: Path) -> dict:
    import pickle

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path} is missing: the checkpoint is incomplete, resume from an older step dir") from None
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, AttributeError, TypeError) as err:
        first = str(err).strip().splitlines()[0][:160] if str(err).strip() else type(err).__name__
        raise CheckpointError(
            f"{path} was refused by safe loading (it holds more than tensors and plain values: {first}); "
            "it was not written by `polski train`, so do not load it"
        ) from None


def load_gpt(path: Path | str, device: str | torch.device = "cpu", which: str = LATEST):
    """(GPT in eval mode, Config, meta) from a RUN_DIR or step dir: what eval and export need."""
    from training.model import GPT

    ckpt = load_checkpoint(path, which, weights_only=True)
    config = parse_config(ckpt.meta["config"], ckpt.path / CHECKPOINT_META_FILE)
    model = GPT(config.model)
    try:
        model.load_state_dict(ckpt.model_state)
    except RuntimeError as err:
        raise CheckpointError(f"{ckpt.path}: weights do not fit the config's model shape ({str(err).splitlines()[0]})") from None
    return model.to(device).eval(), config, ckpt.meta
