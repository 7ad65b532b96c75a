"""The training loop on polski-tiny, CPU: learning, guards, fp16 scaler, config errors, data order."""
import functools
import json
import math

import numpy as np
import pytest
import torch

from tests.polish_text import build_tiny_tokenizer
from training.checkpoint import load_checkpoint
from training.config import load_config, parse_config
from training.errors import CheckpointError, ConfigError, DataError
from training.loader import PackedRows, TokenWindows
from training.metrics import read_metrics
from training.schedule import lr_at
from training.train import Faults, TrainingStopped, pretrain

torch.set_num_threads(1)


def tiny_config(**train):
    base = {"micro_batch_size": 4, "max_steps": 30, "eval_interval": 1000, "checkpoint_interval": 1000,
            "log_interval": 1000, "sample_tokens": 0, "eval_batches": 2}
    return load_config("polski-tiny", {"train": {**base, **train}})


def test_loss_falls_and_the_run_dir_is_complete(tiny_data, tmp_path):
    bins, tok = tiny_data
    cfg = tiny_config(max_steps=40, eval_interval=40, sample_tokens=4, sample_prompts=["Polska jest"])
    out = pretrain(cfg, bins, tmp_path / "run", tok, console=lambda s: None)
    train = read_metrics(tmp_path / "run" / "metrics.jsonl", "train")
    losses = [r["loss"] for r in train]
    assert len(losses) == 40 and [r["step"] for r in train] == list(range(1, 41))
    assert np.mean(losses[-5:]) < np.mean(losses[:5]) - 0.8
    first = train[0]
    assert set(first) >= {"loss", "lr", "grad_norm", "tokens_per_s", "mfu", "tokens_seen", "gpu_mem_gb", "alloc_retries", "loss_scale", "max_steps"}
    assert first["mfu"] is None and first["tokens_seen"] == 4 * 128
    (ev,) = read_metrics(tmp_path / "run" / "metrics.jsonl", "eval")
    assert ev["val_bpb"] == pytest.approx(ev["val_loss"] / math.log(2) / (3061 / 1591), rel=0.05)
    assert out["val_loss"] == ev["val_loss"]
    samples = [json.loads(line) for line in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()]
    assert samples[0]["prompt"] == "Polska jest" and isinstance(samples[0]["text"], str)
    assert (tmp_path / "run" / "tokenizer" / "tokenizer.model").is_file()
    assert load_config(tmp_path / "run" / "config.toml") == cfg
    ckpt = load_checkpoint(tmp_path / "run")
    assert ckpt.meta["step"] == 40 and ckpt.meta["data_position"] == 40 and ckpt.meta["val_loss"] == ev["val_loss"]


def test_source_weights_reach_the_run_and_its_config(tiny_data, tmp_path):
    bins, tok = tiny_data
    cfg = tiny_config(max_steps=2, source_weights={"texts": 2.5})
    lines = []
    pretrain(cfg, bins, tmp_path / "run", tok, console=lines.append)
    tokens = json.loads((bins / "manifest.json").read_text())["splits"]["train"]["tokens"]
    assert f"source weights: {tokens:,} train tokens -> {int(tokens * 2.5):,} a pass, 2 pass(es) an epoch" in lines
    assert load_config(tmp_path / "run" / "config.toml").train.source_weights == {"texts": 2.5}


def test_the_decay_switches_to_its_own_data_mix_and_resumes_exactly_across_the_switch(tiny_data, tmp_path):
    """WSD over 8 steps with half in the decay: steps 1-4 see the same batches with or without a decay mix, steps 5-8
    another stream; a run stopped inside the decay and resumed continues on the decay's stream."""
    import shutil

    from training.metrics import latest_per_step

    bins, tok = tiny_data

    def config(**decay):
        cfg = load_config("polski-tiny", {"optim": {"schedule": "wsd", "decay_fraction": 0.5, "warmup_steps": 2},
                                          "train": {**tiny_config(max_steps=8).train.model_dump(), **decay,
                                                    "checkpoint_interval": 2, "keep_last": 4}})
        cfg.model.dropout = 0.0
        return cfg

    def losses(run):
        return {r["step"]: r["loss"] for r in latest_per_step(read_metrics(run / "metrics.jsonl", "train"))}

    lines = []
    pretrain(config(), bins, tmp_path / "plain", tok, console=lambda s: None)
    pretrain(config(decay_source_weights={"texts": 2.0}), bins, tmp_path / "mixed", tok, console=lines.append)
    plain, mixed = losses(tmp_path / "plain"), losses(tmp_path / "mixed")
    assert [mixed[s] for s in range(1, 5)] == [plain[s] for s in range(1, 5)]
    assert all(mixed[s] != plain[s] for s in range(5, 9))
    assert "decay data mix from step 5" in lines

    crashed = tmp_path / "crashed"
    shutil.copytree(tmp_path / "mixed", crashed)
    shutil.rmtree(crashed / "checkpoints" / "step-000008")
    (crashed / "checkpoints" / "latest").write_text("step-000006")
    pretrain(config(decay_source_weights={"texts": 2.0}), bins, crashed, tok, resume=True, console=lambda s: None)
    assert [losses(crashed)[s] for s in (7, 8)] == pytest.approx([mixed[7], mixed[8]], rel=1e-5)


