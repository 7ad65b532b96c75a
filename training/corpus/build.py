"""The corpus build: read -> clean -> filter -> dedup -> split -> shard, with a manifest of every decision.

Workers clean, filter and sign documents in parallel; the main process keeps source order for
dedup and writing, so the output is byte-identical for any number of workers.
"""
from __future__ import annotations

import hashlib
import json
import lzma
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from training.atomic import atomic_dir
from training.config import CorpusConfig
from training.corpus.clean import clean_text
from training.corpus.dedup import Deduplicator, content_hash, minhash_signature
from training.corpus.filters import reject_reason
from training.corpus.progress import Tracker
from training.corpus.readers import (
    Document,
    ReadError,
    kind_of,
    list_source_files,
    read_documents,
)
from training.errors import DataError

BATCH_BYTES = 32_000_000  # text handed to the workers at a time: bounds memory for any corpus size
MAX_ERRORS_LISTED = 1000
XZ_PRESET = 1  # fast; the shards are read far more often than written, and size matters little here


@dataclass
class Processed:
    text: str
    input_bytes: int
    boilerplate_lines: int
    reason: str | None
    exact_key: str = ""
    signature: object = None


def process(text: str, config: CorpusConfig) -> Processed:
    """Everything about one document that does not depend on other documents."""
    input_bytes = len(text.encode("utf-8"))
    text, boilerplate = clean_text(text)
    reason = reject_reason(text, config)
    if reason:
        return Processed("", input_bytes, boilerplate, reason)
    return Processed(text, input_bytes, boilerplate, None, content_hash(text), minhash_signature(text, config))


_worker_config: CorpusConfig | None = None


def _init_worker(config: CorpusConfig) -> None:
    global _worker_config
    _worker_config = config


def _process_in_worker(text: str) -> Processed:
    return process(text, _worker_config)


