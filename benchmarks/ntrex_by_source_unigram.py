"""How far each corpus source is from NTREX news, by token frequencies alone (no model): for choosing a data mix.

    python benchmarks/ntrex_by_source_unigram.py [--bins work/polski-mini-12k/bins]
        [--tokenizer work/polski-mini-12k/tokenizer] --out benchmarks/results/ntrex_by_source_unigram

For each source of the train bins: its tokens' frequencies (add-0.1 smoothing over the vocabulary) as a unigram
model, and NTREX's bits per byte under it. Lower is closer. A unigram model ignores word order and context, so the
figures rank sources by vocabulary, not by how well a model trained on them would predict news.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from provenance import provenance, write_results

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from training.data import TokenBins  # noqa: E402
from training.evals.texts import load_texts  # noqa: E402
from training.tokenizer import Tokenizer  # noqa: E402

SMOOTHING = 0.1
NTREX = ROOT.parent / "shared" / "data" / "eval" / "heldout-text" / "ntrex128-pol.jsonl"


def unigram_bpb(counts: np.ndarray, ids: np.ndarray, n_bytes: int) -> float:
    p = (counts + SMOOTHING) / (counts.sum() + SMOOTHING * len(counts))
    return float(-np.log2(p[ids]).sum() / n_bytes)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bins", type=Path, default=ROOT / "work" / "polski-mini-12k" / "bins")
    ap.add_argument("--tokenizer", type=Path, default=ROOT / "work" / "polski-mini-12k" / "tokenizer")
    ap.add_argument("--text", type=Path, default=NTREX)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    tokenizer = Tokenizer.load(args.tokenizer)
    texts = load_texts(args.text)
    ids = np.concatenate([np.asarray(tokenizer.encode(t), dtype=np.int64) for t in texts])
    n_bytes = sum(len(t.encode("utf-8")) for t in texts)
    bins = TokenBins(args.bins, "train")
    counts = np.zeros((len(bins.source_names), tokenizer.vocab_size))
    for doc, source in enumerate(bins.doc_sources):
        counts[source] += np.bincount(np.asarray(bins.document(doc), dtype=np.int64), minlength=tokenizer.vocab_size)
    total = counts.sum()
    rows = [{"source": Path(name).name.split(".")[0], "tokens": int(c.sum()), "share": float(c.sum() / total),
             "ntrex_unigram_bpb": unigram_bpb(c, ids, n_bytes)} for name, c in zip(bins.source_names, counts)]
    rows.sort(key=lambda r: r["ntrex_unigram_bpb"])
    whole = unigram_bpb(counts.sum(0), ids, n_bytes)
    result = {**provenance("ntrex_by_source_unigram", {"numpy": np.__version__}), "text": args.text.name,
              "text_bytes": n_bytes, "text_tokens": len(ids), "whole_corpus_bpb": whole, "sources": rows}
    md = [f"# {args.text.name} under each corpus source's token frequencies (unigram, add-{SMOOTHING})", "",
          f"`{result['command']}`, {result['date'][:10]}, {result['device']}. {len(ids):,} tokens, {n_bytes:,} bytes.",
          "Lower = closer vocabulary; word order is ignored, so this ranks sources, it does not predict a model's BPB.", "",
          "| source | train tokens | share | NTREX unigram bits/byte |", "|---|---:|---:|---:|"]
    md += [f"| {r['source']} | {r['tokens'] / 1e6:.2f}M | {r['share']:.3f} | {r['ntrex_unigram_bpb']:.4f} |" for r in rows]
    md.append(f"| **whole corpus** | {total / 1e6:.2f}M | 1.000 | {whole:.4f} |")
    write_results(args.out, result, md)


if __name__ == "__main__":
    main()
