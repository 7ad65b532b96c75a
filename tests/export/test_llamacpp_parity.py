"""Parity with real llama.cpp, not bit-for-bit: the same token ids as SentencePiece; F32 logits within 1e-3 of
PyTorch's with the same argmax at every position; F16 and Q8_0 top-1 agreement of at least 99.5% and 98%; and the
same 64 greedy tokens from the F32 GGUF."""
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
    "Nie wiem, czy to się uda i czy się nie zawiedzie, ale  się  nie\npoddam.",
]
# Trained with split_by_whitespace=False, BPE pieces may cross word boundaries ("▁się▁w", "ła▁się"): issue #2's
# candidate setting. The test prose yields no such piece at 512 pieces, 141 at 2048.
SPAN_WORDS_VOCAB = 2048
# llama.cpp's F32 kernels add in another order than PyTorch's (and fuse some steps): close, not identical
F32_MAX_LOGIT_DELTA = 1e-3


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


@pytest.fixture(scope="module")
def span_words_gguf(llama_cpp, tmp_path_factory):
    """(GGUF, run) of a random polski-tiny whose tokenizer was trained with pieces_span_words (split_by_whitespace=False)."""
    from tests.export.conftest import make_run, tiny_config
    from tests.polish_text import TEXT_FILE
    from training import tokenizer
    from training.config import TokenizerConfig
    from training.model import GPT

    root = tmp_path_factory.mktemp("span-words")
    tok_config = TokenizerConfig(vocab_size=SPAN_WORDS_VOCAB, threads=1, pieces_span_words=True)
    tok_dir = tokenizer.train_tokenizer(TEXT_FILE, root / "tokenizer", tok_config)
    config = tiny_config(vocab_size=SPAN_WORDS_VOCAB)
    config = config.model_copy(update={"tokenizer": config.tokenizer.model_copy(update={"vocab_size": tok_config.vocab_size})})
    torch.manual_seed(0)
    run = make_run(root / "run", tok_dir, GPT(config.model), config)
    return export_model(run, root / "span-words.gguf", dtype="f32").path, run


@pytest.fixture(params=["shipped", "pieces-span-words"])
def tokenizer_gguf(request):
    """(GGUF, run) for the shipped tokenizer settings and for pieces that span words."""
    if request.param == "shipped":
        return request.getfixturevalue("tiny_ggufs")["random-f32"], request.getfixturevalue("random_run")
    return request.getfixturevalue("span_words_gguf")


def _sp(run):
    from training.tokenizer import Tokenizer

    return Tokenizer.load(load_source(run).tokenizer_dir)


@pytest.mark.parametrize("text", TOKENIZER_CASES, ids=range(len(TOKENIZER_CASES)))
def test_tokenization_matches_sentencepiece(tokenizer_gguf, text):
    from training.export.llamacpp import open_gguf

    gguf, run = tokenizer_gguf
    tok = _sp(run)
    with open_gguf(gguf, vocab_only=True) as lm:
        assert lm.tokenize(text, add_special=False, parse_special=True) == tok.encode(text)
        assert lm.tokenize(text, add_special=True, parse_special=True) == [tok.bos_id] + tok.encode(text)
        assert lm.detokenize(tok.encode(text)) == tok.decode(tok.encode(text))


def test_tokenization_of_the_whole_polish_text(tokenizer_gguf):
    from tests.polish_text import polish_paragraphs
    from training.export.llamacpp import open_gguf

    gguf, run = tokenizer_gguf
    tok = _sp(run)
    with open_gguf(gguf, vocab_only=True) as lm:
        paragraphs = polish_paragraphs()
        mismatched = [p for p in paragraphs if lm.tokenize(p) != tok.encode(p)]
        assert not mismatched, f"{len(mismatched)}/{len(paragraphs)} paragraphs differ, first: {mismatched[0][:80]!r}"


def test_span_words_tokenizer_uses_pieces_across_words(span_words_gguf):
    """Guards the parity tests above against a vocab too small to hold any piece across a word boundary."""
    from tests.polish_text import polish_paragraphs

    tok = _sp(span_words_gguf[1])
    across = {i for p in polish_paragraphs() for i in tok.encode(p) if "▁" in tok.piece(i).lstrip("▁")}
    assert len(across) >= 20, [tok.piece(i) for i in across]


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
def test_f32_logits_within_1e_3_of_pytorch_with_the_same_argmax(tiny_ggufs, request, tag, run_fixture):
    run = request.getfixturevalue(run_fixture)
    seqs = _windows(run, 3, 128)
    ours, theirs = _torch_logits(run, seqs), _llama_logits(tiny_ggufs[tag], seqs)
    assert ours.shape == theirs.shape
    delta = float(np.abs(ours - theirs).max())
    assert delta <= F32_MAX_LOGIT_DELTA, f"max |Δlogit| {delta:.2e}"
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
