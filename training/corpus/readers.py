"""Reading raw sources (.txt, .jsonl, optionally .xz/.gz/.zst) and CORPUS_DIR shards.

Bad input never crashes a build and never passes silently: every problem becomes a
`ReadError` that the build counts and names in its manifest.
"""
from __future__ import annotations

import gzip
import io
import json
import lzma
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator

from training.errors import DataError

COMPRESSED = {".xz", ".gz", ".zst"}
TEXT_KINDS = {".txt", ".jsonl"}
CHUNK = 1 << 20


@dataclass(frozen=True)
class Document:
    text: str
    source: str  # path relative to the source argument, e.g. "corpus/eltec-pol-000.jsonl.xz"
    where: str  # "line 12" inside the source, for error messages


@dataclass(frozen=True)
class ReadError:
    source: str
    where: str
    message: str

    def as_dict(self) -> dict:
        return {"source": self.source, "where": self.where, "error": self.message}


def kind_of(path: Path) -> str | None:
    """'.txt' or '.jsonl' for files we read (compressed or not), else None."""
    suffixes = path.suffixes[-2:]
    if suffixes and suffixes[-1] in COMPRESSED:
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes and suffixes[-1] in TEXT_KINDS else None


def decompressed(raw: IO[bytes], suffix: str) -> IO[bytes]:
    """The decompressed bytes of an open file, by its suffix (plain files pass through)."""
    if suffix == ".xz":
        return lzma.LZMAFile(raw)
    if suffix == ".gz":
        return gzip.GzipFile(fileobj=raw)
    if suffix == ".zst":
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(raw, closefd=True)
    return raw


def iter_lines(f: IO[bytes], max_line_bytes: int) -> Iterator[tuple[int, bytes | None]]:
    """(line number, bytes) per line; bytes is None for a line longer than `max_line_bytes`,
    which is skipped without ever holding more than `max_line_bytes` in memory."""
    number = 0
    while True:
        line = f.readline(max_line_bytes + 1)
        if not line:
            return
        number += 1
        if len(line) > max_line_bytes and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):  # drain the rest of the over-long line
                line = f.readline(CHUNK)
            yield number, None
            continue
        yield number, line


def looks_binary(head: bytes) -> bool:
    return b"\x00" in head[:8192]


def _read_documents(path: Path, source: str, max_line_bytes: int, tracker) -> Iterator[Document | ReadError]:
    kind = kind_of(path)
    with open(path, "rb") as raw, decompressed(raw, path.suffix) as stream:
        if tracker is not None:
            tracker.raw = raw  # progress follows the compressed bytes
        # xz/gz readers buffer themselves and yield what precedes a truncation; another buffer on top would lose it
        f = stream if hasattr(stream, "peek") else io.BufferedReader(stream, CHUNK)
        head = f.peek(8192)
        if not head:
            yield ReadError(source, "file", "empty file")
            return
        if looks_binary(head):
            yield ReadError(source, "start", "binary file (NUL bytes): not text")
            return
        if kind == ".jsonl":
            yield from _jsonl_documents(f, source, max_line_bytes, tracker)
        else:
            yield from _txt_document(f, source, max_line_bytes)


def _jsonl_documents(f: IO[bytes], source: str, max_line_bytes: int, tracker) -> Iterator[Document | ReadError]:
    for number, line in iter_lines(f, max_line_bytes):
        where = f"line {number}"
        if line is None:
            yield ReadError(source, where, f"line longer than {max_line_bytes} bytes skipped")
            continue
        if not line.strip():
            continue
        try:
            record = json.loads(line.decode("utf-8"))
        except UnicodeDecodeError as err:
            yield ReadError(source, where, f"invalid UTF-8 at byte {err.start}: record skipped")
            continue
        except json.JSONDecodeError as err:
            yield ReadError(source, where, f"invalid JSON ({err.msg}): record skipped")
            continue
        text = record.get("text") if isinstance(record, dict) else None
        if not isinstance(text, str):
            yield ReadError(source, where, 'no "text" string in the record: skipped')
            continue
        if tracker is not None:
            tracker.update()
        yield Document(text, source, where)


def _txt_document(f: IO[bytes], source: str, max_line_bytes: int) -> Iterator[Document | ReadError]:
    """The whole .txt file is one document; over-long or undecodable lines are dropped from it (and reported)."""
    parts: list[str] = []
    for number, line in iter_lines(f, max_line_bytes):
        if line is None:
            yield ReadError(source, f"line {number}", f"line longer than {max_line_bytes} bytes skipped")
            continue
        try:
            parts.append(line.decode("utf-8"))
        except UnicodeDecodeError as err:
            yield ReadError(source, f"line {number}", f"invalid UTF-8 at byte {err.start}: line skipped")
    yield Document("".join(parts), source, "file")


def read_documents(path: Path, source: str, max_line_bytes: int, tracker=None) -> Iterator[Document | ReadError]:
    """Documents of one file; a truncated or corrupt archive ends the file with a ReadError."""
    try:
        yield from _read_documents(path, source, max_line_bytes, tracker)
    except (EOFError, lzma.LZMAError, gzip.BadGzipFile, OSError, ValueError) as err:
        yield ReadError(source, "end", f"unreadable or truncated file: {type(err).__name__}: {err}".rstrip(": "))
    except Exception as err:  # zstandard raises its own ZstdError
        if type(err).__name__ != "ZstdError":
            raise
        yield ReadError(source, "end", f"corrupt zstd stream: {err}")


def list_source_files(sources: list[str | Path]) -> list[tuple[Path, str]]:
    """(file, source name) for every readable file under the given files/folders, in a fixed order."""
    found: list[tuple[Path, str]] = []
    for item in sources:
        root = Path(item)
        if root.is_dir():
            for path in sorted(p for p in root.rglob("*") if p.is_file()):
                found.append((path, f"{root.resolve().name}/{path.relative_to(root).as_posix()}"))
        elif root.is_file():
            found.append((root, root.name))
        else:
            raise DataError(f"source {item} does not exist: give .txt/.jsonl files or folders of them")
    return found


# ---------------------------------------------------------------- CORPUS_DIR


def corpus_shards(corpus_dir: Path, split: str) -> list[Path]:
    corpus_dir = Path(corpus_dir)
    if not (corpus_dir / "manifest.json").is_file():
        raise DataError(f"{corpus_dir} is not a corpus dir (no manifest.json): build it with `polski corpus build SOURCES --out {corpus_dir}`")
    return sorted(corpus_dir.glob(f"{split}-*.jsonl.xz"))


def iter_corpus_records(corpus_dir: Path, split: str) -> Iterator[dict]:
    for shard in corpus_shards(corpus_dir, split):
        with lzma.open(shard, "rb") as f:
            for line in f:  # split on b"\n" only: texts may hold U+2028
                if line.strip():
                    yield json.loads(line)


def iter_corpus_texts(corpus_dir: Path, split: str) -> Iterator[str]:
    for record in iter_corpus_records(corpus_dir, split):
        yield record["text"]


def iter_file_texts(path: Path, max_line_bytes: int = 100_000_000) -> Iterator[str]:
    """Texts of a .txt/.jsonl file; unlike a corpus build, bad input is an error here."""
    if kind_of(path) is None:
        raise DataError(f"{path}: expected a .txt or .jsonl file (optionally .xz/.gz/.zst)")
    for item in read_documents(path, path.name, max_line_bytes):
        if isinstance(item, ReadError):
            raise DataError(f"{path} {item.where}: {item.message}")
        yield item.text
