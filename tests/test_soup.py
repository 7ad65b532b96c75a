"""train.decay_seeds: the WSD decay replayed with other batch orders from the trunk's decay start, and the average
of every decay's end as the pretrained model (training/soup.py), through `polski train` and the pipeline's stages."""
import pytest
import torch

from tests.polish_text import build_tiny_bins, build_tiny_tokenizer
from training.checkpoint import find_checkpoint, load_checkpoint
from training.cli import main
from training.config import dump_config, load_config
from training.errors import CheckpointError, ConfigError
from training.layout import sft_member_dir
from training.merge import average_runs
from training.metrics import latest_per_step, read_metrics

SOUP = {"optim": {"schedule": "wsd", "decay_fraction": 0.5, "warmup_steps": 1},
        "train": {"max_steps": 6, "checkpoint_interval": 100, "eval_interval": 2, "keep_last": 1, "sample_tokens": 0,
                  "micro_batch_size": 2, "decay_seeds": [7, 8]}}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("soup")
    tokenizer = build_tiny_tokenizer(root)
    config = root / "soup.toml"
    config.write_text(dump_config(load_config("polski-tiny", SOUP)))
    return tokenizer, build_tiny_bins(root, tokenizer), config


def _losses(run):
    return {r["step"]: r["loss"] for r in latest_per_step(read_metrics(run / "metrics.jsonl", "train"))}


def test_polski_train_with_decay_seeds_replays_the_decay_and_averages_the_ends(inputs, tmp_path):
    tokenizer, bins, config = inputs
    run = tmp_path / "run"
    assert main(["train", "--config", str(config), "--data", str(bins), "--out", str(run), "--tokenizer", str(tokenizer)]) == 0
    # keep_last = 1 pruned the decay's start from the run's checkpoints; its copy in decay-start/ stays
    assert [p.name for p in (run / "checkpoints").glob("step-*")] == ["step-000006"]
    assert load_checkpoint(run / "decay-start", weights_only=True).meta["step"] == 3
    trunk = _losses(run)
    for seed in (7, 8):
        branch = tmp_path / f"run-seed{seed}"
        (resumed,) = [e for e in read_metrics(branch / "metrics.jsonl", "event") if e["event"] == "resumed"]
        assert resumed["step"] == 3
        losses = _losses(branch)  # the trunk's curve up to the decay's start, then the branch's own
        assert all(losses[s] == trunk[s] for s in (1, 2, 3)) and all(losses[s] != trunk[s] for s in (4, 5, 6))
        records = read_metrics(branch / "metrics.jsonl")
        after = records[records.index(resumed) + 1:]
        assert [r["step"] for r in after if r["kind"] == "eval"] == [6]  # evaluated at its end only
        assert f"seed = {seed}" in (branch / "config.toml").read_text()
    ends = [load_checkpoint(tmp_path / r, weights_only=True).model_state for r in ("run", "run-seed7", "run-seed8")]
    soup = load_checkpoint(tmp_path / "run-soup", weights_only=True)
    assert soup.meta["step"] == 6 and len(soup.meta["merged"]["average_of"]) == 3
    assert (tmp_path / "run-soup" / "metrics.jsonl").read_text() == (run / "metrics.jsonl").read_text()
    for name, t in soup.model_state.items():
        torch.testing.assert_close(t.float(), sum(e[name].float() for e in ends) / 3)
    assert not torch.equal(ends[1]["tok_embeddings.weight"], ends[2]["tok_embeddings.weight"])

    # a second call trains nothing again; a branch lost with its files is replayed from decay-start
    finished = (tmp_path / "run-seed7" / "checkpoints" / "latest").stat().st_mtime_ns
    import shutil
    shutil.rmtree(tmp_path / "run-seed8")
    assert main(["train", "--config", str(config), "--data", str(bins), "--out", str(run), "--resume",
                 "--tokenizer", str(tokenizer)]) == 0
    assert (tmp_path / "run-seed7" / "checkpoints" / "latest").stat().st_mtime_ns == finished
    assert load_checkpoint(tmp_path / "run-seed8", weights_only=True).meta["step"] == 6
    assert find_checkpoint(tmp_path / "run-soup") is not None


