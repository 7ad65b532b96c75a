import json

import pytest

from training.errors import DataError
from training.evals.minimal_pairs import BUILTIN_PAIRS, load_pairs, score_pairs


def test_hand_made_case():
    pairs = [
        {"sentence_good": "Kot śpi.", "sentence_bad": "Kot śpią na.", "phenomenon": "a"},
        {"sentence_good": "Dzieci bawią się.", "sentence_bad": "Dzieci.", "phenomenon": "a"},
        {"sentence_good": "Idę do sklepu.", "sentence_bad": "Idę do sklepa tam.", "phenomenon": "b"},
    ]
    # a scorer that prefers shorter sentences: right on pair 1 and 3, wrong on pair 2
    r = score_pairs(lambda sents: [-float(len(s)) for s in sents], pairs)
    assert (r["pairs"], r["correct"]) == (3, 2)
    assert r["per_phenomenon"] == {"a": {"pairs": 2, "correct": 1, "accuracy": 0.5}, "b": {"pairs": 1, "correct": 1, "accuracy": 1.0}}
    assert [x["correct"] for x in r["results"]] == [True, False, True]


def test_a_tie_is_not_a_pass():
    r = score_pairs(lambda sents: [0.0] * len(sents), [{"sentence_good": "a", "sentence_bad": "b", "phenomenon": "x"}])
    assert r["accuracy"] == 0.0


def test_builtin_pairs_cover_the_phenomena():
    pairs = load_pairs(BUILTIN_PAIRS)
    assert len(pairs) >= 60
    phen = {p["phenomenon"] for p in pairs}
    assert {"subject_verb_number", "subject_verb_gender_past", "adjective_noun_case", "preposition_case_government"} <= phen
    assert all(p["sentence_good"] != p["sentence_bad"] for p in pairs)
    assert len({p["id"] for p in pairs}) == len(pairs)


def test_bad_file_names_the_line(tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text(json.dumps({"sentence_good": "a", "sentence_bad": "b"}) + "\n" + json.dumps({"good": "x"}) + "\n")
    with pytest.raises(DataError, match=r"pairs.jsonl:2"):
        load_pairs(path)


def test_model_scores_builtin_pairs(eval_run):
    from training.evals.backends import torch_backend
    from training.evals.minimal_pairs import evaluate_pairs

    r = evaluate_pairs(torch_backend(eval_run), load_pairs(BUILTIN_PAIRS, limit=12))
    assert r["pairs"] == 12 and 0.0 <= r["accuracy"] <= 1.0
    assert all(x["logp_good"] < 0 and x["logp_bad"] < 0 for x in r["results"])
    assert sum(s["pairs"] for s in r["per_phenomenon"].values()) == 12
