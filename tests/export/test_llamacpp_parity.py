"""Bit-for-bit proof against real llama.cpp: same token ids, same logits, same greedy text."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from training.export.export_model import export_model
from training.export.source import load_source

pytestmark = pytest.mark.llamacpp

TOKENIZER_CASES = [
    "Zażółć gęślą jaźń. Źdźbło, łódź i ćma — ŻÓŁW, ĄĘ!",
    "W 2024 roku 1 234 567 osób zapłaciło 99,95 zł (3.14%).",
    " jedna spacja na początku",
    "   trzy spacje, a   potem    więcej     ",
    "pierwsza linia\ndruga linia\n\n\ttabulator i\r\nCRLF\n",
    "Emoji 🦀😀👍🏽 i znaki 漢字 ß ø",
    "<|im_start|>system\nJesteś asystentem.<|im_end|>\n<|im_start|>user\nCześć!<|im_end|>\n<|im_start|>assistant\n",
    "tekst<|im_end|>zaraz<|im_start|>po",
    " ",
    "\n",
    "a",
]


@pytest.fixture(scope="module")
def tiny_ggufs(llama_cpp, random_run, untied_gqa_run, trained_run, tmp_path_factory):
    root = tmp_path_factory.mktemp("parity")
    out = {}
    for tag, run, dtype, quant in [
        ("random-f32", random_run, "f32", None), ("untied-f32", untied_gqa_run, "f32", None),
        ("trained-f32", trained_run, "f32", None), ("trained-f16", trained_run, "f16", None),
        ("trained-q8_0", trained_run, "f16", "q8_0"),
    ]:
        out[tag] = export_model(run, root / f"{tag}.gguf", dtype=dtype, quantize=quant).path
    return out


def _sp(run):
    from training.tokenizer import Tokenizer

    return Tokenizer.load(load_source(run).tokenizer_dir)


@pytest.mark.parametrize("text", TOKENIZER_CASES, ids=range(len(TOKENIZER_CASES)))
def test_tokenization_matches_sentencepiece(tiny_ggufs, random_run, text):
    from training.export.llamacpp import open_gguf

    tok = _sp(random_run)
    with open_gguf(tiny_ggufs["random-f32"], vocab_only=True) as lm:
        assert lm.tokenize(text, add_special=False, parse_special=True) == tok.encode(text)
        assert lm.tokenize(text, add_special=True, parse_special=True) == [tok.bos_id] + tok.encode(text)
        assert lm.detokenize(tok.encode(text)) == tok.decode(tok.encode(text))


def test_tokenization_of_the_whole_polish_text(tiny_ggufs, random_run):
    from tests.polish_text import polish_paragraphs
    from training.export.llamacpp import open_gguf

    tok = _sp(random_run)
    with open_gguf(tiny_ggufs["random-f32"], vocab_only=True) as lm:
        paragraphs = polish_paragraphs()
        mismatched = [p for p in paragraphs if lm.tokenize(p) != tok.encode(p)]
        assert not mismatched, f"{len(mismatched)}/{len(paragraphs)} paragraphs differ, first: {mismatched[0][:80]!r}"


def _windows(run, n: int, length: int) -> list[list[int]]:
    from tests.polish_text import polish_text

    tok = _sp(run)
    ids = tok.encode(polish_text())
    step = (len(ids) - length) // n
    return [[tok.bos_id] + ids[i * step : i * step + length - 1] for i in range(n)]


def _torch_logits(run, seqs) -> np.ndarray:
    model = load_source(run).torch_model()
    with torch.no_grad():
        return np.concatenate([model(torch.tensor([s]))[0][0].float().numpy() for s in seqs])


def _llama_logits(path, seqs) -> np.ndarray:
    from training.export.llamacpp import open_gguf

    with open_gguf(path, n_ctx=128, kv_type="f32") as lm:
        return np.concatenate([lm.logits(s) for s in seqs])


@pytest.mark.parametrize("tag,run_fixture", [("random-f32", "random_run"), ("untied-f32", "untied_gqa_run"),
                                             ("trained-f32", "trained_run")])
def test_f32_logits_match_pytorch(tiny_ggufs, request, tag, run_fixture):
    run = request.getfixturevalue(run_fixture)
    seqs = _windows(run, 3, 128)
    ours, theirs = _torch_logits(run, seqs), _llama_logits(tiny_ggufs[tag], seqs)
    assert ours.shape == theirs.shape
    delta = float(np.abs(ours - theirs).max())
    assert delta <= 1e-3, f"max |Δlogit| {delta:.2e}"
    assert (ours.argmax(-1) == theirs.argmax(-1)).all()


def test_f16_and_q8_0_top1_agreement(tiny_ggufs, trained_run):
    seqs = _windows(trained_run, 8, 128)
    ours = _torch_logits(trained_run, seqs).argmax(-1)
    f16 = (_llama_logits(tiny_ggufs["trained-f16"], seqs).argmax(-1) == ours).mean()
    q8 = (_llama_logits(tiny_ggufs["trained-q8_0"], seqs).argmax(-1) == ours).mean()
    assert f16 >= 0.995, f"F16 top-1 agreement {f16:.4f} over {len(ours)} positions"
    assert q8 >= 0.98, f"Q8_0 top-1 agreement {q8:.4f} over {len(ours)} positions"


def test_greedy_generation_identical_f32(tiny_ggufs, trained_run):
    from training.export.llamacpp import open_gguf

    tok = _sp(trained_run)
    prompt = [tok.bos_id] + tok.encode("Dawno, dawno temu w małej wsi")
    model = load_source(trained_run).torch_model()
    ours = model.generate(torch.tensor([prompt]), 64, temperature=0.0)[0, len(prompt):].tolist()
    with open_gguf(tiny_ggufs["trained-f32"], n_ctx=128, kv_type="f32") as lm:
        theirs = lm.greedy(prompt, 64)
    assert len(ours) == 64 and theirs == ours, (tok.decode(ours), tok.decode(theirs))


def test_quantized_file_is_smaller_and_typed(tiny_ggufs):
    from training.export.read_back import read_metadata

    meta = read_metadata(tiny_ggufs["trained-q8_0"])
    assert meta["general.file_type"] == 7  # LLAMA_FTYPE_MOSTLY_Q8_0
    assert meta["__tensors__"]["blk.0.attn_q.weight"][1] == "Q8_0"
    assert meta["__tensors__"]["blk.0.attn_norm.weight"][1] == "F32"
    assert tiny_ggufs["trained-q8_0"].stat().st_size < 0.6 * tiny_ggufs["trained-f16"].stat().st_size
