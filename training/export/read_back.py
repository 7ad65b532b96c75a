"""Reads a written GGUF back with gguf.GGUFReader and checks it against what was meant to be written."""
from __future__ import annotations

from pathlib import Path

from training.config import ModelConfig
from training.errors import ExportError


def read_metadata(path: Path | str) -> dict:
    """Every key -> its Python value (arrays of strings/numbers as lists); tensors under '__tensors__'."""
    import gguf

    reader = gguf.GGUFReader(str(path))
    meta = {}
    for name, field in reader.fields.items():
        if name.startswith("GGUF."):
            continue
        meta[name] = field.contents()
    meta["__tensors__"] = {
        t.name: (tuple(int(d) for d in reversed(t.shape)), t.tensor_type.name) for t in reader.tensors
    }
    meta["__types__"] = {name: [gguf.GGUFValueType(t).name for t in f.types] for name, f in reader.fields.items()}
    return meta


def expected_hparams(m: ModelConfig) -> dict:
    """Each hyperparameter key -> (value, GGUF type llama.cpp reads it as)."""
    return {
        "general.architecture": ("llama", "STRING"),
        "llama.context_length": (m.context_length, "UINT32"),
        "llama.embedding_length": (m.d_model, "UINT32"),
        "llama.block_count": (m.n_layers, "UINT32"),
        "llama.feed_forward_length": (m.ffn_hidden, "UINT32"),
        "llama.attention.head_count": (m.n_heads, "UINT32"),
        "llama.attention.head_count_kv": (m.kv_heads, "UINT32"),
        "llama.attention.layer_norm_rms_epsilon": (m.norm_eps, "FLOAT32"),
        "llama.rope.freq_base": (m.rope_theta, "FLOAT32"),
        "llama.rope.dimension_count": (m.head_dim, "UINT32"),
        "llama.vocab_size": (m.vocab_size, "UINT32"),
        "tokenizer.ggml.model": ("llama", "STRING"),
        "tokenizer.ggml.add_bos_token": (True, "BOOL"),
        "tokenizer.ggml.add_eos_token": (False, "BOOL"),
        "tokenizer.ggml.add_space_prefix": (False, "BOOL"),
    }


def expected_shapes(m: ModelConfig) -> dict[str, tuple[int, ...]]:
    d, f, kv = m.d_model, m.ffn_hidden, m.kv_heads * m.head_dim
    shapes = {"token_embd.weight": (m.vocab_size, d), "output_norm.weight": (d,)}
    if not m.tie_embeddings:
        shapes["output.weight"] = (m.vocab_size, d)
    for i in range(m.n_layers):
        b = f"blk.{i}."
        shapes.update({
            b + "attn_norm.weight": (d,), b + "ffn_norm.weight": (d,),
            b + "attn_q.weight": (m.n_heads * m.head_dim, d), b + "attn_k.weight": (kv, d),
            b + "attn_v.weight": (kv, d), b + "attn_output.weight": (d, m.n_heads * m.head_dim),
            b + "ffn_gate.weight": (f, d), b + "ffn_up.weight": (f, d), b + "ffn_down.weight": (d, f),
        })
    return shapes


def validate_gguf(path: Path | str, m: ModelConfig) -> dict:
    """Raises ExportError naming the first mismatch; returns the metadata read back."""
    try:
        meta = read_metadata(path)
    except Exception as err:  # the reader raises ValueError/struct errors/... on a broken file
        raise ExportError(f"{path} cannot be read back as GGUF ({err}): export again with --force") from None
    for key, (value, kind) in expected_hparams(m).items():
        if key not in meta:
            raise ExportError(f"{path} lacks {key}: export again with --force (this is a bug in the exporter)")
        got = meta[key]
        same = abs(got - value) <= 1e-6 * max(1.0, abs(value)) if isinstance(value, float) else got == value
        if not same or meta["__types__"][key][0] != kind:
            raise ExportError(f"{path}: {key} is {got!r} ({meta['__types__'][key][0]}), expected {value!r} ({kind})")
    if len(meta.get("tokenizer.ggml.tokens", [])) != m.vocab_size:
        raise ExportError(f"{path}: {len(meta.get('tokenizer.ggml.tokens', []))} tokens, expected {m.vocab_size}")
    shapes = {name: shape for name, (shape, _t) in meta["__tensors__"].items()}
    want = expected_shapes(m)
    if shapes != want:
        extra, missing = set(shapes) - set(want), set(want) - set(shapes)
        wrong = [n for n in set(want) & set(shapes) if want[n] != shapes[n]]
        raise ExportError(f"{path}: tensors differ (missing {sorted(missing)[:3]}, extra {sorted(extra)[:3]}, "
                          f"wrong shape {wrong[:3]}): export again with --force")
    return meta
