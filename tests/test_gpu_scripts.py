"""The shell scripts that move data to the GPU machine: what pack_data.sh writes, unpack_bins.sh restores exactly."""
import json
import math
import os
import shutil
import subprocess
import sys
import time
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


def _recipe_inputs(tmp_path) -> tuple[Path, Path]:
    """DATA as pack_data.sh leaves it (tiny bins, tokenizer, SFT rows, eval files) and a polski-tiny config."""
    from training.config import dump_config, load_config

    data = tmp_path / "data"
    tok = build_tiny_tokenizer(tmp_path)
    shutil.copytree(build_tiny_bins(tmp_path, tok), data / "bins")
    shutil.copytree(tok, data / "tokenizer")
    (data / "sft").mkdir()
    (data / "sft" / "chats.jsonl").write_text("".join(
        json.dumps({"instruction": "Dokończ zdanie.", "input": p[:40], "output": p[40:120]}, ensure_ascii=False) + "\n"
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

@pytest.mark.slow
def test_one_call_experiment_pretrains_then_tunes_evaluates_and_ranks_each_sft_variant(tmp_path):
    """scripts/gpu/experiment.sh (pretraining, then sft_sweep.sh in the same call): each variant's own lr and mix,
    its chat tasks, one GGUF kept; a later sft_sweep.sh call continues from what is evaluated."""
    from training.checkpoint import load_checkpoint
    from training.evals.compare import headline

    data, config = _recipe_inputs(tmp_path)
    work, out = tmp_path / "work", tmp_path / "out"
    variants = ["gentle:2:5e-5:0:from=step-000003", "mixed:3:1e-4:0.5:frozen"]
    done = _run_script("experiment.sh", data, work, out, config, *variants, KEEP="1", MERGES="0.5",
                       BARS="pairs accuracy>=0;ntrex128-pol.jsonl bpb<=100")
    assert "pretrain wall time" in done.stdout and done.stdout.count("sft ") == 2, done.stdout
    assert (out / "run.log").stat().st_size > 0
    assert "evaluated already" not in (out / "sweep.log").read_text()
    assert "lr = 5e-05" in (work / "sft-gentle" / "config.toml").read_text()
    assert "pretrain_mix = 0.5" in (work / "sft-mixed" / "config.toml").read_text()
    assert "trainable_embedding_rows = [4, 5]" in (work / "sft-mixed" / "config.toml").read_text()
    assert "trainable_embedding_rows" not in (work / "sft-gentle" / "config.toml").read_text()
    assert load_checkpoint(work / "sft-gentle-b50", weights_only=True).meta["merged"]["base_share"] == 0.5
    started = {name: load_checkpoint(work / f"sft-{name}", weights_only=True).meta["init_from"] for name in ("gentle", "mixed")}
    assert started == {"gentle": str((work / "run/checkpoints/step-000003").resolve()),
                       "mixed": str((work / "run/checkpoints/step-000006").resolve())}
    names = ("gentle", "mixed", "gentle-b50", "mixed-b50")
    figures = {name: headline(json.loads((out / f"eval-sft-{name}" / "eval.json").read_text())) for name in names}
    for f in figures.values():
        assert {"ntrex128-pol.jsonl bpb", "bins:val bpb", "pairs accuracy", "chat diacritics", "chat punctuation"} <= set(f)
    best = min(figures, key=lambda n: figures[n]["ntrex128-pol.jsonl bpb"])
    assert [p.name for p in out.glob("*.gguf")] == [f"{best}.gguf"]
    table = (out / "sft-sweep.md").read_text()
    assert table.count("| yes | yes |") == 1 and all(f"| {name} |" in table for name in names)
    assert (out / "eval-run" / "eval.json").is_file()
    # a second call skips what is evaluated already, and a bar no variant meets keeps no GGUF
    (out / f"{best}.gguf").unlink()
    again = _run_script("sft_sweep.sh", data, work, out, *variants, POLSKI_CONFIG=str(config), BARS="pairs accuracy>=1.1")
    assert again.stdout.count("evaluated already") == 2 and not list(out.glob("*.gguf"))
    # a variant tuned and exported but not evaluated (the deadline cut it) is evaluated, not tuned again
    tuned = (work / "sft-gentle" / "checkpoints" / "latest").stat().st_mtime_ns
    shutil.rmtree(out / "eval-sft-gentle")
    again = _run_script("sft_sweep.sh", data, work, out, *variants, POLSKI_CONFIG=str(config), MERGES="0.5")
    assert "gentle: tuned already, evaluating" in again.stdout and again.stdout.count("evaluated already") == 1
    assert (work / "sft-gentle" / "checkpoints" / "latest").stat().st_mtime_ns == tuned
    assert json.loads((out / "eval-sft-gentle" / "eval.json").read_text())["bpb"]
    bad = subprocess.run(["bash", str(ROOT / "scripts/gpu/sft_sweep.sh"), data, work, out, "odd:2:5e-5:0:fromstep-3"],
                         env={**os.environ, "POLSKI_CONFIG": str(config), "PYTHONPATH": str(ROOT)}, capture_output=True,
                         text=True, timeout=600)
    assert bad.returncode == 2 and "unknown option 'fromstep-3'" in bad.stdout
    missing = subprocess.run(["bash", str(ROOT / "scripts/gpu/sft_sweep.sh"), data, work, out, "fresh:2:5e-5:0",
                              "early:2:5e-5:0:from=step-000001"],
                             env={**os.environ, "POLSKI_CONFIG": str(config), "PYTHONPATH": str(ROOT)},
                             capture_output=True, text=True, timeout=600)
    assert missing.returncode == 2 and "early: no checkpoint step-000001" in missing.stdout
    assert "(kept: step-000003 step-000006" in missing.stdout and "keep_last" in missing.stdout
    assert not (work / "sft-fresh").exists()  # checked before any variant was tuned
    # seed=N tunes with another data order, turns=SHARE with multi-turn chains; AVERAGES evaluates soups of tuned variants and of a variant's checkpoints
    import torch

    _run_script("sft_sweep.sh", data, work, out, *variants, "seeded:2:5e-5:0:seed=9,turns=0.5", POLSKI_CONFIG=str(config), KEEP="0",
                AVERAGES="both=gentle+seeded path=mixed@step-000002+mixed")
    seeded_config = (work / "sft-seeded" / "config.toml").read_text()
    assert "seed = 9" in seeded_config and "multi_turn_share = 0.5" in seeded_config
    state = {name: load_checkpoint(work / f"sft-{name}", weights_only=True).model_state for name in ("gentle", "seeded", "both")}
    key = "layers.0.attention.wq.weight"
    assert not torch.equal(state["gentle"][key], state["seeded"][key])
    assert torch.allclose(state["both"][key], (state["gentle"][key] + state["seeded"][key]) / 2, atol=1e-6)
    for name in ("both", "path"):
        assert "chat punctuation" in headline(json.loads((out / f"eval-sft-{name}" / "eval.json").read_text()))


@pytest.mark.slow
def test_a_soup_of_decays_branches_at_the_decay_averages_the_ends_and_tunes_the_soup(tmp_path):
    """scripts/gpu/decay_soup.sh: each seed replays the decay from the run's checkpoint at its start with another
    data order; run-soup is the uniform average; sft_sweep.sh BASE=run-soup tunes it; a second call trains nothing."""
    import torch

    from training.checkpoint import load_checkpoint
    from training.config import dump_config, load_config
    from training.metrics import latest_per_step

    data, _ = _recipe_inputs(tmp_path)
    config = tmp_path / "wsd.toml"  # 6 steps, the decay from step 4 (0-based 3), the checkpoint at step 3 kept
    config.write_text(dump_config(load_config("polski-tiny", {
        "optim": {"schedule": "wsd", "decay_fraction": 0.5, "warmup_steps": 1},
        "train": {"max_steps": 6, "checkpoint_interval": 3, "eval_interval": 6, "sample_tokens": 0, "micro_batch_size": 2},
        "sft": {"max_steps": 2, "seeds": [3]}})))
    work, out = tmp_path / "work", tmp_path / "out"
    _run_script("train_polski_mini.sh", data, work, out, POLSKI_CONFIG=str(config), STAGES="pretrain")
    trained = (work / "run" / "metrics.jsonl").read_text()
    _run_script("train_polski_mini.sh", data, work, out, POLSKI_CONFIG=str(config), STAGES="pretrain")  # resumes: no work
    assert (work / "run" / "metrics.jsonl").read_text() == trained
    _run_script("decay_soup.sh", data, work, out, 7, 8, POLSKI_CONFIG=str(config))

    def losses(run):
        return {r["step"]: r["loss"] for r in latest_per_step(read_metrics(work / run / "metrics.jsonl", "train"))}

    trunk, branch = losses("run"), losses("run-seed7")
    (resumed,) = [e for e in read_metrics(work / "run-seed7" / "metrics.jsonl", "event") if e["event"] == "resumed"]
    assert resumed["step"] == 3 and "step-000003" in resumed["message"]
    assert "seed = 7" in (work / "run-seed7" / "config.toml").read_text()
    assert all(branch[s] != trunk[s] for s in (4, 5, 6))
    ends = [load_checkpoint(work / run, weights_only=True).model_state for run in ("run", "run-seed7", "run-seed8")]
    soup = load_checkpoint(work / "run-soup", weights_only=True).model_state
    name = "layers.0.attention.wq.weight"
    assert torch.allclose(soup[name], sum(e[name] for e in ends) / 3, atol=1e-6)
    assert not torch.allclose(ends[1][name], ends[2][name])
    table = (out / "soup.md").read_text()
    assert all(f"| {run} |" in table for run in ("run", "run-seed7", "run-seed8", "run-soup"))
    from training.metrics import segment_seconds
    trunk_s = sum(segment_seconds(read_metrics(work / "run" / "metrics.jsonl")))
    branch_s = [sum(segment_seconds(read_metrics(work / f"run-seed{s}" / "metrics.jsonl"))[1:]) for s in (7, 8)]
    assert 0 < branch_s[0] < trunk_s + branch_s[0] and f"= {trunk_s + sum(branch_s):.0f} s" in table
    assert (out / "metrics-run-seed8.jsonl").is_file() and "decay branches (seeds 7 8)" in (out / "timing.txt").read_text()

    # a variant's seed may be one of the decay's (WORK/soup.toml has decay_seeds = [7, 8]); a variant is one SFT, not
    # the config's soup of SFTs
    _run_script("sft_sweep.sh", data, work, out, "souped:2:5e-5:0:seed=7", POLSKI_CONFIG=str(work / "soup.toml"),
                BASE="run-soup", KEEP="0")
    assert "seed = 7" in (work / "sft-souped" / "config.toml").read_text() and not (work / "sft-souped-seed3").exists()
    assert load_checkpoint(work / "sft-souped", weights_only=True).meta["init_from"].startswith(str((work / "run-soup").resolve()))
    assert (out / "eval-sft-souped" / "eval.json").is_file()

    trained = (work / "run-seed7" / "checkpoints" / "latest").stat().st_mtime_ns
    evaluated = {run: (out / f"eval-{run}" / "eval.json").stat().st_mtime_ns for run in ("run", "run-seed7")}
    later = time.time() + 60  # as if a later session had trained a run of the same name into a machine's old /tmp
    os.utime(work / "run" / "metrics.jsonl", (later, later))
    again = _run_script("decay_soup.sh", data, work, out, 7, 8, POLSKI_CONFIG=str(config))
    assert "decay with seed" not in again.stdout and (work / "run-seed7" / "checkpoints" / "latest").stat().st_mtime_ns == trained
    assert (out / "eval-run-seed7" / "eval.json").stat().st_mtime_ns == evaluated["run-seed7"]
    assert (out / "eval-run" / "eval.json").stat().st_mtime_ns != evaluated["run"]  # older than its model: done again
    os.utime(work / "sft-souped" / "checkpoints" / "latest", (later, later))
    again = _run_script("sft_sweep.sh", data, work, out, "souped:2:5e-5:0", POLSKI_CONFIG=str(config), BASE="run-soup", KEEP="0")
    assert "souped: tuned already, evaluating" in again.stdout and "evaluated already" not in again.stdout
    cosine = tmp_path / "cosine.toml"
    cosine.write_text(dump_config(load_config("polski-tiny")))
    bad = subprocess.run(["bash", str(ROOT / "scripts/gpu/decay_soup.sh"), data, work, out, "7"],
                         env={**os.environ, "POLSKI_CONFIG": str(cosine), "PYTHONPATH": str(ROOT)},
                         capture_output=True, text=True, timeout=600)
    assert bad.returncode != 0 and 'decay_seeds needs optim.schedule = "wsd"' in bad.stderr


@pytest.mark.slow
def test_finish_variants_tunes_each_config_from_one_pretraining_in_its_own_work_dir(tmp_path):
    """scripts/gpu/finish_variants.sh: each config's [sft] and [refine] start from the one pretrained run, side by side,
    each in WORK-NAME with its own GGUF and evaluations; the pretrained model is evaluated once."""
    from training.checkpoint import load_checkpoint
    from training.config import dump_config, load_config

    data, config = _recipe_inputs(tmp_path)
    config.write_text(dump_config(load_config(config, {"refine": {"max_steps": 2, "multi_turn_share": 0.5}})))
    work, out = tmp_path / "work", tmp_path / "out"
    _run_script("train_polski_mini.sh", data, work, out, POLSKI_CONFIG=str(config), STAGES="pretrain")
    (tmp_path / "mix.toml").write_text(f'extends = "{config}"\n\n[refine]\npretrain_mix = 0.5\n')
    (tmp_path / "short.toml").write_text(f'extends = "{config}"\n\n[sft]\nmax_steps = 2\n\n'
                                         '[merge]\nbase_share = 0.25\ntensors = ["feed_forward"]\n')
    _run_script("finish_variants.sh", data, work, out, tmp_path / "mix.toml", tmp_path / "short.toml", SCREEN_SAMPLES="2",
                MERGES="0.5", MERGE_ONLY="feed_forward")
    assert not (work / "sft").exists()  # WORK keeps only the pretraining
    for name, sft_steps in (("mix", 3), ("short", 2)):
        sft = load_checkpoint(tmp_path / f"work-{name}" / "sft", weights_only=True)
        assert sft.meta["step"] == sft_steps and sft.meta["init_from"].startswith(str((work / "run").resolve()))
        refined = load_checkpoint(tmp_path / f"work-{name}" / "refine", weights_only=True)
        assert refined.meta["init_from"].startswith(str((tmp_path / f"work-{name}" / "sft").resolve()))
        last = "merge" if name == "short" else "refine"  # short's own [merge] is its last stage: exported and evaluated
        assert (out / name / "polski-mini.gguf").stat().st_size > 0 and (out / name / f"eval-{last}" / "eval.json").is_file()
    assert "pretrain_mix = 0.5" in (tmp_path / "work-mix" / "refine" / "config.toml").read_text()
    assert (out / "mix" / "eval-run" / "eval.json").is_file() and not (out / "short" / "eval-run").exists()
    screened = json.loads((out / "screen.json").read_text())["runs"]  # every chat model's replies, screened for loops
    runs = [tmp_path / f"work-{name}" / stage for name in ("mix", "short") for stage in ("merge-0.5", "refine")]
    runs.append(tmp_path / "work-short" / "merge")  # short's own [merge] stage, screened beside the MERGES
    assert sorted(screened) == sorted(map(str, runs))
    assert all(run["replies"] == 2 * 7 for run in screened.values())
    for name in ("mix", "short"):  # the merge: half the pretrained soup, half the chat model, evaluated like it
        merged = load_checkpoint(tmp_path / f"work-{name}" / "merge-0.5", weights_only=True)
        assert merged.meta["merged"]["base_share"] == 0.5 and (out / name / "eval-merge-0.5" / "eval.json").is_file()
        assert merged.meta["merged"]["only"] == ["feed_forward"]  # MERGE_ONLY: the MLPs alone
    picked = subprocess.run([sys.executable, str(ROOT / "scripts/gpu/pick_chat.py"), work, out, "--max-looping", "14"],
                            capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    ranking = (out / "ranking.md").read_text()
    assert picked.stdout.strip() in screened and all(run in ranking for run in screened)
    bare = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # as on the device: a script, not a package
    none = subprocess.run([sys.executable, str(ROOT / "scripts/gpu/pick_chat.py"), work, out, "--max-looping", "-1"],
                          capture_output=True, text=True, check=True, env=bare, cwd=tmp_path)
    assert none.stdout == ""  # no model passes the screen: nothing to bring back
