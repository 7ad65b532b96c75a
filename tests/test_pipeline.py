"""`polski pipeline` runs every stage once, then finds them up to date; a changed setting re-runs from there."""
from pathlib import Path

import pytest

from tests.polish_text import write_polish_jsonl
from training.config import dump_config, load_config
from training.pipeline import STAGES as ALL_STAGES, run_pipeline

STAGES = [s for s in ALL_STAGES if s not in ("refine", "merge")]  # polski-tiny has neither (tests/test_refine.py runs both)

pytestmark = [pytest.mark.slow, pytest.mark.ollama]


def tiny_pipeline_config(tmp_path: Path, max_steps: int) -> Path:
    source = tmp_path / "src" / "polski.jsonl"
    if not source.exists():  # rewriting it would change its mtime, and so re-run the corpus stage
        write_polish_jsonl(source)
    config = load_config("polski-tiny", {
        "corpus": {"sources": [str(source)]},
        "paths": {"work_dir": str(tmp_path / "work")},
        "train": {"max_steps": max_steps, "eval_interval": 20, "checkpoint_interval": 20},
        "eval": {"samples": False},
        "ollama": {"name": "polski-tiny-pipeline"},
        # the chat stage learns from the built conversation set: the packaged core set, nothing mined
        "chat_data": {"core_repeat": 1},
        "sft": {"max_steps": 10},
    })
    path = tmp_path / f"pipeline-{max_steps}.toml"
    path.write_text(dump_config(config), encoding="utf-8")
    return path


def run(path: Path, host: str, **kwargs) -> dict:
    return run_pipeline(load_config(path), path, host=host, console=lambda *_: None, **kwargs)


def test_pipeline_runs_all_stages_then_skips_them_and_resumes_training(tmp_path, ollama_server):
    path = tiny_pipeline_config(tmp_path, max_steps=40)
    first = run(path, ollama_server.url, only=["corpus", "tokenizer", "bins"])
    assert [first[s] for s in ("corpus", "tokenizer", "bins", "train")] == ["done", "done", "done", "skipped"]

    second = run(path, ollama_server.url)
    assert [second[s] for s in STAGES[:3]] == ["up to date"] * 3
    assert all(second[s] == "done" for s in STAGES[3:]) and list(second) == STAGES
    work = tmp_path / "work"
    assert (work / "export" / "polski-tiny.gguf").stat().st_size > 0
    import json

    manifest = json.loads((work / "chat" / "manifest.json").read_text())
    assert manifest["sources"]["core"]["conversations"] >= 400 and manifest["total"]["tokens"] > 0
    sft_config = (work / "sft" / "config.toml").read_text()
    assert str(work / "chat" / "chat.jsonl") in sft_config  # the chat stage learnt from the built set
    assert "polski-tiny-pipeline" in ollama_server.cli("list").stdout

    assert set(run(path, ollama_server.url).values()) == {"up to date"}

    (work / "bins" / "train.src.npy").unlink()  # bins from before document sources were recorded
    again = run(path, ollama_server.url)
    assert again["bins"] == "done" and {again[s] for s in STAGES if s != "bins"} == {"up to date"}

    longer = tiny_pipeline_config(tmp_path, max_steps=60)  # same work dir: training resumes at its checkpoint
    third = run(longer, ollama_server.url)
    assert [third[s] for s in STAGES[:3]] == ["up to date"] * 3
    assert third["train"] == "done"
    from training.checkpoint import load_checkpoint

    assert load_checkpoint(work / "run").meta["step"] == 60
