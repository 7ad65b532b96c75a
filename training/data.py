"""Token bins: a corpus tokenized once into flat uint16 arrays that training memory-maps.

BINS_DIR holds `{split}.bin` (each document is BOS ids... EOS), `{split}.idx.npy` (int64 start
of each document), `{split}.src.npy` (each document's source, an index into the manifest's `sources`)
and `manifest.json` tying the bins to the exact tokenizer and corpus.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from training.atomic import atomic_dir
from training.errors import DataError
from training.tokenizer import Tokenizer

SPLITS = ("train", "val")
BATCH_DOCS = 256  # documents encoded per call; SentencePiece spreads a batch over all threads
BATCH_CHARS = 4_000_000  # ...but whole novels are large: this bounds the ids held in memory
MANIFEST = "manifest.json"


def _batches(docs: Iterable[tuple[str, str]]) -> Iterator[list[tuple[str, str]]]:
    batch: list[tuple[str, str]] = []
    chars = 0
    for doc in docs:
        batch.append(doc)
        chars += len(doc[0])
        if len(batch) == BATCH_DOCS or chars >= BATCH_CHARS:
            yield batch
            batch, chars = [], 0
    if batch:
        yield batch


def _write_split(docs: Iterable[tuple[str, str]], tokenizer: Tokenizer, out_dir: Path, split: str, threads: int,
                 sources: dict[str, int]) -> dict:
    """Streams one split of (text, source) to `{split}.bin`; output does not depend on `threads` (encode is per
    document). `sources` numbers the source names across splits."""
    starts: list[int] = []
    doc_sources: list[int] = []
    tokens = n_docs = nbytes = 0
    with open(out_dir / f"{split}.bin", "wb") as f:
        for batch in _batches(docs):
            texts = [text for text, _ in batch]
            for (text, source), ids in zip(batch, tokenizer.encode_batch(texts, threads=threads)):
                starts.append(tokens)
                doc_sources.append(sources.setdefault(source, len(sources)))
                row = np.empty(len(ids) + 2, dtype=np.uint16)
                row[0], row[-1] = tokenizer.bos_id, tokenizer.eos_id
                row[1:-1] = ids
                f.write(row.tobytes())
                tokens += len(row)
                n_docs += 1
                nbytes += len(text.encode("utf-8"))
    np.save(out_dir / f"{split}.idx.npy", np.asarray(starts, dtype=np.int64))
    np.save(out_dir / f"{split}.src.npy", np.asarray(doc_sources, dtype=np.uint16))
    return {"tokens": tokens, "docs": n_docs, "bytes": nbytes}


def _tokenize(split_docs: dict[str, Iterable[tuple[str, str]]], tokenizer_dir: Path | str, out_dir: Path | str,
              corpus_sha256: str, workers: int | None) -> Path:
    tokenizer = Tokenizer.load(tokenizer_dir)
    if tokenizer.vocab_size > 65536:
        raise DataError(f"vocab size {tokenizer.vocab_size} does not fit uint16 bins: train a tokenizer with --vocab-size <= 65535")
    threads = workers or os.cpu_count() or 1
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        sources: dict[str, int] = {}
        splits = {split: _write_split(docs, tokenizer, tmp, split, threads, sources) for split, docs in split_docs.items()}
        manifest = {
            "version": 1,
            "tokenizer_sha256": tokenizer.sha256,
            "vocab_size": tokenizer.vocab_size,
            "corpus_manifest_sha256": corpus_sha256,
            "dtype": "uint16",
            "splits": splits,
            "sources": list(sources),
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return out_dir


def tokenize_corpus(corpus_dir: Path | str, tokenizer_dir: Path | str, out_dir: Path | str, workers: int | None = None) -> Path:
    """CORPUS_DIR -> BINS_DIR, deterministic (same corpus and tokenizer give identical bytes)."""
    from training.corpus.readers import corpus_shards, iter_corpus_records

    corpus_dir = Path(corpus_dir)
    corpus_shards(corpus_dir, "train")  # raises a clear error when this is not a corpus dir
    corpus_sha = hashlib.sha256((corpus_dir / "manifest.json").read_bytes()).hexdigest()
    docs = {split: ((r["text"], r.get("source", "")) for r in iter_corpus_records(corpus_dir, split)) for split in SPLITS}
    return _tokenize(docs, tokenizer_dir, out_dir, corpus_sha, workers)


def tokenize_texts(splits: dict[str, list[str]], tokenizer_dir: Path | str, out_dir: Path | str, workers: int | None = None) -> Path:
    """BINS_DIR straight from texts, e.g. `{"train": [...], "val": [...]}` (tests, small experiments)."""
    digest = hashlib.sha256(json.dumps(splits, ensure_ascii=False, sort_keys=True).encode("utf-8")).hexdigest()
    return _tokenize({s: [(text, "texts") for text in splits.get(s, [])] for s in SPLITS}, tokenizer_dir, out_dir, digest, workers)


def read_manifest(bins_dir: Path | str) -> dict:
    path = Path(bins_dir) / MANIFEST
    if not path.is_file():
        raise DataError(f"no token bins in {bins_dir}: run `polski data tokenize --corpus DIR --tokenizer DIR --out {bins_dir}`")
    return json.loads(path.read_text(encoding="utf-8"))


class TokenBins:
    """One split of a BINS_DIR, memory-mapped."""

    def __init__(self, bins_dir: Path | str, split: str = "train"):
        self.dir = Path(bins_dir)
        self.split = split
        self.manifest = read_manifest(self.dir)
        if split not in self.manifest["splits"]:
            raise DataError(f"{self.dir} has no split {split!r} (has {sorted(self.manifest['splits'])})")
        info = self.manifest["splits"][split]
        self.num_tokens = int(info["tokens"])
        self.num_docs = int(info["docs"])
        self.bytes = int(info["bytes"])
        path = self.dir / f"{split}.bin"
        if path.stat().st_size != 2 * self.num_tokens:
            raise DataError(f"{path} holds {path.stat().st_size // 2} tokens, manifest says {self.num_tokens}: re-run `polski data tokenize`")
        # np.memmap cannot map an empty file
        self.tokens = np.memmap(path, dtype=np.uint16, mode="r") if self.num_tokens else np.zeros(0, dtype=np.uint16)
        self.doc_starts = np.load(self.dir / f"{split}.idx.npy")
        self.source_names: list[str] = self.manifest.get("sources", [])

    @property
    def doc_sources(self) -> np.ndarray:
        """Each document's index into `source_names`."""
        path = self.dir / f"{self.split}.src.npy"
        if not self.source_names or not path.is_file():
            raise DataError(f"{self.dir} records no document sources (bins made before they were): re-run `polski data tokenize`")
        return np.load(path)

    def __len__(self) -> int:
        return self.num_tokens

    def document(self, i: int) -> np.ndarray:
        end = self.doc_starts[i + 1] if i + 1 < len(self.doc_starts) else self.num_tokens
        return np.asarray(self.tokens[self.doc_starts[i]:end])


