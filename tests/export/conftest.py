"""Fixtures for the export tests: tiny run dirs (random and trained) and real llama.cpp."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import missing_part


@pytest.fixture(scope="session")
def llama_cpp():
    """llama-cpp-python, or a skip (a failure in CI, where llama.cpp parity must be proven)."""
    try:
        import llama_cpp as lib
    except ImportError:
        missing_part("llama-cpp-python is not installed: pip install 'llama-cpp-python>=0.3.16'")
    return lib


@pytest.fixture(scope="session")
def tiny_tokenizer(tmp_path_factory) -> Path:
    from tests.polish_text import build_tiny_tokenizer

    return build_tiny_tokenizer(tmp_path_factory.mktemp("tok"))


def make_run(root: Path, tokenizer_dir: Path, model, config, meta: dict | None = None) -> Path:
    """A RUN_DIR in the documented layout holding `model`'s weights as checkpoints/step-000001."""
    from safetensors.torch import save_file

    from training.config import dump_config

    ckpt = root / "checkpoints" / "step-000001"
    ckpt.mkdir(parents=True, exist_ok=True)
    (root / "config.toml").write_text(dump_config(config), encoding="utf-8")
    shutil.copytree(tokenizer_dir, root / "tokenizer", dirs_exist_ok=True)
    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, ckpt / "model.safetensors")
    meta = {"step": 1, "tokens_seen": 4096, "val_loss": 6.0, "config": config.model_dump(mode="json"), **(meta or {})}
    (ckpt / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    (root / "checkpoints" / "latest").write_text("step-000001", encoding="utf-8")
    return root


def tiny_config(**model_overrides):
    from training.config import load_config

    config = load_config("polski-tiny")
    return config.model_copy(update={"model": config.model.model_copy(update=model_overrides)})


@pytest.fixture(scope="session")
def random_run(tmp_path_factory, tiny_tokenizer) -> Path:
    """polski-tiny (tied embeddings) with random weights, norms perturbed so that they matter."""
    import torch

    from training.model import GPT

    torch.manual_seed(0)
    config = tiny_config()
    model = GPT(config.model)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.add_(0.3 * torch.randn_like(p))
    return make_run(tmp_path_factory.mktemp("random-run"), tiny_tokenizer, model, config)


@pytest.fixture(scope="session")
def untied_gqa_run(tmp_path_factory, tiny_tokenizer) -> Path:
    """Untied output and grouped-query attention (4 heads over 2 kv heads): the other code paths."""
    import torch

    from training.model import GPT

    torch.manual_seed(1)
    config = tiny_config(tie_embeddings=False, n_kv_heads=2, rope_theta=50000.0)
    model = GPT(config.model)
    with torch.no_grad():
        model.output.weight.mul_(50.0)  # init std 0.02 gives near-tied logits; spread them so argmax is decided
    return make_run(tmp_path_factory.mktemp("untied-run"), tiny_tokenizer, model, config)


@pytest.fixture(scope="session")
def trained_run(tiny_run) -> Path:
    """The suite's `tiny_run`: polski-tiny trained by our trainer on the Polish test text."""
    return Path(tiny_run)
