"""Writes a checkpoint as a GGUF file of llama.cpp's `llama` architecture, through gguf.GGUFWriter.

Tensors are streamed: the header and tensor infos first, then one tensor at a time, so memory
stays at one tensor beyond the writer's own buffers. Norms stay F32 (as llama.cpp's converter
keeps 1-D tensors); matrices take the chosen dtype. Our rotary embedding pairs dims i and
i + D/2 (rotate-half); llama.cpp's `llama` RoPE pairs 2i and 2i+1, so the rows of wq and wk are
permuted exactly as llama.cpp's own HF converter does (`LlamaModel.permute`).
"""
from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.atomic import atomic_path
from training.errors import ExportError
from training.export.source import ExportSource
from training.export.templates import CHATML_JINJA
from training.export.tokenizer_meta import Vocab, check_llamacpp_compatible, read_vocab

# q8_0 here is written directly with gguf-py's Q8_0 (llama.cpp's own Python reference, the one its
# convert_hf_to_gguf.py uses for --outtype q8_0), for machines without llama.cpp; other quant types
# go through llama.cpp's quantizer (quantize.py).
DTYPES = ("f32", "f16", "bf16", "q8_0")
F16_MAX = 65504.0

_LAYER = re.compile(r"layers\.(\d+)\.(.+)")
_LAYER_NAMES = {
    "attention_norm.weight": "attn_norm.weight",
    "attention.wq.weight": "attn_q.weight",
    "attention.wk.weight": "attn_k.weight",
    "attention.wv.weight": "attn_v.weight",
    "attention.wo.weight": "attn_output.weight",
    "ffn_norm.weight": "ffn_norm.weight",
    "feed_forward.w1.weight": "ffn_gate.weight",
    "feed_forward.w2.weight": "ffn_down.weight",
    "feed_forward.w3.weight": "ffn_up.weight",
}
_TOP_NAMES = {"tok_embeddings.weight": "token_embd.weight", "norm.weight": "output_norm.weight", "output.weight": "output.weight"}


@dataclass
class GGUFResult:
    path: Path
    bytes: int
    seconds: float
    dtype: str
    tensors: int


def gguf_name(name: str) -> str:
    """Our state-dict name -> llama.cpp's tensor name."""
    if name in _TOP_NAMES:
        return _TOP_NAMES[name]
    m = _LAYER.fullmatch(name)
    if m and m.group(2) in _LAYER_NAMES:
        return f"blk.{m.group(1)}.{_LAYER_NAMES[m.group(2)]}"
    raise ExportError(f"checkpoint tensor {name!r} has no GGUF name: is this a polski checkpoint (docs/architecture.md)?")


def _order(gname: str) -> tuple:
    if gname == "token_embd.weight":
        return (0, 0, gname)
    if gname.startswith("blk."):
        return (1, int(gname.split(".")[1]), gname)
    return (2, 0 if gname == "output_norm.weight" else 1, gname)


