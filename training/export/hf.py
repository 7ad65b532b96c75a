"""Hugging Face format: safetensors + config.json for transformers' LlamaForCausalLM, and tokenizer files.

Our layout is HF Llama's (rotate-half RoPE, SwiGLU, RMSNorm), so weights are renamed, not permuted.
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from training.atomic import atomic_dir
from training.errors import ExportError
from training.export.gguf_writer import _LAYER, gguf_name
from training.export.source import ExportSource
from training.export.templates import CHATML_JINJA
from training.export.tokenizer_meta import read_vocab

_HF_LAYER = {
    "attention_norm.weight": "input_layernorm.weight",
    "attention.wq.weight": "self_attn.q_proj.weight",
    "attention.wk.weight": "self_attn.k_proj.weight",
    "attention.wv.weight": "self_attn.v_proj.weight",
    "attention.wo.weight": "self_attn.o_proj.weight",
    "ffn_norm.weight": "post_attention_layernorm.weight",
    "feed_forward.w1.weight": "mlp.gate_proj.weight",
    "feed_forward.w2.weight": "mlp.down_proj.weight",
    "feed_forward.w3.weight": "mlp.up_proj.weight",
}
_HF_TOP = {"tok_embeddings.weight": "model.embed_tokens.weight", "norm.weight": "model.norm.weight", "output.weight": "lm_head.weight"}
TORCH_DTYPES = {"f32": "float32", "f16": "float16", "bf16": "bfloat16"}


def hf_name(name: str) -> str:
    gguf_name(name)  # raises a clear error for a foreign tensor
    if name in _HF_TOP:
        return _HF_TOP[name]
    m = _LAYER.fullmatch(name)
    return f"model.layers.{m.group(1)}.{_HF_LAYER[m.group(2)]}"


def hf_config(source: ExportSource, dtype: str) -> dict:
    m = source.model
    vocab = read_vocab(source.tokenizer_dir)
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": m.vocab_size,
        "hidden_size": m.d_model,
        "intermediate_size": m.ffn_hidden,
        "num_hidden_layers": m.n_layers,
        "num_attention_heads": m.n_heads,
        "num_key_value_heads": m.kv_heads,
        "head_dim": m.head_dim,
        "max_position_embeddings": m.context_length,
        "rms_norm_eps": m.norm_eps,
        "rope_theta": m.rope_theta,
        "hidden_act": "silu",
        "attention_bias": False,
        "mlp_bias": False,
        "tie_word_embeddings": m.tie_embeddings,
        "bos_token_id": vocab.bos_id,
        "eos_token_id": vocab.eos_id,
        "pad_token_id": vocab.pad_id,
        "torch_dtype": TORCH_DTYPES[dtype],
    }


def tokenizer_config(source: ExportSource) -> dict:
    vocab = read_vocab(source.tokenizer_dir)
    added = {
        str(i): {"content": tok, "lstrip": False, "rstrip": False, "normalized": False, "single_word": False,
                 "special": True}
        for i, (tok, kind) in enumerate(zip(vocab.tokens, vocab.types)) if kind in (2, 3, 4)
    }
    return {
        "tokenizer_class": "LlamaTokenizer",
        "model_max_length": source.model.context_length,
        "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": vocab.tokens[vocab.pad_id],
        "add_bos_token": True, "add_eos_token": False,
        "add_prefix_space": vocab.add_dummy_prefix, "legacy": False,
        "added_tokens_decoder": added,
        "additional_special_tokens": [t for t in ("<|im_start|>", "<|im_end|>") if t in vocab.tokens],
        "chat_template": CHATML_JINJA,
        "clean_up_tokenization_spaces": False,
    }


def write_hf(source: ExportSource, out: Path | str, dtype: str = "f32", force: bool = False) -> dict:
    import torch
    from safetensors.torch import save_file

    out = Path(out)
    if dtype not in TORCH_DTYPES:
        raise ExportError(f"--dtype {dtype} is not one of {', '.join(TORCH_DTYPES)}")
    if out.exists() and not force:
        raise ExportError(f"{out} exists: pass --force to overwrite it")
    start = time.perf_counter()
    torch_dtype = getattr(torch, TORCH_DTYPES[dtype])
    tensors = {}
    for name, t in source.tensors():
        if name == "output.weight" and source.model.tie_embeddings:
            continue
        tensors[hf_name(name)] = t.to(torch_dtype).contiguous()
    with atomic_dir(out) as tmp:
        save_file(tensors, tmp / "model.safetensors", metadata={"format": "pt"})
        (tmp / "config.json").write_text(json.dumps(hf_config(source, dtype), indent=2) + "\n", encoding="utf-8")
        vocab = read_vocab(source.tokenizer_dir)
        gen = {"bos_token_id": vocab.bos_id, "eos_token_id": [vocab.eos_id] + ([vocab.im_end_id] if vocab.im_end_id else [])}
        (tmp / "generation_config.json").write_text(json.dumps(gen, indent=2) + "\n", encoding="utf-8")
        shutil.copyfile(source.tokenizer_dir / "tokenizer.model", tmp / "tokenizer.model")
        (tmp / "tokenizer_config.json").write_text(
            json.dumps(tokenizer_config(source), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        special = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": vocab.tokens[vocab.pad_id]}
        (tmp / "special_tokens_map.json").write_text(json.dumps(special, indent=2) + "\n", encoding="utf-8")
        (tmp / "polski_provenance.json").write_text(
            json.dumps(source.provenance(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    size = sum(p.stat().st_size for p in out.iterdir())
    return {"seconds": time.perf_counter() - start, "bytes": size}
