"""The output file is the journal: one JSON object per finished record, appended, flushed and fsynced.

A record is done exactly when its line is in the file. Opening recovers from a kill: a torn last line
(no newline) is cut off, the finished ids are read back, and the file is locked so that two runs can
never write the same output. Outputs to stdout (`-`) are plain streams without resume.
"""
from __future__ import annotations

import csv
import fcntl
import json
import os
import sys
from pathlib import Path

from training.atomic import atomic_path, fsync_dir

from .inputs import InputError, id_key

CSV_COLUMNS = ["id", "model", "prompt", "messages", "system", "response", "done_reason", "prompt_eval_count",
               "eval_count", "ttft_s", "total_s", "tokens_per_s", "options", "error", "attempts"]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def dumps(record: dict) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


class Journal:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        existed = self.path.exists()
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            raise InputError(f"another `purple batch` is writing {self.path}; wait for it or choose another -o") from None
        if not existed:
            fsync_dir(self.path.parent)
        try:
            self.records: list[dict] = self._recover()
        except BaseException:
            os.close(self.fd)
            raise

    def _recover(self) -> list[dict]:
        data = b""
        with open(self.path, "rb") as f:
            data = f.read()
        end = data.rfind(b"\n") + 1
        if end != len(data):  # a torn last line from a kill: it never counted as written
            os.ftruncate(self.fd, end)
            os.fsync(self.fd)
            data = data[:end]
        records = []
        for n, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                assert isinstance(obj, dict) and "id" in obj
            except (json.JSONDecodeError, AssertionError):
                raise InputError(f"{self.path} line {n} is not a batch result; move the file away or delete the line") from None
            records.append(obj)
        return records

    def done(self) -> dict[str, dict]:
        return {id_key(r["id"]): r for r in self.records}

    def append(self, record: dict) -> None:
        data = (dumps(record) + "\n").encode("utf-8")
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view):]
        os.fsync(self.fd)
        self.records.append(record)

    def rewrite(self, records: list[dict]) -> None:
        """Atomically replaces the file with `records` (used to reorder or to drop failed records)."""
        new_fd = -1
        try:
            with atomic_path(self.path) as tmp:
                tmp.write_text("".join(dumps(r) + "\n" for r in records), encoding="utf-8")
                new_fd = os.open(tmp, os.O_RDWR | os.O_APPEND)
                fcntl.flock(new_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the lock moves with the inode
        except BaseException:
            if new_fd >= 0:
                os.close(new_fd)
            raise
        os.close(self.fd)
        self.fd = new_fd
        self.records = list(records)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def safe_cell(value) -> str | int | float:
    """A CSV cell that a spreadsheet will not run: text starting with = + - @ TAB CR gets a leading '."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return value
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_row(record: dict) -> list:
    return [safe_cell(record.get(c)) for c in CSV_COLUMNS]


def write_csv(path: Path, records: list[dict]) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(CSV_COLUMNS)
            writer.writerows(csv_row(r) for r in records)


class StdoutSink:
    """Results straight to stdout (no resume): JSON Lines, or CSV with a header."""

    def __init__(self, fmt: str):
        self.fmt = fmt
        self.records: list[dict] = []
        if fmt == "csv":
            self._csv = csv.writer(sys.stdout, lineterminator="\n")
            self._csv.writerow(CSV_COLUMNS)

    def done(self) -> dict[str, dict]:
        return {}

    def append(self, record: dict) -> None:
        if self.fmt == "csv":
            self._csv.writerow(csv_row(record))
        else:
            sys.stdout.write(dumps(record) + "\n")
        sys.stdout.flush()
        self.records.append(record)

    def close(self) -> None:
        pass

