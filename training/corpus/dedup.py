"""Deduplication: exact (hash of whitespace/case-normalized text) and near-duplicate (MinHash LSH).

Near duplicates are documents whose sets of word n-gram shingles have an estimated Jaccard
similarity at or above `minhash_threshold`; the first one seen (in source order) is kept.
"""
from __future__ import annotations

import hashlib
import re
import zlib

import numpy as np

from training.config import CorpusConfig

WORD = re.compile(r"\w+")
MAX_SHINGLES = 200_000  # a whole novel has ~150k; beyond this a hash-chosen subset keeps cost bounded


def content_hash(text: str) -> str:
    """Exact-duplicate key: lowercased, whitespace-collapsed text."""
    return hashlib.sha256(" ".join(text.lower().split()).encode("utf-8")).hexdigest()


def shingles(text: str, n: int) -> list[bytes]:
    words = WORD.findall(text.lower())
    if len(words) <= n:
        return [" ".join(words).encode("utf-8")]
    grams = [" ".join(words[i:i + n]).encode("utf-8") for i in range(len(words) - n + 1)]
    if len(grams) > MAX_SHINGLES:
        # keep the shingles whose hash falls in one residue class: the same shingles survive in every
        # document, so the Jaccard similarity of two documents is preserved (a stride would break on a shift)
        step = -(-len(grams) // MAX_SHINGLES)
        grams = [g for g in grams if zlib.crc32(g) % step == 0]
    return grams


def minhash_signature(text: str, config: CorpusConfig):
    """A LeanMinHash of the document's shingles, seeded so it is the same in every process."""
    from datasketch import LeanMinHash, MinHash

    m = MinHash(num_perm=config.minhash_perm, seed=1)
    m.update_batch(shingles(text, config.shingle_words))
    return LeanMinHash(m)


class Deduplicator:
    """Remembers what it has kept; `check` says why a document is a duplicate, or None (and remembers it)."""

    def __init__(self, config: CorpusConfig):
        from datasketch import MinHashLSH

        self.config = config
        self.seen: set[str] = set()
        self.lsh = MinHashLSH(threshold=config.minhash_threshold, num_perm=config.minhash_perm)
        self.signatures: list[np.ndarray] = []

    def check(self, exact_key: str, signature) -> str | None:
        if exact_key in self.seen:
            return "exact_dup"
        m, signature = signature, signature.hashvalues
        # LSH banding gives candidates; keep only those whose estimated Jaccard really reaches the threshold
        for key in self.lsh.query(m):
            if np.mean(self.signatures[int(key)] == signature) >= self.config.minhash_threshold:
                return "near_dup"
        self.seen.add(exact_key)
        self.lsh.insert(str(len(self.signatures)), m)
        self.signatures.append(signature)
        return None