def test_the_pipeline_tunes_the_soup(inputs, tmp_path):
    from training import pipeline_steps
    from training.layout import pretrained_run

    tokenizer, bins, config_path = inputs
    config = load_config(config_path, {"paths": {"work_dir": str(tmp_path / "work")}, "sft": {"max_steps": 1, "sources": []}})
    (tmp_path / "work").mkdir()
    import shutil
    shutil.copytree(bins, config.paths.bins)
    shutil.copytree(tokenizer, config.paths.tokenizer)
    pipeline_steps.train(config)
    assert pretrained_run(config) == tmp_path / "work" / "run-soup"
    pipeline_steps.sft(config)  # no chat sources: the pretrained model is copied as the SFT's output
    soup = load_checkpoint(pretrained_run(config), weights_only=True).model_state
    assert torch.equal(load_checkpoint(config.paths.sft, weights_only=True).model_state["tok_embeddings.weight"], soup["tok_embeddings.weight"])


def test_a_soup_needs_wsd_distinct_seeds_and_a_decay_start(inputs, tmp_path):
    tokenizer, bins, config = inputs
    with pytest.raises(ConfigError, match='decay_seeds needs optim.schedule = "wsd"'):
        load_config("polski-tiny", {"train": {"decay_seeds": [2]}})
    with pytest.raises(ConfigError, match="must differ from each other and from train.seed"):
        load_config("polski-tiny", {"optim": {"schedule": "wsd"}, "train": {"decay_seeds": [2, 2]}})
    plain = tmp_path / "plain"
    assert main(["train", "--config", "polski-tiny", "--data", str(bins), "--out", str(plain), "--max-steps", "2",
                 "--tokenizer", str(tokenizer)]) == 0
    from training.soup import train_decay_soup
    with pytest.raises(CheckpointError, match="the decay.s start"):
        train_decay_soup(load_config(config), bins, plain, console=lambda *_: None)
    with pytest.raises(ConfigError, match="at least two runs"):
        average_runs([plain], tmp_path / "one")
    assert main(["merge", str(plain), str(plain), str(plain), "--out", str(tmp_path / "m"), "--base-share", "0.5"]) != 0


def test_sft_seeds_tune_once_per_seed_and_average_the_ends(tiny_run, tmp_path):
    """sft.seeds: `polski sft` and the pipeline's stage tune the pretrained model once per seed, each as SFT_DIR-seedS,
    and write their uniform average as SFT_DIR; a second call tunes nothing again."""
    import shutil

    from training import pipeline_steps

    pretrained, chats = tiny_run.parent / "pretrain", tiny_run.parent / "sft.jsonl"
    config_path = tmp_path / "sft-soup.toml"
    config = load_config("polski-tiny", {"sft": {"sources": [str(chats)], "max_steps": 4, "micro_batch_size": 4,
                                                   "lr": 1e-3, "seeds": [7]}})
    config_path.write_text(dump_config(config))
    out = tmp_path / "sft"
    assert main(["sft", "--config", str(config_path), "--init-from", str(pretrained), "--out", str(out)]) == 0
    members = [tmp_path / f"sft-seed{s}" for s in (config.train.seed, 7)]
    states = [load_checkpoint(m, weights_only=True).model_state for m in members]
    soup = load_checkpoint(out, weights_only=True)
    assert soup.meta["step"] == 4 and len(soup.meta["merged"]["average_of"]) == 2
    assert "seed = 7" in (members[1] / "config.toml").read_text()
    assert not torch.equal(states[0]["layers.0.attention.wq.weight"], states[1]["layers.0.attention.wq.weight"])
    for name, t in soup.model_state.items():
        torch.testing.assert_close(t.float(), (states[0][name].float() + states[1][name].float()) / 2)
    assert (out / "metrics.jsonl").read_text() == (members[0] / "metrics.jsonl").read_text()

    tuned = [(m / "checkpoints" / "latest").stat().st_mtime_ns for m in members]
    assert main(["sft", "--config", str(config_path), "--init-from", str(pretrained), "--out", str(out)]) == 0
    assert [(m / "checkpoints" / "latest").stat().st_mtime_ns for m in members] == tuned

    piped = config.model_copy(update={"paths": config.paths.model_copy(update={"work_dir": str(tmp_path / "work")})})
    shutil.copytree(pretrained, piped.paths.run)
    shutil.copytree(tiny_run.parent / "bins", piped.paths.bins)
    pipeline_steps.sft(piped)
    assert len(load_checkpoint(piped.paths.sft, weights_only=True).meta["merged"]["average_of"]) == 2
    assert find_checkpoint(sft_member_dir(piped.paths.sft, 7)) is not None

    with pytest.raises(ConfigError, match=r"sft.seeds \[7, 7\] must differ from each other and from train.seed"):
        load_config("polski-tiny", {"sft": {"seeds": [7, 7]}})
    with pytest.raises(ConfigError, match="its own data order"):
        load_config("polski-tiny", {"sft": {"seeds": [config.train.seed]}})
