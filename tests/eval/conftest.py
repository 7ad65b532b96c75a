"""Fixtures for the eval/inspect tests: the suite's `tiny_run` and a few held-out paragraphs."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.polish_text import polish_paragraphs


@pytest.fixture(scope="session")
def eval_run(tiny_run) -> Path:
    return Path(tiny_run)


@pytest.fixture(scope="session")
def heldout_texts() -> list[str]:
    return polish_paragraphs()[::10][:6]
