"""[refine]: a second, shorter chat SFT of the [sft] result, through `polski sft --refine` and the pipeline's stage."""
import shutil

import numpy as np
import pytest

from training.checkpoint import find_checkpoint, load_checkpoint
from training.cli import main
from training.config import dump_config, load_config
from training.errors import ConfigError
from training.layout import chat_run
from training.sft import refine_config

REFINE = {"max_steps": 4, "lr": 2e-4, "multi_turn_share": 0.5}


def _config(tiny_run, refine=REFINE):
    chats = tiny_run.parent / "sft.jsonl"
    overrides = {"sft": {"sources": [str(chats)], "max_steps": 60, "micro_batch_size": 8, "lr": 1e-3,
                         "pretrain_mix": 0.25, "seeds": [7]}}
    if refine is not None:
        overrides["refine"] = refine
    return load_config("polski-tiny", overrides)


def test_refine_replaces_only_the_settings_it_names_and_is_one_run(tiny_run):
    refined = refine_config(_config(tiny_run)).sft
    assert (refined.max_steps, refined.lr, refined.multi_turn_share) == (4, 2e-4, 0.5)
    assert (refined.pretrain_mix, refined.micro_batch_size, refined.seeds) == (0.25, 8, [])  # kept; no soup
    with pytest.raises(ConfigError, match=r"no \[refine\] table"):
        refine_config(_config(tiny_run, refine=None))
    with pytest.raises(ConfigError, match="refine"):
        load_config("polski-tiny", {"refine": {"lr": 1e-4}})  # max_steps is what makes it a stage


def test_polski_sft_refine_tunes_the_sft_result_with_the_refine_settings(tiny_run, tmp_path, capsys):
    config = tmp_path / "refine.toml"
    config.write_text(dump_config(_config(tiny_run)))
    out = tmp_path / "refine"
    assert main(["sft", "--config", str(config), "--refine", "--init-from", str(tiny_run), "--out", str(out),
                 "--bins", str(tiny_run.parent / "bins"), "--max-steps", "3"]) == 0
    tuned = load_checkpoint(out, weights_only=True)
    assert tuned.meta["step"] == 3  # --max-steps set refine.max_steps
    assert tuned.meta["init_from"] == str(load_checkpoint(tiny_run, weights_only=True).path.resolve())
    sft = tuned.meta["config"]["sft"]
    assert (sft["lr"], sft["multi_turn_share"], sft["seeds"]) == (2e-4, 0.5, [])
    assert not (tmp_path / "refine-seed7").exists()  # the [sft] soup's seeds are not the refine's

    bare = tmp_path / "bare.toml"
    bare.write_text(dump_config(_config(tiny_run, refine=None)))
    assert main(["sft", "--config", str(bare), "--refine", "--init-from", str(tiny_run), "--out", str(tmp_path / "x")]) == 2
    assert "no [refine] table" in capsys.readouterr().err