def doc_id(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def split_of(identifier: str, val_fraction: float) -> str:
    """Deterministic split by document hash: the same text always lands in the same split."""
    return "val" if int(identifier, 16) / 16 ** len(identifier) < val_fraction else "train"


class ShardWriter:
    """Writes `{split}-00000.jsonl.xz`, ... rolling over after `shard_bytes` of text."""

    def __init__(self, out_dir: Path, split: str, shard_bytes: int):
        self.out_dir, self.split, self.shard_bytes = out_dir, split, shard_bytes
        self.shards: list[dict] = []
        self.file = None
        self.docs = self.bytes = 0

    def write(self, record: dict, text_bytes: int) -> None:
        if self.file is None:
            name = f"{self.split}-{len(self.shards):05d}.jsonl.xz"
            self.file = lzma.open(self.out_dir / name, "wb", preset=XZ_PRESET)
            self.shards.append({"file": name, "docs": 0, "bytes": 0})
        self.file.write((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
        self.shards[-1]["docs"] += 1
        self.shards[-1]["bytes"] += text_bytes
        self.docs += 1
        self.bytes += text_bytes
        if self.shards[-1]["bytes"] >= self.shard_bytes:
            self.close()

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None
            shard = self.shards[-1]
            shard["sha256"] = hashlib.sha256((self.out_dir / shard["file"]).read_bytes()).hexdigest()


def _new_counts() -> dict:
    return {"docs_read": 0, "bytes_read": 0, "docs_kept": 0, "bytes_kept": 0, "errors": 0}


class Build:
    """The state of one build: counters, errors, dedup index and shard writers."""

    def __init__(self, out_dir: Path, config: CorpusConfig):
        self.config = config
        self.sources: dict[str, dict] = {}
        self.filters: dict[str, dict] = defaultdict(lambda: {"docs": 0, "bytes": 0})
        self.errors: list[dict] = []
        self.errors_total = 0
        self.boilerplate_lines = 0
        self.dedup = Deduplicator(config)
        self.writers = {s: ShardWriter(out_dir, s, config.shard_bytes) for s in ("train", "val")}

    def error(self, item: ReadError) -> None:
        self.sources.setdefault(item.source, _new_counts())["errors"] += 1
        self.errors_total += 1
        if len(self.errors) < MAX_ERRORS_LISTED:
            self.errors.append(item.as_dict())

    def add(self, doc: Document, result: Processed) -> None:
        counts = self.sources.setdefault(doc.source, _new_counts())
        counts["docs_read"] += 1
        counts["bytes_read"] += result.input_bytes
        self.boilerplate_lines += result.boilerplate_lines
        reason = result.reason or self.dedup.check(result.exact_key, result.signature)
        if reason:
            self.filters[reason]["docs"] += 1
            self.filters[reason]["bytes"] += result.input_bytes
            return
        counts["docs_kept"] += 1
        counts["bytes_kept"] += result.input_bytes
        identifier = doc_id(result.text)
        text_bytes = len(result.text.encode("utf-8"))
        record = {"id": identifier, "text": result.text, "source": doc.source}
        self.writers[split_of(identifier, self.config.val_fraction)].write(record, text_bytes)

    def manifest(self, sources_given: list[str]) -> dict:
        for writer in self.writers.values():
            writer.close()
        kept = {"docs": sum(s["docs_kept"] for s in self.sources.values()),
                "bytes": sum(s["bytes_kept"] for s in self.sources.values())}
        return {
            "version": 1,
            "config": {**self.config.model_dump(), "sources": sources_given},
            "sources": dict(sorted(self.sources.items())),
            "filters": {"kept": kept, **dict(sorted(self.filters.items())),
                        "boilerplate_lines_removed": self.boilerplate_lines},
            "splits": {s: {"docs": w.docs, "bytes": w.bytes} for s, w in self.writers.items()},
            "shards": [shard for w in self.writers.values() for shard in w.shards],
            "errors": self.errors,
            "errors_total": self.errors_total,
        }


def _documents(files: list[tuple[Path, str]], build: Build, config: CorpusConfig, tracker: Tracker) -> Iterator[Document]:
    for path, source in files:
        tracker.start(path)
        if kind_of(path) is None:
            build.error(ReadError(source, "file", "not a .txt or .jsonl file (optionally .xz/.gz/.zst): skipped"))
            continue
        for item in read_documents(path, source, config.max_line_bytes, tracker):
            if isinstance(item, ReadError):
                build.error(item)
            else:
                yield item
        tracker.finish(path)


def _batches(documents: Iterator[Document]) -> Iterator[list[Document]]:
    batch, size = [], 0
    for doc in documents:
        batch.append(doc)
        size += len(doc.text)
        if size >= BATCH_BYTES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def build_corpus(sources: list[str | Path], out_dir: Path | str, config: CorpusConfig | None = None,
                 workers: int | None = None, progress: bool = True) -> Path:
    """Builds CORPUS_DIR from files and folders of .txt/.jsonl(.xz/.gz/.zst); returns `out_dir`."""
    config = config or CorpusConfig()
    if not sources:
        raise DataError("no corpus sources: pass files or folders, or set corpus.sources in the config")
    files = list_source_files(sources)
    workers = workers or os.cpu_count() or 1
    out_dir = Path(out_dir)
    tracker = Tracker(sum(p.stat().st_size for p, _ in files), show=progress)
    pool = None
    if workers > 1:
        import multiprocessing

        # forkserver, not fork: forking a process that already runs threads (a progress bar, a test's server) can
        # copy a held lock into a worker, which then waits forever
        pool = multiprocessing.get_context("forkserver").Pool(workers, _init_worker, (config,))
    try:
        with atomic_dir(out_dir) as tmp, tracker:
            build = Build(tmp, config)
            for batch in _batches(_documents(files, build, config, tracker)):
                texts = [doc.text for doc in batch]
                results = pool.imap(_process_in_worker, texts, chunksize=4) if pool else (process(t, config) for t in texts)
                for doc, result in zip(batch, results):
                    build.add(doc, result)
                tracker.docs_done(len(batch))
            manifest = build.manifest([str(s) for s in sources])
            (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    finally:
        if pool:
            pool.terminate()
    return out_dir
