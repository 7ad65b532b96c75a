"""Incremental reader of RUN_DIR/metrics.jsonl: fast first load, then only the new bytes.

The first load of a long run does not parse every line: it memory-maps the file, finds the line
ends with numpy, and parses every eval/event/sample line (found by one regex pass), a stride of the
train lines (at most `max_points` of them), the last `tail_lines` lines in full, and every line that
holds a NaN/Infinity. Later polls read from the last offset and parse every new complete line.
A torn last line (a writer mid-append) is held back until its newline arrives.
"""
from __future__ import annotations

import json
import mmap
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from training.layout import METRICS_FILE, SAMPLES_FILE

# lines to parse even when strided over: non-train kinds, and non-finite losses (NaN/Infinity, or null as
# training/metrics.py writes them). One literal-prefixed pattern each: an alternation would scan 10x slower.
_RARE = [re.compile(p) for p in (rb'"kind":\s*"(?!train")', rb"NaN", rb"Infinity", rb'loss": null')]


@dataclass
class RunData:
    """Everything read so far from one run, split by kind, in file order."""

    train: list[dict] = field(default_factory=list)
    evals: list[dict] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    samples: list[dict] = field(default_factory=list)
    bad_lines: int = 0  # complete lines that were not JSON objects
    lines: int = 0  # complete lines in the file (parsed or strided over)
    stride: int = 1  # 1: every train line was parsed

    def add(self, rec: dict, default_kind: str = "train") -> None:
        kind = rec.get("kind", default_kind)
        {"eval": self.evals, "event": self.events, "sample": self.samples}.get(kind, self.train).append(rec)

    @property
    def last_train(self) -> dict | None:
        return self.train[-1] if self.train else None


def _parse(raw: bytes) -> dict | None:
    try:
        rec = json.loads(raw)
    except ValueError:
        return None
    return rec if isinstance(rec, dict) else None


class MetricsReader:
    """Follows one metrics.jsonl; `poll()` returns the number of new records and updates `data`."""

    def __init__(self, path: Path | str, max_points: int = 10_000, tail_lines: int = 2_000, default_kind: str = "train",
                 full_parse_bytes: int = 8 << 20):
        path = Path(path)
        self.default_kind = default_kind
        self.full_parse_bytes = full_parse_bytes  # files smaller than this are parsed line by line in full
        self.path = path / METRICS_FILE if path.is_dir() else path
        self.max_points = max_points
        self.tail_lines = tail_lines
        self.data = RunData()
        self.offset = 0  # bytes consumed (always at a line end)
        self._ino: int | None = None
        self.last_change: float | None = None  # mtime of the file when new bytes were last seen

    def reset(self) -> None:
        self.data, self.offset, self._ino = RunData(), 0, None

    def poll(self) -> int:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return 0
        if self._ino is not None and (st.st_ino != self._ino or st.st_size < self.offset):
            self.reset()  # replaced or truncated: start over
        self._ino = st.st_ino
        if st.st_size == self.offset:
            return 0
        with open(self.path, "rb") as f:
            if self.offset == 0:
                n = self._first_load(f, st.st_size)
            else:
                f.seek(self.offset)
                n = self._consume(f.read(st.st_size - self.offset))
        if n:
            self.last_change = st.st_mtime
        return n

    def _consume(self, chunk: bytes) -> int:
        end = chunk.rfind(b"\n") + 1  # bytes after the last newline are a torn line: wait for the rest
        n = 0
        for raw in chunk[:end].split(b"\n")[:-1]:
            self.data.lines += 1
            n += self._add_line(raw)
        self.offset += end
        return n

    def _add_line(self, raw: bytes) -> bool:
        """Adds one JSON line's record; blank lines are skipped and unparsable ones counted."""
        if not raw.strip():
            return False
        rec = _parse(raw)
        if rec is None:
            self.data.bad_lines += 1
            return False
        self.data.add(rec, self.default_kind)
        return True

    def _first_load(self, f, size: int) -> int:
        if size < self.full_parse_bytes:
            return self._consume(f.read(size))
        with mmap.mmap(f.fileno(), size, access=mmap.ACCESS_READ) as mm:
            buf = np.frombuffer(mm, dtype=np.uint8)
            ends = np.flatnonzero(buf == 10)
            del buf
            if not len(ends):
                return 0
            end = int(ends[-1]) + 1
            starts = np.concatenate(([0], ends[:-1] + 1))
            n_lines = len(ends)
            stride = max(1, (n_lines - self.tail_lines) // self.max_points)
            rare = [m.start() for pattern in _RARE for m in pattern.finditer(mm, 0, end)]
            chosen = np.concatenate((
                np.arange(0, n_lines, stride),
                np.searchsorted(ends, np.asarray(rare, dtype=np.int64)),
                np.arange(max(0, n_lines - self.tail_lines), n_lines),
            ))
            n = 0
            for i in np.unique(chosen).tolist():
                n += self._add_line(mm[starts[i]:ends[i]])
            self.data.lines = n_lines
            self.data.stride = stride
            self.offset = end
            return n


class SamplesReader:
    """Follows RUN_DIR/samples.jsonl (`{"step", "prompt", "text", ...}` a line) the same way."""

    def __init__(self, run_dir: Path | str):
        self._reader = MetricsReader(Path(run_dir) / SAMPLES_FILE, default_kind="sample")

    def poll(self) -> int:
        return self._reader.poll()

    @property
    def samples(self) -> list[dict]:
        return self._reader.data.samples
