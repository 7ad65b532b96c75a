"""Chat fine-tuning data: ChatML rendering, the loss mask, packing."""
import json

import numpy as np
import pytest

from training.sft import IGNORE, encode_conversation, pack_rows, to_messages


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    from tests.polish_text import build_tiny_tokenizer
    from training.tokenizer import Tokenizer

    return Tokenizer.load(build_tiny_tokenizer(tmp_path_factory.mktemp("tok")))


def test_only_the_reply_and_its_end_marker_are_learned(tokenizer):
    messages = [{"role": "user", "content": "Jak się masz?"}, {"role": "assistant", "content": "Dobrze, dziękuję."}]
    ids, targets = encode_conversation(tokenizer, messages, system="Jesteś pomocny.")
    text = tokenizer.decode(ids)
    assert text == ("<|im_start|>system\nJesteś pomocny.<|im_end|>\n<|im_start|>user\nJak się masz?<|im_end|>\n"
                    "<|im_start|>assistant\nDobrze, dziękuję.<|im_end|>\n")
    assert ids[0] == tokenizer.bos_id
    learned = [t for t in targets if t != IGNORE]
    assert tokenizer.decode(learned) == "Dobrze, dziękuję.<|im_end|>"
    assert learned[-1] == tokenizer.im_end_id


def test_instruction_records_become_a_user_turn():
    msgs = to_messages({"instruction": "Popraw tekst.", "input": "ala ma kota", "output": "Ala ma kota."})
    assert msgs == [{"role": "user", "content": "Popraw tekst.\n\nala ma kota"}, {"role": "assistant", "content": "Ala ma kota."}]


def test_packing_never_splits_an_example():
    examples = [([1, 10, 11], [10, 11, IGNORE]), ([1, 20, 21, 22], [IGNORE, 21, 22, IGNORE]), ([1, 30], [30, IGNORE])]
    x, y = pack_rows(examples, row_len=5, pad_id=3)
    assert x.tolist() == [[1, 10, 11, 3, 3], [1, 20, 21, 22, 3], [1, 30, 3, 3, 3]]
    assert y[0].tolist() == [10, 11, IGNORE, IGNORE, IGNORE]
    assert np.all(y[x == 3] == IGNORE)


def test_pretrain_rows_are_windows_of_the_bins_with_every_token_learned(tmp_path):
    from tests.polish_text import build_tiny_bins
    from training.data import TokenBins
    from training.sft import pretrain_rows

    bins = build_tiny_bins(tmp_path)
    tokens = np.asarray(TokenBins(bins, "train").tokens, dtype=np.int64)
    x, y = pretrain_rows(bins, count=5, row_len=32, seed=7)
    assert x.shape == y.shape == (5, 32)
    assert np.array_equal(x[:, 1:], y[:, :-1])  # targets are the inputs shifted by one
    assert (y >= 0).all()  # nothing masked: plain text is learned everywhere
    for row in x:  # each row is a real window of train.bin
        hits = np.flatnonzero(tokens[: len(tokens) - 32] == row[0])
        assert any(np.array_equal(tokens[h : h + 32], row) for h in hits)
    again, _ = pretrain_rows(bins, count=5, row_len=32, seed=7)
    assert np.array_equal(x, again)


def test_pretrain_mix_without_bins_names_the_flag(tmp_path):
    import json

    from training.config import load_config
    from training.errors import ConfigError
    from training.sft import run_sft

    chats = tmp_path / "chats.jsonl"
    chats.write_text(json.dumps({"instruction": "Popraw tekst.", "output": "Ala ma kota."}) + "\n", encoding="utf-8")
    config = load_config("polski-tiny", {"sft": {"sources": [str(chats)], "pretrain_mix": 0.3}})
    from tests.polish_text import build_tiny_tokenizer

    with pytest.raises(ConfigError, match="--bins"):
        run_sft(config, tmp_path / "no-run", tmp_path / "sft", tokenizer_dir=build_tiny_tokenizer(tmp_path))


def test_sft_with_bins_logs_what_it_costs_on_plain_text(tiny_run):
    import math

    from training.metrics import read_metrics

    sft_evals = read_metrics(tiny_run / "metrics.jsonl", "eval")
    pretrained = read_metrics(tiny_run.parent / "pretrain" / "metrics.jsonl", "eval")[-1]
    assert "text_val_bpb" not in pretrained  # pretraining's own val_bpb is that text already
    assert [e["step"] for e in sft_evals] == [15, 30, 45, 60]
    for e in sft_evals:  # the same val windows as pretraining's val_bpb (same micro-batch size): comparable
        assert math.isfinite(e["text_val_bpb"]) and 0.5 < e["text_val_bpb"] / pretrained["val_bpb"] < 2


