"""Corpus build throughput (MB of input text per second) with 1 and 2 workers.

    python benchmarks/corpus_throughput.py [--files N] [SOURCES...]

Default sources: the first --files files of ../shared/data/corpus (relative to the repo root).
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


def cpu_seconds() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def measure(sources: list[Path], workers: int, config) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        load_before, cpu_before, start = os.getloadavg()[0], cpu_seconds(), time.perf_counter()
        out = build_corpus(sources, Path(tmp) / "corpus", config, workers=workers, progress=False)
        wall, cpu = time.perf_counter() - start, cpu_seconds() - cpu_before
        manifest = json.loads((out / "manifest.json").read_text())
    text_mb = sum(s["bytes_read"] for s in manifest["sources"].values()) / 1e6
    return {
        "workers": workers, "input_text_mb": round(text_mb, 2), "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
        "mb_per_s": round(text_mb / wall, 3), "mb_per_cpu_s": round(text_mb / cpu, 3),
        "docs_kept": manifest["filters"]["kept"]["docs"], "load_avg_1m_at_start": round(load_before, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sources", nargs="*", type=Path)
    parser.add_argument("--files", type=int, default=3, help="use the first N files of the shared corpus")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    shared = ROOT / ".." / "shared" / "data" / "corpus"
    sources = args.sources or sorted(shared.glob("*.jsonl.xz"))[: args.files]
    if not sources:
        sys.exit(f"no sources: {shared} is missing")
    config = load_config("polski-mini").corpus
    rows = [measure(sources, w, config) for w in args.workers]
    from importlib.metadata import version

    import datasketch
    import lingua  # noqa: F401

    result = {
        **provenance("corpus_throughput", {"datasketch": datasketch.__version__,
                                           "lingua-language-detector": version("lingua-language-detector")}),
        "sources": [p.name for p in sources],
        "config": "polski-mini [corpus]",
        "results": rows,
    }
    write_json(ROOT / "benchmarks" / "results" / "corpus_throughput.json", result)
    table = ["| workers | input text MB | wall s | CPU s | MB/s (wall) | MB per CPU-s | load avg at start |", "|---:|---:|---:|---:|---:|---:|---:|"]
    table += [f"| {r['workers']} | {r['input_text_mb']} | {r['wall_s']} | {r['cpu_s']} | {r['mb_per_s']} | {r['mb_per_cpu_s']} | {r['load_avg_1m_at_start']} |" for r in rows]
    md = (f"# Corpus build throughput\n\n{result['date']}, {result['device']}; `{result['command']}`\n\n"
          f"Sources: {', '.join(result['sources'])}\n\n" + "\n".join(table) + "\n")
    write_text(ROOT / "benchmarks" / "results" / "corpus_throughput.md", md)
    print(md)


if __name__ == "__main__":
    main()
