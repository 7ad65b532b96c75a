"""What each SentencePiece setting costs or buys in fertility: 32k tokenizers trained on one seeded corpus sample.

    python benchmarks/tokenizer_variants.py [--corpus work/polski-mini/corpus] [--sample 150000] [--only LABEL ...]

Every variant changes one setting of `training.tokenizer.trainer_settings` (the shipped ones: BPE, no dummy
prefix, digits split, pieces up to 16 characters, pieces end at whitespace); results go to
benchmarks/results/tokenizer_variants.{json,md}. `--only` measures just the named variants and keeps the other
rows of the results file (measured on the same sample size and vocab); the Markdown's hand-written sections
after the tables are kept. `--no-write` only prints (e.g. for a variant at another vocab size).
Needs ../shared/data for the NTREX news text.
"""
from __future__ import annotations

import argparse
import json
import shlex
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
    train_model_bytes,
    trainer_settings,
)

RESULTS = ROOT / "benchmarks" / "results"

VARIANTS = {
    "shipped settings": {},
    "unigram model": {"model_type": "unigram"},
    "pieces up to 24 chars": {"max_sentencepiece_length": 24},
    "digits not split": {"split_digits": False},
    "dummy prefix": {"add_dummy_prefix": True},
    "24 chars + digits not split + dummy prefix": {"max_sentencepiece_length": 24, "split_digits": False,
                                                   "add_dummy_prefix": True},
    # BPE merges may cross word boundaries ("▁się▁nie"); tokens/word then can drop below 1
    "pieces span words": {"split_by_whitespace": False},
    "pieces span words + 24 chars": {"split_by_whitespace": False, "max_sentencepiece_length": 24},
}


def previous_results(path: Path, vocab_size: int, sample: int, texts) -> dict | None:
    """The results file's rows when they were measured like this run (same vocab, sample and texts), else None."""
    if not path.is_file():
        return None
    old = json.loads(path.read_text(encoding="utf-8"))
    same = (old.get("vocab_size"), old.get("sample_paragraphs"), set(old.get("results", {}))) == (vocab_size, sample, set(texts))
    return old if same else None


def hand_written_tail(path: Path, table_names) -> str:
    """The Markdown after the generated tables (from the first `## ` heading that is not a table), or ""."""
    if not path.is_file():
        return ""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.startswith("## ") and line[3:].strip() not in table_names:
            return "".join(lines[i:])
    return ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "work" / "polski-mini" / "corpus")
    parser.add_argument("--sample", type=int, default=150_000, help="train paragraphs every variant sees")
    parser.add_argument("--vocab-size", type=int, default=32000)
    parser.add_argument("--only", action="append", choices=list(VARIANTS), metavar="LABEL",
                        help="measure only this variant (repeatable); the other rows of the results file are kept")
    parser.add_argument("--no-write", action="store_true", help="print the results, leave benchmarks/results alone")
    args = parser.parse_args()

    chosen = {label: VARIANTS[label] for label in (args.only or VARIANTS)}
    texts = measured_texts(args.corpus)
    config = TokenizerConfig(vocab_size=args.vocab_size, sample_sentences=args.sample)
    units = sample_units(_iter_texts(args.corpus), config)
    new_rows: dict[str, dict[str, dict]] = {name: {} for name in texts}
    seconds = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, overrides in chosen.items():
            start = time.perf_counter()
            path = Path(tmp) / f"{len(seconds)}.model"
            path.write_bytes(train_model_bytes(units, {**trainer_settings(config), **overrides}, threads=2))
            tok = load_any_tokenizer(path)
            tok.name = label
            seconds[label] = round(time.perf_counter() - start, 1)
            for name, t in texts.items():
                new_rows[name][label] = fertility(tok, t)
            val, ntrex = new_rows["val"][label], new_rows["ntrex"][label]
            print(f"{label} ({args.vocab_size:,}): {seconds[label]} s, val {val['tokens_per_word']:.3f} tokens/word "
                  f"{val['chars_per_token']:.2f} chars/token, ntrex {ntrex['tokens_per_word']:.3f} tokens/word "
                  f"{ntrex['chars_per_token']:.2f} chars/token", flush=True)
    if args.no_write:
        for name, table in new_rows.items():
            print(f"\n## {name}\n\n{markdown_table(list(table.values()))}")
        return

    import sentencepiece

    json_path, md_path = RESULTS / "tokenizer_variants.json", RESULTS / "tokenizer_variants.md"
    run = provenance("tokenizer_variants", {"sentencepiece": sentencepiece.__version__},
                     [shlex.quote(a) for a in sys.argv[1:]])
    old = previous_results(json_path, args.vocab_size, len(units), texts) if args.only else None
    if args.only and old is None and json_path.is_file():
        print(f"{json_path} was measured at another vocab size, sample or on other texts: it now holds only this run's rows",
              file=sys.stderr)
    old = old or {}
    # when each row was measured: older files kept one date for all rows
    old_runs = old.get("measured") or {label: {"date": old.get("date"), "command": old.get("command")}
                                       for label in old.get("variants", {})}
    measured = {**old_runs, **{label: {"date": run["date"], "command": run["command"]} for label in chosen}}
    variants = {**old.get("variants", {}), **chosen}
    order = [label for label in VARIANTS if label in variants] + [label for label in variants if label not in VARIANTS]
    rows: dict[str, list[dict]] = {}
    for name in texts:
        by_label = {r["tokenizer"]: r for r in old.get("results", {}).get(name, [])} | new_rows[name]
        rows[name] = [by_label[label] for label in order if label in by_label]
    result = {**run, "sample_paragraphs": len(units), "vocab_size": args.vocab_size,
              "variants": {label: variants[label] for label in order},
              "train_seconds": {**old.get("train_seconds", {}), **seconds},
              "measured": {label: measured[label] for label in order}, "results": rows}
    write_json(json_path, result)

    md = [f"# Tokenizer settings, one at a time ({args.vocab_size:,} pieces, {len(units):,} sampled train paragraphs)\n",
          f"{result['date']}, {result['device']}; `{result['command']}`\n"]
    earlier: dict[tuple, list[str]] = {}
    for label in order:
        if label not in chosen:
            earlier.setdefault((measured[label]["date"], measured[label]["command"]), []).append(label)
    for (date, command), labels in earlier.items():
        md.append(f"Measured earlier ({date}; `{command}`): {', '.join(labels)}.\n")
    for name, table in rows.items():
        md.append(f"## {name}\n\n{markdown_table(table)}")
    tail = hand_written_tail(md_path, set(texts))
    write_text(md_path, "\n".join(md) + ("\n" + tail if tail else ""))
    print("\n".join(md))


if __name__ == "__main__":
    main()
