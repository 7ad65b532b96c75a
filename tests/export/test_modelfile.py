"""Modelfiles: what we write parses back to the same fields; FROM is a local file; the shipped one is current."""
from __future__ import annotations

from pathlib import Path

import pytest

from training.config import dump_config, load_config
from training.errors import ExportError
from training.export.modelfile import (
    parse_modelfile,
    read_modelfile,
    render_modelfile,
    write_modelfile,
)
from training.export.templates import CHATML_GO
from training.register import resolve_inputs

ROOT = Path(__file__).resolve().parents[2]


def test_render_parses_back():
    config = load_config("polski-mini")
    mf = parse_modelfile(render_modelfile("./polski-mini.gguf", config))
    assert mf.from_ == "./polski-mini.gguf"
    assert mf.template == CHATML_GO
    assert mf.system == config.ollama.system and "po polsku" in mf.system
    o = config.ollama
    assert mf.parameters == {"stop": ["<|im_end|>"], "num_ctx": 1024, "temperature": o.temperature, "top_p": o.top_p,
                             "repeat_penalty": o.repeat_penalty, "repeat_last_n": o.repeat_last_n}
    assert mf.license == ["Apache-2.0"]


def test_template_has_no_bos_and_one_system():
    assert "<s>" not in CHATML_GO and ".System" not in CHATML_GO
    assert CHATML_GO.count("range .Messages") == 1


def test_shipped_polski_1b3_modelfile_is_generated_one():
    path = ROOT / "modelfiles" / "polski-1b3.Modelfile"
    assert path.read_text(encoding="utf-8") == render_modelfile("./polski-1b3.gguf", load_config("polski-1b3")), \
        "regenerate it: polski modelfile with the polski-1b3 config (see modelfiles/README.md)"
    mf = read_modelfile(path)
    assert mf.from_path() == ROOT / "modelfiles" / "polski-1b3.gguf"


def test_parser_syntax():
    text = '# comment\nfrom  /abs/m.gguf\nparameter stop "a\\"b"\nPARAMETER stop <x>\nPARAMETER top_k 40\n' \
           'SYSTEM one line here\nLICENSE """multi\nline"""\n'
    mf = parse_modelfile(text)
    assert mf.from_ == "/abs/m.gguf" and mf.parameters == {"stop": ['a"b', "<x>"], "top_k": 40}
    assert mf.system == "one line here" and mf.license == ["multi\nline"]
    with pytest.raises(ExportError, match="unknown Modelfile command"):
        parse_modelfile("FROM x\nBOGUS y\n")
    with pytest.raises(ExportError, match="not a valid value"):
        parse_modelfile("PARAMETER num_ctx lots\n")
    with pytest.raises(ExportError, match='unterminated """'):
        parse_modelfile('SYSTEM """never closed\n')


def test_missing_from_file_is_an_error_not_a_pull(tmp_path):
    mf = tmp_path / "sub" / "Modelfile"
    mf.parent.mkdir()
    mf.write_text(render_modelfile("./nope.gguf", load_config("polski-tiny")))
    with pytest.raises(ExportError, match=r"nope\.gguf does not exist.*never pulls"):
        resolve_inputs(mf, None)
    (tmp_path / "sub" / "nope.gguf").write_bytes(b"not a gguf")
    with pytest.raises(ExportError, match="not a GGUF"):
        resolve_inputs(mf, None)
    with pytest.raises(ExportError, match="--modelfile"):
        resolve_inputs(None, None)


def test_cli_modelfile_from_gguf(random_run, tmp_path, capsys):
    from training.cli import main
    from training.export.export_model import export_model

    gguf = tmp_path / "models" / "tiny.gguf"
    export_model(random_run, gguf, dtype="f16")
    out = tmp_path / "Modelfile"
    assert main(["modelfile", str(gguf), "--out", str(out)]) == 0
    mf = read_modelfile(out)
    assert mf.from_ == "./models/tiny.gguf" and mf.from_path() == gguf
    assert mf.parameters["num_ctx"] == 128  # polski-tiny's context length, from the GGUF's embedded config
    assert main(["modelfile", str(gguf), "--out", str(out)]) == 2  # no silent overwrite
    assert main(["modelfile", str(random_run)]) == 0
    assert "FROM " in capsys.readouterr().out

    # --config: the sampling settings and system prompt of another config, the model's own context length
    other = tmp_path / "sampling.toml"
    other.write_text(dump_config(load_config("polski-tiny", {"ollama": {"temperature": 0.4, "repeat_last_n": 16,
                                                                        "system": "Odpowiadaj krótko."}})))
    assert main(["modelfile", str(gguf), "--out", str(out), "--force", "--config", str(other)]) == 0
    mf = read_modelfile(out)
    assert mf.parameters["temperature"] == 0.4 and mf.parameters["repeat_last_n"] == 16 and mf.parameters["num_ctx"] == 128
    assert mf.system == "Odpowiadaj krótko."


def test_write_modelfile_relative(tmp_path):
    gguf = tmp_path / "a" / "m.gguf"
    target = write_modelfile(tmp_path / "b" / "Modelfile", gguf, load_config("polski-tiny"))
    assert read_modelfile(target).from_ == "../a/m.gguf"


def test_gguf_with_an_outdated_embedded_config_falls_back_to_its_metadata(tiny_gguf, tiny_run, tmp_path, capsys):
    """A GGUF exported before a config key was renamed (as the first shipped polski-mini: sft.mix_pretrain)."""
    from training.register import config_from_gguf

    data = tiny_gguf.read_bytes()
    assert data.count(b"pretrain_mix = ") == 1
    old = tmp_path / "old.gguf"
    old.write_bytes(data.replace(b"pretrain_mix = ", b"mix_pretrain = "))  # same length: the GGUF stays valid
    config = config_from_gguf(old)
    expected = load_config(tiny_run / "config.toml").model
    assert (config.model.n_layers, config.model.d_model, config.model.context_length) == \
        (expected.n_layers, expected.d_model, expected.context_length)
    assert "sft.mix_pretrain: unknown key" in capsys.readouterr().err


def test_shipped_polski_mini_modelfile_has_its_configs_sampling_settings():
    """The shipped Modelfile is `polski modelfile polski-mini.gguf --config polski-mini` (modelfiles/README.md)."""
    o = load_config("polski-mini").ollama
    mf = read_modelfile(ROOT / "modelfiles" / "polski-mini" / "Modelfile")
    assert mf.from_path() == ROOT / "modelfiles" / "polski-mini" / "polski-mini.gguf"
    assert {k: mf.parameters[k] for k in ("temperature", "top_p", "repeat_penalty", "repeat_last_n")} == \
        {"temperature": o.temperature, "top_p": o.top_p, "repeat_penalty": o.repeat_penalty, "repeat_last_n": o.repeat_last_n}
    assert mf.system == o.system
