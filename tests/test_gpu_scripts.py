"""The shell scripts that move data to the GPU machine: what pack_data.sh writes, unpack_bins.sh restores exactly."""
import json
import os
import shutil
import subprocess
from pathlib import Path

from tests.conftest import missing_part
from tests.polish_text import build_tiny_bins, build_tiny_tokenizer

ROOT = Path(__file__).resolve().parents[1]


def test_pack_then_unpack_restores_the_bins_byte_for_byte(tmp_path):
    if shutil.which("zstd") is None:
        missing_part("the zstd command is missing: run scripts/setup.sh")
    work = tmp_path / "work"
    build_tiny_bins(work, build_tiny_tokenizer(tmp_path))
    shutil.copytree(build_tiny_tokenizer(tmp_path), work / "tokenizer")
    shared = tmp_path / "shared"
    (shared / "sft").mkdir(parents=True)
    (shared / "sft" / "pairs.jsonl").write_text('{"messages": []}\n')
    for name in ("heldout-text/ntrex128-pol.jsonl", "minimal-pairs/ud-agreement-pairs.jsonl"):
        (shared / "eval" / name).parent.mkdir(parents=True, exist_ok=True)
        (shared / "eval" / name).write_text('{"text": "Zażółć gęślą jaźń."}\n')
    (shared / "sft").chmod(0o555)  # ../shared is read-only

    data = tmp_path / "carry"
    subprocess.run(["bash", str(ROOT / "scripts/gpu/pack_data.sh"), str(work), str(data)], check=True,
                   env={"PATH": "/usr/bin:/bin", "SHARED": str(shared)}, capture_output=True)
    assert (data / "bins" / "train.bin.zst").is_file() and not (data / "bins" / "train.bin").exists()
    assert sorted(p.name for p in (data / "eval").iterdir()) == ["ntrex128-pol.jsonl", "ud-agreement-pairs.jsonl"]
    assert (data / "tokenizer" / "tokenizer.model").is_file() and (data / "sft" / "pairs.jsonl").is_file()

    device_work = tmp_path / "device"
    subprocess.run(["bash", str(ROOT / "scripts/gpu/unpack_bins.sh"), str(data), str(device_work)], check=True,
                   capture_output=True)
    for name in ("train.bin", "val.bin", "manifest.json", "train.idx.npy", "train.src.npy", "val.src.npy"):
        assert (device_work / "bins" / name).read_bytes() == (work / "bins" / name).read_bytes()
    # bins of another dataset left in WORK by an earlier run on the same machine are replaced, not mixed in
    (device_work / "bins" / "manifest.json").write_text('{"tokenizer_sha256": "another"}')
    (device_work / "bins" / "train.bin").write_bytes(b"\0\0")
    subprocess.run(["bash", str(ROOT / "scripts/gpu/unpack_bins.sh"), str(data), str(device_work)], check=True,
                   capture_output=True)
    for name in ("train.bin", "manifest.json"):
        assert (device_work / "bins" / name).read_bytes() == (work / "bins" / name).read_bytes()
    # packing again replaces the folder whole, read-only copies included
    subprocess.run(["bash", str(ROOT / "scripts/gpu/pack_data.sh"), str(work), str(data)], check=True,
                   env={"PATH": "/usr/bin:/bin", "SHARED": str(shared)}, capture_output=True)
    (shared / "sft").chmod(0o755)


def test_scaling_efficiency_is_read_from_two_runs_metrics(tmp_path):
    """benchmarks/scaling.py (called by scripts/gpu/zero2_scaling.sh): medians after the warm-up steps."""
    import sys

    import pytest

    from training.metrics import MetricsWriter

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from scaling import scaling

    for name, rate in (("one", 60_000), ("two", 111_000)):
        writer = MetricsWriter(tmp_path / f"{name}.jsonl")
        for step in range(1, 31):
            slow = step <= 10  # compilation: excluded
            writer.log("train", step, loss=5.0, tokens_per_s=rate / 20 if slow else rate + step, mfu=0.6)
    result = scaling(tmp_path / "one.jsonl", tmp_path / "two.jsonl", gpus=2, skip=10)
    assert result["tokens_per_s_1"] == 60_020 and result["tokens_per_s_2"] == 111_020
    assert result["efficiency"] == pytest.approx(111_020 / (2 * 60_020), abs=1e-3)
    with pytest.raises(SystemExit, match="no tokens_per_s after step 40"):
        scaling(tmp_path / "one.jsonl", tmp_path / "two.jsonl", gpus=2, skip=40)


def test_mfu_variants_runs_each_variant_in_its_own_process_and_keeps_its_result(tmp_path):
    """scripts/gpu/mfu_variants.sh with CPU smoke scenarios: a JSON and a log per variant, the mode passed through."""
    out = tmp_path / "out"
    run = subprocess.run(["bash", str(ROOT / "scripts/gpu/mfu_variants.sh"), str(out), "300", "tiny-fp32master:default",
                          "tiny-capped-rtn:reduce-overhead"], cwd=ROOT, capture_output=True, text=True, timeout=600,
                         env={**os.environ, "THROUGHPUT_ARGS": "--smoke --steps 1 --warmup 0"})
    assert run.returncode == 0, run.stderr
    assert run.stdout.count("exit 0") == 2, run.stdout
    results = {p.name: json.loads(p.read_text()) for p in out.glob("*.json")}
    assert sorted(results) == ["tiny-capped-rtn-reduce-overhead.json", "tiny-fp32master-default.json"]
    row = results["tiny-capped-rtn-reduce-overhead.json"]["scenarios"]["tiny-capped-rtn"]
    assert row["train"]["compile_mode"] == "reduce-overhead" and row["tokens_per_s"] > 0
