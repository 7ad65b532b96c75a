import pytest
import torch

from training.checkpoint import load_checkpoint, load_gpt
from training.cli import main
from training.errors import CheckpointError, ConfigError
from training.merge import merge_runs, merge_weights


def test_merge_is_the_weighted_average_and_a_loadable_run(tiny_run, tmp_path):
    base = tiny_run.parent / "pretrain"
    assert main(["merge", str(base), str(tiny_run), "--out", str(tmp_path / "m"), "--base-share", "0.25"]) == 0
    a = load_checkpoint(base, weights_only=True).model_state
    b = load_checkpoint(tiny_run, weights_only=True).model_state
    merged = load_checkpoint(tmp_path / "m", weights_only=True)
    assert merged.meta["merged"]["base_share"] == 0.25
    chat_rows = [4, 5]  # <|im_start|>, <|im_end|>: pretraining never saw them, so they are the tuned run's
    for name, t in merged.model_state.items():
        expected = 0.25 * a[name].float() + 0.75 * b[name].float()
        if name == "tok_embeddings.weight":
            expected[chat_rows] = b[name][chat_rows].float()
            assert not torch.equal(expected[6:], b[name][6:].float())
        torch.testing.assert_close(t.float(), expected)
    assert any(not torch.equal(a[n], b[n]) for n in a), "the SFT changed nothing, so the test cannot tell"
    model, config, _ = load_gpt(tmp_path / "m")
    assert (tmp_path / "m" / "tokenizer" / "tokenizer.model").is_file()
    assert config.model == load_gpt(tiny_run)[1].model


def test_share_zero_keeps_the_tuned_weights(tiny_run, tmp_path):
    merge_runs(tiny_run.parent / "pretrain", tiny_run, tmp_path / "m", 0.0)
    b = load_checkpoint(tiny_run, weights_only=True).model_state
    merged = load_checkpoint(tmp_path / "m", weights_only=True).model_state
    assert all(torch.equal(merged[n], b[n]) for n in b)
    with pytest.raises(CheckpointError, match="choose a new --out"):
        merge_runs(tiny_run.parent / "pretrain", tiny_run, tmp_path / "m", 0.5)


def test_mismatched_checkpoints_and_shares_are_refused(tiny_run, tmp_path):
    w = {"x": torch.zeros(2, 3)}
    with pytest.raises(CheckpointError, match="model shape"):
        merge_weights(w, {"x": torch.zeros(3, 2)}, 0.5)
    with pytest.raises(CheckpointError, match="different tensors"):
        merge_weights(w, {"y": torch.zeros(2, 3)}, 0.5)
    with pytest.raises(ConfigError, match="outside 0..1"):
        merge_runs(tiny_run.parent / "pretrain", tiny_run, tmp_path / "m", 1.5)
    assert not (tmp_path / "m").exists()


def test_a_merged_run_is_a_start_not_a_run_to_resume(tiny_run, tmp_path):
    from training.train import train

    merge_runs(tiny_run.parent / "pretrain", tiny_run, tmp_path / "m", 0.5)
    config = load_gpt(tmp_path / "m")[1]
    with pytest.raises(CheckpointError, match="--init-from"):
        train(config, iter(()), tmp_path / "m", resume=True, console=lambda *_: None)


def test_the_pipeline_merges_the_last_chat_stage_back_toward_the_pretrained_run(tiny_run, tmp_path):
    """[merge] base_share: a stage after the chat stages whose run eval and export read; 0 switches it off."""
    import shutil

    from training import pipeline_steps
    from training.config import dump_config, load_config
    from training.pipeline import plan
    from training.layout import chat_run

    config = load_config("polski-tiny", {"sft": {"sources": [str(tiny_run.parent / "sft.jsonl")]},
                                         "merge": {"base_share": 0.25, "tensors": ["feed_forward"]},
                                         "paths": {"work_dir": str(tmp_path / "work")}})
    stages = {s.name: s for s in plan(config, tmp_path / "c.toml", None, register=False)}
    assert list(stages)[4:7] == ["sft", "merge", "eval"]
    assert stages["merge"].inputs == ["sft", "train"] and stages["eval"].inputs == stages["export"].inputs == ["merge"]
    shutil.copytree(tiny_run.parent / "pretrain", config.paths.run)
    shutil.copytree(tiny_run, config.paths.sft)
    for _ in range(2):  # made whole again on a second run, not refused for the first one's checkpoint
        pipeline_steps.merge(config)
    assert chat_run(config) == config.paths.merge
    merged = load_checkpoint(config.paths.merge, weights_only=True)
    assert merged.meta["merged"]["base_share"] == 0.25
    a = load_checkpoint(config.paths.run, weights_only=True).model_state
    b = load_checkpoint(config.paths.sft, weights_only=True).model_state
    assert merged.meta["merged"]["only"] == ["feed_forward"]
    for name, t in merged.model_state.items():  # the blocks' MLPs merged, the rest as the chat stage left it
        expected = 0.25 * a[name].float() + 0.75 * b[name].float() if "feed_forward" in name else b[name].float()
        torch.testing.assert_close(t.float(), expected)
    assert sum("feed_forward" in n for n in a) >= 3 and any(not torch.equal(a[n], b[n]) for n in a if "feed_forward" not in n)

    child = tmp_path / "child.toml"
    (tmp_path / "parent.toml").write_text(dump_config(config))
    child.write_text('extends = "parent.toml"\n\n[merge]\nbase_share = 0\n')
    off = load_config(child)
    assert off.merge is None and chat_run(off) == off.paths.sft
    assert "merge" not in [s.name for s in plan(off, child, None, register=False)]


def test_only_merges_the_named_tensors_and_refuses_a_name_no_tensor_has(tiny_run, tmp_path):
    base = tiny_run.parent / "pretrain"
    assert main(["merge", str(base), str(tiny_run), "--out", str(tmp_path / "m"), "--base-share", "0.5",
                 "--only", "attention.wq", "attention.wk"]) == 0
    a = load_checkpoint(base, weights_only=True).model_state
    b = load_checkpoint(tiny_run, weights_only=True).model_state
    merged = load_checkpoint(tmp_path / "m", weights_only=True).model_state
    for name, t in merged.items():
        picked = "attention.wq" in name or "attention.wk" in name
        torch.testing.assert_close(t.float(), 0.5 * a[name].float() + 0.5 * b[name].float() if picked else b[name].float())
    with pytest.raises(ConfigError, match="no tensor name contains 'feedforward'"):
        merge_runs(base, tiny_run, tmp_path / "m2", 0.5, ["feedforward"])
    assert not (tmp_path / "m2").exists()
