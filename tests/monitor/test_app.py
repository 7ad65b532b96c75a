"""The dashboard on the recorded run (tests/monitor/data/run-a) with a fixed clock and no GPU."""
import io
import json
import shutil
from pathlib import Path

from textual.widgets import Static

from training.monitor.app import MonitorApp
from training.monitor.widgets.charts import MetricChart

DATA = Path(__file__).parent / "data" / "run-a"
CLOCK = 1767226200.0  # 100 s after the recorded run's last line


def _text(app, selector: str) -> str:
    """What the panel shows, as plain text."""
    from rich.console import Console

    console = Console(width=200, record=True, file=io.StringIO())
    console.print(app.query_one(selector, Static).content)
    return console.export_text()


async def test_dashboard_shows_progress_charts_events_and_alerts():
    app = MonitorApp([DATA], refresh_s=0, clock=lambda: CLOCK, gpu=False)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        assert "step 1000/2000 (50.0%)" in _text(app, "#progress")
        assert "ETA 8:20" in _text(app, "#progress")
        loss = app.query_one("#chart-loss", MetricChart)
        labels = [label for label, _, _ in loss.lines]
        assert labels == ["train", "val"] and loss.lines[1][2][-1] == 2.297
        bpb = app.query_one("#chart-bpb", MetricChart)  # val_bpb and every held-out text the run scored
        assert [label for label, _, _ in bpb.lines] == ["val", "bpb:news"] and len(bpb.lines[1][1]) == 5
        assert "spike_skipped" in _text(app, "#events") and "loss_scale" in _text(app, "#events")
        assert "1 spike(s) skipped" in _text(app, "#alerts")
        assert "GPU monitoring off" in _text(app, "#gpu")
        assert "żył sobie król" in _text(app, "#samples")


async def test_live_lines_and_stall_alert(tmp_path):
    run = tmp_path / "run-live"
    shutil.copytree(DATA, run)
    now = [CLOCK]
    app = MonitorApp([run], refresh_s=0, clock=lambda: now[0], gpu=False)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        assert "stalled" not in _text(app, "#alerts")
        with open(run / "metrics.jsonl", "a") as f:  # completes the torn line, then a NaN
            f.write('ain", "loss": 2.2, "max_steps": 2000}\n')
            f.write(json.dumps({"step": 1020, "time": CLOCK, "kind": "train", "loss": None, "max_steps": 2000}) + "\n")
        now[0] = CLOCK + 3600
        await pilot.press("r")
        await pilot.pause()
        assert "step 1020/2000" in _text(app, "#progress")
        alerts = _text(app, "#alerts")
        assert "NaN/inf at step 1020" in alerts and "no new metrics for 1:00:00" in alerts


async def test_two_runs_overlay(tmp_path):
    other = tmp_path / "run-b"
    shutil.copytree(DATA, other)
    app = MonitorApp([DATA, other], refresh_s=0, clock=lambda: CLOCK, gpu=False)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        labels = [label for label, _, _ in app.query_one("#chart-loss", MetricChart).lines]
        assert labels == ["run-a train", "run-a val", "run-b train", "run-b val"]


def test_dashboard_snapshot(snap_compare):
    app = MonitorApp([DATA], refresh_s=0, clock=lambda: CLOCK, gpu=False)
    assert snap_compare(app, terminal_size=(160, 50))
