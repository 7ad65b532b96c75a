"""Session fixtures shared by the whole suite: the real Ollama server and a tiny trained model.

In CI (CI=true) a missing required part (Ollama, llama.cpp) fails the test; elsewhere it skips.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing_part(message: str):
    """Fail in CI, skip elsewhere: a missing Ollama or llama.cpp must not pass CI silently."""
    if IN_CI:
        pytest.fail(f"{message} (required in CI)")
    pytest.skip(message)


def shared_data(relative: str) -> Path:
    """A path under ../shared/data, or a skip when a fresh clone has no ../shared."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"../shared/data/{relative} is absent (only the project's own machines have it)")
    return path


@pytest.fixture(scope="session")
def ollama_server(tmp_path_factory):
    from training.ollama_server import find_binary, start_server

    binary = find_binary()
    if binary is None:
        missing_part("no `ollama` binary: run `bash scripts/ollama/install.sh`")
    server = start_server(tmp_path_factory.mktemp("ollama-models"), binary=binary, extra_env={"OLLAMA_NUM_PARALLEL": "4"})
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> tuple[Path, Path]:
    """(BINS_DIR, TOKENIZER_DIR) of the Polish test prose, for trainer tests."""
    from tests.polish_text import build_tiny_bins, build_tiny_tokenizer

    root = tmp_path_factory.mktemp("tiny-data")
    tok = build_tiny_tokenizer(root)
    return build_tiny_bins(root, tok), tok


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """A polski-tiny RUN_DIR made by our own trainer in a few seconds: pretrained on the Polish test prose,
    then chat-tuned (`polski sft`) to continue a paragraph after ChatML's assistant turn."""
    import json

    from tests.polish_text import build_tiny_bins, build_tiny_tokenizer, polish_paragraphs
    from training.config import load_config
    from training.sft import run_sft
    from training.train import pretrain

    root = tmp_path_factory.mktemp("tiny-run")
    tokenizer_dir = build_tiny_tokenizer(root)
    bins = build_tiny_bins(root, tokenizer_dir)
    config = load_config("polski-tiny", {"train": {"max_steps": 120, "eval_interval": 60, "checkpoint_interval": 60}})
    pretrain(config, bins, root / "pretrain", tokenizer_dir=tokenizer_dir, console=lambda *_: None)
    chats = root / "sft.jsonl"
    with open(chats, "w", encoding="utf-8") as f:
        for paragraph in polish_paragraphs():
            cut = paragraph.find(" ", 40) if len(paragraph) > 60 else -1
            if cut > 0:
                messages = [{"role": "user", "content": f"Dokończ tekst: {paragraph[:cut]}"},
                            {"role": "assistant", "content": paragraph[cut + 1:]}]
                f.write(json.dumps({"messages": messages}, ensure_ascii=False) + "\n")
    sft_config = load_config("polski-tiny", {"sft": {"sources": [str(chats)], "max_steps": 60, "micro_batch_size": 8,
                                                       "lr": 1e-3, "pretrain_mix": 0.25}})
    run_sft(sft_config, root / "pretrain", root / "run", bins_dir=bins, console=lambda *_: None)
    return root / "run"


@pytest.fixture(scope="session")
def tiny_gguf(tiny_run, tmp_path_factory) -> Path:
    """`tiny_run` exported to an F16 GGUF by `polski export`'s code."""
    from training.export.export_model import export_model

    out = tmp_path_factory.mktemp("tiny-gguf") / "polski-tiny.gguf"
    export_model(tiny_run, out, dtype="f16")
    return out


@pytest.fixture(scope="session")
def tiny_modelfile(tiny_run, tiny_gguf) -> Path:
    """A Modelfile for `tiny_gguf`, as `polski modelfile` writes it."""
    from training.config import load_config
    from training.export.modelfile import gguf_ref_for, render_modelfile

    path = tiny_gguf.parent / "Modelfile"
    path.write_text(render_modelfile(gguf_ref_for(tiny_gguf, path), load_config(tiny_run / "config.toml")), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def ollama_model(ollama_server, tiny_modelfile) -> str:
    """The name of the tiny test model, registered in the session's real Ollama server."""
    from training.register import register_model

    name = "polski-tiny-test"
    register_model(name, modelfile=tiny_modelfile, host=ollama_server.url)
    return name
