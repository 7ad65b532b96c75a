"""training/evals/chat_tasks.py: the restoration tasks, greedy ChatML replies, and `polski eval --chat-tasks`."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.polish_text import polish_paragraphs
from training.cli import main
from training.evals.backends import torch_backend
from training.evals import chat_tasks
from training.evals.chat_tasks import INSTRUCTIONS, PLAIN, chat_reply, echo_score, prompts, score, sentences, strip


def test_tasks_strip_what_the_instruction_asks_to_restore():
    targets = sentences(polish_paragraphs(), 5)
    assert len(targets) == 5 and all(60 <= len(t) <= 200 and t != t.translate(PLAIN) for t in targets)
    users = prompts(targets)
    assert set(users) == {"diacritics", "punctuation"}
    first = targets[0]
    assert users["diacritics"][0].endswith("\n\n" + first.translate(PLAIN))
    stripped = strip("punctuation", "Ala, ma kota. Czy pies — też?")
    assert stripped == "ala ma kota czy pies też"


class ScriptedModel:
    """The tiny tokenizer with a model that says `answer` then `<|im_end|>`, whatever it was asked."""

    def __init__(self, real, answer: str):
        self.real, self.context_length = real, real.context_length
        self.bos_id, self.eos_id = real.bos_id, real.eos_id
        self.script = real.encode(answer) + real.encode("<|im_end|>") + real.encode(" więcej")
        self.prompt_len = None

    def encode(self, text):
        return self.real.encode(text)

    def decode(self, ids):
        return self.real.decode(ids)

    def logits(self, ids):
        if self.prompt_len is None:
            self.prompt_len = len(ids)
        out = np.zeros((len(ids), self.real.model.config.vocab_size), dtype=np.float32)
        out[-1, self.script[len(ids) - self.prompt_len]] = 1.0
        return out


def test_chat_reply_stops_at_im_end(eval_run):
    real = torch_backend(eval_run)
    assert len(real.encode("<|im_end|>")) == 1  # the ChatML markers are single tokens
    model = ScriptedModel(real, "Żółw idzie.")
    assert chat_reply(model, "Powiedz coś.", "Jesteś pomocny.", max_new_tokens=50) == "Żółw idzie."


def test_score_of_replies_with_known_scores():
    targets = ["abcd", "Żółw idzie.", "xyz"]
    # exact; one of 11 characters changed (difflib ratio 2·10/22); an empty reply (a failed request) scores 0
    got = score(targets, ["abcd", "Zółw idzie.", ""], failed=1)
    assert got == {"failed": 1, "exact": pytest.approx(1 / 3),
                   "similarity": pytest.approx((1 + 2 * 10 / 22 + 0) / 3)}
    assert score(["ab", "cd"], ["ab", "cd"]) == {"failed": 0, "exact": 1.0, "similarity": 1.0}
    assert score(["ab", "cd"], ["xy", "zz"]) == {"failed": 0, "exact": 0.0, "similarity": 0.0}
    assert score(["abcd"], ["ab"])["similarity"] == pytest.approx(2 * 2 / 6)
    assert score(["abcd"], ["dcba"])["similarity"] == pytest.approx(2 * 1 / 8)  # order counts, not just the letters
    # the echo baseline is score() of the stripped input: "Zolw" keeps only the w of "Żółw" (2·1/8)
    assert echo_score("diacritics", ["Żółw"]) == {"failed": 0, "exact": 0.0, "similarity": pytest.approx(2 * 1 / 8)}


def test_cli_eval_chat_tasks_scores_model_and_echo(eval_run, tmp_path, monkeypatch):
    text = tmp_path / "news.jsonl"
    text.write_text("".join(json.dumps({"text": p}, ensure_ascii=False) + "\n" for p in polish_paragraphs()), encoding="utf-8")
    out = tmp_path / "eval"
    replies: dict[str, list[str]] = {}  # the model's own replies, by the instruction that opened the user turn
    real_reply = chat_tasks.chat_reply

    def recorded(backend, user, *args, **kwargs):
        reply = real_reply(backend, user, *args, **kwargs)
        replies.setdefault(user.split("\n")[0], []).append(reply)
        return reply

    monkeypatch.setattr(chat_tasks, "chat_reply", recorded)
    assert main(["eval", str(eval_run), "--chat-tasks", str(text), "--chat-tasks-n", "3", "--out", str(out)]) == 0
    result = json.loads((out / "eval.json").read_text(encoding="utf-8"))["chat_tasks"]
    assert result["sentences"] == 3 and result["file"] == "news.jsonl"
    echo, model = result["scores"]["input unchanged"], result["scores"]["model"]
    assert 0.8 < echo["diacritics"]["similarity"] < 1 and echo["punctuation"]["exact"] == 0
    targets = sentences(polish_paragraphs(), 3)
    for task in ("diacritics", "punctuation"):
        assert echo[task] == pytest.approx(echo_score(task, targets))
        assert model[task] == pytest.approx(score(targets, replies[INSTRUCTIONS[task]])), task
    assert "Chat tasks: restoring 3 sentences of news.jsonl" in (out / "eval.md").read_text(encoding="utf-8")


def test_cli_refuses_a_chat_task_text_without_polish_sentences_before_loading_the_model(tmp_path, capsys):
    text = tmp_path / "short.txt"
    text.write_text("Ala ma kota.\nKrótko.\n", encoding="utf-8")
    assert main(["eval", str(tmp_path / "no-such-run"), "--chat-tasks", str(text)]) == 2
    assert "no line of 60-200 characters with a Polish diacritic" in capsys.readouterr().err
