"""A tiny trained RUN_DIR for the eval/inspect tests: the suite's `tiny_run` when conftest has it,
else one trained here for a few seconds in the RUN_DIR layout of docs/architecture.md."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.polish_text import build_tiny_bins, build_tiny_tokenizer, polish_paragraphs


def _train_tiny_run(root: Path, steps: int = 30) -> Path:
    import numpy as np
    import torch
    from safetensors.torch import save_file

    from training.config import dump_config, load_config
    from training.data import TokenBins
    from training.model import GPT

    tok_dir = build_tiny_tokenizer(root)
    bins = build_tiny_bins(root, tok_dir)
    config = load_config("polski-tiny")
    torch.manual_seed(0)
    model = GPT(config.model)
    data = np.asarray(TokenBins(bins, "train").tokens, dtype=np.int64)
    T, B = config.model.context_length, 8
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    gen = np.random.default_rng(0)
    for _ in range(steps):
        starts = gen.integers(0, len(data) - T - 1, B)
        x = torch.from_numpy(np.stack([data[s:s + T] for s in starts]))
        y = torch.from_numpy(np.stack([data[s + 1:s + T + 1] for s in starts]))
        _, loss = model(x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    run = root / "run"
    step_dir = run / "checkpoints" / f"step-{steps:06d}"
    step_dir.mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(step_dir / "model.safetensors"))
    (step_dir / "meta.json").write_text(json.dumps({"step": steps, "tokens_seen": steps * B * T, "val_loss": None,
                                                   "config": config.model_dump(mode="json")}))
    (run / "checkpoints" / "latest").write_text(step_dir.name)
    (run / "config.toml").write_text(dump_config(config))
    shutil.copytree(tok_dir, run / "tokenizer")
    return run


@pytest.fixture(scope="session")
def eval_run(request, tmp_path_factory) -> Path:
    try:
        return Path(request.getfixturevalue("tiny_run"))
    except pytest.FixtureLookupError:
        return _train_tiny_run(tmp_path_factory.mktemp("eval-run"))


@pytest.fixture(scope="session")
def heldout_texts() -> list[str]:
    return polish_paragraphs()[::10][:6]
