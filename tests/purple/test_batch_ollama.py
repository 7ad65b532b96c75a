"""`purple batch` and `purple ask` against the real `ollama serve` and our tiny Polish test model."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from purple.ask import main as ask_main
from purple.batch import main

pytestmark = pytest.mark.ollama
ROOT = Path(__file__).resolve().parents[2]

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



def _start_batch(inp, out, url: str, model: str, *extra) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "purple.batch", str(inp), "-o", str(out), "--model", model, "--host", url,
           "--concurrency", "4", "--option", "num_predict=48", "--seed", "1", *extra]
    return subprocess.Popen(cmd, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_real_batch_sigkilled_twice_at_random_points_then_resumed_gives_every_id_once(ollama_server, ollama_model,
                                                                                      tmp_path):
    n = 40
    inp = tmp_path / "pytania.jsonl"
    inp.write_text("".join(json.dumps({"id": i, "prompt": f"{PROMPTS[i % len(PROMPTS)]} ({i})"}, ensure_ascii=False)
                           + "\n" for i in range(n)), encoding="utf-8")
    out = tmp_path / "wyniki.jsonl"

    def finished() -> int:
        return out.read_bytes().count(b"\n") if out.exists() else 0

    seed = random.randrange(2**32)  # in every failure message, so a failing schedule can be replayed
    rng = random.Random(seed)
    after_kills = []
    for kill in range(2):
        proc = _start_batch(inp, out, ollama_server.url, ollama_model, "--quiet", *(["--unordered"] if kill else []))
        # a random point: after 1-8 more finished records, then up to 0.3 s into the replies streaming then
        target, deadline = finished() + rng.randint(1, 8), time.monotonic() + 120
        while finished() < target:
            assert proc.poll() is None, f"seed {seed}: the run ended before its kill: {proc.stderr.read()}"
            assert time.monotonic() < deadline, f"seed {seed}: no progress"
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.3))
        assert proc.poll() is None, f"seed {seed}: the run finished before its kill"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        after_kills.append(finished())
    assert 0 < after_kills[0] < after_kills[1] < n, (seed, after_kills)

    proc = _start_batch(inp, out, ollama_server.url, ollama_model, "--resume")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, (seed, err)
    assert f"{after_kills[1]} of {n} records already done" in err, (seed, err)
    raw = out.read_bytes()
    assert raw.endswith(b"\n")
    records = [json.loads(line) for line in raw.decode("utf-8").splitlines()]  # a torn line would not parse
    assert Counter(r["id"] for r in records) == Counter(range(n)), seed
    assert [r["id"] for r in records] == list(range(n))  # the completed run rewrote the resumed output in order
    for r in records:
        assert r["error"] is None and r["response"] and r["model"] == ollama_model, (seed, r)
        assert r["prompt"] == f"{PROMPTS[r['id'] % len(PROMPTS)]} ({r['id']})", seed
