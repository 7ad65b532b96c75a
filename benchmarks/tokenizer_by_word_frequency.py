"""Where tokenizers spend their tokens on NTREX news: by how often each word occurs in our training corpus.

    python benchmarks/tokenizer_by_word_frequency.py [--corpus work/polski-mini/corpus]
        [--tokenizer work/polski-mini/tokenizer ../shared/data/tokenizers/politbert-pl/books_wikipedia_v32k_sen10M.spm.bpe.model]
        --out benchmarks/results/tokenizer_by_word_frequency

Words are whitespace-separated, as in `polski tokenizer report`; each is encoded as it stands in running text (after a
space), one at a time, and bucketed by the corpus count of its longest run of letters and digits (case-sensitive).
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import sentencepiece
from ntrex_by_word_frequency import BUCKETS, WORD, bucket_of, corpus_word_counts
from provenance import provenance, write_results

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from training.evals.texts import load_texts  # noqa: E402
from training.tokenizer import load_any_tokenizer  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"


def bucket_of_word(word: str, counts: Counter) -> str:
    cores = WORD.findall(word)
    return bucket_of(counts[max(cores, key=len)], max(cores, key=len)) if cores else "punctuation only"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=ROOT / "work" / "polski-mini" / "corpus")
    ap.add_argument("--tokenizer", nargs="+", default=[str(ROOT / "work" / "polski-mini" / "tokenizer"), str(
        SHARED / "tokenizers" / "politbert-pl" / "books_wikipedia_v32k_sen10M.spm.bpe.model")])
    ap.add_argument("--text", type=Path, default=SHARED / "eval" / "heldout-text" / "ntrex128-pol.jsonl")
    ap.add_argument("--out", type=Path, required=True, help="writes OUT.json and OUT.md")
    args = ap.parse_args()
    for path in (args.corpus, args.text, *map(Path, args.tokenizer)):
        if not path.exists():
            raise SystemExit(f"error: {path} does not exist (build the polski-mini corpus and tokenizer first: docs/polski-mini.md)")

    counts = corpus_word_counts(args.corpus)
    words = Counter(w for text in load_texts(args.text) for w in text.split())
    names = [name for *_, name in BUCKETS] + ["numbers", "punctuation only"]
    bucket_words = {name: Counter() for name in names}
    for word, n in words.items():
        bucket_words[bucket_of_word(word, counts)][word] = n
    total_words = sum(words.values())
    tokenizers = [load_any_tokenizer(path) for path in args.tokenizer]
    rows = {}
    for name in names:
        row = {"words": sum(bucket_words[name].values())}
        for tok in tokenizers:
            row[tok.name] = sum(n * len(tok.encode(tok.word_prefix + w)) for w, n in bucket_words[name].items())
        rows[name] = row
    totals = {tok.name: sum(r[tok.name] for r in rows.values()) for tok in tokenizers}

    result = {**provenance("tokenizer_by_word_frequency", {"sentencepiece": sentencepiece.__version__}),
              "text": args.text.name, "words": total_words, "rows": rows,
              "tokens_per_word": {k: v / total_words for k, v in totals.items()}}
    head = " | ".join(f"{t.name}: tokens/word | {t.name}: share of its tokens" for t in tokenizers)
    lines = [f"# Tokens per word on {args.text.name} by how often the word occurs in our corpus", "",
             f"{result['date']}, {result['device']}; `{result['command']}`", "",
             "Words one at a time, each after a space (a word's longest run of letters and digits decides its row). "
             "Overall: " + ", ".join(f"{k} {v:.3f}" for k, v in result["tokens_per_word"].items()) + " tokens/word.", "",
             f"| words of the text | share of words | {head} |", "|---|---:|" + "---:|---:|" * len(tokenizers)]
    for name, r in rows.items():
        cells = " | ".join(f"{r[t.name] / max(1, r['words']):.3f} | {r[t.name] / totals[t.name]:.1%}" for t in tokenizers)
        lines.append(f"| {name} | {r['words'] / total_words:.1%} | {cells} |")
    write_results(args.out, result, lines)


if __name__ == "__main__":
    main()
