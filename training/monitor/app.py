"""`polski monitor RUN_DIR [RUN_DIR ...]`: a Textual dashboard that follows training runs (works over SSH)."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from textual.app import App, ComposeResult
from textual.containers import Grid, Horizontal, Vertical
from textual.widgets import Footer, Header

from training.monitor.gpu import GpuProbe
from training.monitor.reader import MetricsReader, SamplesReader
from training.monitor.state import AlertRules, alerts, bpb_lines, line_keys, progress, series
from training.monitor.widgets.charts import MetricChart
from training.monitor.widgets.panels import AlertsPanel, EventLog, GpuPanel, ProgressPanel, SamplesPanel

# chart id -> (title, [(record group, key, label suffix)] or a function of the run's data giving them, log y)
CHARTS = {
    "loss": ("loss (train, val)", [("train", "loss", "train"), ("evals", "val_loss", "val")], False),
    "bpb": ("bits per byte (val, held-out)", bpb_lines, False),
    "lr": ("learning rate", [("train", "lr", "")], False),
    "grad_norm": ("grad norm", [("train", "grad_norm", "")], True),
    "tokens_per_s": ("tokens/s", [("train", "tokens_per_s", "")], False),
    "mfu": ("MFU", [("train", "mfu", "")], False),
}


class Run:
    """One followed RUN_DIR: its metrics and samples readers."""

    def __init__(self, run_dir: Path, name: str):
        self.dir, self.name = run_dir, name
        self.metrics = MetricsReader(run_dir)
        self.samples = SamplesReader(run_dir)

    def poll(self) -> int:
        return self.metrics.poll() + self.samples.poll()

    @property
    def all_samples(self) -> list[dict]:
        return self.metrics.data.samples + self.samples.samples


def run_names(dirs: list[Path]) -> list[str]:
    names = [d.resolve().name or str(d) for d in dirs]
    return [n if names.count(n) == 1 else f"{n}#{i}" for i, n in enumerate(names)]


class MonitorApp(App):
    CSS = """
    #charts { grid-size: 4 2; grid-gutter: 0 1; height: 2fr; }
    #bottom { height: 1fr; }
    #samples, #side { width: 1fr; }
    """
    TITLE = "polski monitor"
    BINDINGS = [("q", "quit", "quit"), ("r", "refresh_now", "refresh")]

    def __init__(self, run_dirs: list[Path | str], refresh_s: float = 2.0, clock: Callable[[], float] = time.time,
                 gpu: bool = True, rules: AlertRules = AlertRules()):
        super().__init__()
        dirs = [Path(d) for d in run_dirs]
        self.runs = [Run(d, n) for d, n in zip(dirs, run_names(dirs))]
        self.refresh_s, self.clock, self.rules = refresh_s, clock, rules
        self.gpu = GpuProbe(enabled=gpu)

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield ProgressPanel(id="progress")
        with Grid(id="charts"):
            for cid, (title, _, log_y) in CHARTS.items():
                yield MetricChart(title, log_y=log_y, id=f"chart-{cid}")
            yield GpuPanel(id="gpu")
        with Horizontal(id="bottom"):
            yield SamplesPanel(id="samples")
            with Vertical(id="side"):
                yield AlertsPanel(id="alerts")
                yield EventLog(id="events")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "  ".join(r.name for r in self.runs)
        self.update_views()
        if self.refresh_s > 0:
            self.set_interval(self.refresh_s, self.update_views)

    def action_refresh_now(self) -> None:
        self.update_views()

    def update_views(self) -> None:
        for run in self.runs:
            run.poll()
        multi = len(self.runs) > 1
        for cid, (_, keys, _) in CHARTS.items():
            lines = []
            for run in self.runs:
                for group, key, suffix in line_keys(keys, run.metrics.data):
                    xs, ys = series(getattr(run.metrics.data, group), key)
                    label = " ".join(p for p in ((run.name if multi else ""), suffix) if p) or key
                    lines.append((label, xs, ys))
            self.query_one(f"#chart-{cid}", MetricChart).set_lines(lines)
        gpus = self.gpu.read()
        self.query_one(GpuPanel).show(gpus, self.gpu.reason)
        self.query_one(ProgressPanel).show([(r.name, progress(r.metrics.data), r.metrics.data.last_train) for r in self.runs])
        now = self.clock()
        self.query_one(AlertsPanel).show([(r.name, a) for r in self.runs for a in alerts(r.metrics.data, now, self.rules, gpus)])
        events = sorted(((r.name, e) for r in self.runs for e in r.metrics.data.events), key=lambda x: x[1].get("time") or 0)
        self.query_one(EventLog).show(events)
        samples = sorted(((r.name, s) for r in self.runs for s in r.all_samples), key=lambda x: (x[1].get("time") or 0, x[1].get("step") or 0))
        self.query_one(SamplesPanel).show(samples)
