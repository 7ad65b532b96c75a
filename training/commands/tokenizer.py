"""`polski tokenizer train|report`: train the SentencePiece tokenizer; measure how it cuts Polish."""
from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser("tokenizer", help="train or measure the tokenizer")
    sub = parser.add_subparsers(dest="tokenizer_command", required=True, metavar="ACTION")

    train = sub.add_parser("train", help="train a SentencePiece BPE tokenizer on a corpus")
    train.add_argument("--corpus", required=True, nargs="+", help="CORPUS_DIR (train split) or .txt/.jsonl files")
    train.add_argument("--out", required=True, help="TOKENIZER_DIR to write")
    train.add_argument("--config", help="config name or TOML file whose [tokenizer] table to use")
    train.add_argument("--vocab-size", type=int, dest="vocab_size", help="tokenizer.vocab_size")
    train.add_argument("--sample-sentences", type=int, dest="sample_sentences", help="tokenizer.sample_sentences")
    train.add_argument("--seed", type=int, help="tokenizer.seed")
    train.add_argument("--threads", type=int, help="tokenizer.threads (0: all cores)")
    train.add_argument("--pieces-span-words", action="store_const", const=True, dest="pieces_span_words",
                       help="tokenizer.pieces_span_words: frequent word pairs become single pieces")
    train.set_defaults(func=run_train)

    report = sub.add_parser("report", help="fertility and chars per token on a text, next to other tokenizers")
    report.add_argument("--tokenizer", required=True, help="TOKENIZER_DIR (or any tokenizer file --compare accepts)")
    report.add_argument("--text", required=True, help=".txt or .jsonl ({\"text\"}) file, or a CORPUS_DIR (its val split)")
    report.add_argument("--compare", nargs="*", default=[], metavar="PATH",
                        help="SentencePiece .model, GPT-2 vocab.json/encoder.json (+merges), tokenizer.json or .tiktoken")
    report.add_argument("--max-chars", type=int, default=5_000_000, help="read at most this many characters of text")
    report.add_argument("--json", dest="json_out", help="also write the figures to this JSON file")
    report.set_defaults(func=run_report)


def tokenizer_settings(args: argparse.Namespace):
    from pydantic import ValidationError

    from training.config import TokenizerConfig, load_config
    from training.errors import ConfigError

    keys = ("vocab_size", "sample_sentences", "seed", "threads", "pieces_span_words")
    overrides = {k: getattr(args, k) for k in keys if getattr(args, k) is not None}
    if args.config:
        base = load_config(args.config).tokenizer.model_dump()
    else:
        base = {}
    try:
        return TokenizerConfig(**{**base, **overrides})
    except ValidationError as err:
        e = err.errors()[0]
        raise ConfigError(f"tokenizer.{e['loc'][0]}: {e['msg']}") from None


def run_train(args: argparse.Namespace) -> int:
    from training.tokenizer import Tokenizer, train_tokenizer

    config = tokenizer_settings(args)
    sources = args.corpus if len(args.corpus) > 1 else args.corpus[0]
    out = train_tokenizer(sources, args.out, config, quiet=True)
    tok = Tokenizer.load(out)
    print(f"tokenizer {tok.sha256[:8]}: {tok.vocab_size} pieces, {tok.meta.get('sample_paragraphs', '?')} sample paragraphs -> {out}")
    return 0


def run_report(args: argparse.Namespace) -> int:
    from training.atomic import write_json
    from training.tokenizer import (
        fertility,
        load_any_tokenizer,
        markdown_table,
        read_texts,
    )

    texts = read_texts(args.text, args.max_chars)
    rows = [fertility(load_any_tokenizer(path), texts) for path in [args.tokenizer, *args.compare]]
    print(f"text: {args.text} ({sum(len(t) for t in texts):,} chars, {len(texts):,} docs)\n")
    print(markdown_table(rows))
    if args.json_out:
        write_json(args.json_out, {"text": str(args.text), "results": rows})
    return 0
