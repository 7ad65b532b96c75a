"""Original Polish test prose (tests/data/polski.txt) and tiny artefacts built from it, for everyone's tests.

    from tests.polish_text import polish_text, build_tiny_tokenizer, build_tiny_bins
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
TEXT_FILE = DATA / "polski.txt"
TINY_VOCAB = 512  # as in training/configs/polski-tiny.toml


@lru_cache(maxsize=1)
def polish_text() -> str:
    """About 30 KB of varied, original Polish prose with dialogue and numbers; paragraphs split by blank lines."""
    return TEXT_FILE.read_text(encoding="utf-8")


def polish_paragraphs() -> list[str]:
    return [p.strip("\n") for p in polish_text().split("\n\n") if p.strip()]


def write_polish_jsonl(path: Path, copies: int = 1) -> Path:
    """Writes each paragraph as a `{"text"}` record (a source for `polski corpus build`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for copy in range(copies):
            for paragraph in polish_paragraphs():
                text = paragraph if copy == 0 else f"{paragraph} (kopia {copy})"
                f.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")
    return path


def build_tiny_tokenizer(tmp_dir: Path, vocab_size: int = TINY_VOCAB) -> Path:
    """Trains a 512-piece TOKENIZER_DIR on the test prose in about a second; returns the dir."""
    from training.config import TokenizerConfig
    from training.tokenizer import train_tokenizer

    out = Path(tmp_dir) / f"tokenizer-{vocab_size}"
    if not (out / "tokenizer.model").is_file():
        train_tokenizer(TEXT_FILE, out, TokenizerConfig(vocab_size=vocab_size, threads=1))
    return out


def build_tiny_bins(tmp_dir: Path, tokenizer_dir: Path | None = None, val_every: int = 10) -> Path:
    """BINS_DIR from the test prose: every `val_every`-th paragraph goes to val, the rest to train."""
    from training.data import tokenize_texts

    tokenizer_dir = tokenizer_dir or build_tiny_tokenizer(tmp_dir)
    paragraphs = polish_paragraphs()
    splits = {
        "train": [p for i, p in enumerate(paragraphs) if i % val_every],
        "val": [p for i, p in enumerate(paragraphs) if i % val_every == 0],
    }
    out = Path(tmp_dir) / "bins"
    if not (out / "manifest.json").is_file():
        tokenize_texts(splits, tokenizer_dir, out)
    return out
