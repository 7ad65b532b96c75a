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