def test_sft_weight_decay_overrides_the_pretraining_one_only_when_given():
    from training.config import load_config
    from training.sft import sft_config

    base = load_config("polski-tiny", {"optim": {"weight_decay": 0.8}, "sft": {"lr": 5e-5}})
    assert sft_config(base).optim.weight_decay == 0.8
    assert sft_config(base).optim.lr == 5e-5
    tuned = load_config("polski-tiny", {"optim": {"weight_decay": 0.8}, "sft": {"weight_decay": 0.1}})
    assert sft_config(tuned).optim.weight_decay == 0.1
    assert tuned.optim.weight_decay == 0.8


def test_the_pretrainings_decay_data_mix_is_not_carried_into_the_sft_config():
    """The SFT's cosine schedule has no decay phase; its saved config.toml must load again."""
    from training.config import load_config, parse_config
    from training.sft import sft_config

    base = load_config("polski-tiny", {"optim": {"schedule": "wsd"}, "train": {"decay_source_weights": {"*": 0.5}}})
    config = sft_config(base)
    assert config.train.decay_source_weights == {} and config.optim.schedule == "cosine"
    assert parse_config(config.model_dump(mode="json")) == config


def test_sft_document_attention_applies_to_the_sft_only():
    from training.config import load_config
    from training.sft import sft_config

    base = load_config("polski-tiny", {"sft": {"document_attention": True}})
    assert base.train.document_attention is False and sft_config(base).train.document_attention is True
    shared = load_config("polski-tiny", {"train": {"document_attention": True}})
    assert sft_config(shared).train.document_attention is True
    off = load_config("polski-tiny", {"train": {"document_attention": True}, "sft": {"document_attention": False}})
    assert off.train.document_attention is True and sft_config(off).train.document_attention is False


def test_end_weight_weighs_the_end_marker_in_sft_and_refine_only():
    import torch

    from training.config import load_config
    from training.engines.base import Engine
    from training.model import GPT
    from training.sft import refine_config, sft_config
    from training.tokenizer import SPECIAL

    base = load_config("polski-tiny", {"sft": {"end_weight": 2.0}, "refine": {"max_steps": 2, "end_weight": 3.0}})
    assert base.train.end_weight == 1 and sft_config(base).train.end_weight == 2
    assert sft_config(refine_config(base)).train.end_weight == 3
    model = GPT(base.model)
    Engine.prepare_model(model, sft_config(base).train)
    expected = torch.ones(base.model.vocab_size)
    expected[SPECIAL["im_end"]] = 2
    assert torch.equal(model.target_weight, expected)
    Engine.prepare_model(model, base.train)  # a pretraining engine: no weights
    assert model.target_weight is None and "target_weight" not in model.state_dict()


def test_an_sft_with_end_weight_trains_on_the_weighted_loss(tiny_run, tmp_path):
    from training.config import load_config
    from training.metrics import read_metrics
    from training.sft import run_sft

    source = tmp_path / "short.jsonl"  # replies short enough that their end markers fit the tiny model's 128 tokens
    source.write_text("".join(json.dumps({"instruction": f"Podaj liczbę {n}.", "output": f"To jest {n}."}) + "\n"
                              for n in range(40)), encoding="utf-8")
    first_loss = {}
    for weight in (1.0, 4.0):
        config = load_config("polski-tiny", {"sft": {"sources": [str(source)], "max_steps": 2, "micro_batch_size": 8,
                                                       "end_weight": weight}})
        run_sft(config, tiny_run.parent / "pretrain", tmp_path / f"w{weight}", console=lambda *_: None)
        first_loss[weight] = read_metrics(tmp_path / f"w{weight}" / "metrics.jsonl", "train")[0]["loss"]
    # the same weights and batch: the first step's loss differs only by how much the end markers count
    assert first_loss[1.0] != first_loss[4.0]


def test_frozen_embeddings_keep_every_row_but_the_chat_markers(tiny_run, tmp_path):
    import torch

    from training.checkpoint import load_checkpoint
    from training.config import load_config
    from training.sft import run_sft
    from training.tokenizer import SPECIAL

    pretrained = tiny_run.parent / "pretrain"
    config = load_config("polski-tiny", {"sft": {"sources": [str(tiny_run.parent / "sft.jsonl")], "max_steps": 8,
                                                   "micro_batch_size": 4, "lr": 1e-3, "freeze_embeddings": True}})
    run_sft(config, pretrained, tmp_path / "sft", console=lambda *_: None)
    before = load_checkpoint(pretrained, weights_only=True).model_state
    after = load_checkpoint(tmp_path / "sft", weights_only=True).model_state
    markers = [SPECIAL["im_start"], SPECIAL["im_end"]]
    others = [i for i in range(before["tok_embeddings.weight"].size(0)) if i not in markers]
    emb_before, emb_after = before["tok_embeddings.weight"], after["tok_embeddings.weight"]
    assert torch.equal(emb_before[others], emb_after[others])
    assert not torch.equal(emb_before[markers], emb_after[markers])  # the markers' rows learn
    blocks = [k for k in before if k != "tok_embeddings.weight" and before[k].dim() == 2]
    assert any(not torch.equal(before[k], after[k]) for k in blocks)  # and so do the blocks


