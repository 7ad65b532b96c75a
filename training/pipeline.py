"""`polski pipeline`: every stage in order, skipping stages whose outputs are up to date.

A stage is up to date when its output exists and the fingerprint recorded for it (its config
section plus the fingerprints of the stages it reads) is unchanged. Fingerprints live in
WORK_DIR/stages.json, written atomically after each stage, so an interrupted pipeline resumes at
the first unfinished stage; an interrupted training stage resumes from its last checkpoint.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from training.atomic import write_json
from training.config import Config
from training.layout import latest_pointer, pretrained_run

STAGES = ["corpus", "tokenizer", "bins", "train", "chat_data", "sft", "refine", "merge", "eval", "export", "modelfile", "register"]


@dataclass
class Stage:
    name: str
    output: Path
    inputs: list[str]  # upstream stage names
    settings: object  # JSON-able config this stage depends on
    run: Callable[[], None]


def fingerprint(settings, upstream: list[str]) -> str:
    blob = json.dumps({"settings": settings, "upstream": upstream}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def source_listing(sources: list[str]) -> list:
    """(path, size, mtime) of every source file: a changed corpus re-runs the corpus stage."""
    listing = []
    for source in sources:
        path = Path(source)
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        listing += [(str(p), p.stat().st_size, int(p.stat().st_mtime)) for p in files if p.exists()]
    return listing


def chat_data_files(config: Config) -> list[str]:
    from training.chat_data import CHAT_EVAL_DIR, CORE_DIR

    d = config.chat_data
    return [*(d.core or [str(CORE_DIR)]), str(CHAT_EVAL_DIR), *d.sft, *d.corpus, *d.eval_files]


def plan(config: Config, config_path: Path, host: str | None, register: bool) -> list[Stage]:
    from training import pipeline_steps as steps

    p = config.paths
    c = config.model_dump(mode="json")
    stages = [
        Stage("corpus", p.corpus / "manifest.json", [], {"corpus": c["corpus"], "files": source_listing(config.corpus.sources)},
              lambda: steps.corpus(config)),
        Stage("tokenizer", p.tokenizer / "tokenizer.model", ["corpus"], c["tokenizer"], lambda: steps.tokenizer(config)),
        # train.src.npy, not manifest.json: bins made before document sources were recorded are made again
        Stage("bins", p.bins / "train.src.npy", ["corpus", "tokenizer"], {}, lambda: steps.bins(config)),
        Stage("train", latest_pointer(pretrained_run(config)), ["bins"],
              {k: c[k] for k in ("model", "optim", "train")}, lambda: steps.train(config)),
    ]
    sft_inputs = ["train"]
    if config.chat_data is not None:  # the conversation set the chat stages learn from, built before them
        stages.append(Stage("chat_data", p.chat_data / "manifest.json", ["tokenizer"],
                            {"chat_data": c["chat_data"], "files": source_listing(chat_data_files(config))},
                            lambda: steps.chat_data(config)))
        sft_inputs.append("chat_data")
    stages.append(Stage("sft", latest_pointer(p.sft), sft_inputs, c["sft"], lambda: steps.sft(config)))
    if config.refine is not None:  # a second chat stage; eval and export then read its result
        stages.append(Stage("refine", latest_pointer(p.refine), ["sft"], c["refine"],
                            lambda: steps.refine(config)))
    if config.merge is not None:  # the chat model pulled back toward the pretrained run; eval and export read it
        stages.append(Stage("merge", latest_pointer(p.merge), [stages[-1].name, "train"], c["merge"],
                            lambda: steps.merge(config)))
    chat = stages[-1].name
    stages += [
        Stage("eval", p.eval / "eval.json", [chat], c["eval"], lambda: steps.evaluate(config)),
        Stage("export", p.gguf(config.model.name), [chat], c["export"], lambda: steps.export(config)),
        Stage("modelfile", p.modelfile, ["export"], c["ollama"], lambda: steps.modelfile(config)),
    ]
    if register:
        stages.append(Stage("register", p.registered_file, ["modelfile"], {"host": host, **c["ollama"]},
                            lambda: steps.register(config, host)))
    return stages


def run_pipeline(config: Config, config_path: Path, *, only: list[str] | None = None, force: list[str] = (),
                 host: str | None = None, register: bool = True, console=print) -> dict[str, str]:
    """Runs the stages; returns {stage: "done" | "up to date" | "skipped"}."""
    state_path = config.paths.stages_file
    state = json.loads(state_path.read_text()) if state_path.exists() else {}
    prints: dict[str, str] = {}
    outcome: dict[str, str] = {}
    for stage in plan(config, config_path, host, register):
        prints[stage.name] = fingerprint(stage.settings, [prints[u] for u in stage.inputs])
        if only and stage.name not in only:
            outcome[stage.name] = "skipped"
            continue
        if stage.name not in force and state.get(stage.name) == prints[stage.name] and stage.output.exists():
            console(f"[{stage.name}] up to date ({stage.output})")
            outcome[stage.name] = "up to date"
            continue
        console(f"[{stage.name}] running -> {stage.output}")
        start = time.perf_counter()
        stage.run()
        state[stage.name] = prints[stage.name]
        write_json(state_path, state)
        console(f"[{stage.name}] done in {time.perf_counter() - start:.1f} s")
        outcome[stage.name] = "done"
    return outcome
