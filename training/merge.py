"""`polski merge`: the weighted average of two checkpoints of one model (WiSE-FT, Wortsman et al. 2022).

Pulling a chat-tuned run part of the way back toward the pretrained run it started from keeps most of
what the SFT taught (chat form, the end-of-turn token) and gives back part of the plain-text quality it
cost. Both runs must have the same model shape and tokenizer; the result is a self-contained RUN_DIR
(config.toml, tokenizer/, one checkpoint) that eval and export read like any other.

The chat markers' embedding rows are taken from the tuned run whole: pretraining never saw <|im_start|> or
<|im_end|>, so their pretrained rows only hold "never predict me", and averaging with them lowers the end-of-turn
logit. (Merges of polski-mini made before this rule, 2026-12-02, stopped ending their replies at a 50% share; the rule
is not yet measured at that scale: docs/status.md.)
"""
from __future__ import annotations

from pathlib import Path

from training.checkpoint import find_checkpoint, load_checkpoint, save_checkpoint
from training.errors import CheckpointError, ConfigError
from training.export.source import load_source
from training.tokenizer import Tokenizer


EMBEDDING_TABLES = ("tok_embeddings.weight", "output.weight")  # rows indexed by token id (output only when untied)


def merge_weights(base: dict, tuned: dict, base_share: float, tuned_rows: list[int] = ()) -> dict:
    """base_share * base + (1 - base_share) * tuned, tensor by tensor, in fp32, kept in the tuned run's dtypes;
    the embedding rows of the token ids in `tuned_rows` are the tuned run's own."""
    if set(base) != set(tuned):
        missing = sorted(set(base) ^ set(tuned))[:3]
        raise CheckpointError(f"the two checkpoints hold different tensors ({', '.join(missing)}): merge runs of one model")
    merged = {}
    for name, t in tuned.items():
        if base[name].shape != t.shape:
            raise CheckpointError(f"{name} is {tuple(base[name].shape)} in one run and {tuple(t.shape)} in the other: "
                                  "merge runs of one model shape")
        merged[name] = (base_share * base[name].float() + (1 - base_share) * t.float()).to(t.dtype)
        if name in EMBEDDING_TABLES and tuned_rows:
            merged[name][list(tuned_rows)] = t[list(tuned_rows)]
    return merged


def merge_runs(base: Path | str, tuned: Path | str, out: Path | str, base_share: float) -> Path:
    """Writes OUT as a run whose one checkpoint is the merge; returns its step dir."""
    from training.train import prepare_run_dir

    if not 0 <= base_share <= 1:
        raise ConfigError(f"--base-share {base_share} is outside 0..1: 0 keeps the tuned run, 1 the base run")
    if find_checkpoint(out) is not None:
        raise CheckpointError(f"{out} already has checkpoints: choose a new --out")
    a = load_checkpoint(base, weights_only=True)
    b = load_checkpoint(tuned, weights_only=True)
    source = load_source(b.path)  # the tuned run's config and tokenizer, found as `polski export` finds them
    tokenizer = Tokenizer.load(source.tokenizer_dir)
    merged = merge_weights(a.model_state, b.model_state, base_share, [tokenizer.im_start_id, tokenizer.im_end_id])
    out = Path(out)
    prepare_run_dir(out, source.config, source.tokenizer_dir)
    meta = {**b.meta, "merged": {"base": str(a.path), "tuned": str(b.path), "base_share": base_share}}
    meta.pop("step", None)
    return save_checkpoint(out, b.meta["step"], merged, {}, meta, keep_last=1)
