"""`polski register` failures that need no server: one line each, naming the fix, exit code 2."""
from __future__ import annotations

from training.cli import main
from training.export.export_model import export_model
from training.ollama_server import free_port


def test_server_down(random_run, tmp_path, capsys):
    gguf = export_model(random_run, tmp_path / "m.gguf", dtype="f16").path
    assert main(["register", "--name", "x", "--gguf", str(gguf), "--host", f"http://127.0.0.1:{free_port()}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "cannot reach Ollama" in err and "--start-server" in err


def test_missing_file_and_nothing_given(tmp_path, capsys):
    assert main(["register", "--name", "x", "--gguf", str(tmp_path / "missing.gguf")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["register", "--name", "x"]) == 2
    assert "--modelfile" in capsys.readouterr().err
