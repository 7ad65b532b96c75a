"""The shell scripts that move data to the GPU machine: what pack_data.sh writes, unpack_bins.sh restores exactly."""
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import missing_part
from tests.polish_text import build_tiny_bins, build_tiny_tokenizer, polish_paragraphs, write_polish_jsonl
from training.metrics import read_metrics

ROOT = Path(__file__).resolve().parents[1]


def test_pack_then_unpack_restores_the_bins_byte_for_byte(tmp_path):
    if shutil.which("zstd") is None:
        missing_part("the zstd command is missing: run scripts/setup.sh")
    work = tmp_path / "work"
    build_tiny_bins(work, build_tiny_tokenizer(tmp_path))
    shutil.copytree(build_tiny_tokenizer(tmp_path), work / "tokenizer")
    (work / "chat").mkdir()
    (work / "chat" / "chat.jsonl").write_text('{"messages": []}\n')
    shared = tmp_path / "shared"
    for name in ("heldout-text/ntrex128-pol.jsonl", "minimal-pairs/ud-agreement-pairs.jsonl"):
        (shared / "eval" / name).parent.mkdir(parents=True, exist_ok=True)
        (shared / "eval" / name).write_text('{"text": "Zażółć gęślą jaźń."}\n')
    (shared / "eval").chmod(0o555)  # ../shared is read-only

    data = tmp_path / "carry"
    subprocess.run(["bash", str(ROOT / "scripts/gpu/pack_data.sh"), str(work), str(data)], check=True,
                   env={"PATH": "/usr/bin:/bin", "SHARED": str(shared)}, capture_output=True)
    assert (data / "bins" / "train.bin.zst").is_file() and not (data / "bins" / "train.bin").exists()
    assert sorted(p.name for p in (data / "eval").iterdir()) == ["ntrex128-pol.jsonl", "ud-agreement-pairs.jsonl"]
    assert (data / "tokenizer" / "tokenizer.model").is_file() and (data / "chat" / "chat.jsonl").is_file()

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
    (shared / "eval").chmod(0o755)

    # a train.bin.xz (the chat stage's windows) is restored too
    xz_data = tmp_path / "xz"
    shutil.copytree(work / "bins", xz_data / "bins")
    subprocess.run(["xz", "-z", str(xz_data / "bins" / "train.bin")], check=True)
    subprocess.run(["bash", str(ROOT / "scripts/gpu/unpack_bins.sh"), str(xz_data), str(tmp_path / "device-xz")], check=True,
                   capture_output=True)
    assert (tmp_path / "device-xz" / "bins" / "train.bin").read_bytes() == (work / "bins" / "train.bin").read_bytes()
    assert not (tmp_path / "device-xz" / "bins" / "train.bin.xz").exists()


def test_scaling_efficiency_is_read_from_two_runs_metrics(tmp_path):
    """benchmarks/scaling.py: medians after the warm-up steps."""
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


def _recipe_inputs(tmp_path) -> tuple[Path, Path]:
    """DATA as pack_data.sh leaves it (tiny bins, tokenizer, built conversations, eval files) and a polski-tiny config."""
    from training.config import dump_config, load_config

    data = tmp_path / "data"
    tok = build_tiny_tokenizer(tmp_path)
    shutil.copytree(build_tiny_bins(tmp_path, tok), data / "bins")
    shutil.copytree(tok, data / "tokenizer")
    (data / "chat").mkdir()
    (data / "chat" / "chat.jsonl").write_text("".join(
        json.dumps({"messages": [{"role": "user", "content": "Dokończ zdanie: " + p[:40]},
                                 {"role": "assistant", "content": p[40:120]}]}, ensure_ascii=False) + "\n"
        for p in polish_paragraphs()[:8]), encoding="utf-8")
    (data / "eval").mkdir()
    write_polish_jsonl(data / "eval" / "ntrex128-pol.jsonl")
    (data / "eval" / "tiny-pairs.jsonl").write_text(json.dumps(
        {"sentence_good": "Ala ma kota.", "sentence_bad": "Ala mają kota.", "phenomenon": "subject_verb_number"},
        ensure_ascii=False) + "\n", encoding="utf-8")
    config = tmp_path / "tiny.toml"
    config.write_text(dump_config(load_config("polski-tiny", {
        "train": {"max_steps": 6, "checkpoint_interval": 3, "eval_interval": 6, "sample_tokens": 0, "micro_batch_size": 2},
        "sft": {"max_steps": 3}})))
    return data, config


