"""The shell scripts that move data to the GPU machine: what pack_data.sh writes, unpack_bins.sh restores exactly."""
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
    for name in ("train.bin", "val.bin", "manifest.json", "train.idx.npy"):
        assert (device_work / "bins" / name).read_bytes() == (work / "bins" / name).read_bytes()
    # packing again replaces the folder whole, read-only copies included
    subprocess.run(["bash", str(ROOT / "scripts/gpu/pack_data.sh"), str(work), str(data)], check=True,
                   env={"PATH": "/usr/bin:/bin", "SHARED": str(shared)}, capture_output=True)
    (shared / "sft").chmod(0o755)
