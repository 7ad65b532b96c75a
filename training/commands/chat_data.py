"""`polski chat-data build`: the chat conversation set of a config ([chat_data]), with its manifest."""
from __future__ import annotations

from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser("chat-data", help="build the chat conversation set the SFT stages learn from")
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    b = sub.add_parser("build", help="write OUT/chat.jsonl and OUT/manifest.json from the config's [chat_data]",
                       description="Builds one deduplicated, decontaminated ChatML conversation set: the project's own "
                                   "conversations, dialogues mined from the corpus, and a share of the instruction data.")
    b.add_argument("--config", default="polski-mini", help="config name or TOML path (its [chat_data] table)")
    b.add_argument("--out", type=Path, help="output folder (default: the config's WORK_DIR/chat)")
    b.add_argument("--tokenizer", type=Path, help="tokenizer dir: the manifest then counts tokens per source")
    b.set_defaults(func=run)


def run(args) -> int:
    from training.chat_data import build_chat_data, render_manifest
    from training.config import load_config
    from training.errors import ConfigError

    config = load_config(args.config)
    if config.chat_data is None:
        raise ConfigError(f"config {args.config} has no [chat_data] table: add one (see training/configs/polski-mini.toml)")
    tokenizer = None
    if args.tokenizer is not None:
        from training.tokenizer import Tokenizer

        tokenizer = Tokenizer.load(args.tokenizer)
    out = args.out or config.paths.chat_data
    manifest = build_chat_data(config.chat_data, out, tokenizer=tokenizer)
    print(render_manifest(manifest))
    print(f"wrote {out / 'chat.jsonl'} ({manifest['total']['conversations']} conversations) and {out / 'manifest.json'}")
    return 0
