"""What each SentencePiece setting costs or buys in fertility: 32k tokenizers trained on one seeded corpus sample.

    python benchmarks/tokenizer_variants.py [--corpus work/polski-mini/corpus] [--sample 150000]

Every variant changes one setting of `training.tokenizer.trainer_settings` (the shipped ones: BPE, no dummy
prefix, digits split, pieces up to 16 characters); results go to benchmarks/results/tokenizer_variants.{json,md}.
Needs ../shared/data for the NTREX news text.
"""
from __future__ import annotations

import argparse
import io
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
from training.tokenizer import (  # noqa: E402
    _iter_texts,
    fertility,
    load_any_tokenizer,
    markdown_table,
    sample_units,
    trainer_settings,
)

VARIANTS = {
    "shipped settings": {},
    "unigram model": {"model_type": "unigram"},
    "pieces up to 24 chars": {"max_sentencepiece_length": 24},
    "digits not split": {"split_digits": False},
    "dummy prefix": {"add_dummy_prefix": True},
    "24 chars + digits not split + dummy prefix": {"max_sentencepiece_length": 24, "split_digits": False,
                                                   "add_dummy_prefix": True},
}


def main() -> None:
    import sentencepiece as spm

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "work" / "polski-mini" / "corpus")
    parser.add_argument("--sample", type=int, default=150_000, help="train paragraphs every variant sees")
    parser.add_argument("--vocab-size", type=int, default=32000)
    args = parser.parse_args()

    texts = measured_texts(args.corpus)
    config = TokenizerConfig(vocab_size=args.vocab_size, sample_sentences=args.sample)
    units = sample_units(_iter_texts(args.corpus), config)
    rows: dict[str, list[dict]] = {name: [] for name in texts}
    seconds = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, overrides in VARIANTS.items():
            start = time.perf_counter()
            model = io.BytesIO()
            spm.SentencePieceTrainer.train(sentence_iterator=iter(units), model_writer=model, num_threads=2, minloglevel=2,
                                           **{**trainer_settings(config), **overrides})
            path = Path(tmp) / f"{len(seconds)}.model"
            path.write_bytes(model.getvalue())
            tok = load_any_tokenizer(path)
            tok.name = label
            seconds[label] = round(time.perf_counter() - start, 1)
            for name, t in texts.items():
                rows[name].append(fertility(tok, t))
            print(f"{label}: {seconds[label]} s, val {rows['val'][-1]['tokens_per_word']:.3f}, "
                  f"ntrex {rows['ntrex'][-1]['tokens_per_word']:.3f} tokens/word", flush=True)

    import sentencepiece

    result = {**provenance("tokenizer_variants", {"sentencepiece": sentencepiece.__version__}),
              "sample_paragraphs": len(units), "vocab_size": args.vocab_size, "variants": VARIANTS,
              "train_seconds": seconds, "results": rows}
    write_json(ROOT / "benchmarks" / "results" / "tokenizer_variants.json", result)
    md = [f"# Tokenizer settings, one at a time ({args.vocab_size:,} pieces, {len(units):,} sampled train paragraphs)\n",
          f"{result['date']}, {result['device']}; `{result['command']}`\n"]
    for name, table in rows.items():
        md.append(f"## {name}\n\n{markdown_table(table)}")
    write_text(ROOT / "benchmarks" / "results" / "tokenizer_variants.md", "\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
