"""`polski merge`: the weighted average of two checkpoints of one model (WiSE-FT, Wortsman et al. 2022).

Pulling a chat-tuned run part of the way back toward the pretrained run it started from keeps most of
what the SFT taught (chat form, the end-of-turn token) and gives back part of the plain-text quality it
cost. Both runs must have the same model shape and tokenizer; the result is a self-contained RUN_DIR
(config.toml, tokenizer/, one checkpoint) that eval and export read like any other.

The chat markers' embedding rows are taken from the tuned run whole: pretraining never saw <|im_start|> or
<|im_end|>, so their pretrained rows only hold "never predict me", and averaging with them lowers the end-of-turn
logit. What each share does to polski-mini: docs/polski-mini.md.
"""
from __future__ import annotations

from pathlib import Path

from training.checkpoint import find_checkpoint, load_checkpoint, prepare_run_dir, save_checkpoint
from training.errors import CheckpointError, ConfigError
from training.export.source import load_source
from training.tokenizer import Tokenizer


EMBEDDING_TABLES = ("tok_embeddings.weight", "output.weight")  # rows indexed by token id (output only when untied)


def _check_same_model(a: dict, b: dict) -> None:
    if set(a) != set(b):
        missing = sorted(set(a) ^ set(b))[:3]
        raise CheckpointError(f"the checkpoints hold different tensors ({', '.join(missing)}): merge runs of one model")
    for name, t in b.items():
        if a[name].shape != t.shape:
            raise CheckpointError(f"{name} is {tuple(a[name].shape)} in one run and {tuple(t.shape)} in another: "
                                  "merge runs of one model shape")


def merge_weights(base: dict, tuned: dict, base_share: float, tuned_rows: list[int] = (), only: list[str] = ()) -> dict:
    """base_share * base + (1 - base_share) * tuned, tensor by tensor, in fp32, kept in the tuned run's dtypes;
    the embedding rows of the token ids in `tuned_rows` are the tuned run's own. With `only`, just the tensors whose
    names contain one of its strings are merged; the others are the tuned run's."""
    _check_same_model(base, tuned)
    merged = {}
    for name, t in tuned.items():
        if only and not any(part in name for part in only):
            merged[name] = t.clone()
            continue
        merged[name] = (base_share * base[name].float() + (1 - base_share) * t.float()).to(t.dtype)
        if name in EMBEDDING_TABLES and tuned_rows:
            merged[name][list(tuned_rows)] = t[list(tuned_rows)]
    return merged


def average_weights(states: list[dict]) -> dict:
    """The uniform average of several checkpoints of one model, tensor by tensor, in fp32, kept in the last one's dtypes."""
    *others, last = states
    k = len(states)
    for other in others:
        _check_same_model(other, last)
    return {name: (sum(s[name].float() for s in states) / k).to(t.dtype) for name, t in last.items()}


def _write_run(out: Path | str, source, weights: dict, meta: dict) -> Path:
    """OUT as a run whose one checkpoint holds `weights`, with the config and tokenizer of SOURCE (`load_source`)."""
    prepare_run_dir(Path(out), source.config, source.tokenizer_dir)
    step = meta.pop("step")
    return save_checkpoint(out, step, weights, {}, meta, keep_last=1)


def merge_runs(base: Path | str, tuned: Path | str, out: Path | str, base_share: float, only: list[str] = ()) -> Path:
    """Writes OUT as a run whose one checkpoint is the merge (of the tensors named by `only`, else all); returns its
    step dir."""
    if not 0 <= base_share <= 1:
        raise ConfigError(f"--base-share {base_share} is outside 0..1: 0 keeps the tuned run, 1 the base run")
    if find_checkpoint(out) is not None:
        raise CheckpointError(f"{out} already has checkpoints: choose a new --out")
    a = load_checkpoint(base, weights_only=True)
    b = load_checkpoint(tuned, weights_only=True)
    source = load_source(b.path)  # the tuned run's config and tokenizer, found as `polski export` finds them
    tokenizer = Tokenizer.load(source.tokenizer_dir)
    unknown = [part for part in only if not any(part in name for name in b.model_state)]
    if unknown:
        raise ConfigError(f"no tensor name contains {unknown[0]!r}: name tensors as in the checkpoint, e.g. feed_forward")
    merged = merge_weights(a.model_state, b.model_state, base_share, [tokenizer.im_start_id, tokenizer.im_end_id], only)
    meta = {**b.meta, "merged": {"base": str(a.path), "tuned": str(b.path), "base_share": base_share,
                                 "only": list(only)}}
    return _write_run(out, source, merged, meta)


def average_runs(runs: list[Path | str], out: Path | str) -> Path:
    """Writes OUT as a run whose one checkpoint is the uniform average of RUNS (a soup); returns its step dir."""
    if len(runs) < 2:
        raise ConfigError("an average needs at least two runs")
    if find_checkpoint(out) is not None:
        raise CheckpointError(f"{out} already has checkpoints: choose a new --out")
    checkpoints = [load_checkpoint(r, weights_only=True) for r in runs]
    averaged = average_weights([c.model_state for c in checkpoints])
    meta = {**checkpoints[-1].meta, "merged": {"average_of": [str(c.path) for c in checkpoints]}}
    return _write_run(out, load_source(checkpoints[-1].path), averaged, meta)
