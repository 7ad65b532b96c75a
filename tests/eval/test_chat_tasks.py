"""training/evals/chat_tasks.py: the restoration tasks, greedy ChatML replies, and `polski eval --chat-tasks`."""

from __future__ import annotations

import json

import numpy as np

from tests.polish_text import polish_paragraphs
from training.cli import main
from training.evals.backends import torch_backend
from training.evals.chat_tasks import PLAIN, chat_reply, prompts, sentences, strip


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


def test_cli_eval_chat_tasks_scores_model_and_echo(eval_run, tmp_path):
    text = tmp_path / "news.jsonl"
    text.write_text("".join(json.dumps({"text": p}, ensure_ascii=False) + "\n" for p in polish_paragraphs()), encoding="utf-8")
    out = tmp_path / "eval"
    assert main(["eval", str(eval_run), "--chat-tasks", str(text), "--chat-tasks-n", "3", "--out", str(out)]) == 0
    result = json.loads((out / "eval.json").read_text(encoding="utf-8"))["chat_tasks"]
    assert result["sentences"] == 3 and result["file"] == "news.jsonl"
    echo, model = result["scores"]["input unchanged"], result["scores"]["model"]
    assert 0.8 < echo["diacritics"]["similarity"] < 1 and echo["punctuation"]["exact"] == 0
    assert all(0 <= model[task]["similarity"] <= 1 for task in ("diacritics", "punctuation"))
    assert "Chat tasks: restoring 3 sentences of news.jsonl" in (out / "eval.md").read_text(encoding="utf-8")


def test_cli_refuses_a_chat_task_text_without_polish_sentences_before_loading_the_model(tmp_path, capsys):
    text = tmp_path / "short.txt"
    text.write_text("Ala ma kota.\nKrótko.\n", encoding="utf-8")
    assert main(["eval", str(tmp_path / "no-such-run"), "--chat-tasks", str(text)]) == 2
    assert "no line of 60-200 characters with a Polish diacritic" in capsys.readouterr().err