def test_document_attention_reaches_the_model_and_changes_only_what_it_should(tiny_data, tmp_path):
    """Same seed and batches: the first step's loss differs from plain causal attention (the tiny windows hold
    several documents), the run trains, and the setting is saved with the run."""
    bins, tok = tiny_data
    losses = {}
    for on in (False, True):
        cfg = tiny_config(max_steps=3, document_attention=on)
        cfg.model.dropout = 0.0
        out = pretrain(cfg, bins, tmp_path / f"run-{on}", tok, console=lambda s: None)
        losses[on] = [r["loss"] for r in read_metrics(tmp_path / f"run-{on}" / "metrics.jsonl", "train")]
        assert math.isfinite(out["loss"])
    assert losses[True][0] != losses[False][0]
    assert load_config(tmp_path / "run-True" / "config.toml").train.document_attention is True


def test_heldout_texts_are_scored_at_every_eval_as_polski_eval_scores_them(tiny_data, tmp_path):
    from tests.polish_text import polish_paragraphs
    from training.evals.backends import torch_backend
    from training.evals.bpb import evaluate_bpb
    from training.report import write_run_report

    bins, tok = tiny_data
    news = tmp_path / "news.jsonl"
    texts = polish_paragraphs()[1::7][:5] + [" ".join(polish_paragraphs()[:6])]  # the last one spans windows
    news.write_text("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts), encoding="utf-8")
    lines = []
    pretrain(tiny_config(max_steps=20, eval_interval=10, heldout_texts=[str(news)]), bins, tmp_path / "run", tok,
             console=lines.append)
    evals = read_metrics(tmp_path / "run" / "metrics.jsonl", "eval")
    assert [e["step"] for e in evals] == [10, 20] and evals[1]["bpb:news"] < evals[0]["bpb:news"]
    expected = evaluate_bpb(torch_backend(tmp_path / "run"), texts, stride=64)  # half of polski-tiny's context
    assert evals[1]["bpb:news"] == pytest.approx(expected.bpb, rel=1e-4)
    assert any(f"bpb:news {evals[1]['bpb:news']:.4f}" in line for line in lines)
    report = write_run_report(tmp_path / "run", tmp_path / "report")
    assert f"| final bpb:news | {evals[1]['bpb:news']:.4g} |" in report["report.md"].read_text()


def test_heldout_texts_that_cannot_be_scored_name_the_fix(tiny_data, tmp_path):
    bins, tok = tiny_data
    (tmp_path / "a").mkdir()
    for path in (tmp_path / "empty.txt", tmp_path / "a" / "empty.txt"):
        path.write_text("  \n", encoding="utf-8")
    with pytest.raises(DataError, match="no text to score: fix train.heldout_texts"):
        pretrain(tiny_config(max_steps=1, heldout_texts=[str(tmp_path / "empty.txt")]), bins, tmp_path / "r1", tok)
    with pytest.raises(DataError, match="does not exist"):
        pretrain(tiny_config(max_steps=1, heldout_texts=[str(tmp_path / "nope.jsonl")]), bins, tmp_path / "r2", tok)
    good = tmp_path / "news.txt"
    good.write_text("Ala ma kota, a kot ma Alę.", encoding="utf-8")
    (tmp_path / "a" / "news.txt").write_text("Kot ma Alę.", encoding="utf-8")
    with pytest.raises(ConfigError, match="two files named news"):
        pretrain(tiny_config(max_steps=1, heldout_texts=[str(good), str(tmp_path / "a" / "news.txt")]), bins,
                 tmp_path / "r3", tok)


def test_resume_with_a_smaller_micro_batch_continues_at_the_same_sample(tiny_data, tmp_path):
    """After an out-of-memory error the fix is a smaller micro-batch and more accumulation; the resumed run must
    continue where the data left off (the position is converted through samples), not re-read earlier windows."""
    import shutil

    from training.metrics import latest_per_step

    bins, tok = tiny_data
    straight_cfg = tiny_config(max_steps=8, checkpoint_interval=4, keep_last=4)
    straight_cfg.model.dropout = 0.0
    pretrain(straight_cfg, bins, tmp_path / "straight", tok, console=lambda s: None)
    crashed = tmp_path / "crashed"
    shutil.copytree(tmp_path / "straight", crashed)
    shutil.rmtree(crashed / "checkpoints" / "step-000008")
    (crashed / "checkpoints" / "latest").write_text("step-000004")
    halved = straight_cfg.model_copy(deep=True)
    halved.train.micro_batch_size, halved.train.grad_accum_steps = 2, 2
    pretrain(halved, bins, crashed, tok, resume=True, console=lambda s: None)

    straight, resumed = ({r["step"]: r["loss"] for r in latest_per_step(read_metrics(run / "metrics.jsonl", "train"))}
                         for run in (tmp_path / "straight", crashed))
    assert [resumed[s] for s in range(5, 9)] == pytest.approx([straight[s] for s in range(5, 9)], rel=1e-5)
    (event,) = [e for e in read_metrics(crashed / "metrics.jsonl", "event") if e["event"] == "resumed"]
    assert "data position 16 samples (1 rank(s) x micro-batch 4) -> micro-batch 8 of 1 x 2" in event["message"]


def test_out_of_memory_names_the_fix_and_keeps_the_last_checkpoint(tiny_data, tmp_path):
    bins, tok = tiny_data
    run = tmp_path / "run"
    with pytest.raises(ConfigError) as err:
        pretrain(tiny_config(max_steps=8, checkpoint_interval=2), bins, run, tok, faults=Faults(oom_step=5), console=lambda s: None)
    message = str(err.value)
    assert "\n" not in message and message.startswith("CUDA out of memory at step 5 (micro_batch_size 4")
    assert "lower train.micro_batch_size" in message and "polski train --resume" in message
    ckpt = load_checkpoint(run)  # nothing half-written: the step-4 checkpoint is the latest and loads
    assert ckpt.meta["step"] == 4
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["latest", "step-000002", "step-000004"]
    assert max(r["step"] for r in read_metrics(run / "metrics.jsonl", "train")) == 4


def test_nan_loss_is_skipped_and_logged(tiny_data, tmp_path):
    bins, tok = tiny_data
    pretrain(tiny_config(max_steps=6), bins, tmp_path / "run", tok, faults=Faults(frozenset({3})), console=lambda s: None)
    events = read_metrics(tmp_path / "run" / "metrics.jsonl", "event")
    assert [(e["step"], e["event"]) for e in events if e["event"] == "nan_skipped"] == [(3, "nan_skipped")]
    weights = load_checkpoint(tmp_path / "run").model_state
    assert all(torch.isfinite(w).all() for w in weights.values())
    train = read_metrics(tmp_path / "run" / "metrics.jsonl", "train")
    assert train[2]["loss"] is None and train[2]["grad_norm"] is None and math.isfinite(train[5]["loss"])


def test_spike_guard_flags_jumps_but_not_noise_on_a_flat_curve():
    from training.train import SpikeGuard

    guard = SpikeGuard(window=100, zscore=6.0)
    assert guard.check(50.0) is None  # too little history to judge
    for i in range(30):
        guard.accept(3.0 + (0.001 if i % 2 else -0.001))
    assert guard.check(3.1) is None  # std is floored at 1% of the mean: 3.1 is 3.3 floors above, not 100 std
    assert guard.check(3.3) == "spike_skipped"
    assert guard.check(float("inf")) == "nan_skipped" and guard.check(float("nan")) == "nan_skipped"


def test_a_loss_spike_is_skipped_logged_and_training_goes_on(tiny_data, tmp_path):
    bins, tok = tiny_data
    run = tmp_path / "run"
    pretrain(tiny_config(max_steps=26), bins, run, tok, faults=Faults(spike_loss_steps=frozenset({24})), console=lambda s: None)
    events = [(e["step"], e["event"]) for e in read_metrics(run / "metrics.jsonl", "event") if e["event"].endswith("skipped")]
    assert events == [(24, "spike_skipped")]
    train = {r["step"]: r for r in read_metrics(run / "metrics.jsonl", "train")}
    assert train[24]["loss"] > 5 * train[23]["loss"]  # logged as it was
    assert train[24]["grad_norm"] is None  # the engine dropped the update instead of applying it
    assert train[23]["grad_norm"] > 0 and train[25]["grad_norm"] > 0 and train[26]["loss"] < 1.2 * train[23]["loss"]


def test_consecutive_skips_stop_with_the_last_good_checkpoint_intact(tiny_data, tmp_path):
    bins, tok = tiny_data
    cfg = tiny_config(max_steps=20, checkpoint_interval=2, max_consecutive_skips=3)
    with pytest.raises(TrainingStopped, match="step 7: 3 consecutive steps skipped.*step-000006"):
        pretrain(cfg, bins, tmp_path / "run", tok, faults=Faults(frozenset(range(5, 20))), console=lambda s: None)
    ckpt = load_checkpoint(tmp_path / "run")
    assert ckpt.meta["step"] == 6 and all(torch.isfinite(w).all() for w in ckpt.model_state.values())
    assert read_metrics(tmp_path / "run" / "metrics.jsonl", "event")[-1]["event"] == "stopped"


def test_fp16_with_dynamic_loss_scaling_runs_on_cpu(tiny_data, tmp_path):
    bins, tok = tiny_data
    out = pretrain(tiny_config(max_steps=4, precision="fp16"), bins, tmp_path / "run", tok, console=lambda s: None)
    train = read_metrics(tmp_path / "run" / "metrics.jsonl", "train")
    assert all(r["loss_scale"] is not None and r["loss_scale"] > 1 for r in train)
    assert math.isfinite(out["loss"])
    assert load_checkpoint(tmp_path / "run").train_state["engine"]["scaler"]["scale"] > 1


def test_existing_run_without_resume_is_refused(tiny_data, tmp_path):
    bins, tok = tiny_data
    pretrain(tiny_config(max_steps=1), bins, tmp_path / "run", tok, console=lambda s: None)
    with pytest.raises(CheckpointError, match="--resume"):
        pretrain(tiny_config(max_steps=2), bins, tmp_path / "run", tok, console=lambda s: None)
    wider = tiny_config(max_steps=2).model_dump()
    wider["model"]["d_model"] = 256
    with pytest.raises(CheckpointError, match="model.d_model"):
        pretrain(parse_config(wider), bins, tmp_path / "run", tok, resume=True, console=lambda s: None)


def test_bins_of_another_tokenizer_are_refused(tiny_data, tmp_path):
    bins, _ = tiny_data
    other = build_tiny_tokenizer(tmp_path, vocab_size=400)
    with pytest.raises(DataError, match="tokenizer"):
        pretrain(tiny_config(), bins, tmp_path / "run", other, console=lambda s: None)
    with pytest.raises(DataError, match="polski data tokenize"):
        pretrain(tiny_config(), tmp_path / "nobins", tmp_path / "run", other, console=lambda s: None)


@pytest.mark.parametrize("train, message", [
    ({"param_dtype": "bf16", "precision": "fp32"}, "needs precision"),
    ({"offload_optimizer": True}, "needs engine"),
    ({"micro_batch_size": 0}, "train.micro_batch_size"),
    ({"activation_checkpointing": "some"}, "train.activation_checkpointing"),
    ({"source_weights": {"*sejm*": -1.0}}, "train.source_weights: weights must be finite and >= 0"),
    ({"decay_source_weights": {"*sejm*": 0.5}}, 'decay_source_weights needs optim.schedule = "wsd"'),
])
def test_bad_train_settings_name_the_key(train, message):
    with pytest.raises(ConfigError, match=message):
        load_config("polski-tiny", {"train": train})


@pytest.mark.parametrize("tied", [True, False])
def test_weight_decay_reaches_matmul_weights_only(tied):
    from training.engines.base import param_groups
    from training.model import GPT

    cfg = load_config("polski-tiny", {"model": {"tie_embeddings": tied}})
    model = GPT(cfg.model)
    decay, no_decay = param_groups(model, 0.1)
    names = {id(p): n for n, p in model.named_parameters()}
    decayed = {names[id(p)] for p in decay["params"]}
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert all(n.endswith(("wq.weight", "wk.weight", "wv.weight", "wo.weight", "w1.weight", "w2.weight", "w3.weight", "output.weight"))
               for n in decayed)
    assert ("output.weight" in decayed) == (not tied)  # tied: the output projection is the embedding table
    assert {names[id(p)] for p in no_decay["params"]} == {n for n, _ in model.named_parameters()} - decayed
    assert "tok_embeddings.weight" not in decayed and not any("norm" in n for n in decayed)


@pytest.mark.parametrize("tied", [True, False])
def test_muon_takes_the_blocks_matrices_and_adamw_the_rest(tied):
    from training.engines.optim import build_optimizer
    from training.model import GPT

    cfg = load_config("polski-tiny", {"model": {"tie_embeddings": tied}, "optim": {"optimizer": "muon", "weight_decay": 0.2}})
    model = GPT(cfg.model)
    opt = build_optimizer(cfg, model, torch.device("cpu"))
    names = {id(p): n for n, p in model.named_parameters()}
    muon = {names[id(p)] for g in opt.muon.param_groups for p in g["params"]}
    adamw = {names[id(p)]: g["weight_decay"] for g in opt.adamw.param_groups for p in g["params"]}
    assert muon == {n for n, p in model.named_parameters() if n.startswith("layers.") and p.dim() == 2}
    assert set(adamw) == {n for n, _ in model.named_parameters()} - muon
    assert adamw["tok_embeddings.weight"] == 0.0 and adamw["norm.weight"] == 0.0
    assert ("output.weight" in adamw) == (not tied) and adamw.get("output.weight", 0.2) == 0.2
    assert opt.muon.param_groups[0]["weight_decay"] == 0.2
    assert all(g["lr"] == cfg.optim.lr for g in opt.param_groups)


def test_batched_muon_matches_torch_muon():
    from training.engines.muon import Muon

    torch.manual_seed(0)
    shapes = [(48, 32), (32, 48), (32, 32), (48, 32)]  # tall, wide, square; two of one shape share a batch
    start = [torch.randn(s) for s in shapes]
    ours = [torch.nn.Parameter(w.clone()) for w in start]
    ref = [torch.nn.Parameter(w.clone()) for w in start]
    opt = Muon(ours, lr=0.1, weight_decay=0.1, momentum=0.9)
    torch_opt = torch.optim.Muon(ref, lr=0.1, weight_decay=0.1, momentum=0.9, nesterov=True, adjust_lr_fn="match_rms_adamw")
    for _ in range(3):
        for a, b in zip(ours, ref):
            a.grad = torch.randn_like(a)
            b.grad = a.grad.clone()
        opt.step()
        torch_opt.step()
    for a, b, w in zip(ours, ref, start):  # bf16 Newton-Schulz rounds differently batched: compare the total updates
        ours_moved, torch_moved = (a - w).detach().flatten(), (b - w).detach().flatten()
        assert torch.nn.functional.cosine_similarity(ours_moved, torch_moved, dim=0) > 0.999
        assert ours_moved.norm() / torch_moved.norm() == pytest.approx(1, abs=0.01)


def test_muon_training_lowers_the_loss_and_its_state_round_trips(tiny_data, tmp_path):
    bins, tok = tiny_data
    cfg = tiny_config(max_steps=40).model_copy(update={"optim": load_config(
        "polski-tiny", {"optim": {"optimizer": "muon", "lr": 3e-3}}).optim})
    pretrain(cfg, bins, tmp_path / "run", tok, console=lambda s: None)
    losses = [r["loss"] for r in read_metrics(tmp_path / "run" / "metrics.jsonl", "train")]
    assert np.mean(losses[-5:]) < np.mean(losses[:5]) - 0.8
    state = load_checkpoint(tmp_path / "run").train_state["engine"]["optimizer"]
    assert set(state) == {"muon", "adamw"} and state["muon"]["state"]  # momentum buffers were saved


@pytest.mark.parametrize("train", [{"engine": "deepspeed"}, {"param_dtype": "bf16", "precision": "bf16"}])
def test_muon_refuses_the_engines_that_only_have_adamw(train):
    with pytest.raises(ConfigError, match='optim.optimizer = "muon" needs train.engine = "torch"'):
        load_config("polski-tiny", {"optim": {"optimizer": "muon"}, "train": train})


def test_token_windows_are_a_deterministic_permutation_per_epoch():
    tokens = np.arange(1001, dtype=np.uint16)
    src = TokenWindows(tokens, batch_size=2, seq_len=10, seed=7)
    assert src.windows_per_epoch() == 100
    x, y = src.batch(3)
    assert torch.equal(y[:, :-1], x[:, 1:])
    starts = sorted(int(src.sample(k)[0]) for k in range(100))
    assert starts == list(range(0, 1000, 10))  # epoch 0 visits every window once
    assert torch.equal(TokenWindows(tokens, 2, 10, seed=7).batch(57)[0], src.batch(57)[0])
    ranks = [TokenWindows(tokens, 2, 10, 7, rank=r, world=2).batch(0)[0] for r in (0, 1)]
    assert torch.equal(torch.cat(ranks), torch.cat([src.batch(0)[0], src.batch(1)[0]]))


def test_packed_rows_keep_masked_targets():
    x = np.arange(12, dtype=np.uint16).reshape(6, 2)
    y = np.full((6, 2), -1, dtype=np.int32)
    xb, yb = PackedRows(x, y, 3, seed=0).batch(1)
    assert xb.dtype == torch.long and (yb == -1).all() and xb.shape == (3, 2)


def test_schedules():
    o = load_config("polski-tiny").optim
    assert lr_at(0, o, 100) == pytest.approx(o.lr / 10)
    assert lr_at(9, o, 100) == pytest.approx(o.lr)
    assert lr_at(99, o, 100) == pytest.approx(o.lr * o.min_lr_ratio, rel=0.01)
    wsd = o.model_copy(update={"schedule": "wsd", "decay_fraction": 0.2})
    assert lr_at(50, wsd, 100) == o.lr and lr_at(79, wsd, 100) == o.lr
    assert lr_at(99, wsd, 100) == pytest.approx(o.lr * o.min_lr_ratio)


def test_deepspeed_config_passes_deepspeeds_own_schema():
    try:
        import deepspeed  # noqa: F401
    except ImportError:
        from tests.conftest import missing_part

        missing_part("deepspeed is not installed: DS_BUILD_OPS=0 pip install --no-build-isolation deepspeed")
    from deepspeed.runtime.config import DeepSpeedConfig

    from training.engines.deepspeed_engine import deepspeed_config

    cfg = load_config("polski-1b3", {"train": {"engine": "deepspeed", "offload_optimizer": True, "grad_accum_steps": 4,
                                               "param_dtype": "fp32"}})
    ds = DeepSpeedConfig(deepspeed_config(cfg, world=1))  # DeepSpeed checks against the live world size
    assert ds.zero_optimization_stage == 2
    assert ds.zero_config.offload_optimizer.device == "cpu"
    assert ds.train_batch_size == 8 * 4 and ds.gradient_accumulation_steps == 4
    assert ds.gradient_clipping == 1.0


def test_bf16_stochastic_rounding_keeps_updates_smaller_than_half_an_ulp():
    from training.engines.optim import stochastic_round

    torch.manual_seed(0)
    target = torch.full((100_000,), 1.0 + 2**-10)  # a quarter of a bf16 ulp above 1.0
    rounded = stochastic_round(target).to(torch.bfloat16)
    assert set(rounded.float().unique().tolist()) == {1.0, 1.0078125}
    assert rounded.float().mean().item() == pytest.approx(1.0 + 2**-10, abs=2e-4)
    assert target.to(torch.bfloat16).float().mean().item() == 1.0  # round-to-nearest loses the update


def test_adamw_bf16_maths_match_torch_adamw_on_fp32_weights():
    from training.engines.optim import AdamWBF16

    torch.manual_seed(0)
    ref = torch.nn.Parameter(torch.randn(64, 48))
    ours = torch.nn.Parameter(ref.detach().clone())
    kw = dict(lr=1e-2, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
    opt_ref = torch.optim.AdamW([ref], **kw)
    opt_ours = AdamWBF16([ours], stochastic_rounding=False, fused=False, **kw)
    for _ in range(5):
        grad = torch.randn(64, 48)
        ref.grad, ours.grad = grad.clone(), grad.clone()
        opt_ref.step()
        opt_ours.step()
    assert torch.allclose(ours, ref, rtol=1e-5, atol=1e-6)
    assert not torch.equal(ours.detach(), torch.zeros(64, 48))
    assert torch.allclose(opt_ours.state[ours]["exp_avg_sq"], opt_ref.state[ref]["exp_avg_sq"], rtol=1e-5, atol=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["default", "max-autotune-no-cudagraphs"])
def test_per_block_compile_with_accumulation_trains_like_eager(mode):
    """compile_scope = "blocks" (what lets polski-1b3 accumulate gradients inside 12 GiB): every block and the
    chunked loss are compiled (in either train.compile_mode), and the per-step losses match the eager engine's."""
    from training.config import load_config
    from training.engines.torch_engine import TorchEngine
    from training.model import GPT, chunk_loss_sum

    train = {"device": "cpu", "precision": "fp32", "grad_accum_steps": 2, "activation_checkpointing": "full",
             "loss_chunk_tokens": 32, "compile_mode": mode}
    torch.manual_seed(0)
    batches = [(torch.randint(0, 512, (2, 32)), torch.randint(0, 512, (2, 32))) for _ in range(6)]
    losses = {}
    for compiled in (False, True):
        cfg = load_config("polski-tiny", {"train": {**train, "compile": compiled}})
        torch.manual_seed(1)
        engine = TorchEngine(cfg, GPT(cfg.model), torch.device("cpu"))
        if compiled:
            assert engine.wrapped is engine.model  # no whole-model graph
            assert all(layer._compiled_call_impl is not None for layer in engine.model.layers)
            assert engine.model.chunk_loss is not chunk_loss_sum
        losses[compiled] = []
        for step in range(3):
            total = 0.0
            for m in range(2):
                x, y = batches[step * 2 + m]
                loss = engine.forward(x, y, m == 1)
                engine.backward(loss, 2, m == 1, False)
                total += float(loss.detach())
            engine.step(1e-2, False)
            losses[compiled].append(total / 2)
    assert losses[True] == pytest.approx(losses[False], rel=1e-4)
    assert losses[True][-1] < losses[True][0]


@pytest.mark.slow
def test_fused_adamw_bf16_is_the_eager_update_in_one_kernel():
    """The compiled update (what runs on CUDA) computes what the eager one does: exactly with round-to-nearest,
    and with stochastic rounding each weight lands on one of the two bf16 neighbours of the fp32 result."""
    from training.engines.optim import AdamWBF16

    torch.manual_seed(0)
    start, grad = torch.randn(256, 64), torch.randn(256, 64) * 1e-2
    results = {}
    for fused in (False, True):
        for sr in (False, True):
            p = torch.nn.Parameter(start.to(torch.bfloat16))
            p.grad = grad.to(torch.bfloat16)
            AdamWBF16([p], lr=1e-3, weight_decay=0.1, stochastic_rounding=sr, fused=fused).step()
            results[fused, sr] = p.detach().float()
    assert torch.equal(results[True, False], results[False, False])
    exact = torch.nn.Parameter(start.to(torch.bfloat16).float())
    exact.grad = grad.to(torch.bfloat16).float()
    AdamWBF16([exact], lr=1e-3, weight_decay=0.1, stochastic_rounding=False, fused=False).step()
    below = exact.detach().to(torch.bfloat16).float()
    ulp = (below.abs() * 2**-7).clamp(min=2**-126)
    assert ((results[True, True] - exact.detach()).abs() <= ulp).all()
    assert not torch.equal(results[True, True], results[True, False])  # some weights rounded the other way


def test_flat_adamw_bf16_updates_like_the_per_tensor_one_and_survives_a_state_round_trip():
    """flat = True (the default on CUDA): weights, gradients and moments are views into one buffer per group, a step
    is one update call; the result is the per-tensor update's, bit for bit, also after zero_grad and a reload."""
    from training.engines.optim import AdamWBF16

    torch.manual_seed(0)
    shapes = [(8, 4), (4,), (3, 5, 2)]
    starts = [torch.randn(s).to(torch.bfloat16) for s in shapes]
    grads = [[torch.randn(s).to(torch.bfloat16) for s in shapes] for _ in range(4)]

    def run(flat: bool, reload_after: int | None = None):
        params = [torch.nn.Parameter(x.clone()) for x in starts]
        groups = [{"params": params[:2], "weight_decay": 0.1}, {"params": params[2:], "weight_decay": 0.0}]
        opt = AdamWBF16(groups, lr=1e-2, stochastic_rounding=False, fused=False, flat=flat)
        for step, step_grads in enumerate(grads):
            opt.zero_grad(set_to_none=True)
            for p, g in zip(params, step_grads):
                if p.grad is None:
                    p.grad = g.clone()
                else:
                    p.grad += g  # what backward does with an existing gradient
            opt.step()
            if step == reload_after:
                state = opt.state_dict()
                params2 = [torch.nn.Parameter(p.detach().clone()) for p in params]
                opt = AdamWBF16([{"params": params2[:2], "weight_decay": 0.1}, {"params": params2[2:], "weight_decay": 0.0}],
                                lr=1e-2, stochastic_rounding=False, fused=False, flat=flat)
                opt.load_state_dict(state)
                params = params2
        return params, opt

    ref, _ = run(False)
    flat, opt = run(True)
    for a, b in zip(ref, flat):
        assert torch.equal(a.detach(), b.detach())
    assert flat[1].data_ptr() == opt.buffers[0]["param"][32:].data_ptr()  # a view into the group's buffer
    assert opt.state[flat[0]]["exp_avg"].data_ptr() == opt.buffers[0]["exp_avg"].data_ptr()
    opt.zero_grad(set_to_none=True)  # frees the gradient buffer (the memory evaluation inside 12 GiB needs)
    assert all(p.grad is None for p in flat) and "grad" not in opt.buffers[0]
    reloaded, opt = run(True, reload_after=1)
    for a, b in zip(ref, reloaded):
        assert torch.equal(a.detach(), b.detach())
    assert opt.state[reloaded[2]]["exp_avg_sq"].data_ptr() == opt.buffers[1]["exp_avg_sq"].data_ptr()
    assert not torch.equal(ref[0].detach(), starts[0])


def test_engine_with_flat_bf16_buffers_trains_like_per_tensor_updates(monkeypatch):
    """The torch engine with bf16 weights (flat buffers; backward adds into the gradient views, gradient
    accumulation included) gives the per-tensor optimizer's losses exactly."""
    from training.config import load_config
    from training.engines import optim
    from training.engines.optim import AdamWBF16
    from training.engines.torch_engine import TorchEngine
    from training.model import GPT

    cfg = load_config("polski-tiny", {"train": {"device": "cpu", "precision": "bf16", "param_dtype": "bf16",
                                                "stochastic_rounding": False, "grad_accum_steps": 2}})
    torch.manual_seed(0)
    batches = [(torch.randint(0, 512, (2, 32)), torch.randint(0, 512, (2, 32))) for _ in range(2)] * 4  # learnable
    losses = {}
    for flat in (False, True):
        monkeypatch.setattr(optim, "AdamWBF16", functools.partial(AdamWBF16, flat=flat))
        torch.manual_seed(1)
        engine = TorchEngine(cfg, GPT(cfg.model), torch.device("cpu"))
        assert engine.optimizer.flat is flat
        losses[flat] = []
        for step in range(4):
            for m in range(2):
                loss = engine.forward(*batches[step * 2 + m], m == 1)
                engine.backward(loss, 2, m == 1, False)
                losses[flat].append(float(loss.detach()))
            engine.step(1e-2, False)
    assert losses[True] == losses[False]
    assert losses[True][-1] < losses[True][0]


def test_flat_adamw_bf16_load_copies_moments_into_its_buffers_without_a_second_device_copy(monkeypatch):
    """At resume torch.optim would copy every moment to the parameters' device beside the flat buffers (4.8 GiB more
    for polski-1b3 on a 12 GiB card): torch gets only step counts and hyperparameters; the moments go straight in."""
    from training.engines.optim import AdamWBF16

    torch.manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(6, 4).to(torch.bfloat16)), torch.nn.Parameter(torch.randn(5).to(torch.bfloat16))]
    opt = AdamWBF16([{"params": params[:1]}, {"params": params[1:]}], lr=1e-2, fused=False)
    for p in params:
        p.grad = torch.randn_like(p)
    opt.step()
    saved = opt.state_dict()
    fresh = [torch.nn.Parameter(p.detach().clone()) for p in params]
    opt2 = AdamWBF16([{"params": fresh[:1]}, {"params": fresh[1:]}], lr=1e-2, fused=False)
    seen_by_torch = []
    original = torch.optim.Optimizer.load_state_dict
    monkeypatch.setattr(torch.optim.Optimizer, "load_state_dict",
                        lambda self, sd: (seen_by_torch.extend(k for s in sd["state"].values() for k in s), original(self, sd))[1])
    opt2.load_state_dict(saved)
    assert seen_by_torch and set(seen_by_torch) == {"step"}
    for p, q in zip(params, fresh):
        for k in ("exp_avg", "exp_avg_sq"):
            assert torch.equal(opt2.state[q][k], opt.state[p][k])
        assert float(opt2.state[q]["step"]) == 1.0
    assert opt2.state[fresh[1]]["exp_avg"].data_ptr() == opt2.buffers[1]["exp_avg"].data_ptr()