def check_tokenizer(bins_dir: Path | str, tokenizer: Tokenizer | Path | str, model_vocab_size: int | None = None) -> None:
    """Raises DataError unless the bins were made with exactly this tokenizer (and fit the model's vocab)."""
    if not isinstance(tokenizer, Tokenizer):
        tokenizer = Tokenizer.load(tokenizer)
    manifest = read_manifest(bins_dir)
    made_with = manifest["tokenizer_sha256"]
    if made_with != tokenizer.sha256:
        raise DataError(
            f"bins in {bins_dir} were made with tokenizer {made_with[:8]}, but the run uses {tokenizer.sha256[:8]}: "
            f"re-run `polski data tokenize --tokenizer {tokenizer.path} --out {bins_dir}`"
        )
    if manifest["vocab_size"] != tokenizer.vocab_size:
        raise DataError(
            f"bins in {bins_dir} have vocab size {manifest['vocab_size']}, the tokenizer {tokenizer.vocab_size}: "
            f"re-run `polski data tokenize --tokenizer {tokenizer.path} --out {bins_dir}`"
        )
    if model_vocab_size is not None and model_vocab_size != tokenizer.vocab_size:
        raise DataError(
            f"model.vocab_size is {model_vocab_size} but the tokenizer in {tokenizer.path} has {tokenizer.vocab_size}: "
            "set model.vocab_size and tokenizer.vocab_size to the tokenizer's size"
        )
