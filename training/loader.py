"""Batch sources for the training loop: a micro-batch is a pure function of its index.

`source.batch(i) -> (x, y)` returns the i-th micro-batch of this rank as int64 CPU tensors (B, T);
y holds the next tokens, -1 where nothing is learned. Because nothing but `i` decides the batch,
a checkpoint only needs the number of micro-batches consumed to resume bitwise (llm.c's rule).
"""
from __future__ import annotations

from fnmatch import fnmatch
from functools import lru_cache
from typing import Iterable, Iterator, Protocol

import numpy as np
import torch

from training.errors import DataError


class BatchSource(Protocol):
    def batch(self, index: int) -> tuple[torch.Tensor, torch.Tensor]: ...


class TokenWindows:
    """Epochs over a flat token stream cut into windows of T+1 tokens, visited in a seeded random order.

    Epoch e shifts the window grid by a seeded offset in [0, T) and permutes the windows with
    seed (seed, e), so each epoch sees every token once, in new order and with new boundaries.
    Global sample k (over all ranks) is window perm_e[k mod n] of epoch e = k // n.
    """

    def __init__(self, tokens: np.ndarray, batch_size: int, seq_len: int, seed: int, rank: int = 0, world: int = 1):
        if len(tokens) < 2 * (seq_len + 1):
            raise DataError(
                f"the training split has {len(tokens)} tokens, fewer than two windows of context_length+1 = {seq_len + 1}: "
                "add text to the corpus or lower model.context_length"
            )
        self.tokens, self.B, self.T = tokens, batch_size, seq_len
        self.seed, self.rank, self.world = seed, rank, world

    @lru_cache(maxsize=2)
    def _epoch(self, epoch: int) -> tuple[int, np.ndarray]:
        rng = np.random.default_rng([self.seed, epoch])
        offset = int(rng.integers(0, self.T)) if epoch else 0
        n = (len(self.tokens) - 1 - offset) // self.T
        return offset, rng.permutation(n)

    def windows_per_epoch(self) -> int:
        return (len(self.tokens) - 1) // self.T

    def sample(self, k: int) -> np.ndarray:
        n0 = self.windows_per_epoch()
        epoch = k // n0  # epochs are numbered by the unshifted count; a shifted epoch is at most one window shorter
        offset, perm = self._epoch(epoch)
        start = offset + int(perm[(k % n0) % len(perm)]) * self.T
        return np.asarray(self.tokens[start : start + self.T + 1], dtype=np.int64)

    def batch(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        first = (index * self.world + self.rank) * self.B
        rows = torch.from_numpy(np.stack([self.sample(first + b) for b in range(self.B)]))
        return rows[:, :-1].contiguous(), rows[:, 1:].contiguous()

    def epoch_of(self, micro_batches: int) -> float:
        return micro_batches * self.world * self.B / self.windows_per_epoch()


def weighted_stream(bins, weights: dict[str, float], seed: int, max_passes: int = 20,
                    key: str = "train.source_weights") -> tuple[np.ndarray, int]:
    """(stream, passes): the train split with each document's share set by its source's weight (`train.source_weights`).

    Keys are glob patterns over the source names the bins record (e.g. "*sejm-*"); unmatched sources weigh 1.
    The stream spans the fewest passes P (at most `max_passes`) in which every weight w makes whole copies: each
    document appears round(w * P) times, spread over the P passes (a seeded offset picks the passes of the
    fractional copy), so a weight of 0.5 shows every document in one pass of two rather than dropping half of them.
    """
    if not weights:
        return bins.tokens, 1
    names, doc_sources = bins.source_names, bins.doc_sources
    per_source = np.ones(len(names))
    matched: dict[int, str] = {}
    for pattern, weight in weights.items():
        hits = [i for i, name in enumerate(names) if fnmatch(name, pattern)]
        if not hits:
            raise DataError(f"{key}: {pattern!r} matches no source of the bins; their sources are {names}")
        for i in hits:
            if i in matched and per_source[i] != weight:
                raise DataError(f"{key}: {names[i]!r} matches {matched[i]!r} and {pattern!r} with different weights")
            per_source[i], matched[i] = weight, pattern
    passes = next((p for p in range(1, max_passes + 1) if np.allclose(per_source * p, np.round(per_source * p))), max_passes)
    w = per_source[doc_sources]
    whole = np.floor(w).astype(np.int64)
    extra = np.round((w - whole) * passes).astype(np.int64)  # passes in which a document gets one more copy
    offset = np.random.default_rng([seed, 0x5eed]).integers(0, passes, len(w))
    docs = []
    for p in range(passes):
        copies = whole + ((p - offset) % passes < extra)
        docs += [i for r in range(int(copies.max(initial=0))) for i in np.flatnonzero(copies > r)]
    if not docs:
        raise DataError(f"{key} leave no training documents: give some source a weight above 0")
    return np.concatenate([bins.document(int(i)) for i in docs]), passes


class Phased:
    """Micro-batches 0 .. switch-1 from `first`, then `then` from its own start (e.g. a new data mix for the decay)."""

    def __init__(self, first: BatchSource, then: BatchSource, switch: int):
        self.first, self.then, self.switch = first, then, switch

    def batch(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.first.batch(index) if index < self.switch else self.then.batch(index - self.switch)


class PackedRows:
    """Epochs over fixed rows (inputs uint16/int (R, T), targets int (R, T) with -1 masked), e.g. packed SFT chats."""

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int, seed: int, rank: int = 0, world: int = 1):
        if len(x) == 0 or x.shape != y.shape:
            raise DataError(f"packed rows need equal, non-empty inputs and targets (got {x.shape} and {y.shape})")
        self.x, self.y, self.B = x, y, batch_size
        self.seed, self.rank, self.world = seed, rank, world

    @lru_cache(maxsize=2)
    def _perm(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, epoch]).permutation(len(self.x))

    def batch(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        first = (index * self.world + self.rank) * self.B
        n = len(self.x)
        rows = [int(self._perm(k // n)[k % n]) for k in range(first, first + self.B)]
        x = torch.from_numpy(np.asarray(self.x[rows], dtype=np.int64))
        y = torch.from_numpy(np.asarray(self.y[rows], dtype=np.int64))
        return x, y


class IteratorSource:
    """Adapts a plain iterable of (x, y) batches. Exact resume only if the iterable is deterministic:
    on resume the first `index` batches are drawn again and dropped."""

    def __init__(self, batches: Iterable):
        self._iterable = batches
        self._it: Iterator | None = None
        self._next = 0

    def batch(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self._it is None:
            self._it = iter(self._iterable)
        if index < self._next:
            raise ValueError("IteratorSource can only move forward")
        try:
            while self._next < index:
                next(self._it)
                self._next += 1
            x, y = next(self._it)
        except StopIteration:
            raise DataError(f"the batch iterator ran out after {self._next} batches: give more data or fewer max_steps") from None
        self._next += 1
        return torch.as_tensor(x, dtype=torch.long), torch.as_tensor(y, dtype=torch.long)


def to_device(x: torch.Tensor, y: torch.Tensor, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch on `device`; on CUDA through pinned memory, since a copy from pageable memory waits for the GPU
    to drain its queue (measured: the GPU idle ~20% of a capped polski-1b3 micro-step)."""
    if device.type == "cuda":
        x, y = x.pin_memory(), y.pin_memory()
    return x.to(device, non_blocking=True), y.to(device, non_blocking=True)


def as_batch_source(batches) -> BatchSource:
    return batches if hasattr(batches, "batch") else IteratorSource(batches)


def val_windows(tokens: np.ndarray, batch_size: int, seq_len: int, max_batches: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Fixed validation batches: consecutive non-overlapping windows from the start of the split."""
    n = (len(tokens) - 1) // seq_len
    if n == 0:
        raise DataError(f"the validation split has {len(tokens)} tokens, fewer than context_length+1: add validation text")
    batches = []
    for b in range(min(max_batches, -(-n // batch_size))):
        starts = [i * seq_len for i in range(b * batch_size, min(n, (b + 1) * batch_size))]
        rows = torch.from_numpy(np.stack([np.asarray(tokens[s : s + seq_len + 1], dtype=np.int64) for s in starts]))
        batches.append((rows[:, :-1].contiguous(), rows[:, 1:].contiguous()))
    return batches
