"""`polski import`: a GGUF written by `polski export` back into a RUN_DIR that `polski sft`, eval and export read.

The GGUF carries the run's config (`polski.config_toml`) and its tokenizer's hash; the tokenizer model itself comes
from --tokenizer and must match. Q8_0 and f16/bf16 weights are dequantized to fp32 (Q8_0 keeps each weight within
half a quantization step, about 0.4% of its block's largest value), so a model shipped as GGUF can be tuned further.
"""
from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np

from training.checkpoint import find_checkpoint, prepare_run_dir, save_checkpoint
from training.config import parse_config
from training.errors import CheckpointError, ExportError
from training.export.read_back import read_metadata
from training.layout import METRICS_FILE, TOKENIZER_MODEL_FILE
from training.model import GPT
from training.tokenizer import sha256_file


def gguf_tensors(path: Path | str, expected: dict, n_heads: int, kv_heads: int) -> dict:
    """Our state-dict name -> fp32 torch tensor, from every tensor of the GGUF; `expected` is the model's state dict."""
    import gguf
    import torch

    from training.export.gguf_writer import gguf_name, unpermute_rope_rows

    ours = {gguf_name(name): name for name in expected}
    state = {}
    for t in gguf.GGUFReader(str(path)).tensors:
        if t.name not in ours:
            raise ExportError(f"{path}: tensor {t.name} is not one polski writes: import GGUFs of `polski export`")
        name = ours[t.name]
        w = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32).reshape(tuple(reversed(t.shape.tolist())))
        if name.endswith(("attention.wq.weight", "attention.wk.weight")):
            w = unpermute_rope_rows(w, n_heads if name.endswith("wq.weight") else kv_heads)
        state[name] = torch.from_numpy(np.ascontiguousarray(w))
    return state


def import_gguf(path: Path | str, tokenizer_dir: Path | str, out: Path | str) -> Path:
    """Writes OUT as a run whose one checkpoint holds the GGUF's weights; returns its step dir."""
    path, tokenizer_dir, out = Path(path), Path(tokenizer_dir), Path(out)
    if not path.is_file():
        raise ExportError(f"{path} does not exist: give the .gguf file `polski export` wrote")
    if find_checkpoint(out) is not None:
        raise CheckpointError(f"{out} already has checkpoints: choose a new --out")
    meta = read_metadata(path)
    if "polski.config_toml" not in meta:
        raise ExportError(f"{path} has no polski.config_toml: only GGUFs written by `polski export` can be imported")
    config = parse_config(tomllib.loads(meta["polski.config_toml"]), source=f"{path} (polski.config_toml)")
    if not (tokenizer_dir / TOKENIZER_MODEL_FILE).is_file():
        raise ExportError(f"{tokenizer_dir} has no {TOKENIZER_MODEL_FILE}: pass the tokenizer dir the model was trained with")
    if sha256_file(tokenizer_dir / TOKENIZER_MODEL_FILE) != meta.get("polski.tokenizer_sha256"):
        raise ExportError(f"{tokenizer_dir}/{TOKENIZER_MODEL_FILE} is not the tokenizer {path.name} was trained with "
                          "(sha256 differs from polski.tokenizer_sha256): pass that run's tokenizer dir")
    m = config.model
    expected = GPT(m).state_dict()
    state = gguf_tensors(path, expected, m.n_heads, m.kv_heads)
    missing = sorted(set(expected) - set(state))
    if missing:
        raise ExportError(f"{path} lacks {missing[0]} (+{len(missing) - 1} more) for its own config: the file is damaged")
    for name, t in state.items():
        if t.shape != expected[name].shape:
            raise ExportError(f"{path}: {name} is {tuple(t.shape)}, the config says {tuple(expected[name].shape)}")
    prepare_run_dir(out, config, tokenizer_dir)
    info = {"imported_from": {"gguf": str(path), "weights_dtype": meta.get("polski.weights_dtype")},
            "tokens_seen": meta.get("polski.tokens_seen"), "config": config.model_dump(mode="json")}
    (out / METRICS_FILE).touch()  # a run dir without a curve: scripts copy it, the monitor reads it empty
    return save_checkpoint(out, int(meta.get("polski.step", 0)), state, {}, info, keep_last=1)