def permute_rope_rows(w, n_head: int):
    """Rotate-half row order -> llama.cpp's interleaved order (convert_hf_to_gguf.LlamaModel.permute)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def unpermute_rope_rows(w, n_head: int):
    """llama.cpp's interleaved row order -> rotate-half (the inverse of permute_rope_rows)."""
    return w.reshape(n_head, w.shape[0] // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def file_type(dtype: str):
    import gguf

    return {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16,
            "bf16": gguf.LlamaFileType.MOSTLY_BF16, "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0}[dtype]


def _convert(t, dtype: str, gname: str) -> np.ndarray:
    import torch

    if t.dim() == 1 or dtype == "f32":
        return t.float().contiguous().numpy()
    if dtype == "q8_0":
        import gguf

        return gguf.quants.quantize(t.float().contiguous().numpy(), gguf.GGMLQuantizationType.Q8_0)
    if dtype == "f16":
        peak = float(t.abs().max())
        if peak > F16_MAX:
            raise ExportError(f"{gname} holds {peak:.3g}, beyond float16's range: export with --dtype bf16 or f32")
        return t.half().contiguous().numpy()
    return t.bfloat16().contiguous().view(torch.int16).numpy().view(np.uint16)


def add_metadata(writer, source: ExportSource, vocab: Vocab, dtype: str) -> None:
    from importlib.metadata import version as package_version

    from training import __version__

    m = source.model
    writer.add_name(m.name)
    writer.add_description("Polish language model trained from scratch with polski")
    writer.add_license(source.config.export.license)
    writer.add_file_type(file_type(dtype))
    writer.add_context_length(m.context_length)
    writer.add_embedding_length(m.d_model)
    writer.add_block_count(m.n_layers)
    writer.add_feed_forward_length(m.ffn_hidden)
    writer.add_head_count(m.n_heads)
    writer.add_head_count_kv(m.kv_heads)
    writer.add_key_length(m.head_dim)
    writer.add_value_length(m.head_dim)
    writer.add_layer_norm_rms_eps(m.norm_eps)
    writer.add_rope_freq_base(m.rope_theta)
    writer.add_rope_dimension_count(m.head_dim)
    writer.add_vocab_size(m.vocab_size)

    writer.add_tokenizer_model("llama")
    writer.add_token_list(vocab.tokens)
    writer.add_token_scores(vocab.scores)
    writer.add_token_types(vocab.types)
    writer.add_bos_token_id(vocab.bos_id)
    writer.add_eos_token_id(vocab.eos_id)
    writer.add_unk_token_id(vocab.unk_id)
    writer.add_pad_token_id(vocab.pad_id)
    if vocab.im_end_id is not None:  # Ollama stops on any of these; llama.cpp marks <|im_end|> end-of-generation itself
        writer.add_array("tokenizer.ggml.eos_token_ids", [vocab.eos_id, vocab.im_end_id])
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    writer.add_add_space_prefix(vocab.add_dummy_prefix)
    writer.add_remove_extra_whitespaces(vocab.remove_extra_whitespaces)
    writer.add_chat_template(CHATML_JINJA)

    for key, value in source.provenance().items():
        name = f"polski.{key}"
        if isinstance(value, str):
            writer.add_string(name, value)
        elif isinstance(value, int):
            writer.add_uint64(name, value)
        elif isinstance(value, float):
            writer.add_float32(name, value)
    writer.add_string("polski.weights_dtype", dtype)
    writer.add_string("polski.exporter", f"polski {__version__}, gguf {package_version('gguf')}")


def write_gguf(
    source: ExportSource,
    out: Path | str,
    dtype: str = "f16",
    force: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
) -> GGUFResult:
    """Writes `out` atomically; refuses to replace an existing file unless `force`."""
    import gguf

    out = Path(out)
    if dtype not in DTYPES:
        raise ExportError(f"--dtype {dtype} is not one of {', '.join(DTYPES)}")
    if out.exists() and not force:
        raise ExportError(f"{out} exists: pass --force to overwrite it")
    m = source.model
    vocab = read_vocab(source.tokenizer_dir)
    check_llamacpp_compatible(vocab)
    if len(vocab) != m.vocab_size:
        raise ExportError(f"tokenizer has {len(vocab)} pieces but the model's vocab_size is {m.vocab_size}: pass the run's own --tokenizer")

    names = {n: gguf_name(n) for n in source.tensor_names()}
    if m.tie_embeddings:
        names.pop("output.weight", None)  # llama.cpp falls back to token_embd when output.weight is absent
    elif "output.weight" not in names:
        raise ExportError("model.tie_embeddings is false but the checkpoint has no output.weight: check the run's config.toml")
    expected = {"token_embd.weight", "output_norm.weight"} | {
        f"blk.{i}.{v}" for i in range(m.n_layers) for v in _LAYER_NAMES.values()}
    missing = expected - set(names.values())
    if missing:
        raise ExportError(f"checkpoint lacks {min(missing)} (+{len(missing) - 1} more): it does not match its config")

    # Shapes and dtypes for the tensor-info table, from the file header (no data read).
    from safetensors import safe_open

    with safe_open(source.weights_path, framework="pt") as f:
        shapes = {k.removeprefix("_orig_mod.").removeprefix("module."): tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    itemsize = {"f32": 4, "f16": 2, "bf16": 2}
    ordered = sorted(names.items(), key=lambda kv: _order(kv[1]))
    start = time.perf_counter()
    with atomic_path(out) as tmp:
        writer = gguf.GGUFWriter(tmp, arch="llama")
        add_metadata(writer, source, vocab, dtype)
        for name, gname in ordered:
            shape = shapes[name]
            if dtype == "q8_0" and len(shape) > 1:
                q8 = gguf.GGMLQuantizationType.Q8_0
                byte_shape = gguf.quants.quant_shape_to_byte_shape(shape, q8)
                writer.add_tensor_info(gname, byte_shape, np.dtype(np.uint8), int(np.prod(byte_shape)), raw_dtype=q8)
                continue
            size = 4 if len(shape) == 1 else itemsize[dtype]
            np_dtype = np.float32 if size == 4 else (np.float16 if dtype == "f16" else np.uint16)
            raw = gguf.GGMLQuantizationType.BF16 if np_dtype is np.uint16 else None
            writer.add_tensor_info(gname, shape, np.dtype(np_dtype), int(np.prod(shape)) * size, raw_dtype=raw)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        for i, (name, gname) in enumerate(ordered):  # each tensor read when its turn comes
            t = source.tensor(name)
            if name.endswith(("attention.wq.weight", "attention.wk.weight")):
                t = permute_rope_rows(t, m.n_heads if name.endswith("wq.weight") else m.kv_heads)
            arr = _convert(t, dtype, gname)
            writer.write_tensor_data(arr)
            if progress:
                progress(gname, i + 1, len(ordered))
        writer.close()
    return GGUFResult(out, out.stat().st_size, time.perf_counter() - start, dtype, len(ordered))
