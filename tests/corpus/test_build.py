"""The corpus build end to end: bad input is reported not fatal, output is deterministic, layout per contract."""
import gzip
import json
import lzma
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import zstandard

from tests.polish_text import polish_paragraphs, write_polish_jsonl
from training.cli import main
from training.config import CorpusConfig
from training.corpus.build import build_corpus
from training.corpus.readers import iter_corpus_records
from training.errors import DataError

CONFIG = CorpusConfig(min_chars=100, val_fraction=0.2, max_line_bytes=50_000)
SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def jsonl(texts) -> bytes:
    return "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts).encode("utf-8")


@pytest.fixture(scope="module")
def messy_sources(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sources") / "zrodla"
    (root / "nested" / "deeper").mkdir(parents=True)
    paragraphs = polish_paragraphs()
    good = [p for p in paragraphs if len(p) >= 100]
    half = len(good) // 2
    (root / "a.jsonl").write_bytes(
        jsonl(good[:half])
        + b'{"text": "z\xff\xfe zepsutym UTF-8"}\n'  # invalid UTF-8
        + b'{"text": "niedomkni\n'  # invalid JSON
        + b'{"title": "bez tekstu"}\n'
        + jsonl(["x" * 60_000])  # longer than max_line_bytes
        + jsonl([good[0], "  " + good[1].upper() + "  "])  # exact duplicates of earlier documents
    )
    with lzma.open(root / "nested" / "b.jsonl.xz", "wb") as f:
        f.write(jsonl(good[half:]))
    with gzip.open(root / "nested" / "c.txt.gz", "wb") as f:
        f.write("\n".join(paragraphs[:6]).encode("utf-8"))
    (root / "nested" / "deeper" / "d.txt.zst").write_bytes(zstandard.ZstdCompressor().compress(
        "\n\n".join(paragraphs[10:14]).encode("utf-8")))
    (root / "nested" / "e.jsonl").write_bytes(jsonl(["Krótki tekst."]))  # too short
    full = lzma.compress(jsonl(paragraphs[40:60]) * 3)
    (root / "truncated.jsonl.xz").write_bytes(full[: len(full) // 2])
    (root / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (root / "empty.jsonl").write_bytes(b"")
    (root / "notes.pdf").write_bytes(b"%PDF-1.4")
    return root


@pytest.fixture(scope="module")
def built(messy_sources, tmp_path_factory) -> Path:
    return build_corpus([messy_sources], tmp_path_factory.mktemp("out") / "corpus", CONFIG, workers=1, progress=False)


def manifest_of(corpus: Path) -> dict:
    return json.loads((corpus / "manifest.json").read_text())


def test_every_bad_input_is_named_in_the_manifest(built):
    errors = manifest_of(built)["errors"]
    found = {(e["source"], e["error"].split(" ")[0]) for e in errors}
    assert ("zrodla/a.jsonl", "invalid") in found  # UTF-8 and JSON
    assert any("UTF-8" in e["error"] for e in errors) and any("JSON" in e["error"] for e in errors)
    assert any(e["source"] == "zrodla/a.jsonl" and "no \"text\"" in e["error"] for e in errors)
    assert any(e["source"] == "zrodla/a.jsonl" and "longer than 50000 bytes" in e["error"] for e in errors)
    assert any(e["source"] == "zrodla/truncated.jsonl.xz" and "truncated" in e["error"] for e in errors)
    assert any(e["source"] == "zrodla/binary.txt" and "binary" in e["error"] for e in errors)
    assert any(e["source"] == "zrodla/empty.jsonl" and "empty" in e["error"] for e in errors)
    assert any(e["source"] == "zrodla/notes.pdf" and "not a .txt or .jsonl" in e["error"] for e in errors)
    assert manifest_of(built)["errors_total"] == len(errors) == 8


def test_good_documents_from_every_format_are_kept(built):
    sources = manifest_of(built)["sources"]
    for name in ("zrodla/a.jsonl", "zrodla/nested/b.jsonl.xz", "zrodla/nested/c.txt.gz", "zrodla/nested/deeper/d.txt.zst"):
        assert sources[name]["docs_kept"] > 0, name
    assert sources["zrodla/truncated.jsonl.xz"]["docs_read"] > 0  # what came before the cut is still read


def test_filters_and_dedup_are_counted(built):
    manifest = manifest_of(built)
    filters = manifest["filters"]
    assert filters["exact_dup"]["docs"] > 2  # two in a.jsonl, and the readable part of truncated.jsonl.xz repeats others
    assert filters["too_short"]["docs"] >= 1
    outcomes = [f for f in filters.values() if isinstance(f, dict)]
    assert sum(f["docs"] for f in outcomes) == sum(s["docs_read"] for s in manifest["sources"].values())
    assert sum(f["bytes"] for f in outcomes) == sum(s["bytes_read"] for s in manifest["sources"].values())


def test_layout_matches_the_contract(built):
    manifest = manifest_of(built)
    assert set(manifest) >= {"version", "config", "sources", "filters", "splits", "shards", "errors"}
    records = {split: list(iter_corpus_records(built, split)) for split in ("train", "val")}
    for split, rows in records.items():
        assert manifest["splits"][split]["docs"] == len(rows) > 0
        assert manifest["splits"][split]["bytes"] == sum(len(r["text"].encode()) for r in rows)
        assert all(set(r) == {"id", "text", "source"} and len(r["id"]) == 16 for r in rows)
    assert not {r["id"] for r in records["train"]} & {r["id"] for r in records["val"]}
    for shard in manifest["shards"]:
        import hashlib

        assert hashlib.sha256((built / shard["file"]).read_bytes()).hexdigest() == shard["sha256"]


def test_rebuild_is_byte_identical_for_any_worker_count(messy_sources, built, tmp_path):
    again = build_corpus([messy_sources], tmp_path / "again", CONFIG, workers=2, progress=False)
    names = sorted(os.listdir(built))
    assert names == sorted(os.listdir(again))
    for name in names:
        assert (built / name).read_bytes() == (again / name).read_bytes(), name


def test_cli_prints_report_and_errors(messy_sources, tmp_path, capsys):
    rc = main(["corpus", "build", str(messy_sources / "nested"), str(messy_sources / "binary.txt"),
               "--out", str(tmp_path / "c"), "--min-chars", "100", "--workers", "1", "--no-progress"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "nested/b.jsonl.xz" in out and "binary.txt start: binary file" in out


def test_missing_source_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        build_corpus([tmp_path / "nie-ma"], tmp_path / "c", CONFIG, progress=False)


# Peak memory of a build, measured in a fresh process: ru_maxrss of the test process is its peak so far (after other
# tests, or after writing the 100 MB test file, a build that read the whole line would not raise it), and even a
# child's ru_maxrss starts at the parent's (vfork shares the parent's pages until exec). VmHWM is the peak resident
# size of the child's own image, counted from its resident size once the imports are done.
PEAK_GROWTH = """
import re, sys
from pathlib import Path
from training.config import CorpusConfig
from training.corpus.build import build_corpus

def status_kb(field):
    return int(re.search(field + r":\\s+(\\d+) kB", Path("/proc/self/status").read_text()).group(1))

before = status_kb("VmRSS")
build_corpus([Path(sys.argv[1])], Path(sys.argv[2]), CorpusConfig(min_chars=50, max_line_bytes=int(sys.argv[3])),
             workers=1, progress=False)
print((status_kb("VmHWM") - before) / 1024)
"""


def build_peak_growth_mb(src: Path, out: Path, max_line_bytes: int) -> float:
    root = Path(__file__).resolve().parents[2]
    run = subprocess.run([sys.executable, "-c", PEAK_GROWTH, str(src), str(out), str(max_line_bytes)], cwd=root,
                         env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    return float(run.stdout.split()[-1])


@pytest.mark.slow
def test_a_100_megabyte_line_is_skipped_in_bounded_memory(tmp_path):
    src = tmp_path / "huge.jsonl"
    with open(src, "wb") as f:
        f.write(jsonl([polish_paragraphs()[0]]))
        f.write(b'{"text": "' + b"a" * 100_000_000 + b'"}\n')
        f.write(jsonl([polish_paragraphs()[2]]))
    small = tmp_path / "small.jsonl"
    small.write_bytes(jsonl([polish_paragraphs()[0], polish_paragraphs()[2]]))
    # a build's own peak (lazy imports, buffers: ~80 MB) is the same with or without the line; what the line adds is
    # the difference (reading it whole would add 100-200 MB)
    line_mb = build_peak_growth_mb(src, tmp_path / "c", 10_000_000) - build_peak_growth_mb(small, tmp_path / "s", 10_000_000)
    manifest = manifest_of(tmp_path / "c")
    assert [e["where"] for e in manifest["errors"]] == ["line 2"]
    assert manifest["filters"]["kept"]["docs"] == 2
    assert line_mb < 40


@pytest.mark.slow
def test_shared_corpus_sample_builds(tmp_path):
    source = SHARED / "corpus" / "kkzn-biuletyny-1995-000.jsonl.xz"
    if not source.is_file():
        pytest.skip("shared data not present (../shared/data relative to the repo root)")
    out = build_corpus([source], tmp_path / "c", CorpusConfig(), workers=2, progress=False)
    manifest = manifest_of(out)
    assert manifest["errors_total"] == 0
    assert manifest["filters"]["kept"]["docs"] >= 8


def _start_build(source: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "training.cli", "corpus", "build", str(source), "--out", str(out),
                             "--workers", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _wait_for_temp_dir(out: Path, proc: subprocess.Popen, not_this: set[Path] = frozenset()) -> Path:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = [p for p in out.parent.glob(f".{out.name}.*.tmp") if p not in not_this]
        if found:
            return found[0]
        assert proc.poll() is None, f"the build ended before its temp dir was seen: {proc.stderr.read()}"
        time.sleep(0.01)
    raise AssertionError("no temp dir appeared")


def test_killed_builds_leave_no_half_written_output(tmp_path):
    """SIGKILL leaves a temp dir that the next build removes; SIGTERM unwinds and removes its own."""
    source = write_polish_jsonl(tmp_path / "src" / "a.jsonl", copies=60)
    out = tmp_path / "corpus"

    proc = _start_build(source, out)
    stale = _wait_for_temp_dir(out, proc)
    proc.kill()
    proc.wait()
    assert stale.is_dir() and not out.exists()

    proc = _start_build(source, out)
    own = _wait_for_temp_dir(out, proc, not_this={stale})
    assert not stale.exists()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    assert not own.exists() and not out.exists()

    proc = _start_build(source, out)
    assert proc.wait(timeout=300) == 0, proc.stderr.read()
    assert (out / "manifest.json").is_file() and not list(tmp_path.glob(".corpus.*"))
