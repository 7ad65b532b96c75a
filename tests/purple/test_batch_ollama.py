"""`purple batch` and `purple ask` against the real `ollama serve` and our tiny Polish test model."""
from __future__ import annotations

import json
from collections import Counter

import pytest

from purple.ask import main as ask_main
from purple.batch import main

pytestmark = pytest.mark.ollama

# the tiny test model was chat-tuned to continue a paragraph ("Dokończ tekst: ..."), so it answers these with text
PROMPTS = [f"Dokończ tekst: {start}" for start in (
    "Rano nad jeziorem unosiła się mgła", "W Krakowie na rynku", "Babcia postawiła na stole pierogi",
    "Dzień był ciepły i jasny", "Kiedy pociąg ruszył z dworca", "Nad morzem wiał silny wiatr",
    "Wieczorem w bibliotece", "Dzieci policzyły do trzech")]


def test_real_batch_every_id_once_then_resume(ollama_server, ollama_model, tmp_path, capsys):
    inp = tmp_path / "pytania.jsonl"
    inp.write_text("".join(json.dumps({"id": f"q{i}", "prompt": p}, ensure_ascii=False) + "\n"
                           for i, p in enumerate(PROMPTS)), encoding="utf-8")
    argv = [str(inp), "--model", ollama_model, "--host", ollama_server.url, "--concurrency", "4",
            "--option", "num_predict=16", "--seed", "1", "--quiet"]
    assert main(argv) == 0
    out = tmp_path / "pytania.out.jsonl"
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in records] == [f"q{i}" for i in range(len(PROMPTS))]
    for r in records:
        assert r["error"] is None and r["model"] == ollama_model and r["attempts"] == 1
        assert r["done_reason"] in ("stop", "length") and 0 < r["eval_count"] <= 16
        assert r["prompt_eval_count"] > 0 and r["tokens_per_s"] > 0 and 0 < r["ttft_s"] <= r["total_s"]
        assert r["options"] == {"num_predict": 16, "seed": 1}
    # lose the last three, as after a kill; the re-run does exactly those
    lines = out.read_text(encoding="utf-8").splitlines(keepends=True)
    out.write_text("".join(lines[:-3]) + lines[-3][:10], encoding="utf-8")
    assert main(argv[:-1]) == 0
    assert f"{len(PROMPTS) - 3} of {len(PROMPTS)} records already done" in capsys.readouterr().err
    again = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert Counter(r["id"] for r in again) == Counter(r["id"] for r in records)
    assert [r["response"] for r in again[:-3]] == [r["response"] for r in records[:-3]]


def test_real_batch_csv_and_missing_model(ollama_server, ollama_model, tmp_path, capsys):
    inp = tmp_path / "p.txt"
    inp.write_text("=Ala ma kota\nDzień dobry\n", encoding="utf-8")
    base = [str(inp), "--host", ollama_server.url, "--option", "num_predict=8", "--quiet"]
    assert main([*base, "--model", ollama_model, "-o", str(tmp_path / "p.csv")]) == 0
    text = (tmp_path / "p.csv").read_text(encoding="utf-8")
    assert text.splitlines()[1].startswith(f"1,{ollama_model},'=Ala ma kota,")
    assert main([*base, "--model", "nie-ma-takiego"]) == 2
    assert "not found" in capsys.readouterr().err


def test_real_ask_streams_a_reply(ollama_server, ollama_model, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("PURPLE_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setattr("sys.stdin", None)
    assert ask_main(["--model", ollama_model, "--host", ollama_server.url, "--option", "num_predict=12",
                     "--option", "seed=1", "--option", "temperature=0.8", "Opowiedz", "mi", "o", "Polsce."]) == 0
    out = capsys.readouterr().out
    assert out.endswith("\n") and out.strip()
