"""Text panels: progress/ETA, GPU, alerts, event log, latest samples. Model text is never parsed as markup."""
from __future__ import annotations

import datetime as dt

from rich.console import Group
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from training.monitor.gpu import GpuStat
from training.monitor.state import Alert, Progress, format_duration


def _clock(t: float | None) -> str:
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%H:%M:%S") if t else "--:--:--"


class ProgressPanel(Static):
    BORDER_TITLE = "progress"
    DEFAULT_CSS = "ProgressPanel { height: auto; border: round $primary-darken-2; }"

    def show(self, rows: list[tuple[str, Progress, dict | None]]) -> None:
        parts = []
        for name, p, last in rows:
            line = Text(f"{name}  step {p.step}")
            if p.max_steps:
                line.append(f"/{p.max_steps} ({p.fraction:.1%})  ETA {format_duration(p.eta_s)}")
            if p.tokens_seen is not None:
                line.append(f"  tokens {p.tokens_seen:,}")
            if last:
                for key, fmt in (("loss", "loss {:.4f}"), ("lr", "lr {:.2e}"), ("tokens_per_s", "{:,.0f} tok/s"), ("mfu", "MFU {:.1%}")):
                    v = last.get(key)
                    if isinstance(v, (int, float)):
                        line.append("  " + fmt.format(v))
            parts.append(line)
            if p.fraction is not None:
                parts.append(ProgressBar(total=1.0, completed=p.fraction, width=60))
        self.update(Group(*parts) if parts else Text("no metrics yet"))


class GpuPanel(Static):
    BORDER_TITLE = "GPU"
    DEFAULT_CSS = "GpuPanel { height: auto; border: round $primary-darken-2; }"

    def show(self, gpus: list[GpuStat], reason: str) -> None:
        if not gpus:
            self.update(Text(reason or "no GPU", style="dim"))
            return
        table = Table(box=None, pad_edge=False, expand=True)
        for col in ("GPU", "util", "memory", "temp", "power"):
            table.add_column(col)
        for g in gpus:
            table.add_row(f"{g.index} {g.name}", f"{g.utilization:.0f}%", f"{g.memory_used:.1f}/{g.memory_total:.1f} GiB",
                          f"{g.temperature:.0f}°C", f"{g.power:.0f}/{g.power_limit:.0f} W")
        self.update(table)


class AlertsPanel(Static):
    BORDER_TITLE = "alerts"
    DEFAULT_CSS = "AlertsPanel { height: auto; border: round $error; }"

    def show(self, alerts: list[tuple[str, Alert]]) -> None:
        if not alerts:
            self.update(Text("no alerts", style="green"))
            return
        text = Text()
        for i, (run, a) in enumerate(alerts):
            text.append(("\n" if i else "") + f"{'✖' if a.level == 'error' else '▲'} {run}: ", style="bold red" if a.level == "error" else "bold yellow")
            text.append(a.message)
        self.update(text)


class EventLog(Static):
    BORDER_TITLE = "events"
    DEFAULT_CSS = "EventLog { height: 1fr; border: round $primary-darken-2; overflow-y: auto; }"

    def show(self, events: list[tuple[str, dict]], limit: int = 50) -> None:
        text = Text()
        for i, (run, e) in enumerate(events[-limit:]):
            text.append(("\n" if i else "") + f"{_clock(e.get('time'))} {run} step {e.get('step', '?')} ", style="dim")
            text.append(str(e.get("event", "?")), style="bold")
            if e.get("message"):
                text.append(f" {e['message']}")
        self.update(text if events else Text("no events yet", style="dim"))


class SamplesPanel(Static):
    BORDER_TITLE = "latest samples"
    DEFAULT_CSS = "SamplesPanel { height: 1fr; border: round $primary-darken-2; overflow-y: auto; }"

    def show(self, samples: list[tuple[str, dict]], limit: int = 6) -> None:
        text = Text()
        for i, (run, s) in enumerate(samples[-limit:]):
            text.append(("\n" if i else "") + f"{run} step {s.get('step', '?')}: ", style="dim")
            text.append(str(s.get("prompt", "")), style="bold")
            text.append(str(s.get("text", s.get("completion", ""))))
        self.update(text if samples else Text("no samples yet", style="dim"))
