"""metrics.jsonl: an append-only log, one JSON object a line, flushed per line.

Writer: `MetricsWriter(path).log(kind, step, **fields)`. Reader: `read_metrics(path)` skips a torn
(half-written) last line and any line that is not a JSON object, so a live run can be read at any time.
A resumed run appends again from its checkpoint's step; `latest_per_step` keeps the last record of each
(kind, step), which is what a plot of a resumed run should show.
"""
from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import IO, Iterable, Iterator

KINDS = ("train", "eval", "event", "sample")


def _clean(value):
    """JSON has no NaN/Inf: write them as null so every reader can parse the line."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class MetricsWriter:
    def __init__(self, path: Path | str, fsync: bool = False):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fsync = fsync
        self._f: IO[str] = open(self.path, "a", encoding="utf-8")
        self._repair_torn_tail()

    def _repair_torn_tail(self) -> None:
        # a run killed mid-write leaves a line without "\n"; start ours on a fresh line
        size = self.path.stat().st_size
        if size:
            with open(self.path, "rb") as f:
                f.seek(size - 1)
                if f.read(1) != b"\n":
                    self._f.write("\n")
                    self._f.flush()

    def log(self, kind: str, step: int, **fields) -> dict:
        if kind not in KINDS:
            raise ValueError(f"unknown metrics kind {kind!r}")
        record = {"step": int(step), "time": round(time.time(), 3), "kind": kind}
        record.update({k: _clean(v) for k, v in fields.items()})
        self._f.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._f.flush()
        if self.fsync:
            os.fsync(self._f.fileno())
        return record

    def event(self, step: int, event: str, message: str, **fields) -> dict:
        return self.log("event", step, event=event, message=message, **fields)

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> "MetricsWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def iter_metrics(path: Path | str) -> Iterator[dict]:
    """Every well-formed record in file order; a missing file yields nothing."""
    try:
        f = open(path, encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return
    with f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # torn line of a run killed mid-write, or being written right now
            if isinstance(record, dict) and "step" in record and "kind" in record:
                yield record


def read_metrics(path: Path | str, kind: str | None = None) -> list[dict]:
    return [r for r in iter_metrics(path) if kind is None or r["kind"] == kind]


def latest_per_step(records: Iterable[dict]) -> list[dict]:
    """For each (kind, step) the last record written (a resumed run overwrites the steps it replays),
    ordered by step. Events are kept as they are."""
    last: dict[tuple[str, int], dict] = {}
    events: list[dict] = []
    for r in records:
        if r["kind"] == "event":
            events.append(r)
        else:
            last[(r["kind"], r["step"])] = r
    return sorted([*last.values(), *events], key=lambda r: r["step"])


def segment_seconds(records: Iterable[dict]) -> list[float]:
    """Seconds each stretch of a run took, from its first to its last record; a `resumed` event starts a new stretch,
    so the time a stopped run waited for its resume is not counted. Records in file order."""
    spans: list[list[float]] = [[]]
    for r in records:
        if r["kind"] == "event" and r.get("event") == "resumed":
            spans.append([])
        elif isinstance(r.get("time"), (int, float)):
            spans[-1].append(r["time"])
    return [max(s) - min(s) if s else 0.0 for s in spans]
