"""The corpus validation split as one JSONL file per source, for `polski eval --text` (bits per byte by register).

    python benchmarks/val_by_source.py [--corpus work/polski-mini/corpus] [--max-chars 100000] --out DIR
    polski eval modelfiles/polski-mini/polski-mini.gguf --text DIR/*.jsonl --stride 1024 --out OUT

--max-chars cuts each document (the Sejm sitting days are ~0.5 MB each; scoring them whole on a CPU takes long).
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from training.atomic import write_text  # noqa: E402
from training.corpus.readers import iter_corpus_records  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=ROOT / "work" / "polski-mini" / "corpus")
    ap.add_argument("--max-chars", type=int, default=100_000)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    by_source: dict[str, list[str]] = defaultdict(list)
    for record in iter_corpus_records(args.corpus, "val"):
        name = Path(record.get("source", "unknown")).name.split(".")[0]
        by_source[name].append(json.dumps({"text": record["text"][: args.max_chars]}, ensure_ascii=False))
    for name, lines in sorted(by_source.items()):
        write_text(args.out / f"val-{name}.jsonl", "\n".join(lines) + "\n")
        print(f"{args.out / f'val-{name}.jsonl'}: {len(lines)} documents")


if __name__ == "__main__":
    main()
