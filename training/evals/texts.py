"""Held-out text for BPB: `.txt` (one document, or blank-line-separated with --split-paragraphs) or `.jsonl` {"text"}."""
from __future__ import annotations

import json
from pathlib import Path

from training.errors import DataError


def load_texts(path: Path | str, limit: int | None = None) -> list[str]:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} does not exist: give a .txt file or a .jsonl file of {{\"text\": ...}} records")
    if path.suffix == ".jsonl":
        texts = []
        with open(path, encoding="utf-8", newline="\n") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    texts.append(json.loads(line)["text"])
                except (ValueError, KeyError, TypeError):
                    raise DataError(f"{path}:{n}: expected a JSON object with a \"text\" field") from None
                if limit is not None and len(texts) >= limit:
                    break
        return texts
    text = path.read_text(encoding="utf-8")
    return [text] if text.strip() else []


def default_text_files(eval_dir: Path | str) -> list[Path]:
    """EVAL_DIR/heldout-text/*.jsonl (`polski eval --eval-data`); none when it is absent."""
    d = Path(eval_dir) / "heldout-text"
    return sorted(d.glob("*.jsonl")) if d.is_dir() else []


def default_pair_files(eval_dir: Path | str) -> list[Path]:
    """The built-in minimal pairs, then EVAL_DIR/minimal-pairs/*.jsonl when present."""
    from training.evals.minimal_pairs import BUILTIN_PAIRS

    d = Path(eval_dir) / "minimal-pairs"
    shared = sorted(d.glob("*.jsonl")) if d.is_dir() else []
    return [BUILTIN_PAIRS] + shared
