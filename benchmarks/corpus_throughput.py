"""`polski corpus build` and `polski data tokenize` throughput (MB of text per second) with 1 and 2 workers.

    python benchmarks/corpus_throughput.py [--files N] [--tokenizer DIR] [SOURCES...]

Default sources: the first --files files of ../shared/data/corpus (relative to the repo root). The corpus built
from them is then tokenized with --tokenizer (default work/polski-mini/tokenizer; skipped when absent).
Writes benchmarks/results/corpus_throughput.{json,md}.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from provenance import provenance  # noqa: E402
from training.atomic import write_json, write_text
from training.config import load_config
from training.corpus.build import build_corpus
from training.data import read_manifest, tokenize_corpus


def cpu_seconds() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def timed(run) -> tuple[float, float, float]:
    """(wall s, CPU s of this process and its children, 1-minute load average before) of run()."""
    load_before, cpu_before, start = os.getloadavg()[0], cpu_seconds(), time.perf_counter()
    run()
    return time.perf_counter() - start, cpu_seconds() - cpu_before, load_before


def row(workers: int, text_mb: float, wall: float, cpu: float, load: float, **extra) -> dict:
    return {"workers": workers, "input_text_mb": round(text_mb, 2), "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
            "mb_per_s": round(text_mb / wall, 3), "mb_per_cpu_s": round(text_mb / cpu, 3),
            "load_avg_1m_at_start": round(load, 1), **extra}


def measure_build(sources: list[Path], workers: int, config, out: Path) -> dict:
    wall, cpu, load = timed(lambda: build_corpus(sources, out, config, workers=workers, progress=False))
    manifest = json.loads((out / "manifest.json").read_text())
    text_mb = sum(s["bytes_read"] for s in manifest["sources"].values()) / 1e6
    return row(workers, text_mb, wall, cpu, load, docs_kept=manifest["filters"]["kept"]["docs"])


def measure_tokenize(corpus: Path, tokenizer: Path, workers: int, out: Path) -> dict:
    wall, cpu, load = timed(lambda: tokenize_corpus(corpus, tokenizer, out, workers=workers))
    splits = read_manifest(out)["splits"].values()
    return row(workers, sum(s["bytes"] for s in splits) / 1e6, wall, cpu, load, tokens=sum(s["tokens"] for s in splits))


def table(rows: list[dict]) -> list[str]:
    lines = ["| workers | input text MB | wall s | CPU s | MB/s (wall) | MB per CPU-s | load avg at start |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    return lines + [f"| {r['workers']} | {r['input_text_mb']} | {r['wall_s']} | {r['cpu_s']} | {r['mb_per_s']} | "
                    f"{r['mb_per_cpu_s']} | {r['load_avg_1m_at_start']} |" for r in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sources", nargs="*", type=Path)
    parser.add_argument("--files", type=int, default=3, help="use the first N files of the shared corpus")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--tokenizer", type=Path, default=ROOT / "work" / "polski-mini" / "tokenizer")
    args = parser.parse_args()
    shared = ROOT / ".." / "shared" / "data" / "corpus"
    sources = args.sources or sorted(shared.glob("*.jsonl.xz"))[: args.files]
    if not sources:
        sys.exit(f"no sources: {shared} is missing")
    config = load_config("polski-mini").corpus
    with tempfile.TemporaryDirectory() as tmp:
        build = [measure_build(sources, w, config, Path(tmp) / f"corpus-{w}") for w in args.workers]
        tokenize = [measure_tokenize(Path(tmp) / f"corpus-{args.workers[0]}", args.tokenizer, w, Path(tmp) / f"bins-{w}")
                    for w in args.workers] if (args.tokenizer / "tokenizer.model").is_file() else []
    from importlib.metadata import version

    import datasketch
    import lingua  # noqa: F401

    result = {
        **provenance("corpus_throughput", {"datasketch": datasketch.__version__,
                                           "lingua-language-detector": version("lingua-language-detector")}),
        "sources": [p.name for p in sources],
        "config": "polski-mini [corpus]",
        "results": build,
        "tokenize": {"tokenizer": args.tokenizer.name, "results": tokenize},
    }
    write_json(ROOT / "benchmarks" / "results" / "corpus_throughput.json", result)
    md = (f"# Corpus build and tokenization throughput\n\n{result['date']}, {result['device']}; `{result['command']}`\n\n"
          f"Sources: {', '.join(result['sources'])}\n\n## `polski corpus build`\n\n" + "\n".join(table(build)) + "\n")
    if tokenize:
        md += (f"\n## `polski data tokenize` of that corpus (MB of document text; tokenizer `{os.path.relpath(args.tokenizer, ROOT)}`, "
               f"{tokenize[0]['tokens']:,} tokens)\n\n" + "\n".join(table(tokenize)) + "\n")
    write_text(ROOT / "benchmarks" / "results" / "corpus_throughput.md", md)
    print(md)


if __name__ == "__main__":
    main()
