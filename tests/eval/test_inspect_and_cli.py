import json
import math

import matplotlib.image as mpimg
import pytest
import torch

from training.cli import main
from training.evals.backends import torch_backend
from training.inspection import attention_maps, surprisals, top_k


@pytest.fixture(scope="module")
def backend(eval_run):
    return torch_backend(eval_run)


def test_surprisal_and_top_k(backend):
    scores, logp = surprisals(backend, "Dzieci bawią się w ogrodzie.")
    assert scores[0].surprisal_bits is None and scores[0].id == backend.bos_id
    assert all(s.surprisal_bits >= 0 and math.isfinite(s.surprisal_bits) for s in scores[1:])
    cand = top_k(backend, logp, 0, 5)
    probs = [p for _, _, p in cand]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0 + 1e-6
    assert math.isclose(-math.log2(math.exp(logp[0, scores[1].id])), scores[1].surprisal_bits, rel_tol=1e-6)


def test_attention_maps_reproduce_the_attention_output(backend):
    """wo(A @ v) from the explicit weights must equal what the model's attention block returned."""
    model = backend.model
    ids = [backend.bos_id] + backend.encode("Kot śpi na parapecie.")
    maps = attention_maps(model, ids)
    cfg = model.config
    assert maps.shape == (cfg.n_layers, cfg.n_heads, len(ids), len(ids))
    assert torch.allclose(torch.from_numpy(maps).sum(-1), torch.ones(1), atol=1e-5)
    assert (torch.from_numpy(maps).triu(1) == 0).all()  # causal
    got = {}
    att = model.layers[1].attention
    h1 = model.layers[1].attention_norm.register_forward_hook(lambda m, i, o: got.__setitem__("x", o))
    h2 = att.register_forward_hook(lambda m, i, o: got.__setitem__("y", o))
    with torch.no_grad():
        model(torch.tensor([ids]))
    h1.remove(), h2.remove()
    T = len(ids)
    v = att.wv(got["x"]).view(1, T, cfg.kv_heads, cfg.head_dim).transpose(1, 2).repeat_interleave(cfg.n_heads // cfg.kv_heads, 1)
    y = att.wo((torch.from_numpy(maps[1])[None] @ v).transpose(1, 2).reshape(1, T, -1))
    assert torch.allclose(y, got["y"], atol=1e-5)


def test_cli_inspect_writes_pngs(eval_run, tmp_path, capsys):
    assert main(["inspect", str(eval_run), "Ala ma kota.", "--top-k", "3", "--position", "1", "--attention-dir", str(tmp_path / "att")]) == 0
    out = capsys.readouterr().out
    assert "top 3 after position 1" in out
    pngs = sorted((tmp_path / "att").glob("*.png"))
    assert len(pngs) == 4 and mpimg.imread(pngs[0]).shape[0] > 100


def test_cli_eval_then_compare(eval_run, tmp_path, capsys):
    from tests.polish_text import polish_paragraphs

    text = tmp_path / "heldout.jsonl"
    text.write_text("".join(json.dumps({"text": p}, ensure_ascii=False) + "\n" for p in polish_paragraphs()[:3]))
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(json.dumps({"sentence_good": "Kot śpi.", "sentence_bad": "Kot śpią.", "phenomenon": "sv"}, ensure_ascii=False) + "\n")
    out = tmp_path / "eval"
    assert main(["eval", str(eval_run), "--text", str(text), "--pairs", str(pairs), "--samples", "--sample-tokens", "6", "--out", str(out)]) == 0
    result = json.loads((out / "eval.json").read_text())
    assert math.isfinite(result["bpb"]["heldout.jsonl"]["bpb"])
    assert result["minimal_pairs"]["pairs.jsonl"]["pairs"] == 1
    assert len(result["samples"]) == 6 and result["sample_seed"] == 1234
    md = (out / "eval.md").read_text()
    assert f"{result['bpb']['heldout.jsonl']['bpb']:.4f}" in md
    # same seed, same samples
    again = tmp_path / "again"
    assert main(["eval", str(eval_run), "--samples", "--sample-tokens", "6", "--out", str(again)]) == 0
    assert json.loads((again / "eval.json").read_text())["samples"] == result["samples"]
    capsys.readouterr()
    assert main(["eval", "compare", str(out / "eval.json"), str(out / "eval.json")]) == 0
    table = capsys.readouterr().out
    assert "heldout.jsonl bpb" in table and "+0.0000" in table


def test_cli_eval_missing_target_is_one_line(tmp_path, capsys):
    assert main(["eval", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err


def test_cli_eval_refuses_a_bad_input_file_before_loading_the_model(eval_run, tmp_path, capsys):
    """A wrong --pairs path used to surface only after every text had been scored (minutes on a CPU)."""
    text = tmp_path / "tekst.jsonl"
    text.write_text(json.dumps({"text": "Ala ma kota, a kot ma Alę."}, ensure_ascii=False) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    assert main(["eval", str(eval_run), "--text", str(text), "--pairs", str(tmp_path / "brak.jsonl"), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "brak.jsonl" in err and "\n" not in err
    assert not out.exists()
    # the same check comes before the model is even opened: a missing target is not what gets reported
    assert main(["eval", str(tmp_path / "nope"), "--pairs", str(tmp_path / "brak.jsonl")]) == 2
    assert "brak.jsonl" in capsys.readouterr().err