def _run_script(script: str, *args, **env) -> subprocess.CompletedProcess:
    env = {**os.environ, "POLSKI_DEVICE": "cpu", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), **env}
    done = subprocess.run(["bash", str(ROOT / "scripts/gpu" / script), *map(str, args)], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done


@pytest.mark.slow
@pytest.mark.parametrize("chat_tasks, soup", [("0", False), ("1", False), ("0", True)])
def test_the_polski_mini_recipe_script_runs_every_stage_on_a_cpu(tmp_path, chat_tasks, soup):
    """scripts/gpu/train_polski_mini.sh with polski-tiny on the CPU: pretraining, SFT, Q8_0 export, both evaluations;
    with train.decay_seeds the SFT starts from the soup of decays, and with [refine] a second SFT tunes the first."""
    from training.checkpoint import load_checkpoint
    from training.config import dump_config, load_config

    data, config = _recipe_inputs(tmp_path)
    if soup:
        config.write_text(dump_config(load_config(config, {"optim": {"schedule": "wsd", "decay_fraction": 0.5, "warmup_steps": 1},
                                                           "train": {"decay_seeds": [7]},
                                                           "refine": {"max_steps": 2, "multi_turn_share": 0.5}})))
    out, work = tmp_path / "out", tmp_path / "work"
    _run_script("train_polski_mini.sh", data, work, out, POLSKI_CONFIG=str(config), CHAT_TASKS=chat_tasks)
    base, chat = ("run-soup", "refine") if soup else ("run", "sft")
    assert load_checkpoint(work / "sft", weights_only=True).meta["init_from"].startswith(str((work / base).resolve()))
    assert (out / f"eval-{base}" / "eval.json").is_file() and (out / f"metrics-{base}.jsonl").is_file()
    assert (out / "polski-mini.gguf").stat().st_size > 0
    timings = [line.split(":")[0] for line in (out / "timing.txt").read_text().splitlines()]
    assert timings == ["pretrain wall time", "sft wall time"] + (["refine wall time"] if soup else [])
    if soup:
        refined = load_checkpoint(work / "refine", weights_only=True)
        assert refined.meta["init_from"].startswith(str((work / "sft").resolve())) and refined.meta["step"] == 2
    for stage in (base, chat):
        result = json.loads((out / f"eval-{stage}" / "eval.json").read_text())
        assert set(result["bpb"]) == {"ntrex128-pol.jsonl", "bins:val"} and set(result["minimal_pairs"]) == {"tiny-pairs.jsonl"}
        evals = read_metrics(out / f"metrics-{stage}.jsonl", "eval")
        assert evals and all(math.isfinite(e["bpb:ntrex128-pol"]) for e in evals)  # NTREX followed along the run
    tuned = json.loads((out / f"eval-{chat}" / "eval.json").read_text())
    assert bool(tuned.get("chat_tasks")) == (chat_tasks == "1")


@pytest.mark.slow
def test_a_second_pretrain_call_resumes_a_finished_run_and_trains_nothing(tmp_path):
    """STAGES=pretrain twice: the second call finds the finished run (and its finished decay branch) and rewrites nothing."""
    from training.config import dump_config, load_config

    data, _ = _recipe_inputs(tmp_path)
    config = tmp_path / "wsd.toml"  # 6 steps, the decay from step 4, one decay branch
    config.write_text(dump_config(load_config("polski-tiny", {
        "optim": {"schedule": "wsd", "decay_fraction": 0.5, "warmup_steps": 1},
        "train": {"max_steps": 6, "checkpoint_interval": 3, "eval_interval": 6, "sample_tokens": 0, "micro_batch_size": 2,
                  "decay_seeds": [7]}})))
    work, out = tmp_path / "work", tmp_path / "out"
    _run_script("train_polski_mini.sh", data, work, out, POLSKI_CONFIG=str(config), STAGES="pretrain")
    trained = {run: (work / run / "metrics.jsonl").read_text() for run in ("run", "run-seed7")}
    assert (work / "run-soup").is_dir()
    _run_script("train_polski_mini.sh", data, work, out, POLSKI_CONFIG=str(config), STAGES="pretrain")
    assert {run: (work / run / "metrics.jsonl").read_text() for run in trained} == trained


def test_subset_bins_keeps_whole_random_documents_and_the_val_split(tmp_path):
    import numpy as np

    from training.data import TokenBins

    bins = build_tiny_bins(tmp_path / "work", build_tiny_tokenizer(tmp_path))
    full = TokenBins(bins, "train")
    subprocess.run(["python3", str(ROOT / "scripts/gpu/subset_bins.py"), str(bins), str(tmp_path / "sub"),
                    "--tokens", str(full.num_tokens // 3)], check=True, capture_output=True)
    sub = TokenBins(tmp_path / "sub", "train")  # its manifest agrees with its files (TokenBins checks the size)
    assert full.num_tokens // 3 <= sub.num_tokens < full.num_tokens and 0 < sub.num_docs < full.num_docs
    originals = {full.document(i).tobytes() for i in range(full.num_docs)}
    assert all(sub.document(i).tobytes() in originals for i in range(sub.num_docs))  # whole documents, unchanged
    assert (tmp_path / "sub" / "val.bin").read_bytes() == (Path(bins) / "val.bin").read_bytes()
    assert len(sub.doc_sources) == sub.num_docs and np.all(sub.doc_sources < len(sub.source_names))