def test_trainable_embedding_rows_outside_the_vocabulary_are_a_config_error():
    from training.config import load_config
    from training.errors import ConfigError
    from training.model import GPT
    from training.train import train_only_embedding_rows

    model = GPT(load_config("polski-tiny").model)
    with pytest.raises(ConfigError, match="outside the vocabulary"):
        train_only_embedding_rows(model, [4, 10**6])


def test_linear_sft_schedule_is_a_straight_line_from_the_lr_to_the_floor():
    from training.config import load_config
    from training.schedule import lr_at
    from training.sft import sft_config

    config = sft_config(load_config("polski-tiny", {"optim": {"min_lr_ratio": 0.05, "schedule": "wsd",
                                                              "decay_fraction": 0.3},
                                                    "sft": {"lr": 2e-3, "max_steps": 100, "warmup_steps": 10,
                                                            "schedule": "linear"}}))
    lrs = [lr_at(step, config.optim, 100) for step in range(100)]
    assert lrs[9] == pytest.approx(2e-3)  # warm-up ends at the SFT's lr
    drops = np.diff(lrs[9:])
    assert np.allclose(drops, drops[0]) and drops[0] < 0  # then one constant slope, no stable phase
    assert lrs[99] == pytest.approx(2e-3 * 0.05)


def test_sft_from_a_step_dir_starts_from_those_weights_and_finds_the_run_tokenizer(tiny_run, tmp_path):
    from training.checkpoint import load_checkpoint
    from training.config import load_config
    from training.errors import DataError
    from training.sft import run_sft

    pretrained = tiny_run.parent / "pretrain"
    step = pretrained / "checkpoints" / "step-000060"
    assert load_checkpoint(pretrained, weights_only=True).meta["step"] == 120  # not the run's last checkpoint
    config = load_config("polski-tiny", {"sft": {"sources": [str(tiny_run.parent / "sft.jsonl")], "max_steps": 4,
                                                   "micro_batch_size": 4, "lr": 1e-3, "schedule": "linear"}})
    run_sft(config, step, tmp_path / "sft", console=lambda *_: None)
    assert load_checkpoint(tmp_path / "sft", weights_only=True).meta["init_from"] == str(step.resolve())
    assert (tmp_path / "sft" / "tokenizer" / "tokenizer.model").is_file()
    assert 'schedule = "wsd"' in (tmp_path / "sft" / "config.toml").read_text()
    import shutil

    elsewhere = shutil.copytree(step, tmp_path / "loose-step")
    with pytest.raises(DataError, match="step dir inside it"):
        run_sft(config, elsewhere, tmp_path / "sft2", console=lambda *_: None)


def _write_records(path, n):
    import json

    rows = [{"instruction": f"Pytanie numer {i}?", "output": f"Odpowiedź numer {i}."} for i in range(n)]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_chained_conversations_teach_answering_the_last_message(tokenizer, tmp_path):
    from training.sft import build_sft_rows

    source = _write_records(tmp_path / "sft.jsonl", 60)
    x, y = build_sft_rows(tokenizer, [source], row_len=256, system=None, seed=3,
                          multi_turn_share=1.0, multi_turn_max=3)
    chats = []  # one example per BOS
    for row in x:
        starts = [i for i, t in enumerate(row) if t == tokenizer.bos_id] + [len(row)]
        chats += [tokenizer.decode([int(t) for t in row[a:b] if t != tokenizer.pad_id]) for a, b in zip(starts, starts[1:])]
    turns = [c.count("<|im_start|>user") for c in chats]
    assert max(turns) == 3 and min(turns) >= 1 and sum(turns) == 60  # every record used once, chains up to 3
    for chat in chats:  # each reply answers the question right before it, not an earlier one
        asked = [q.split("?")[0] for q in chat.split("Pytanie numer ")[1:]]
        answered = [a.split(".")[0] for a in chat.split("Odpowiedź numer ")[1:]]
        assert asked == answered
    learned = tokenizer.decode([int(t) for t in y[y != IGNORE]])
    assert learned.count("<|im_end|>") == 60  # every reply in a chain is learned, prompts are not
    assert "Pytanie" not in learned


def test_chains_stay_within_a_row_and_no_chains_keep_the_old_rows(tokenizer, tmp_path):
    from training.sft import build_sft_rows

    source = _write_records(tmp_path / "sft.jsonl", 40)
    one_turn = build_sft_rows(tokenizer, [source], row_len=48, system="Jesteś pomocny.", seed=5)
    chained = build_sft_rows(tokenizer, [source], row_len=48, system="Jesteś pomocny.", seed=5,
                             multi_turn_share=1.0)
    assert chained[0].shape[0] <= one_turn[0].shape[0]  # nothing truncated away: chains only when they fit
    assert (chained[1] != IGNORE).sum() == (one_turn[1] != IGNORE).sum()
    again = build_sft_rows(tokenizer, [source], row_len=48, system="Jesteś pomocny.", seed=5, multi_turn_share=0.0)
    assert np.array_equal(one_turn[0], again[0])
