"""The GGUF file itself: keys with llama.cpp's types, tensors, tokenizer metadata, provenance, refusals."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from training.errors import ExportError, PolskiError
from training.export.export_model import export_model
from training.export.gguf_writer import permute_rope_rows
from training.export.read_back import expected_shapes, read_metadata, validate_gguf
from training.export.source import load_source
from training.export.templates import CHATML_JINJA, render_chatml
from training.export.tokenizer_meta import (
    BYTE,
    CONTROL,
    NORMAL,
    UNKNOWN,
    USER_DEFINED,
    read_vocab,
)


@pytest.fixture(scope="module")
def f32_gguf(random_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("gguf") / "tiny-f32.gguf"
    export_model(random_run, out, dtype="f32")
    return out


def test_hyperparameters_have_llamacpp_types(f32_gguf, random_run):
    meta = read_metadata(f32_gguf)
    m = load_source(random_run).model
    types = meta["__types__"]
    assert meta["llama.context_length"] == m.context_length and types["llama.context_length"] == ["UINT32"]
    assert meta["llama.attention.head_count_kv"] == m.kv_heads
    assert types["llama.attention.layer_norm_rms_epsilon"] == ["FLOAT32"]
    assert meta["llama.rope.freq_base"] == pytest.approx(m.rope_theta)
    assert meta["llama.rope.dimension_count"] == m.head_dim
    assert meta["general.file_type"] == 0 and meta["general.name"] == "polski-tiny"
    assert meta["general.license"] == "Apache-2.0"


def test_tensors_tied_and_norms_f32(f32_gguf, random_run, tmp_path):
    meta = read_metadata(f32_gguf)
    tensors = meta["__tensors__"]
    assert "output.weight" not in tensors  # tied: llama.cpp reuses token_embd
    assert {n: s for n, (s, _) in tensors.items()} == expected_shapes(load_source(random_run).model)
    f16 = tmp_path / "f16.gguf"
    export_model(random_run, f16, dtype="f16")
    t16 = read_metadata(f16)["__tensors__"]
    assert t16["blk.0.attn_norm.weight"][1] == "F32" and t16["output_norm.weight"][1] == "F32"
    assert t16["blk.0.attn_q.weight"][1] == "F16" and t16["token_embd.weight"][1] == "F16"
    assert read_metadata(f16)["general.file_type"] == 1


def test_untied_gqa_writes_output_and_permuted_k(untied_gqa_run, tmp_path):
    import gguf

    out = tmp_path / "untied.gguf"
    export_model(untied_gqa_run, out, dtype="f32")
    src = load_source(untied_gqa_run)
    validate_gguf(out, src.model)
    reader = gguf.GGUFReader(str(out))
    data = {t.name: np.asarray(t.data) for t in reader.tensors}
    assert np.array_equal(data["output.weight"], src.tensor("output.weight").numpy())
    wk = src.tensor("layers.0.attention.wk.weight")
    assert np.array_equal(data["blk.0.attn_k.weight"], permute_rope_rows(wk, 2).numpy())
    assert not np.array_equal(data["blk.0.attn_k.weight"], wk.numpy())


def test_permutation_turns_rotate_half_into_interleaved_rope():
    """Rotate-half RoPE on the original rows equals interleaved RoPE on the permuted rows."""
    torch.manual_seed(0)
    H, D, C = 2, 8, 16
    w = torch.randn(H * D, C)
    x = torch.randn(C)
    q = (w @ x).view(H, D)
    qp = (permute_rope_rows(w, H) @ x).view(H, D)
    theta = torch.rand(D // 2) * 3
    cos, sin = theta.cos(), theta.sin()
    half = torch.cat([q[:, : D // 2] * cos - q[:, D // 2 :] * sin, q[:, D // 2 :] * cos + q[:, : D // 2] * sin], -1)
    even, odd = qp[:, 0::2], qp[:, 1::2]
    inter = torch.stack([even * cos - odd * sin, even * sin + odd * cos], -1).reshape(H, D)
    # the same numbers, each pair laid out the way its convention stores it
    assert torch.allclose(half[:, : D // 2], inter[:, 0::2]) and torch.allclose(half[:, D // 2 :], inter[:, 1::2])


def test_tokenizer_metadata_matches_sentencepiece(f32_gguf, random_run):
    src = load_source(random_run)
    sp = __import__("sentencepiece").SentencePieceProcessor(model_file=str(src.tokenizer_dir / "tokenizer.model"))
    meta = read_metadata(f32_gguf)
    tokens, types, scores = meta["tokenizer.ggml.tokens"], meta["tokenizer.ggml.token_type"], meta["tokenizer.ggml.scores"]
    assert len(tokens) == sp.get_piece_size()
    for i in range(sp.get_piece_size()):
        assert tokens[i] == sp.id_to_piece(i)
        assert scores[i] == pytest.approx(sp.get_score(i))
        want = UNKNOWN if sp.is_unknown(i) else CONTROL if sp.is_control(i) else BYTE if sp.is_byte(i) else None
        if want is not None:
            assert types[i] == want, tokens[i]
    assert types[4] == USER_DEFINED and types[5] == USER_DEFINED  # <|im_start|>, <|im_end|>
    assert tokens[types.index(BYTE)] == "<0x00>" and types.count(BYTE) == 256
    assert NORMAL in types
    assert (meta["tokenizer.ggml.bos_token_id"], meta["tokenizer.ggml.eos_token_id"],
            meta["tokenizer.ggml.unknown_token_id"], meta["tokenizer.ggml.padding_token_id"]) == (1, 2, 0, 3)
    assert meta["tokenizer.ggml.add_bos_token"] is True and meta["tokenizer.ggml.add_eos_token"] is False
    assert meta["tokenizer.ggml.add_space_prefix"] is False
    assert meta["tokenizer.chat_template"] == CHATML_JINJA


def test_chat_template_renders_chatml(f32_gguf):
    import jinja2

    messages = [{"role": "system", "content": "Mów po polsku."}, {"role": "user", "content": "Cześć! Jak się masz?"}]
    template = jinja2.Environment().from_string(read_metadata(f32_gguf)["tokenizer.chat_template"])
    text = template.render(messages=messages, add_generation_prompt=True)
    assert text == render_chatml(messages)
    assert text.endswith("<|im_start|>assistant\n") and "<s>" not in text


def test_provenance_keys(f32_gguf, random_run):
    meta = read_metadata(f32_gguf)
    assert meta["polski.tokens_seen"] == 4096 and meta["polski.step"] == 1
    assert "[model]" in meta["polski.config_toml"] and 'name = "polski-tiny"' in meta["polski.config_toml"]
    assert len(meta["polski.tokenizer_sha256"]) == 64
    assert (random_run / "config.toml").read_text() == meta["polski.config_toml"]


def test_refuses_overwrite_without_force(random_run, f32_gguf):
    before = f32_gguf.read_bytes()
    with pytest.raises(ExportError, match="--force"):
        export_model(random_run, f32_gguf, dtype="f16")
    assert f32_gguf.read_bytes() == before
    export_model(random_run, f32_gguf, dtype="f32", force=True)
    assert f32_gguf.read_bytes() == before  # deterministic: same checkpoint, same bytes


def test_checkpoint_dir_and_bf16(random_run, tmp_path):
    out = tmp_path / "bf16.gguf"
    export_model(random_run / "checkpoints" / "step-000001", out, dtype="bf16")
    meta = read_metadata(out)
    assert meta["general.file_type"] == 32 and meta["__tensors__"]["blk.0.ffn_up.weight"][1] == "BF16"


def test_clear_errors(tmp_path, random_run):
    with pytest.raises(PolskiError, match="RUN_DIR"):
        export_model(tmp_path, tmp_path / "x.gguf")
    with pytest.raises(ExportError, match="format"):
        export_model(random_run, tmp_path / "x.gguf", fmt="onnx")
    assert not (tmp_path / "x.gguf").exists()


def test_vocab_reader_flags(random_run):
    vocab = read_vocab(load_source(random_run).tokenizer_dir)
    assert vocab.add_dummy_prefix is False and vocab.remove_extra_whitespaces is False
    assert vocab.normalizer == "identity" and vocab.im_end_id == 5


def test_cli_export_and_refusal(random_run, tmp_path, capsys):
    from training.cli import main

    out = tmp_path / "cli.gguf"
    assert main(["export", str(random_run), "--out", str(out), "--dtype", "f16"]) == 0
    assert "validated" in capsys.readouterr().out
    assert main(["export", str(random_run), "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err
