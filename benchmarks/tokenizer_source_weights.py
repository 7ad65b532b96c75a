"""Does a tokenizer sample weighted toward the corpus's contemporary sources lower NTREX (news) fertility?

    python benchmarks/tokenizer_source_weights.py [--corpus work/polski-mini/corpus] [--weights 1 3 6 20]

32k tokenizers with pieces that span words, each trained on 150k train paragraphs drawn without replacement, the
contemporary ones (Sejm debates and interpellation replies, OpenStax textbooks, current codes, the 1995 committee)
with weight W, the rest 1 (Efraimidis-Spirakis keys log(u)/W, seed 1234). Val is also measured in two parts, old and
contemporary sources, because the val split is mostly Sejm text. Results: benchmarks/results/tokenizer_source_weights.*
"""
from __future__ import annotations

import argparse
import heapq
import math
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from provenance import provenance  # noqa: E402
from tokenizer_fertility import measured_texts  # noqa: E402
from training.atomic import write_json, write_text  # noqa: E402
from training.config import TokenizerConfig  # noqa: E402
from training.corpus.readers import iter_corpus_records  # noqa: E402
from training.tokenizer import (  # noqa: E402
    _split_long,
    fertility,
    load_any_tokenizer,
    train_model_bytes,
    trainer_settings,
    training_units,
)

CONTEMPORARY = ("sejm-stenogramy", "sejm-interpelacje", "openstax-pl", "kodeksy-tekst-jednolity", "kkzn-biuletyny")
SAMPLE, SEED = 150_000, 1234


def contemporary(record: dict) -> bool:
    return any(name in record.get("source", "") for name in CONTEMPORARY)


def weighted_sample(corpus: Path, weight: float) -> tuple[list[str], float]:
    """(units in corpus order, contemporary share of their characters)."""
    rng = random.Random(SEED)
    heap: list[tuple[float, int, str, bool]] = []
    seen = 0
    for record in iter_corpus_records(corpus, "train"):
        modern = contemporary(record)
        for paragraph in training_units(record["text"]):
            for unit in _split_long(paragraph, TokenizerConfig().max_sentence_length):
                item = (math.log(1.0 - rng.random()) / (weight if modern else 1.0), seen, unit, modern)
                seen += 1
                if len(heap) < SAMPLE:
                    heapq.heappush(heap, item)
                elif item[0] > heap[0][0]:
                    heapq.heapreplace(heap, item)
    chosen = sorted(heap, key=lambda t: t[1])
    chars = sum(len(t[2]) for t in chosen)
    return [t[2] for t in chosen], sum(len(t[2]) for t in chosen if t[3]) / chars


def val_parts(corpus: Path, texts: dict) -> dict[str, list[str]]:
    """The measured val text, split into old and contemporary sources."""
    budget = sum(map(len, texts["val"]))
    parts: dict[str, list[str]] = {"val, old sources": [], "val, contemporary sources": []}
    for record in iter_corpus_records(corpus, "val"):
        text = record["text"][:budget]
        parts["val, contemporary sources" if contemporary(record) else "val, old sources"].append(text)
        budget -= len(text)
        if budget <= 0:
            break
    return parts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=ROOT / "work" / "polski-mini" / "corpus")
    ap.add_argument("--weights", type=float, nargs="+", default=[1, 3, 6, 20])
    args = ap.parse_args()
    texts = measured_texts(args.corpus)
    texts.update(val_parts(args.corpus, texts))
    config = TokenizerConfig(vocab_size=32000, pieces_span_words=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for weight in args.weights:
            units, share = weighted_sample(args.corpus, weight)
            start = time.perf_counter()
            path = Path(tmp) / f"w{weight:g}.model"
            path.write_bytes(train_model_bytes(units, trainer_settings(config), threads=2))
            tok = load_any_tokenizer(path)
            row = {"weight": weight, "contemporary_chars": round(share, 3), "train_s": round(time.perf_counter() - start, 1),
                   "tokens_per_word": {name: round(fertility(tok, t)["tokens_per_word"], 3) for name, t in texts.items()}}
            rows.append(row)
            print(row, flush=True)
    import sentencepiece

    result = {**provenance("tokenizer_source_weights", {"sentencepiece": sentencepiece.__version__}),
              "sample_paragraphs": SAMPLE, "contemporary_sources": CONTEMPORARY, "rows": rows}
    write_json(ROOT / "benchmarks" / "results" / "tokenizer_source_weights.json", result)
    names = list(rows[0]["tokens_per_word"])
    md = [f"# Tokenizer sample weighted toward contemporary sources (32k, pieces span words, {SAMPLE:,} paragraphs)\n",
          f"{result['date']}, {result['device']}; `{result['command']}`\n",
          "| weight | contemporary share of sample chars | " + " | ".join(f"{n} tokens/word" for n in names) + " |",
          "|---:|---:|" + "---:|" * len(names)]
    md += [f"| {r['weight']:g} | {r['contemporary_chars']:.0%} | " + " | ".join(f"{r['tokens_per_word'][n]:.3f}" for n in names) + " |"
           for r in rows]
    write_text(ROOT / "benchmarks" / "results" / "tokenizer_source_weights.md", "\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
