"""benchmarks/chat_restoration.py end to end: `purple batch` against the real Ollama server and the tiny model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.polish_text import polish_paragraphs
from training.evals.chat_tasks import score, sentences, similarity, strip

pytestmark = pytest.mark.ollama
ROOT = Path(__file__).resolve().parents[2]


def test_scores_both_tasks_for_each_model_and_the_echo_baseline(tmp_path, ollama_server, ollama_model):
    lines = [s for p in polish_paragraphs() for s in p.split("\n") if 60 <= len(s) <= 200 and set(s) & set("ąęłśżźćń")]
    text = tmp_path / "news.jsonl"
    text.write_text(json.dumps({"text": "\n".join(lines[:3])}, ensure_ascii=False) + "\n", encoding="utf-8")
    out = tmp_path / "result"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "chat_restoration.py"), "--models", ollama_model,
                    "--n", "3", "--text", str(text), "--host", ollama_server.url, "--out", str(out)],
                   check=True, cwd=ROOT, capture_output=True)
    result = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    assert result["sentences"] == 3 and set(result["scores"]) == {"input unchanged", ollama_model}
    echo = result["scores"]["input unchanged"]
    assert 0.5 < echo["diacritics"]["similarity"] < 1 and echo["diacritics"]["exact"] == 0
    targets = sentences(["\n".join(lines[:3])], 3)  # as the benchmark reads news.jsonl
    assert targets[0] == result["target_example"]
    for task in ("diacritics", "punctuation"):
        # the baseline's replies are known (the stripped inputs): its scores are exactly score() of them
        assert echo[task] == pytest.approx(score(targets, [strip(task, t) for t in targets])), task
        # of the model's replies the file keeps the first: its mean takes that one's similarity plus two in [0, 1]
        scores, first = result["scores"][ollama_model][task], result["examples"][ollama_model][task]["reply"]
        known = similarity(targets[0], first)
        assert known / 3 - 1e-9 <= scores["similarity"] <= (known + 2) / 3 + 1e-9, (task, scores, first)
        assert scores["exact"] >= (first == targets[0]) / 3 and 0 <= scores["failed"] <= 3, task
    example, target = result["examples"][ollama_model]["diacritics"]["input"], result["target_example"]
    assert example == target.translate(str.maketrans("ąćęłńóśźżĄĆĘŁŃÓŚŹŻ", "acelnoszzACELNOSZZ")) != target
    assert ollama_model in out.with_suffix(".md").read_text(encoding="utf-8")
