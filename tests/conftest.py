"""Session fixtures shared by the whole suite: the real Ollama server and a tiny trained model.

In CI (CI=true) a missing required part (Ollama, llama.cpp) fails the test; elsewhere it skips.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing_part(message: str):
    """Fail in CI, skip elsewhere: a missing Ollama or llama.cpp must not pass CI silently."""
    if IN_CI:
        pytest.fail(f"{message} (required in CI)")
    pytest.skip(message)


def shared_data(relative: str) -> Path:
    """A path under ../shared/data, or a skip when a fresh clone has no ../shared."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"../shared/data/{relative} is absent (only the project's own machines have it)")
    return path


@pytest.fixture(scope="session")
def ollama_server(tmp_path_factory):
    from training.ollama_server import find_binary, start_server

    binary = find_binary()
    if binary is None:
        missing_part("no `ollama` binary: run `bash scripts/ollama/install.sh`")
    server = start_server(tmp_path_factory.mktemp("ollama-models"), binary=binary, extra_env={"OLLAMA_NUM_PARALLEL": "4"})
    yield server
    server.stop()
