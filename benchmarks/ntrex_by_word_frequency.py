"""Where a model's bits on NTREX news go: by how often each word occurs in the training corpus.

    python benchmarks/ntrex_by_word_frequency.py [--model modelfiles/polski-mini/polski-mini.gguf]
        [--corpus work/polski-mini/corpus] [--tokenizer work/polski-mini/tokenizer] --out benchmarks/results/ntrex_by_word_frequency

Each token's bits go to the word holding its last letter or digit (a word: a maximal run of letters and digits);
tokens with neither (spaces, punctuation) form their own row. Words are counted case-sensitively in the corpus
train split, so a capitalised name is counted as written. BPB per row = its bits / its bytes. A token's leading
space is scored with its word while the space's byte counts under "spaces and punctuation", so word rows read a
little high and that row low.
"""
from __future__ import annotations

import argparse
import math
import re
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import sentencepiece as spm
from provenance import provenance, write_results

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from training.corpus.readers import iter_corpus_texts  # noqa: E402
from training.evals.backends import open_backend  # noqa: E402
from training.evals.bpb import sequence_logprobs  # noqa: E402
from training.evals.texts import load_texts  # noqa: E402

WORD = re.compile(r"\w+")
BYTE_PIECE = re.compile(r"<0x[0-9A-F]{2}>")
BUCKETS = [(0, 0, "never in the corpus"), (1, 9, "1-9 times"), (10, 99, "10-99 times"), (100, 999, "100-999 times"),
           (1000, math.inf, "1,000+ times")]


def corpus_word_counts(corpus: Path) -> Counter:
    counts: Counter = Counter()
    for text in iter_corpus_texts(corpus, "train"):
        counts.update(WORD.findall(text))
    return counts


def token_byte_ends(sp: spm.SentencePieceProcessor, ids: list[int]) -> list[int]:
    """Byte offset in the text where each token ends (the text has no dummy prefix: '▁' is a literal space)."""
    ends, pos = [], 0
    for i in ids:
        piece = sp.id_to_piece(i)
        pos += 1 if BYTE_PIECE.fullmatch(piece) else len(piece.replace("\u2581", " ").encode("utf-8"))
        ends.append(pos)
    return ends


def attribute(text: str, ids: list[int], logprobs: np.ndarray, sp, counts: Counter, rows: dict) -> None:
    """Adds each token's bits and the text's bytes to the rows of the words they belong to."""
    data = text.encode("utf-8")
    word_at = np.full(len(data), -1)  # byte -> index of the word it is part of
    words = []
    for m in WORD.finditer(text):
        start, end = len(text[: m.start()].encode("utf-8")), len(text[: m.end()].encode("utf-8"))
        word_at[start:end] = len(words)
        words.append(m.group())
    row_of_word = [bucket_of(counts[w], w) for w in words]
    for w_i, word in enumerate(words):
        rows[row_of_word[w_i]]["bytes"] += len(word.encode("utf-8"))
        rows[row_of_word[w_i]]["words"] += 1
    rows["spaces and punctuation"]["bytes"] += int((word_at < 0).sum())
    ends = token_byte_ends(sp, ids)
    begin = 0
    for end, lp in zip(ends, -logprobs / math.log(2)):
        inside = [word_at[b] for b in range(begin, min(end, len(data))) if word_at[b] >= 0]
        rows[row_of_word[inside[-1]] if inside else "spaces and punctuation"]["bits"] += float(lp)
        begin = end


def bucket_of(count: int, word: str) -> str:
    if word.isdigit():
        return "numbers"
    return next(name for lo, hi, name in BUCKETS if lo <= count <= hi)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(ROOT / "modelfiles" / "polski-mini" / "polski-mini.gguf"))
    ap.add_argument("--corpus", type=Path, default=ROOT / "work" / "polski-mini" / "corpus")
    ap.add_argument("--tokenizer", type=Path, default=ROOT / "work" / "polski-mini" / "tokenizer")
    ap.add_argument("--text", type=Path, default=ROOT.parent / "shared" / "data" / "eval" / "heldout-text" / "ntrex128-pol.jsonl")
    ap.add_argument("--out", type=Path, required=True, help="writes OUT.json and OUT.md")
    args = ap.parse_args()
    for path in (args.corpus, args.tokenizer, args.text):
        if not path.exists():
            raise SystemExit(f"error: {path} does not exist (build the polski-mini corpus and tokenizer first: docs/polski-mini.md)")

    counts = corpus_word_counts(args.corpus)
    sp = spm.SentencePieceProcessor(model_file=str(args.tokenizer / "tokenizer.model"))
    backend = open_backend(args.model)
    texts = [t for t in load_texts(args.text) if t]
    seqs = [[backend.bos_id] + backend.encode(t) for t in texts]
    assert all(s[1:] == sp.encode(t) for s, t in zip(seqs, texts)), "the model's tokenizer is not --tokenizer"
    rows = {name: {"words": 0, "bytes": 0, "bits": 0.0} for name in [*(b[2] for b in BUCKETS), "numbers", "spaces and punctuation"]}
    for text, seq, lp in zip(texts, seqs, sequence_logprobs(backend, seqs)):
        attribute(text, seq[1:], lp, sp, counts, rows)

    total_bits, total_bytes = sum(r["bits"] for r in rows.values()), sum(r["bytes"] for r in rows.values())
    import llama_cpp

    result = {**provenance("ntrex_by_word_frequency", {"sentencepiece": spm.__version__, "llama_cpp": llama_cpp.__version__}),
              "model": Path(args.model).name, "text": args.text.name, "bpb": total_bits / total_bytes,
              "corpus_words": sum(counts.values()), "corpus_distinct_words": len(counts), "rows": rows}
    lines = [f"# {Path(args.model).name} on {args.text.name}: bits by how often each word occurs in the corpus", "",
             f"{result['date']}, {result['device']}; `{result['command']}`", "",
             f"Overall {result['bpb']:.3f} bits per byte. Corpus train split: {result['corpus_words']:,} words, "
             f"{result['corpus_distinct_words']:,} distinct (case-sensitive). A token's bits go to the word holding its last "
             "letter or digit; its leading space is scored with the word but counted as a byte of \"spaces and punctuation\", "
             "so word rows read a little high and that row low.", "",
             "| words of the text | words | share of bytes | share of bits | bits per byte |", "|---|---:|---:|---:|---:|"]
    for name, r in rows.items():
        lines.append(f"| {name} | {r['words']:,} | {r['bytes'] / total_bytes:.1%} | {r['bits'] / total_bits:.1%} | "
                     f"{r['bits'] / max(1, r['bytes']):.3f} |")
    write_results(args.out, result, lines)


if __name__ == "__main__":
    main()