def test_the_pipeline_evaluates_and_exports_the_refined_model(tiny_run, tmp_path):
    from training import pipeline_steps
    from training.pipeline import plan

    config = _config(tiny_run)
    config = config.model_copy(update={"paths": config.paths.model_copy(update={"work_dir": str(tmp_path / "work")}),
                                       "eval": config.eval.model_copy(update={"samples": False})})
    stages = {s.name: s for s in plan(config, tmp_path / "c.toml", None, register=False)}
    assert list(stages)[4:7] == ["sft", "refine", "eval"]
    assert stages["refine"].inputs == ["sft"] and stages["eval"].inputs == stages["export"].inputs == ["refine"]
    assert "refine" not in [s.name for s in plan(_config(tiny_run, refine=None), tmp_path / "c.toml", None, False)]

    shutil.copytree(tiny_run, config.paths.sft)
    shutil.copytree(tiny_run.parent / "bins", config.paths.bins)
    pipeline_steps.refine(config)
    assert chat_run(config) == config.paths.refine
    assert load_checkpoint(config.paths.refine, weights_only=True).meta["step"] == 4
    pipeline_steps.export(config)
    from gguf import GGUFReader

    (embedding,) = [t.data for t in GGUFReader(config.paths.gguf(config.model.name)).tensors if t.name == "token_embd.weight"]
    for run, same in ((config.paths.refine, True), (config.paths.sft, False)):  # f16: the refined model's weights
        weights = load_checkpoint(run, weights_only=True).model_state["tok_embeddings.weight"].half().numpy()
        assert np.array_equal(np.asarray(embedding).reshape(weights.shape), weights) == same
    assert find_checkpoint(config.paths.sft) is not None  # the first stage's result stays

    no_chats = config.model_copy(update={"sft": config.sft.model_copy(update={"sources": []})})
    pipeline_steps.refine(no_chats)  # no chat data: the SFT stage's output (there the pretrained run) is the model
    assert load_checkpoint(config.paths.refine, weights_only=True).meta["step"] == load_checkpoint(tiny_run).meta["step"]


def test_zero_refine_steps_switch_an_inherited_refine_stage_off(tiny_run, tmp_path):
    from training.pipeline import plan

    base = tmp_path / "base.toml"
    base.write_text(dump_config(_config(tiny_run)))
    child = tmp_path / "child.toml"
    child.write_text(f'extends = "{base}"\n\n[refine]\nmax_steps = 0\n')
    config = load_config(child)
    assert config.refine is None and chat_run(config) == config.paths.sft
    assert "refine" not in [s.name for s in plan(config, child, None, register=False)]
    assert "[refine]" not in dump_config(config)


def test_repeat_seeds_run_the_refine_again_on_its_own_result_and_redo_only_changed_passes(tiny_run, tmp_path):
    config = tmp_path / "twice.toml"
    config.write_text(dump_config(_config(tiny_run, refine={**REFINE, "max_steps": 2, "repeat_seeds": [9]})))
    out = tmp_path / "refine"
    args = ["sft", "--config", str(config), "--refine", "--init-from", str(tiny_run), "--out", str(out),
            "--bins", str(tiny_run.parent / "bins")]
    assert main(args) == 0
    first, last = (load_checkpoint(run, weights_only=True) for run in (tmp_path / "refine-pass1", out))
    assert first.meta["init_from"] == str(load_checkpoint(tiny_run, weights_only=True).path.resolve())
    assert last.meta["init_from"] == str(first.path.resolve())  # the second pass tunes the first one's result
    assert [c.meta["config"]["train"]["seed"] for c in (first, last)] == [load_config(config).train.seed, 9]
    assert first.meta["step"] == last.meta["step"] == 2
    assert "repeat_seeds" not in last.meta["config"]["sft"]

    written = first.path.stat().st_mtime_ns

    changed = tmp_path / "changed.toml"  # another second pass: the first is kept, the last is tuned again
    changed.write_text(dump_config(_config(tiny_run, refine={**REFINE, "max_steps": 2, "repeat_seeds": [8]})))
    assert main([*args[:2], str(changed), *args[3:]]) == 0
    assert first.path.stat().st_mtime_ns == written
    again = load_checkpoint(out, weights_only=True).meta
    assert again["config"]["train"]["seed"] == 8 and again["init_from"] == str(first.path.resolve())

    lower = tmp_path / "lower.toml"  # another lr: every pass is tuned again
    lower.write_text(dump_config(_config(tiny_run, refine={**REFINE, "max_steps": 2, "lr": 1e-4, "repeat_seeds": [8]})))
    assert main([*args[:2], str(lower), *args[3:]]) == 0
    assert load_checkpoint(tmp_path / "refine-pass1", weights_only=True).path.stat().st_mtime_ns != written
    assert load_checkpoint(out, weights_only=True).meta["config"]["sft"]["lr"] == 1e-4
