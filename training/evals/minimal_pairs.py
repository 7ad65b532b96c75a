"""Grammatical minimal pairs: a model passes a pair when log P(good) > log P(bad) (whole sentence, BOS prepended).

Pair files are JSON Lines with `sentence_good`, `sentence_bad`, `phenomenon` (the format of
../shared/data/eval/minimal-pairs/*.jsonl and of the project's own training/resources/minimal_pairs_pl.jsonl).
"""
from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from pathlib import Path
from typing import Callable, Iterable

from training.errors import DataError

BUILTIN_PAIRS = Path(__file__).resolve().parent.parent / "resources" / "minimal_pairs_pl.jsonl"


SPLITS = ("dev", "test")


def pair_split(sentence_good: str) -> str:
    """"dev" or "test", fixed by the good sentence's hash: half of every file decides, the other half reports."""
    return SPLITS[int(hashlib.sha256(sentence_good.encode("utf-8")).hexdigest()[:8], 16) % 2]


def load_pairs(path: Path | str, limit: int | None = None, split: str | None = None) -> list[dict]:
    """The pairs of a file; with `split` ("dev" or "test") only that half of them (pair_split)."""
    if split is not None and split not in SPLITS:
        raise DataError(f"unknown minimal-pair split {split!r}: use dev or test")
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} does not exist: give a JSONL file of {{sentence_good, sentence_bad, phenomenon}}")
    pairs = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                pairs.append({"sentence_good": rec["sentence_good"], "sentence_bad": rec["sentence_bad"],
                              "phenomenon": rec.get("phenomenon", "unknown"), "id": rec.get("id", f"{path.stem}-{n}")})
            except (ValueError, KeyError, TypeError) as err:
                raise DataError(f"{path}:{n}: not a minimal pair ({err}): each line needs sentence_good and sentence_bad") from None
            if split is not None and pair_split(pairs[-1]["sentence_good"]) != split:
                pairs.pop()
            if limit is not None and len(pairs) >= limit:
                break
    return pairs


def score_pairs(logprob: Callable[[list[str]], list[float]], pairs: Iterable[dict]) -> dict:
    """Accuracy overall and per phenomenon; `logprob(sentences)` gives each sentence's total log-probability."""
    pairs = list(pairs)
    sentences = [s for p in pairs for s in (p["sentence_good"], p["sentence_bad"])]
    scores = logprob(sentences)
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    results = []
    for i, p in enumerate(pairs):
        good, bad = scores[2 * i], scores[2 * i + 1]
        ok = good > bad
        per[p["phenomenon"]][0] += ok
        per[p["phenomenon"]][1] += 1
        results.append({"id": p.get("id"), "phenomenon": p["phenomenon"], "correct": ok, "logp_good": good, "logp_bad": bad})
    correct = sum(r["correct"] for r in results)
    return {
        "pairs": len(results),
        "correct": correct,
        "accuracy": correct / len(results) if results else float("nan"),
        "per_phenomenon": {k: {"pairs": n, "correct": c, "accuracy": c / n} for k, (c, n) in sorted(per.items())},
        "results": results,
    }


def backend_logprob(backend) -> Callable[[list[str]], list[float]]:
    from training.evals.bpb import sequence_logprobs

    def logprob(sentences: list[str]) -> list[float]:
        seqs = [[backend.bos_id] + backend.encode(s) for s in sentences]
        return [float(lp.sum()) for lp in sequence_logprobs(backend, seqs)]

    return logprob


def evaluate_pairs(backend, pairs: list[dict]) -> dict:
    return score_pairs(backend_logprob(backend), pairs)
