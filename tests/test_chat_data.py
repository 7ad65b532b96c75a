"""`polski chat-data build`: mined dialogue, decontamination, dedup, the manifest, and the committed conversation sets."""
import json
from pathlib import Path

import pytest

from training.chat_data import CHAT_EVAL_DIR, CORE_DIR, Contamination, build_chat_data, dialogue, read_jsonl, speech
from training.cli import main
from training.config import ChatDataConfig
from training.errors import DataError


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def conversation(user: str, reply: str) -> dict:
    return {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": reply}]}


@pytest.mark.parametrize("paragraph, spoken", [
    ("— Mówił — odrzekł Antoni.", "Mówił."),
    ("— To nie brednie, tatuńciu! — odrzekła z wysiłkiem. — Tylko nikomu nie mówcie.",
     "To nie brednie, tatuńciu! Tylko nikomu nie mówcie."),
    ("— A jeżeli zwycięstwo wątpliwe?", "A jeżeli zwycięstwo wątpliwe?"),
    ("Narrator mówi bez myślnika.", None),
])
def test_speech_keeps_the_spoken_words_and_drops_the_narrators_tags(paragraph, spoken):
    assert speech(paragraph) == spoken


NOVEL = "\n\n".join([
    "Był wieczór.",
    "— Dokąd idziesz tak późno? — spytał ojciec.",
    "— Do młyna, bo trzeba odebrać mąkę na jutro — odparł chłopak.",
    "— A kto ci kazał? — rzekł ojciec.",
    "— Matka prosiła mnie o to rano.",
    "— Czy wrócisz na kolację?",
    "— A ty nie wiesz?",  # a question answered by a question is no answer
])


def test_dialogue_mines_question_and_answer_exchanges_from_novels(tmp_path):
    novel = write_jsonl(tmp_path / "eltec-pol-000.jsonl", [{"text": NOVEL}])
    statute = write_jsonl(tmp_path / "ustawy-000.jsonl", [{"text": NOVEL}])  # not a novel: not mined
    mined = list(dialogue([novel, statute]))
    assert mined == [[
        {"role": "user", "content": "Dokąd idziesz tak późno?"},
        {"role": "assistant", "content": "Do młyna, bo trzeba odebrać mąkę na jutro."},
        {"role": "user", "content": "A kto ci kazał?"},
        {"role": "assistant", "content": "Matka prosiła mnie o to rano."},
    ]]


def small_config(tmp_path: Path, **changes) -> ChatDataConfig:
    core = write_jsonl(tmp_path / "core" / "core.jsonl", [
        conversation("Cześć, jak minął ci dzień?", "Dziękuję, dobrze. Dużo się dziś nauczyłem."),
        conversation("Podaj antonim słowa wesoły.", "Antonimem słowa „wesoły” jest „smutny”."),
        conversation("Podaj synonim słowa „szybki”.", "Synonimem słowa „szybki” jest „prędki”."),  # a chat-dev prompt
        conversation("Napisz zdanie o morzu w lipcu i o ciepłym piasku na plaży w Łebie.",
                     "W lipcu morze w Łebie jest ciepłe, a piasek na plaży parzy stopy."),
        conversation("Cześć, jak minął ci dzień?", "Dziękuję, dobrze. Dużo się dziś nauczyłem."),  # a duplicate
    ])
    sft = write_jsonl(tmp_path / "sft" / "quiz.jsonl", [
        {"instruction": f"Pytanie numer {i}?", "output": f"odpowiedź {i}", "task": "quiz_qa"} for i in range(10)])
    # an evaluation file that holds the fourth conversation's 8-word run: that conversation must go too
    evals = write_jsonl(tmp_path / "eval" / "held.jsonl", [{"text": "Napisz zdanie o morzu w lipcu i o ciepłym piasku."}])
    settings = {"core": [str(core)], "core_repeat": 2, "sft": [str(sft)], "corpus": [], "limits": {"quiz": 4},
                "eval_files": [str(evals)], **changes}
    return ChatDataConfig(**settings)


def test_build_dedups_decontaminates_caps_and_is_reproducible(tmp_path):
    config = small_config(tmp_path)
    manifest = build_chat_data(config, tmp_path / "a", console=lambda *_: None)
    rows = list(read_jsonl(tmp_path / "a" / "chat.jsonl"))
    users = [r["messages"][0]["content"] for r in rows]
    assert manifest["filtering"]["core"]["duplicates"] == 1
    assert manifest["filtering"]["core"]["contaminated"] == 2
    assert not any("morzu" in u or "szybki" in u for u in users)
    assert users.count("Cześć, jak minął ci dzień?") == 2  # core_repeat
    assert manifest["sources"]["core"]["conversations"] == 4
    assert manifest["sources"]["quiz"]["conversations"] == 4  # capped by limits
    assert manifest["total"]["conversations"] == len(rows) == 8
    assert sum(manifest["reply_words_histogram"].values()) == 8
    assert manifest["decontamination"]["eval_files"][-1].endswith("held.jsonl")

    build_chat_data(config, tmp_path / "b", console=lambda *_: None)
    assert (tmp_path / "a" / "chat.jsonl").read_bytes() == (tmp_path / "b" / "chat.jsonl").read_bytes()


def test_manifest_counts_tokens_with_a_tokenizer(tmp_path, tiny_data):
    from training.tokenizer import Tokenizer

    manifest = build_chat_data(small_config(tmp_path), tmp_path / "out", tokenizer=Tokenizer.load(tiny_data[1]),
                               console=lambda *_: None)
    assert manifest["total"]["tokens"] == sum(s["tokens"] for s in manifest["sources"].values()) > 0


def test_a_malformed_core_conversation_is_a_one_line_error_and_writes_nothing(tmp_path):
    bad = write_jsonl(tmp_path / "core" / "bad.jsonl", [{"messages": [{"role": "assistant", "content": "Hej"}]}])
    with pytest.raises(DataError, match="must start with a user message"):
        build_chat_data(ChatDataConfig(core=[str(bad)]), tmp_path / "out", console=lambda *_: None)
    assert not (tmp_path / "out").exists()


def test_cli_without_a_chat_data_table_names_the_fix(capsys):
    assert main(["chat-data", "build", "--config", "polski-tiny"]) == 2
    assert "has no [chat_data] table" in capsys.readouterr().err


def test_committed_core_set_is_large_varied_and_disjoint_from_the_chat_prompts():
    rows = [r for path in sorted(CORE_DIR.glob("*.jsonl")) for r in read_jsonl(path)]
    assert len(rows) >= 400
    assert sum(len(r["messages"]) > 2 for r in rows) >= 40
    assert len({r["messages"][0]["content"] for r in rows}) == len(rows)
    for r in rows:
        roles = [m["role"] for m in r["messages"]]
        assert roles == ["user", "assistant"] * (len(roles) // 2), r["id"]
    prompts = Contamination(sorted(CHAT_EVAL_DIR.glob("*.jsonl")))
    assert [r["id"] for r in rows if prompts.hit(r["messages"])] == []


def test_chat_dev_and_chat_test_are_disjoint_and_large_enough():
    sets = {name: list(read_jsonl(CHAT_EVAL_DIR / f"{name}.jsonl")) for name in ("chat-dev", "chat-test")}
    for rows in sets.values():
        assert len(rows) >= 120
        assert all(r["messages"][-1]["role"] == "user" and r["stems"] for r in rows)
    dev = {m["content"] for r in sets["chat-dev"] for m in r["messages"] if m["role"] == "user"}
    test = {m["content"] for r in sets["chat-test"] for m in r["messages"] if m["role"] == "user"}
    assert dev.isdisjoint(test)


def test_minimal_pairs_split_into_disjoint_dev_and_test_halves(tmp_path):
    from training.evals.minimal_pairs import load_pairs

    rows = [{"sentence_good": f"Kot numer {i} śpi.", "sentence_bad": f"Kot numer {i} śpią."} for i in range(200)]
    path = write_jsonl(tmp_path / "pairs.jsonl", rows)
    dev, test = load_pairs(path, split="dev"), load_pairs(path, split="test")
    assert len(dev) + len(test) == 200 and 60 < len(dev) < 140
    assert {p["sentence_good"] for p in dev}.isdisjoint(p["sentence_good"] for p in test)
    assert load_pairs(path, split="dev") == dev  # the same half every time
    with pytest.raises(DataError, match="use dev or test"):
        load_pairs(path, split="train")
