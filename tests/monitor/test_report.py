import json
from pathlib import Path

import matplotlib.image as mpimg

from training.report import write_run_report

DATA = Path(__file__).parent / "data" / "run-a"


def test_report_plots_and_summary(tmp_path):
    written = write_run_report(DATA, tmp_path / "report")
    for name in ("loss.png", "val_bpb.png", "lr.png", "grad_norm.png", "tokens_per_s.png", "mfu.png"):
        img = mpimg.imread(written[name])  # decodes as a PNG
        assert img.shape[0] > 100 and img.shape[1] > 100
        assert img[..., :3].std() > 0.01  # something is drawn
    md = written["report.md"].read_text()
    assert "| final loss | 2.247 |" in md  # the recorded run's last train loss
    assert "| final val_loss | 2.297 |" in md
    assert "spike_skipped×1" in md
    assert "<td>final loss</td><td>2.247</td>" in written["report.html"].read_text()


def test_a_resumed_runs_training_time_leaves_out_the_wait_for_its_resume(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    records = [{"step": 1, "time": 1000.0, "kind": "train", "loss": 3.0},
               {"step": 2, "time": 1010.0, "kind": "train", "loss": 2.9},
               {"step": 3, "time": 1020.0, "kind": "train", "loss": 2.8},  # 20 s, then a stop of two hours
               {"step": 2, "time": 9000.0, "kind": "event", "event": "resumed", "message": "resumed from step-000002"},
               {"step": 3, "time": 9001.0, "kind": "train", "loss": 2.8},
               {"step": 4, "time": 9031.0, "kind": "train", "loss": 2.7}]  # 30 s
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    md = write_run_report(run, tmp_path / "report")["report.md"].read_text()
    assert "| training time | 0:50 in 2 stretches" in md
