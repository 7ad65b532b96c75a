"""What each pipeline stage does: the same functions the stage commands call, with paths from [paths]."""
from __future__ import annotations

import shutil
from pathlib import Path

from training.config import Config
from training.layout import chat_run, pretrained_run, tuned_run


def corpus(config: Config) -> None:
    from training.corpus.build import build_corpus

    build_corpus(config.corpus.sources, config.paths.corpus, config.corpus)


def tokenizer(config: Config) -> None:
    from training.tokenizer import train_tokenizer

    train_tokenizer(config.paths.corpus, config.paths.tokenizer, config.tokenizer)


def bins(config: Config) -> None:
    from training.data import tokenize_corpus

    tokenize_corpus(config.paths.corpus, config.paths.tokenizer, config.paths.bins)


def train(config: Config) -> None:
    from training.checkpoint import find_checkpoint
    from training.soup import train_decay_soup
    from training.train import pretrain

    run = config.paths.run
    pretrain(config, config.paths.bins, run, tokenizer_dir=config.paths.tokenizer,
             resume=find_checkpoint(run) is not None)
    if config.train.decay_seeds:
        train_decay_soup(config, config.paths.bins, run, tokenizer_dir=config.paths.tokenizer)


def chat_data(config: Config) -> None:
    from training.chat_data import build_chat_data
    from training.tokenizer import Tokenizer

    build_chat_data(config.chat_data, config.paths.chat_data, tokenizer=Tokenizer.load(config.paths.tokenizer))


def chat_config(config: Config) -> Config:
    """With [chat_data], the chat stages learn from the built set instead of [sft] sources."""
    if config.chat_data is None:
        return config
    sources = [str(config.paths.chat_data / "chat.jsonl")]
    return config.model_copy(update={"sft": config.sft.model_copy(update={"sources": sources})})


def _pass_on(run: Path, out: Path) -> None:
    """A stage with nothing to do hands its input on unchanged as its output."""
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(run, out)


def sft(config: Config) -> None:
    config = chat_config(config)
    from training.checkpoint import find_checkpoint
    from training.soup import run_chat_sft

    pretrained, out = pretrained_run(config), config.paths.sft
    if not config.sft.sources:  # no chat data: the pretrained run is the model
        return _pass_on(pretrained, out)
    run_chat_sft(config, pretrained, out, bins_dir=config.paths.bins, resume=find_checkpoint(out) is not None)


def refine(config: Config) -> None:
    config = chat_config(config)
    from training.sft import run_refine

    out = config.paths.refine
    if not config.sft.sources:  # no chat data: the SFT stage's output (the pretrained run) is the model
        return _pass_on(config.paths.sft, out)
    run_refine(config, config.paths.sft, out, bins_dir=config.paths.bins)


def merge(config: Config) -> None:
    from training.merge import merge_runs

    out = config.paths.merge
    shutil.rmtree(out, ignore_errors=True)  # a merge is made whole again, never on top of an older one
    merge_runs(pretrained_run(config), tuned_run(config), out, config.merge.base_share, config.merge.tensors)


def evaluate(config: Config) -> None:
    from training.evals.minimal_pairs import BUILTIN_PAIRS
    from training.evaluate import run_eval, write_report

    e = config.eval
    device = "cuda" if config.train.device == "cuda" else "cpu"
    result = run_eval(chat_run(config), texts=[Path(t) for t in e.texts], bins=config.paths.bins,
                      pairs=[BUILTIN_PAIRS, *map(Path, e.pairs)], samples=e.samples, device=device)
    write_report(result, config.paths.eval)


def export(config: Config) -> None:
    from training.export.export_model import export_model

    export_model(chat_run(config), config.paths.gguf(config.model.name), dtype=config.export.dtype,
                 quantize=config.export.quantize, force=True)


def modelfile(config: Config) -> None:
    from training.atomic import write_text
    from training.export.modelfile import gguf_ref_for, render_modelfile

    path = config.paths.modelfile
    write_text(path, render_modelfile(gguf_ref_for(config.paths.gguf(config.model.name), path), config))


def register(config: Config, host: str | None) -> None:
    from training.atomic import write_text
    from training.ollama_server import ensure_server
    from training.register import register_model

    url = ensure_server(host)
    registration = register_model(config.ollama.name, modelfile=config.paths.modelfile, host=url)
    write_text(config.paths.registered_file, f"{config.ollama.name} {registration.digest} {url}\n")
