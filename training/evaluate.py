"""`polski eval`: BPB/loss/perplexity on held-out text or bins, Polish minimal pairs and fixed-seed samples,
for a PyTorch checkpoint or an exported GGUF (llama.cpp), written as JSON + Markdown.

The trainer reuses `evaluate_bpb` (training/evals/bpb.py) at its eval steps.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from training.atomic import write_json, write_text
from training.evals.bpb import evaluate_bpb
from training.evals.chat_tasks import sentences as chat_sentences
from training.evals.minimal_pairs import evaluate_pairs, load_pairs

__all__ = ["evaluate_bpb", "run_eval", "default_out_dir", "write_report"]


def default_out_dir(target: Path | str) -> Path:
    if str(target).startswith("ollama:"):  # an Ollama model: NAME.eval/ in the current directory
        return Path(str(target)[len("ollama:"):].replace("/", "-").replace(":", "-") + ".eval")
    target = Path(target)
    if target.suffix == ".gguf":
        return target.with_name(f"{target.stem}.eval")
    if (target / "checkpoints").is_dir():  # a RUN_DIR: its latest checkpoint
        return target / "eval" / "latest"
    if target.parent.name == "checkpoints":
        return target.parent.parent / "eval" / target.name
    return target / "eval"


def run_eval(target: Path | str, texts: list[Path] = (), bins: Path | None = None, pairs: list[Path] = (),
             samples: bool = False, *, max_docs: int | None = None, max_pairs: int | None = None,
             pairs_split: str | None = None, stride: int | None = None, device: str = "cpu", batch_size: int = 8,
             threads: int = 2,
             sample_seed: int = 1234, sample_tokens: int = 48, chat_tasks: Path | None = None, chat_tasks_n: int = 40,
             chat: Path | None = None, chat_seeds=(1, 2, 3), chat_temperature: float = 0.3, chat_top_p: float = 0.9,
             chat_max_tokens: int = 200, ollama_host: str | None = None, backend=None) -> dict:
    """Everything asked for, as one JSON-ready dict. `backend` (already open) overrides `target`.

    `chat` (a prompts .jsonl, training/evals/chat.py) is the only evaluation of an `ollama:NAME` target."""
    from training.errors import ConfigError
    from training.evals.backends import open_backend
    from training.evals.chat import is_ollama_target, load_prompts
    from training.evals.texts import load_texts

    start = time.perf_counter()
    logit_work = bool(texts or pairs or bins is not None or samples or chat_tasks)
    ollama = is_ollama_target(target)
    if ollama and (logit_work or backend is not None):
        raise ConfigError(f"{target} is an Ollama model: only --chat evaluates it; give a RUN_DIR or FILE.gguf for the rest")
    # every input is read (and a bad one refused) before minutes of model work
    text_docs = [(Path(path), load_texts(path, max_docs)) for path in texts]
    pair_sets = [(Path(path), load_pairs(path, max_pairs, split=pairs_split)) for path in pairs]
    chat_targets = chat_sentences(load_texts(chat_tasks), chat_tasks_n) if chat_tasks else None
    chat_prompts = load_prompts(chat) if chat else None
    own = backend is None
    # a GGUF or Ollama model asked only for --chat needs no logits backend (the chat generator loads its own)
    if backend is None and (logit_work or not (ollama or Path(target).suffix == ".gguf")):
        backend = open_backend(target, device=device, batch_size=batch_size, threads=threads)
    try:
        if backend is not None:
            stride = stride or max(1, backend.context_length // 2)
            result: dict = {"target": str(target), "model": backend.describe(), "stride": stride, "bpb": {}, "minimal_pairs": {}}
        else:
            result = {"target": str(target), "model": {}, "stride": None, "bpb": {}, "minimal_pairs": {}}
        for path, docs in text_docs:
            result["bpb"][path.name] = evaluate_bpb(backend, docs, stride=stride).as_dict()
        if bins is not None:
            from training.data import TokenBins

            split = TokenBins(bins, "val")
            r = evaluate_bpb(backend, split, stride=stride, max_docs=max_docs)
            result["bpb"][f"{Path(bins).name}:val"] = r.as_dict()
        for path, pair_list in pair_sets:
            result["minimal_pairs"][path.name] = evaluate_pairs(backend, pair_list)
            if pairs_split:
                result["minimal_pairs"][path.name]["split"] = pairs_split
        if samples:
            from training.evals.samples import generate_samples

            result["samples"] = generate_samples(backend, seed=sample_seed, max_new_tokens=sample_tokens)
            result["sample_seed"] = sample_seed
        if chat_targets is not None:
            from training.config import OllamaConfig
            from training.evals.chat_tasks import evaluate_chat_tasks

            result["chat_tasks"] = {"file": Path(chat_tasks).name,
                                    **evaluate_chat_tasks(backend, chat_targets, OllamaConfig().system)}
        if chat_prompts is not None:
            from training.evals.chat import evaluate_chat, open_generator

            generator = open_generator(target, device=device, threads=threads, ollama_host=ollama_host, backend=backend)
            try:
                if not result["model"]:
                    result["model"] = generator.describe()
                result["chat"] = {"file": Path(chat).name, **evaluate_chat(
                    generator, chat_prompts, seeds=chat_seeds, temperature=chat_temperature, top_p=chat_top_p,
                    max_tokens=chat_max_tokens)}
            finally:
                generator.close()
    finally:
        if own and backend is not None:
            backend.close()
    result["seconds"] = time.perf_counter() - start
    return result


def write_report(result: dict, out_dir: Path | str) -> tuple[Path, Path]:
    """eval.json (per-pair results included) and eval.md."""
    from training.evals.markdown import render

    out_dir = Path(out_dir)
    json_path, md_path = out_dir / "eval.json", out_dir / "eval.md"
    write_json(json_path, result)
    write_text(md_path, render(result) + "\n")
    return json_path, md_path


def load_result(path: Path | str) -> dict:
    from training.errors import DataError

    path = Path(path)
    if path.is_dir():
        path = path / "eval.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise DataError(f"{path} is not an eval result ({err}): give the eval.json written by `polski eval`") from None
