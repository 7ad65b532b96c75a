"""`purple ask`: piped stdin as context, the reply streamed to stdout, one-line errors."""
from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from purple.ask import compose, main
from tests.purple.fake_ollama import FakeOllama, reply_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def no_user_config(tmp_path, monkeypatch):
    monkeypatch.setenv("PURPLE_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.delenv("OLLAMA_HOST", raising=False)


class Pipe(io.StringIO):
    def isatty(self):
        return False


def test_compose_puts_context_first():
    assert compose("Streść", "długi tekst\n") == "długi tekst\n\nStreść"
    assert compose("", "tylko wejście") == "tylko wejście"
    assert compose("tylko pytanie", None) == "tylko pytanie"


def test_piped_stdin_is_context_and_the_reply_streams(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", Pipe("Ala ma kota.\n"))
    with FakeOllama() as fake:
        assert main(["--model", "fake", "--host", fake.url, "Streść", "to"]) == 0
        assert list(fake.attempts) == ["Ala ma kota.\n\nStreść to"]
    assert capsys.readouterr().out == reply_for("Ala ma kota.\n\nStreść to") + "\n"


@pytest.mark.parametrize("argv, message", [
    (["--model", "nie-ma", "pytanie"], "'nie-ma' not found"),
    (["--model", "fake"], "nothing to ask"),
])
def test_errors_are_one_line(monkeypatch, capsys, argv, message):
    monkeypatch.setattr("sys.stdin", Pipe(""))
    with FakeOllama() as fake:
        assert main([*argv, "--host", fake.url]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.err.count("\n") == 1 and captured.out == ""


def test_in_a_real_shell_pipeline_that_stops_reading_early():
    """The reply (an echo of 300 kB of context) outgrows the pipe; `head` leaves; ask exits 0, no traceback."""
    with FakeOllama() as fake:
        ask = f'{sys.executable} -c "import sys; from purple.ask import main; sys.exit(main())"'
        cmd = f"set -o pipefail; head -c 300000 /dev/zero | tr '\\0' 'a' | {ask} --model fake --host {fake.url} pytanie | head -c 4"
        done = subprocess.run(["bash", "-c", cmd], capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
                              timeout=30)
    assert done.stdout == b"odpo"
    assert done.returncode == 0 and b"Traceback" not in done.stderr, done.stderr
