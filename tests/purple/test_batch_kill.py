"""Exactly once under kills: a real `purple batch` process, SIGKILLed at random moments (and once
stopped with Ctrl+C), then re-run, leaves every id in the output exactly once."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.purple.fake_ollama import FakeOllama, reply_for

ROOT = Path(__file__).resolve().parents[2]


def start(inp, out, url, *extra):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "purple.batch", str(inp), "-o", str(out), "--model", "fake", "--host", url,
           "--backoff", "0.01", "--retries", "20", "--quiet", *extra]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def check_exactly_once(out: Path, n: int) -> list[dict]:
    text = out.read_text(encoding="utf-8")
    assert text.endswith("\n")
    records = [json.loads(line) for line in text.splitlines()]
    counts = Counter(r["id"] for r in records)
    assert sorted(counts) == list(range(n)) and set(counts.values()) == {1}
    for r in records:
        assert r["error"] is None and r["response"] == reply_for(r["prompt"])
        assert r["prompt"] == f"zdanie {r['id']} do sprawdzenia"
    return records


@pytest.mark.slow
def test_sigkill_at_random_moments_then_rerun_gives_every_id_once(tmp_path):
    n = 80
    inp = tmp_path / "in.jsonl"
    inp.write_text("".join(json.dumps({"id": i, "prompt": f"zdanie {i} do sprawdzenia"}) + "\n" for i in range(n)))
    out = tmp_path / "out.jsonl"
    rng = random.Random(11)
    fault = FakeOllama.random_faults(0.2, seed=5, kinds=("500", "503", "429", "cut", "error", "slow"))
    with FakeOllama(token_delay=0.03, slow_delay=0.3, fault=fault) as fake:
        kills, mid_run = 0, 0
        for i in range(10):
            proc = start(inp, out, fake.url, *(["--unordered"] if i % 2 else []))
            time.sleep(rng.uniform(0.3, 1.5))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
            proc.wait()
            lines = out.read_bytes().count(b"\n") if out.exists() else 0
            mid_run += 0 < lines < n
            if lines >= n:
                break
        assert kills >= 3 and mid_run >= 2
        proc = start(inp, out, fake.url)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    records = check_exactly_once(out, n)
    assert [r["id"] for r in records] == list(range(n))  # a complete run leaves input order
    assert sum(fake.completed.values()) >= n


@pytest.mark.slow
def test_ctrl_c_saves_what_finished_and_a_rerun_completes(tmp_path):
    n = 24
    inp = tmp_path / "in.jsonl"
    inp.write_text("".join(json.dumps({"id": i, "prompt": f"zdanie {i} do sprawdzenia"}) + "\n" for i in range(n)))
    out = tmp_path / "out.jsonl"
    with FakeOllama(token_delay=0.3) as fake:  # a reply streams for ~2 s
        proc = start(inp, out, fake.url, "--concurrency", "2")
        deadline = time.monotonic() + 30
        while (not out.exists() or out.read_text().count("\n") < 3) and time.monotonic() < deadline:
            time.sleep(0.02)
        # one token later the streams that ended with line 3 are done and the next ones are under way, with most of
        # their tokens still to come: Ctrl+C now lands mid-stream (without the wait it could fall between requests)
        time.sleep(0.35)
        assert fake.active >= 1
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
        assert proc.returncode == 130, err
        saved = [json.loads(line) for line in out.read_text().splitlines()]
        assert 3 <= len(saved) < n
        assert len({r["id"] for r in saved}) == len(saved)
        deadline = time.monotonic() + 5  # the server notices a closed stream at its next write
        while fake.active and time.monotonic() < deadline:
            time.sleep(0.02)
        assert fake.active == 0 and fake.disconnects >= 1  # the in-flight requests were closed
        fake.token_delay = 0.0
        proc = start(inp, out, fake.url)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    check_exactly_once(out, n)
