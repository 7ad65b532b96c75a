"""A rich progress bar over the compressed bytes of the source files."""
from __future__ import annotations

import time
from pathlib import Path
from typing import IO


class Tracker:
    """Knows which file is being read and how far; shows it when `show` is set."""

    def __init__(self, total_bytes: int, show: bool = True):
        self.total = total_bytes
        self.show = show
        self.done_before = 0
        self.raw: IO[bytes] | None = None
        self.docs = 0
        self._last = 0.0
        self._progress = self._task = None

    def __enter__(self) -> "Tracker":
        if self.show:
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self._progress = Progress(TextColumn("[bold]corpus[/] {task.fields[docs]:>8,} docs"), BarColumn(),
                                      DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
            self._progress.start()
            self._task = self._progress.add_task("build", total=self.total, docs=0)
        return self

    def __exit__(self, *exc) -> None:
        if self._progress:
            self._refresh(force=True)
            self._progress.stop()

    def start(self, path: Path) -> None:
        self.raw = None

    def finish(self, path: Path) -> None:
        self.raw = None
        self.done_before += path.stat().st_size
        self._refresh(force=True)

    def update(self) -> None:
        self._refresh()

    def docs_done(self, n: int) -> None:
        self.docs += n
        self._refresh(force=True)

    def _refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        if self._progress is None or (not force and now - self._last < 0.2):
            return
        self._last = now
        position = self.done_before
        if self.raw is not None and not self.raw.closed:
            position += self.raw.tell()
        self._progress.update(self._task, completed=min(position, self.total), docs=self.docs)
