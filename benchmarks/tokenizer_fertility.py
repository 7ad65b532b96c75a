"""Tokenizer fertility on Polish: ours next to GPT-2, Llama 2, cl100k and PoLitBert, plus a vocab-size sweep.

    python benchmarks/tokenizer_fertility.py --corpus work/polski-mini/corpus --tokenizer work/polski-mini-32k/tokenizer
        [work/polski-mini-span32k/tokenizer ...] [--sweep-span-words]

The issue's targets are for 32k: `polski tokenizer train --corpus work/polski-mini/corpus --vocab-size 32000
--out work/polski-mini-32k/tokenizer` (polski-mini itself ships a 16k tokenizer since 2026-12-01).

Texts: the corpus val split and NTREX-128 (../shared/data/eval/heldout-text/ntrex128-pol.jsonl).
The sweep trains tokenizers of several sizes on one seeded sample of the corpus train split and reports
the vocab size at which ours reaches each other tokenizer's tokens/word (linear interpolation).
Writes benchmarks/results/tokenizer_fertility.{json,md}.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from provenance import provenance  # noqa: E402
from training.atomic import write_json, write_text
from training.config import TokenizerConfig
from training.tokenizer import (
    fertility,
    load_any_tokenizer,
    markdown_table,
    read_texts,
    train_tokenizer,
)

SHARED = ROOT / ".." / "shared" / "data"
COMPARE = ["gpt2", "llama2", "tiktoken/cl100k_base.tiktoken",
           "politbert-pl/books_wikipedia_v32k_sen10M.spm.bpe.model", "politbert-pl/books_wikipedia_v50k_sen10M.spm.bpe.model"]
NOTES = """## notes

- Ours has no dummy prefix (llama.cpp parity): a word at the start of a line has no leading-space piece and
  is cut finer. NTREX holds one sentence per line, so every sentence start pays this; PoLitBert (dummy prefix,
  NFKC normalization that turns newlines into spaces) does not, and it pays nothing for newlines.
- Digits are split one a piece (`split_digits`), which costs on numbers, dates and article numbers.
- The corpus is 19th-century prose, statutes and parliament; NTREX is contemporary news.
- `pieces_span_words` (SentencePiece `split_by_whitespace=false`) lets frequent word pairs be one piece; see
  `tokenizer_variants.md` for what it costs, and `tokenizer_source_weights.md` for why NTREX barely moves.
"""
TARGETS = {"val": {"tokens_per_word": 1.45, "chars_per_token": 4.8}, "ntrex": {"tokens_per_word": 1.50}}


def measured_texts(corpus: Path) -> dict[str, list[str]]:
    """The texts fertility is measured on: the corpus validation split and the NTREX news sentences."""
    return {"val": read_texts(corpus), "ntrex": read_texts(SHARED / "eval" / "heldout-text" / "ntrex128-pol.jsonl")}


def crossing(sweep: list[dict], anchor: float) -> str:
    """The vocab size (interpolated) at which ours reaches `anchor` tokens/word, as text."""
    points = sorted((r["vocab_size"], r["tokens_per_word"]) for r in sweep)
    if points[0][1] <= anchor:
        return f"<= {points[0][0]:,}"
    for (v0, f0), (v1, f1) in zip(points, points[1:]):
        if f1 <= anchor < f0:
            return f"~{round(v0 + (v1 - v0) * (f0 - anchor) / (f0 - f1)):,}"
    return f"> {points[-1][0]:,}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=ROOT / "work" / "polski-mini" / "corpus")
    parser.add_argument("--tokenizer", type=Path, nargs="+", default=[ROOT / "work" / "polski-mini-32k" / "tokenizer"],
                        help="our TOKENIZER_DIRs, each shown as polski (its parent dir)")
    parser.add_argument("--sweep-span-words", action="store_true", help="also sweep with tokenizer.pieces_span_words")
    parser.add_argument("--sweep", type=int, nargs="*", default=[8000, 16000, 24000, 32000, 48000])
    parser.add_argument("--sweep-sample", type=int, default=150_000, help="lines of the train split each sweep tokenizer sees")
    args = parser.parse_args()

    texts = measured_texts(args.corpus)
    others = [load_any_tokenizer(SHARED / "tokenizers" / p) for p in COMPARE]
    ours = []
    for path in args.tokenizer:
        ours.append(load_any_tokenizer(path))
        ours[-1].name = f"polski ({path.resolve().parent.name})"
    tables = {name: [fertility(tok, t) for tok in [*ours, *others]] for name, t in texts.items()}

    settings = {"shipped settings": False, **({"pieces span words": True} if args.sweep_span_words else {})}
    sweeps: dict[str, dict[str, list[dict]]] = {label: {name: [] for name in texts} for label in settings}
    train_seconds: dict[str, dict[int, float]] = {label: {} for label in settings}
    with tempfile.TemporaryDirectory() as tmp:
        for label, span in settings.items():
            for vocab in args.sweep:
                start = time.perf_counter()
                config = TokenizerConfig(vocab_size=vocab, sample_sentences=args.sweep_sample, pieces_span_words=span)
                tok = load_any_tokenizer(train_tokenizer(args.corpus, Path(tmp) / f"{span}-{vocab}", config))
                train_seconds[label][vocab] = round(time.perf_counter() - start, 1)
                tok.name = f"sweep {vocab}"
                for name, t in texts.items():
                    sweeps[label][name].append(fertility(tok, t))
                print(f"{label} {vocab}: {train_seconds[label][vocab]} s, val "
                      f"{sweeps[label]['val'][-1]['tokens_per_word']:.3f} tokens/word", flush=True)
    crossings = {label: {name: {"target": crossing(sweep[name], TARGETS[name]["tokens_per_word"]),
                                **{r["tokenizer"]: crossing(sweep[name], r["tokens_per_word"]) for r in tables[name][len(ours):]}}
                         for name in texts} for label, sweep in sweeps.items()}

    import sentencepiece
    import tiktoken
    import tokenizers

    result = {
        **provenance("tokenizer_fertility", {"sentencepiece": sentencepiece.__version__,
                                             "tokenizers": tokenizers.__version__, "tiktoken": tiktoken.__version__}),
        "texts": {name: {"docs": len(t), "chars": sum(map(len, t))} for name, t in texts.items()},
        "targets": TARGETS,
        "results": tables,
        "sweep": {"sample_lines": args.sweep_sample, "train_seconds": train_seconds, "results": sweeps},
        "vocab_to_match": crossings,
    }
    write_json(ROOT / "benchmarks" / "results" / "tokenizer_fertility.json", result)

    md = [f"# Tokenizer fertility on Polish\n\n{result['date']}, {result['device']}; `{result['command']}`\n",
          "tokens/word: tokens per whitespace-separated word (lower is better); chars/token: higher is better.\n"]
    for name, rows in tables.items():
        md.append(f"## {name} ({result['texts'][name]['chars']:,} chars; targets {TARGETS[name]})\n\n{markdown_table(rows)}")
    for label, sweep in sweeps.items():
        md.append(f"## vocab sweep, {label} ({args.sweep_sample:,} sampled train paragraphs each)\n")
        for name in texts:
            md.append(f"### {name}\n\n{markdown_table(sweep[name])}")
            md.append("vocab size at which ours matches: " + ", ".join(
                f"{k} {v}" for k, v in crossings[label][name].items()) + "\n")
    md.append(NOTES)
    write_text(ROOT / "benchmarks" / "results" / "tokenizer_fertility.md", "\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
