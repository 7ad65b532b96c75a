"""`polski import`: a GGUF of `polski export` back into a RUN_DIR with the same weights, or a clear refusal."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from training.checkpoint import load_checkpoint
from training.errors import CheckpointError, ExportError
from training.export.export_model import export_model
from training.export.gguf_writer import permute_rope_rows, unpermute_rope_rows
from training.export.import_gguf import import_gguf


def test_unpermute_inverts_the_rope_permutation():
    w = torch.arange(8 * 3, dtype=torch.float32).reshape(8, 3)
    assert not torch.equal(permute_rope_rows(w, 2), w)
    assert torch.equal(unpermute_rope_rows(permute_rope_rows(w, 2), 2), w)


@pytest.mark.parametrize("run_name", ["random_run", "untied_gqa_run"])
def test_f32_round_trip_gives_back_every_weight_exactly(run_name, request, tmp_path, tiny_tokenizer):
    run = request.getfixturevalue(run_name)
    gguf_path = tmp_path / "model.gguf"
    export_model(run, gguf_path, dtype="f32")
    step_dir = import_gguf(gguf_path, tiny_tokenizer, tmp_path / "imported")
    original = load_checkpoint(run, weights_only=True).model_state
    imported = load_checkpoint(tmp_path / "imported", weights_only=True)
    assert step_dir.name == "step-000001" and imported.meta["imported_from"]["weights_dtype"] == "f32"
    assert set(imported.model_state) == set(original)
    for name, t in original.items():
        assert torch.equal(imported.model_state[name], t.float()), name


def test_q8_0_round_trip_re_exports_the_same_tensors(random_run, tmp_path, tiny_tokenizer):
    import gguf

    first = tmp_path / "q8.gguf"
    export_model(random_run, first, dtype="q8_0")
    import_gguf(first, tiny_tokenizer, tmp_path / "imported")
    again = tmp_path / "again.gguf"
    export_model(tmp_path / "imported", again, dtype="q8_0")
    a = {t.name: t.data for t in gguf.GGUFReader(str(first)).tensors}
    b = {t.name: t.data for t in gguf.GGUFReader(str(again)).tensors}
    assert a.keys() == b.keys() and all(np.array_equal(a[n], b[n]) for n in a)
    original = load_checkpoint(random_run, weights_only=True).model_state["layers.0.attention.wq.weight"]
    imported = load_checkpoint(tmp_path / "imported", weights_only=True).model_state["layers.0.attention.wq.weight"]
    assert 0 < (imported - original).abs().max() <= original.abs().max() / 127  # within one Q8_0 step


def test_refusals_name_the_fix(random_run, tmp_path, tiny_tokenizer):
    import shutil

    from training.layout import TOKENIZER_MODEL_FILE as MODEL_FILE

    gguf_path = tmp_path / "model.gguf"
    export_model(random_run, gguf_path, dtype="f32")
    other = shutil.copytree(tiny_tokenizer, tmp_path / "other-tok")
    with open(other / MODEL_FILE, "ab") as f:  # another tokenizer: its model file's hash differs
        f.write(b"\0")
    with pytest.raises(ExportError, match="pass that run's tokenizer dir"):
        import_gguf(gguf_path, other, tmp_path / "a")
    assert not (tmp_path / "a").exists()  # nothing half-written
    with pytest.raises(ExportError, match="does not exist"):
        import_gguf(tmp_path / "missing.gguf", tiny_tokenizer, tmp_path / "b")
    import_gguf(gguf_path, tiny_tokenizer, tmp_path / "c")
    with pytest.raises(CheckpointError, match="choose a new --out"):
        import_gguf(gguf_path, tiny_tokenizer, tmp_path / "c")


def test_cli_import(random_run, tmp_path, tiny_tokenizer, capsys):
    from training.cli import main

    gguf_path = tmp_path / "model.gguf"
    export_model(random_run, gguf_path, dtype="f16")
    assert main(["import", str(gguf_path), "--tokenizer", str(tiny_tokenizer), "--out", str(tmp_path / "run")]) == 0
    assert "imported" in capsys.readouterr().out
    assert (tmp_path / "run" / "config.toml").is_file() and (tmp_path / "run" / "tokenizer").is_dir()


def test_an_imported_gguf_is_tuned_further_by_polski_sft(tiny_run, tiny_gguf, tmp_path):
    from training.checkpoint import read_meta
    from training.config import load_config
    from training.sft import run_sft

    imported = import_gguf(tiny_gguf, tiny_run / "tokenizer", tmp_path / "imported")
    config = load_config("polski-tiny", {"sft": {"sources": [str(tiny_run.parent / "sft.jsonl")], "max_steps": 2,
                                                 "micro_batch_size": 4, "multi_turn_share": 0.5}})
    run_sft(config, tmp_path / "imported", tmp_path / "tuned", console=lambda *_: None)
    tuned = load_checkpoint(tmp_path / "tuned", weights_only=True)
    assert tuned.meta["step"] == 2 and read_meta(tuned.path).get("init_from") == str(imported)
    before = load_checkpoint(tmp_path / "imported", weights_only=True).model_state["norm.weight"]
    assert not torch.equal(tuned.model_state["norm.weight"], before)  # it trained from the imported weights
