"""The printed summary of a corpus build (everything comes from its manifest.json)."""
from __future__ import annotations

import json
from pathlib import Path

ERRORS_SHOWN = 20


def _mb(n: int) -> str:
    return f"{n / 1e6:,.2f} MB"


def print_report(corpus_dir: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    manifest = json.loads((Path(corpus_dir) / "manifest.json").read_text(encoding="utf-8"))
    console = Console()

    sources = Table(title="sources", title_justify="left")
    for column in ("source", "docs read", "read", "docs kept", "kept", "errors"):
        sources.add_column(column, justify="left" if column == "source" else "right")
    for name, s in manifest["sources"].items():
        sources.add_row(name, f"{s['docs_read']:,}", _mb(s["bytes_read"]), f"{s['docs_kept']:,}", _mb(s["bytes_kept"]), str(s["errors"]))
    console.print(sources)

    filters = Table(title="filters (input bytes)", title_justify="left")
    filters.add_column("outcome")
    filters.add_column("docs", justify="right")
    filters.add_column("bytes", justify="right")
    for name, f in manifest["filters"].items():
        if isinstance(f, dict):
            filters.add_row(name, f"{f['docs']:,}", _mb(f["bytes"]))
    filters.add_row("boilerplate lines removed", str(manifest["filters"]["boilerplate_lines_removed"]), "")
    console.print(filters)

    splits = ", ".join(f"{k}: {v['docs']:,} docs, {_mb(v['bytes'])}" for k, v in manifest["splits"].items())
    console.print(f"splits: {splits}; {len(manifest['shards'])} shards in {corpus_dir}", markup=False)
    if manifest["errors_total"]:
        console.print(f"{manifest['errors_total']} input problems (skipped, listed in manifest.json):", style="yellow")
        for e in manifest["errors"][:ERRORS_SHOWN]:
            console.print(f"  {e['source']} {e['where']}: {e['error']}", markup=False)
        if manifest["errors_total"] > ERRORS_SHOWN:
            console.print(f"  ... and {manifest['errors_total'] - ERRORS_SHOWN} more", markup=False)
