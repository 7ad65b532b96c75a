"""Progress bar (done/failed, tokens/s, ETA) and the closing summary, both on stderr."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.text import Text


@dataclass
class Tally:
    done: int = 0
    failed: int = 0
    prompt_tokens: int = 0
    eval_tokens: int = 0
    latencies: list[float] = field(default_factory=list)
    ttfts: list[float] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def add(self, result: dict) -> None:
        self.done += 1
        if result.get("error"):
            self.failed += 1
            return
        self.prompt_tokens += result.get("prompt_eval_count") or 0
        self.eval_tokens += result.get("eval_count") or 0
        if result.get("total_s") is not None:
            self.latencies.append(result["total_s"])
        if result.get("ttft_s") is not None:
            self.ttfts.append(result["ttft_s"])

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def tokens_per_s(self) -> float:
        return self.eval_tokens / self.elapsed if self.elapsed > 0 else 0.0


class Reporter:
    def __init__(self, total: int, *, quiet: bool = False, console: Console | None = None):
        self.tally = Tally()
        self.quiet = quiet
        self.console = console or Console(stderr=True)
        self.progress = None
        if not quiet and total:
            self.progress = Progress(
                TextColumn("[bold]batch"), BarColumn(), MofNCompleteColumn(),
                TextColumn("failed {task.fields[failed]}"), TextColumn("{task.fields[tps]:.1f} tok/s"),
                TimeRemainingColumn(), console=self.console, transient=False)
            self.task = self.progress.add_task("batch", total=total, failed=0, tps=0.0)

    def __enter__(self) -> "Reporter":
        if self.progress:
            self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.progress:
            self.progress.stop()

    def add(self, result: dict) -> None:
        self.tally.add(result)
        if self.progress:
            self.progress.update(self.task, advance=1, failed=self.tally.failed, tps=self.tally.tokens_per_s)

    def note(self, message: str) -> None:
        if not self.quiet:
            self.console.print(Text(message), soft_wrap=True)

    def summary(self, *, skipped: int, failed_total: int, output: str, interrupted: bool) -> None:
        if self.quiet:
            return
        t = self.tally
        mean = sum(t.latencies) / len(t.latencies) if t.latencies else 0.0
        ttft = sum(t.ttfts) / len(t.ttfts) if t.ttfts else 0.0
        head = "interrupted" if interrupted else "done"
        lines = [
            f"{head}: {t.done - t.failed} ok, {t.failed} failed, {skipped} already done"
            f" ({failed_total} failed in the output) in {t.elapsed:.1f} s",
            f"tokens: {t.prompt_tokens} prompt, {t.eval_tokens} generated, {t.tokens_per_s:.1f} tok/s overall;"
            f" mean latency {mean:.2f} s, mean time to first token {ttft:.2f} s",
            f"output: {output}",
        ]
        if interrupted:
            lines.append("run the same command again to finish the rest")
        for line in lines:
            self.console.print(Text(line), soft_wrap=True)
