"""`--format hf`: transformers' LlamaForCausalLM loads the folder and gives our logits."""
from __future__ import annotations

import json

import pytest
import torch

from training.export.export_model import export_model
from training.export.source import load_source


@pytest.mark.parametrize("run_fixture", ["random_run", "untied_gqa_run"])
def test_transformers_logits_match(request, run_fixture, tmp_path):
    transformers = pytest.importorskip("transformers", reason="pip install transformers to check the HF export")
    run = request.getfixturevalue(run_fixture)
    out = tmp_path / "hf"
    report = export_model(run, out, dtype="f32", fmt="hf")
    assert report.format == "hf" and (out / "tokenizer.model").is_file()
    config = json.loads((out / "config.json").read_text())
    src = load_source(run)
    assert config["architectures"] == ["LlamaForCausalLM"]
    assert config["tie_word_embeddings"] == src.model.tie_embeddings
    assert config["num_key_value_heads"] == src.model.kv_heads
    hf = transformers.LlamaForCausalLM.from_pretrained(out, torch_dtype=torch.float32).eval()
    ids = torch.randint(0, src.model.vocab_size, (2, 96), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        theirs = hf(ids).logits
        ours = src.torch_model()(ids)[0]
    assert (ours - theirs).abs().max().item() <= 1e-4
    assert json.loads((out / "tokenizer_config.json").read_text())["chat_template"].startswith("{% for message")


def test_hf_refuses_quantize(random_run, tmp_path):
    from training.errors import ExportError

    with pytest.raises(ExportError, match="GGUF only"):
        export_model(random_run, tmp_path / "hf", fmt="hf", quantize="q8_0")
