"""`purple batch --concurrency 4` against a sequential loop of `ollama run` calls, same prompts, same server.

    python benchmarks/batch_throughput.py --model polski-test               # starts `ollama serve` (NUM_PARALLEL=4)
    python benchmarks/batch_throughput.py --host 127.0.0.1:11434 --model M --num-parallel 4   # an existing server

Writes benchmarks/results/batch_throughput.{json,md}: device, versions, date, command, and for each
way the wall time, prompts/s, generated tokens and tokens/s, plus the speed-up.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from training.atomic import write_json, write_text  # noqa: E402
from training.ollama_server import require_binary, server_version, start_server  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
SUBJECTS = ["Kraków", "Wisła", "pierogi", "jesień", "Tatry", "Bałtyk", "Chopin", "rower", "biblioteka", "pociąg",
            "las", "Warszawa", "kawa", "zima", "szkoła", "ogród", "rzeka", "miasto", "muzyka", "książka"]
ASKS = ["Opowiedz krótko o: {}.", "Co wiesz o tym: {}?", "Napisz jedno zdanie o: {}.", "Czym jest {}?",
        "Opisz słowami dziecka: {}.", "Dlaczego ludzie lubią: {}?", "Podaj ciekawostkę: {}.",
        "Jak wygląda {}?", "Napisz zagadkę o: {}.", "Porównaj {} z czymś innym."]


def prompts(n: int) -> list[str]:
    every = [ask.format(subject) for ask in ASKS for subject in SUBJECTS]
    return [every[i % len(every)] for i in range(n)]


def device() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = ""
    try:
        gpu = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=10).stdout.strip().replace("\n", ", ")
    except (OSError, subprocess.TimeoutExpired):
        pass
    return f"{cpu}, {os.cpu_count()} cores" + (f", GPU {gpu}" if gpu else ", no GPU")


def run_sequential(binary: Path, url: str, model: str, items: list[str]) -> dict:
    env = {**os.environ, "OLLAMA_HOST": url.removeprefix("http://")}
    tokens, failed = 0, 0
    t0 = time.perf_counter()
    for prompt in items:
        done = subprocess.run([str(binary), "run", "--verbose", model, prompt], env=env, capture_output=True,
                              text=True, timeout=600)
        match = re.search(r"^eval count:\s+(\d+)", done.stderr, re.M)
        failed += done.returncode != 0
        tokens += int(match.group(1)) if match else 0
    wall = time.perf_counter() - t0
    return {"wall_s": round(wall, 3), "prompts_per_s": round(len(items) / wall, 3), "eval_tokens": tokens,
            "tokens_per_s": round(tokens / wall, 2), "failed": failed}


def run_batch(url: str, model: str, items: list[str], concurrency: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        inp, out = Path(tmp) / "in.jsonl", Path(tmp) / "out.jsonl"
        inp.write_text("".join(json.dumps({"id": i, "prompt": p}, ensure_ascii=False) + "\n"
                               for i, p in enumerate(items)), encoding="utf-8")
        cmd = [sys.executable, "-m", "purple.batch", str(inp), "-o", str(out), "--model", model, "--host", url,
               "--concurrency", str(concurrency), "--quiet"]
        t0 = time.perf_counter()
        done = subprocess.run(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
                              text=True, timeout=3600)
        wall = time.perf_counter() - t0
        records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    if done.returncode not in (0, 1):
        raise SystemExit(f"purple batch failed ({done.returncode}): {done.stderr.strip()[-300:]}")
    tokens = sum(r["eval_count"] or 0 for r in records)
    return {"wall_s": round(wall, 3), "prompts_per_s": round(len(items) / wall, 3), "eval_tokens": tokens,
            "tokens_per_s": round(tokens / wall, 2), "failed": sum(1 for r in records if r["error"]),
            "mean_latency_s": round(sum(r["total_s"] or 0 for r in records) / len(records), 3)}


def markdown(result: dict) -> str:
    s, b = result["sequential"], result["batch"]
    return "\n".join([
        "# purple batch throughput", "",
        f"{result['prompts']} prompts, model `{result['model']}`, Ollama {result['versions']['ollama']} "
        f"(OLLAMA_NUM_PARALLEL={result['num_parallel']}), {result['device']}, {result['date']}.", "",
        "| way | wall s | prompts/s | generated tokens | tokens/s | failed |",
        "|---|---|---|---|---|---|",
        f"| sequential `ollama run` | {s['wall_s']} | {s['prompts_per_s']} | {s['eval_tokens']} | {s['tokens_per_s']} | {s['failed']} |",
        f"| `purple batch --concurrency {result['concurrency']}` | {b['wall_s']} | {b['prompts_per_s']} | "
        f"{b['eval_tokens']} | {b['tokens_per_s']} | {b['failed']} |", "",
        f"Speed-up in prompts/s: **{result['speedup_prompts']}x** (tokens/s: {result['speedup_tokens']}x).", "",
        f"Command: `{result['command']}`", "",
    ])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True)
    p.add_argument("--host", help="an existing server (else one is started on OLLAMA_MODELS / --models-dir)")
    p.add_argument("--models-dir", help="OLLAMA_MODELS for the server this script starts")
    p.add_argument("--num-parallel", type=int, help="OLLAMA_NUM_PARALLEL: set to it (default 4) when this script "
                   "starts the server; with --host, what that server was started with (recorded only)")
    p.add_argument("--prompts", type=int, default=200)
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--out", default=str(RESULTS / "batch_throughput"), help="results path without extension")
    args = p.parse_args(argv)
    binary = require_binary()
    server = None
    if args.host:
        url = args.host if "://" in args.host else f"http://{args.host}"
    else:
        models = Path(args.models_dir or os.environ.get("OLLAMA_MODELS", Path.home() / ".ollama" / "models"))
        args.num_parallel = args.num_parallel or 4
        server = start_server(models, binary=binary, extra_env={"OLLAMA_NUM_PARALLEL": str(args.num_parallel)})
        url = server.url
    try:
        items = prompts(args.prompts)
        env = {**os.environ, "OLLAMA_HOST": url.removeprefix("http://")}
        subprocess.run([str(binary), "run", args.model, "Cześć"], env=env, capture_output=True, timeout=600,
                       check=True)  # load the model once, outside both timings
        print(f"sequential: {len(items)} x `ollama run` ...", flush=True)
        seq = run_sequential(binary, url, args.model, items)
        print(f"batch: purple batch --concurrency {args.concurrency} ...", flush=True)
        bat = run_batch(url, args.model, items, args.concurrency)
        version = server_version(url) or "unknown"
    finally:
        if server:
            server.stop()
    import httpx
    result = {
        "benchmark": "batch_throughput", "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": "python benchmarks/batch_throughput.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "device": device(), "model": args.model, "prompts": len(items), "concurrency": args.concurrency,
        "num_parallel": args.num_parallel or "unknown", "server_started_by_script": server is not None,
        "versions": {"ollama": version, "python": platform.python_version(), "httpx": httpx.__version__},
        "sequential": seq, "batch": bat,
        "speedup_prompts": round(bat["prompts_per_s"] / seq["prompts_per_s"], 2),
        "speedup_tokens": round(bat["tokens_per_s"] / seq["tokens_per_s"], 2) if seq["tokens_per_s"] else None,
    }
    write_json(Path(args.out + ".json"), result)
    write_text(Path(args.out + ".md"), markdown(result))
    print(f"| way | wall s | prompts/s | tok/s |\n|---|---|---|---|\n"
          f"| sequential ollama run | {seq['wall_s']} | {seq['prompts_per_s']} | {seq['tokens_per_s']} |\n"
          f"| purple batch -c {args.concurrency} | {bat['wall_s']} | {bat['prompts_per_s']} | {bat['tokens_per_s']} |\n"
          f"speed-up {result['speedup_prompts']}x -> {args.out}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
