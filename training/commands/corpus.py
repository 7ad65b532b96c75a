"""`polski corpus build SOURCES... --out DIR`: raw text to clean, deduplicated, split shards."""
from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser("corpus", help="build a clean corpus from raw text")
    sub = parser.add_subparsers(dest="corpus_command", required=True, metavar="ACTION")
    build = sub.add_parser("build", help="read, clean, filter, dedup, split and shard .txt/.jsonl(.xz/.gz/.zst) sources")
    build.add_argument("sources", nargs="*", help="files or folders (default: corpus.sources of the config)")
    build.add_argument("--out", help="CORPUS_DIR to write (default: the config's work_dir/corpus)")
    build.add_argument("--config", help="config name or TOML file whose [corpus] table to use (default: built-in defaults)")
    build.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    build.add_argument("--min-chars", type=int, dest="min_chars", help="corpus.min_chars")
    build.add_argument("--val-fraction", type=float, dest="val_fraction", help="corpus.val_fraction")
    build.add_argument("--minhash-threshold", type=float, dest="minhash_threshold", help="corpus.minhash_threshold")
    build.add_argument("--no-progress", action="store_true", help="no progress bar")
    build.set_defaults(func=run_build)


def corpus_settings(args: argparse.Namespace):
    """(CorpusConfig, default out dir) from --config plus the flag overrides."""
    from training.config import CorpusConfig, PathsConfig, load_config

    overrides = {k: getattr(args, k) for k in ("min_chars", "val_fraction", "minhash_threshold") if getattr(args, k) is not None}
    if args.config:
        config = load_config(args.config, {"corpus": overrides})
        return config.corpus, config.paths.corpus
    from pydantic import ValidationError

    from training.errors import ConfigError

    try:
        return CorpusConfig(**overrides), PathsConfig().corpus
    except ValidationError as err:
        raise ConfigError(f"corpus: {err.errors()[0]['loc'][0]}: {err.errors()[0]['msg']}") from None


def run_build(args: argparse.Namespace) -> int:
    from training.corpus.build import build_corpus
    from training.corpus.report import print_report
    from training.errors import DataError

    config, default_out = corpus_settings(args)
    sources = args.sources or config.sources
    if not sources:
        raise DataError("no corpus sources: pass files or folders, or use a --config with corpus.sources")
    out = build_corpus(sources, args.out or default_out, config, workers=args.workers, progress=not args.no_progress)
    print_report(out)
    return 0
