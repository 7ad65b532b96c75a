"""`polski data tokenize --corpus DIR --tokenizer DIR --out DIR`: the corpus as uint16 token bins."""
from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser("data", help="tokenize a corpus into training bins")
    sub = parser.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    tokenize = sub.add_parser("tokenize", help="write train/val .bin + .idx.npy + manifest.json")
    tokenize.add_argument("--corpus", required=True, help="CORPUS_DIR from `polski corpus build`")
    tokenize.add_argument("--tokenizer", required=True, help="TOKENIZER_DIR from `polski tokenizer train`")
    tokenize.add_argument("--out", required=True, help="BINS_DIR to write")
    tokenize.add_argument("--workers", type=int, default=None, help="encoding threads (default: all cores)")
    tokenize.set_defaults(func=run_tokenize)


def run_tokenize(args: argparse.Namespace) -> int:
    import time

    from training.data import read_manifest, tokenize_corpus

    start = time.perf_counter()
    out = tokenize_corpus(args.corpus, args.tokenizer, args.out, workers=args.workers)
    manifest = read_manifest(out)
    for split, s in manifest["splits"].items():
        ratio = s["bytes"] / max(s["tokens"], 1)
        print(f"{split}: {s['tokens']:,} tokens, {s['docs']:,} docs, {s['bytes'] / 1e6:,.1f} MB ({ratio:.2f} bytes/token)")
    print(f"tokenizer {manifest['tokenizer_sha256'][:8]} -> {out} in {time.perf_counter() - start:.1f} s")
    return 0
