import math

import pytest

from training.evals.backends import torch_backend
from training.evals.bpb import evaluate_bpb, sequence_logprobs, window_plan


@pytest.mark.parametrize("n,ctx,stride", [(2, 4, 4), (5, 4, 4), (6, 4, 4), (17, 4, 2), (17, 4, 1), (100, 16, 5)])
def test_window_plan_scores_every_target_once(n, ctx, stride):
    scored = []
    for begin, end, first in window_plan(n, ctx, stride):
        assert end - begin <= ctx + 1 and begin < first <= end - 1 + 1
        scored += range(max(first, begin + 1), end)
    assert scored == list(range(1, n))


def test_window_plan_rejects_a_stride_longer_than_the_context():
    with pytest.raises(ValueError, match="stride"):
        window_plan(10, 4, 5)


@pytest.fixture(scope="module")
def backend(eval_run):
    return torch_backend(eval_run)


def test_bpb_is_finite_and_consistent(backend, heldout_texts):
    r = evaluate_bpb(backend, heldout_texts)
    assert r.docs == len(heldout_texts)
    assert r.bytes == sum(len(t.encode("utf-8")) for t in heldout_texts)
    assert r.tokens == sum(len(backend.encode(t)) for t in heldout_texts)
    assert math.isfinite(r.bpb) and 0 < r.bpb < 9  # a trained model beats 8 bits per byte... or nearly
    assert math.isclose(r.bpb, r.loss * r.tokens / r.bytes / math.log(2), rel_tol=1e-9)
    assert math.isclose(r.perplexity, math.exp(r.loss), rel_tol=1e-9)


def test_sliding_windows_match_one_full_window(backend, heldout_texts):
    """With a window as long as the document, striding must not change any token's log-prob."""
    ids = [backend.bos_id] + backend.encode(heldout_texts[0])
    ids = ids[: backend.context_length + 1]
    full = sequence_logprobs(backend, [ids], stride=backend.context_length)[0]
    one_by_one = [backend.target_logprobs([ids[: t + 2]])[0][-1] for t in range(len(ids) - 1)]
    assert full.shape == (len(ids) - 1,)
    assert max(abs(a - b) for a, b in zip(full, one_by_one)) < 1e-4


def test_bins_and_texts_give_the_same_bpb(backend, eval_run, tmp_path):
    from tests.polish_text import build_tiny_bins, polish_paragraphs
    from training.data import TokenBins

    bins = build_tiny_bins(tmp_path, eval_run / "tokenizer")
    val = TokenBins(bins, "val")
    texts = [p for i, p in enumerate(polish_paragraphs()) if i % 10 == 0][:3]
    a = evaluate_bpb(backend, val, max_docs=3)
    b = evaluate_bpb(backend, texts)
    assert (a.tokens, a.bytes) == (b.tokens, b.bytes)
    assert math.isclose(a.bpb, b.bpb, rel_tol=1e-6)


def test_trainer_style_call_with_a_bare_model(backend, heldout_texts):
    r = evaluate_bpb(backend.model, heldout_texts[:2], backend.tokenizer)
    assert math.isclose(r.bpb, evaluate_bpb(backend, heldout_texts[:2]).bpb, rel_tol=1e-9)


def test_picked_logprobs_match_a_float64_log_softmax_even_for_extreme_logits():
    import numpy as np

    from training.evals.backends import _log_softmax, _picked_logprobs

    rng = np.random.default_rng(0)
    logits = (rng.standard_normal((64, 512)) * 30).astype(np.float32)
    logits[3, 7] = 1e4  # one overwhelming logit: a naive exp overflows
    targets = rng.integers(0, 512, 64)
    targets[3] = 7
    expected = _log_softmax(logits)[np.arange(64), targets]
    got = _picked_logprobs(logits, targets)
    assert np.all(np.isfinite(got)) and np.abs(got - expected).max() < 1e-5
    assert got[3] == 0.0 or abs(got[3]) < 1e-6


def test_ntrex_by_word_frequency_attributes_every_bit_and_byte_once(tmp_path, monkeypatch):
    """benchmarks/ntrex_by_word_frequency.py: token byte ends match the text (byte fallback included), and the rows
    add up to the text's bytes and the tokens' bits; an unseen word's bits land in its row."""
    import importlib.util
    from collections import Counter
    from pathlib import Path

    import numpy as np
    import sentencepiece as spm

    from tests.polish_text import build_tiny_tokenizer

    benchmarks = Path(__file__).resolve().parents[2] / "benchmarks"
    monkeypatch.syspath_prepend(str(benchmarks))  # as when it runs as a script: its helpers sit beside it
    spec = importlib.util.spec_from_file_location("nbwf", benchmarks / "ntrex_by_word_frequency.py")
    nbwf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(nbwf)
    sp = spm.SentencePieceProcessor(model_file=str(build_tiny_tokenizer(tmp_path) / "tokenizer.model"))
    text = "Źdźbło  trawy, 2024 r. — ☃ żółw ąę!"
    ids = sp.encode(text)
    assert nbwf.token_byte_ends(sp, ids)[-1] == len(text.encode("utf-8"))
    logprobs = -np.linspace(0.1, 2.0, len(ids))
    counts = Counter({"trawy": 5, "r": 5000, "żółw": 200})
    rows = {name: {"words": 0, "bytes": 0, "bits": 0.0} for name in [*(b[2] for b in nbwf.BUCKETS), "numbers", "spaces and punctuation"]}
    nbwf.attribute(text, ids, logprobs, sp, counts, rows)
    assert sum(r["bytes"] for r in rows.values()) == len(text.encode("utf-8"))
    assert sum(r["bits"] for r in rows.values()) == pytest.approx(float(-logprobs.sum()) / math.log(2))
    assert rows["never in the corpus"]["words"] == 2 and rows["numbers"]["words"] == 1  # Źdźbło, ąę; 2024
    assert rows["1,000+ times"]["words"] == 1 and rows["never in the corpus"]["bits"] > 0


def test_heldout_batches_give_the_trainer_the_bpb_polski_eval_reports(backend, heldout_texts):
    """The trainer scores train.heldout_texts as fixed batches (loss weighted by scored targets); that must be the
    BPB of `evaluate_bpb` at the same stride, documents longer than the context included."""
    import torch

    from training.evals.bpb import heldout_batches

    texts = heldout_texts + [" ".join(heldout_texts)]  # the last one spans several windows
    T = backend.context_length
    assert len(backend.encode(texts[-1])) > 2 * T
    batches, per_target = heldout_batches(texts, backend.tokenizer, T, batch_size=3, stride=T // 2)
    total, count = 0.0, 0
    backend.model.eval()
    with torch.no_grad():
        for x, y in batches:
            assert x.shape == y.shape and x.shape[1] == T
            _, loss = backend.model(x, y)
            n = int((y != -1).sum())
            total, count = total + float(loss) * n, count + n
    expected = evaluate_bpb(backend, texts, stride=T // 2)
    assert count == expected.tokens  # every target scored once
    assert math.isclose(per_target, expected.bytes / expected.tokens, rel_tol=1e-12)
    assert math.isclose(total / count / math.log(2) / per_target, expected.bpb, rel_tol=1e-4)
