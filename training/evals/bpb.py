"""Bits per byte: total negative log-likelihood in bits over the total UTF-8 bytes of the text.

Tokenizer-independent, so models with different vocabularies (and a GGUF against its checkpoint)
compare directly. Each document is scored on its own with BOS prepended; EOS is not scored (its
byte count is 0). Documents longer than the context are scored in sliding windows: a window holds
at most context_length inputs, advances by `stride`, and scores only targets no earlier window scored,
so every target is scored once with at least context_length - stride tokens of context (except the first).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Iterable, Sequence

import numpy as np

from training.evals.backends import Backend, TorchBackend

LN2 = math.log(2.0)


def window_plan(n: int, context_length: int, stride: int) -> list[tuple[int, int, int]]:
    """Windows over a sequence of n ids: (begin, end, first_scored) so that ids[begin:end] is fed
    (end - begin <= context_length + 1) and targets first_scored..end-1 are counted. Every target 1..n-1 once."""
    if not 1 <= stride <= context_length:
        raise ValueError(f"stride must be in 1..context_length ({context_length}), got {stride}")
    plan: list[tuple[int, int, int]] = []
    begin, done = 0, 0  # targets 1..done are scored
    while done < n - 1:
        end = min(begin + context_length + 1, n)
        plan.append((begin, end, done + 1))
        done = end - 1
        begin += stride
    return plan


def heldout_batches(texts: Iterable[str], tokenizer, context_length: int, batch_size: int, stride: int | None = None):
    """Texts as fixed (x, y) eval batches for the trainer, windowed as `evaluate_bpb` windows them (BOS first, each
    target scored once, earlier-scored targets -1), and the text's UTF-8 bytes per scored target: the trainer's mean
    loss over these batches gives the BPB `polski eval --stride STRIDE` reports."""
    import torch

    stride = stride or context_length
    rows_x, rows_y, targets, nbytes = [], [], 0, 0
    for text in texts:
        ids = [tokenizer.bos_id] + tokenizer.encode(text)
        if len(ids) < 2:
            continue
        nbytes += len(text.encode("utf-8"))
        for begin, end, first in window_plan(len(ids), context_length, stride):
            x = np.full(context_length, tokenizer.pad_id, dtype=np.int64)
            y = np.full(context_length, -1, dtype=np.int64)
            x[: end - begin - 1] = ids[begin : end - 1]
            y[first - begin - 1 : end - begin - 1] = ids[first:end]
            rows_x.append(x)
            rows_y.append(y)
            targets += end - first
    if not targets:
        return [], None
    batches = [(torch.from_numpy(np.stack(rows_x[i : i + batch_size])), torch.from_numpy(np.stack(rows_y[i : i + batch_size])))
               for i in range(0, len(rows_x), batch_size)]
    return batches, nbytes / targets


def sequence_logprobs(backend: Backend, sequences: Sequence[Sequence[int]], stride: int | None = None) -> list[np.ndarray]:
    """Per sequence, log p of every id after the first (natural log), through sliding windows."""
    ctx = backend.context_length
    stride = stride or ctx
    windows, owners = [], []
    for s_i, seq in enumerate(sequences):
        for begin, end, first in window_plan(len(seq), ctx, stride):
            windows.append(list(seq[begin:end]))
            owners.append((s_i, first - begin - 1))  # offset of the first scored target inside the window's outputs
    parts: list[list[np.ndarray]] = [[] for _ in sequences]
    for (s_i, skip), lp in zip(owners, backend.target_logprobs(windows)):
        parts[s_i].append(lp[skip:])
    return [np.concatenate(p) if p else np.zeros(0) for p in parts]


@dataclass
class BPBResult:
    docs: int
    tokens: int  # scored targets
    bytes: int
    nll_nats: float  # total

    @property
    def loss(self) -> float:
        return self.nll_nats / max(1, self.tokens)

    @property
    def perplexity(self) -> float:
        return math.exp(min(self.loss, 700.0))

    @property
    def bpb(self) -> float:
        return self.nll_nats / LN2 / max(1, self.bytes)

    def as_dict(self) -> dict:
        return {**asdict(self), "loss": self.loss, "perplexity": self.perplexity, "bpb": self.bpb,
                "tokens_per_byte": self.tokens / max(1, self.bytes)}


def _as_backend(model, tokenizer=None, device=None, batch_size: int = 8) -> Backend:
    if isinstance(model, Backend):
        return model
    if tokenizer is None:
        raise ValueError("evaluate_bpb(model, ...) on a torch model needs tokenizer=")
    return TorchBackend(model, tokenizer, device=device, batch_size=batch_size)


def _bin_documents(bins, max_docs: int | None) -> Iterable[list[int]]:
    n = bins.num_docs if max_docs is None else min(max_docs, bins.num_docs)
    for i in range(n):
        yield [int(t) for t in bins.document(i)]


def evaluate_bpb(model, source, tokenizer=None, *, stride: int | None = None, max_docs: int | None = None,
                 device=None, batch_size: int = 8, docs_per_call: int = 64) -> BPBResult:
    """BPB, loss and perplexity of `model` (a GPT with `tokenizer=`, or a Backend) on `source`:
    a list of texts, or a `training.data.TokenBins` split (documents BOS..EOS; bytes from their decoded text).

    The trainer calls this at eval steps: `evaluate_bpb(model, TokenBins(bins, "val"), tokenizer, max_docs=64)`.
    """
    backend = _as_backend(model, tokenizer, device, batch_size)
    stride = stride or backend.context_length
    total = BPBResult(0, 0, 0, 0.0)

    def flush(seqs: list[list[int]], nbytes: list[int]) -> None:
        for lp, b in zip(sequence_logprobs(backend, seqs, stride), nbytes):
            total.docs += 1
            total.tokens += len(lp)
            total.bytes += b
            total.nll_nats += float(-lp.sum())

    seqs: list[list[int]] = []
    nbytes: list[int] = []
    if hasattr(source, "document") and hasattr(source, "num_docs"):  # TokenBins
        decode = backend.decode
        docs = ([t for t in d if t != backend.eos_id] for d in _bin_documents(source, max_docs))
        items = ((d, len(decode(d[1:]).encode("utf-8"))) for d in docs)
    else:
        texts = list(source)[:max_docs] if max_docs is not None else source
        items = (([backend.bos_id] + backend.encode(t), len(t.encode("utf-8"))) for t in texts if t)
    for ids, b in items:
        if len(ids) < 2:
            continue
        seqs.append(ids)
        nbytes.append(b)
        if len(seqs) == docs_per_call:
            flush(seqs, nbytes)
            seqs, nbytes = [], []
    if seqs:
        flush(seqs, nbytes)
    return total


def bpb_from_loss(mean_loss_nats: float, tokens: int, nbytes: int) -> float:
    """Approximate BPB from a mean per-token loss and a split's token/byte counts (e.g. the bins manifest)."""
    return mean_loss_nats / LN2 * tokens / max(1, nbytes)
