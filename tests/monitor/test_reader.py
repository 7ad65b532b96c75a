import json
import math
from pathlib import Path

from training.monitor.reader import MetricsReader
from training.monitor.state import AlertRules, alerts, progress

DATA = Path(__file__).parent / "data" / "run-a"


def _line(**rec) -> str:
    return json.dumps(rec) + "\n"


def test_recorded_run_is_read_and_torn_last_line_held_back():
    r = MetricsReader(DATA)
    assert r.poll() > 0
    d = r.data
    assert len(d.train) == 100 and d.train[-1]["step"] == 1000  # the torn step-1010 line is not parsed
    assert [e["event"] for e in d.events].count("checkpoint") == 5
    assert len(d.evals) == 5 and d.bad_lines == 0


def test_incremental_poll_completes_a_torn_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text(_line(step=1, time=1.0, kind="train", loss=5.0) + '{"step": 2, "time": 2.0, "kind": "tr')
    r = MetricsReader(tmp_path)
    assert r.poll() == 1
    with open(path, "a") as f:
        f.write('ain", "loss": 4.5}\n' + _line(step=2, time=2.1, kind="eval", val_loss=4.8))
    assert r.poll() == 2
    assert [x["loss"] for x in r.data.train] == [5.0, 4.5]
    assert r.data.evals[0]["val_loss"] == 4.8
    assert r.poll() == 0


def test_truncated_file_is_reread(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text(_line(step=1, time=1.0, kind="train", loss=5.0) * 3)
    r = MetricsReader(path)
    r.poll()
    path.write_text(_line(step=7, time=1.0, kind="train", loss=3.0))
    r.poll()
    assert [x["step"] for x in r.data.train] == [7]


def test_large_file_is_strided_but_keeps_rare_lines_and_tail(tmp_path):
    path = tmp_path / "metrics.jsonl"
    with open(path, "w") as f:
        for s in range(60_000):
            f.write(_line(step=s, time=float(s), kind="train", loss=3.0, lr=1e-3, max_steps=100_000))
            if s == 12_345:
                f.write('{"step": 12345, "time": 1.0, "kind": "train", "loss": null, "grad_norm": null}\n')
            if s == 23_456:
                f.write('{"step": 23456, "time": 1.0, "kind": "train", "loss": NaN}\n')
            if s % 1000 == 0:
                f.write(_line(step=s, time=float(s), kind="eval", val_loss=3.1))
    r = MetricsReader(path, max_points=1000, tail_lines=100, full_parse_bytes=0)
    r.poll()
    d = r.data
    assert d.stride > 1 and len(d.train) < 3000
    assert len(d.evals) == 60  # every eval line, none strided away
    assert d.train[-1]["step"] == 59_999
    assert any(x["loss"] is None for x in d.train)  # the non-finite lines were found by the regex pass
    assert any(x["step"] == 23_456 and x["loss"] != x["loss"] for x in d.train)
    assert any(a.kind == "nan" for a in alerts(d, now=60_000.0))


def test_alerts_nan_stall_val_rising_spike(tmp_path):
    path = tmp_path / "metrics.jsonl"
    lines = [_line(step=s, time=float(s), kind="train", loss=3.0 + 0.01 * (s % 3), max_steps=100) for s in range(50)]
    lines.append(_line(step=50, time=50.0, kind="train", loss=30.0, max_steps=100))
    lines += [_line(step=10 * i, time=float(i), kind="eval", val_loss=v) for i, v in enumerate([3.0, 2.9, 3.0, 3.1, 3.2])]
    path.write_text("".join(lines))
    r = MetricsReader(path)
    r.poll()
    kinds = {a.kind for a in alerts(r.data, now=50.0 + 11 * 60)}
    assert {"spike", "stalled", "val_rising"} <= kinds and "nan" not in kinds
    assert "stalled" not in {a.kind for a in alerts(r.data, now=51.0, rules=AlertRules(stall_minutes=10))}


def test_alloc_retries_alert_counts_only_recent_retries(tmp_path):
    """alloc_retries is a running count: 40 retries long ago are quiet, 6 in the last 100 steps warn."""
    path = tmp_path / "metrics.jsonl"
    counts = [40] * 150 + [40 + max(0, s - 193) for s in range(150, 200)]  # +1 a step from step 194: +6
    path.write_text("".join(_line(step=s, time=float(s), kind="train", loss=3.0, alloc_retries=c) for s, c in enumerate(counts)))
    r = MetricsReader(path)
    r.poll()
    found = [a for a in alerts(r.data, now=200.0) if a.kind == "alloc_retries"]
    assert len(found) == 1 and "6 times" in found[0].message and "micro_batch_size" in found[0].message
    assert not [a for a in alerts(r.data, now=200.0, rules=AlertRules(alloc_retries=7)) if a.kind == "alloc_retries"]
    quiet = tmp_path / "quiet.jsonl"
    quiet.write_text("".join(_line(step=s, time=float(s), kind="train", loss=3.0, alloc_retries=40) for s in range(200)))
    r = MetricsReader(quiet)
    r.poll()
    assert not [a for a in alerts(r.data, now=200.0) if a.kind == "alloc_retries"]


def test_progress_and_eta():
    r = MetricsReader(DATA)
    r.poll()
    p = progress(r.data)
    assert (p.step, p.max_steps) == (1000, 2000)
    assert math.isclose(p.fraction, 0.5)
    assert math.isclose(p.eta_s, 1000 * 0.5, rel_tol=1e-6)  # the recorded run does 2 steps/s
