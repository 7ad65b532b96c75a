"""Decode speed (tokens/s) of polski GGUFs through a real `ollama serve` on this machine.

    python benchmarks/ollama_decode.py [--work work/bench-export] [--tokens 128] [--repeats 3]

Models: polski-1b3 Q4_0 from benchmarks/export_size.py (run it first) and polski-mini (random
weights, exported here, Q8_0 as its config ships). Each is registered with `polski register`'s code
into a private `ollama serve`, warmed up once, then asked `--repeats` times for `--tokens` tokens
(raw prompt, seeded sampling). Speed is Ollama's own eval_count / eval_duration; results go under
"ollama_decode" in benchmarks/results/export.json (+ export.md).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from export_size import build_run, build_tokenizer, save_section

PROMPT = "Dawno, dawno temu, za siedmioma górami i siedmioma rzekami, żył sobie"


def measure(url: str, name: str, tokens: int, repeats: int) -> dict:
    import httpx

    body = {"model": name, "prompt": PROMPT, "raw": True, "stream": False, "keep_alive": "10m",
            # seeded sampling, not greedy: random weights repeat one token under argmax, and Ollama aborts a
            # generation after 30 repeats of the same token (llm/server.go tokenRepeatLimit)
            "options": {"num_predict": tokens, "temperature": 0.8, "top_k": 40, "seed": 0}}
    httpx.post(f"{url}/api/generate", json={**body, "options": {"num_predict": 4}}, timeout=600).raise_for_status()
    runs = []
    for _ in range(repeats):
        r = httpx.post(f"{url}/api/generate", json=body, timeout=600).json()
        if "error" in r or not r.get("eval_count"):
            raise SystemExit(f"{name}: Ollama generated nothing ({r.get('error', 'stopped at once')})")
        runs.append(r)
    decode = [r["eval_count"] / (r["eval_duration"] / 1e9) for r in runs]
    prompt = [r["prompt_eval_count"] / (r["prompt_eval_duration"] / 1e9) for r in runs if r.get("prompt_eval_duration")]
    return {"decode_tok_s": statistics.median(decode), "decode_runs": [round(x, 2) for x in decode],
            "eval_count": runs[-1]["eval_count"], "prompt_tokens": runs[-1]["prompt_eval_count"],
            "prompt_tok_s": statistics.median(prompt) if prompt else 0.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default="work/bench-export")
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-1b3", action="store_true")
    args = ap.parse_args()

    from training.config import load_config
    from training.export.export_model import export_model
    from training.ollama_server import require_binary, server_version, start_server
    from training.register import register_model

    work = Path(args.work)
    models = []
    q4 = work / "polski-1b3-q4_0.gguf"
    if not args.skip_1b3:
        if not q4.is_file():
            sys.exit(f"{q4} is missing: run benchmarks/export_size.py first (or pass --skip-1b3)")
        models.append(("polski-1b3", q4, "Q4_0"))
    mini_cfg = load_config("polski-mini")
    mini_gguf = work / "polski-mini-q8_0.gguf"
    if not mini_gguf.is_file():
        tok = build_tokenizer(work, mini_cfg.model.vocab_size)
        export_model(build_run(work, "polski-mini", tok), mini_gguf, dtype="f16", quantize="q8_0", force=True)
    models.append(("polski-mini", mini_gguf, "Q8_0"))

    with tempfile.TemporaryDirectory(prefix="ollama-bench-") as models_dir:
        server = start_server(Path(models_dir), binary=require_binary())
        try:
            rows = []
            for name, path, kind in models:
                register_model(name, gguf=path, host=server.url)
                row = {"model": name, "type": kind, "bytes": path.stat().st_size, **measure(server.url, name, args.tokens, args.repeats)}
                rows.append(row)
                print(f"{name:<12} {kind:<5} {row['bytes'] / 1e6:8.1f} MB  prompt {row['prompt_tok_s']:7.1f} tok/s  "
                      f"decode {row['decode_tok_s']:6.1f} tok/s (median of {args.repeats}, {row['eval_count']} tokens)")
            version = server_version(server.url)
        finally:
            server.stop()
    import json

    previous = ROOT / "benchmarks" / "results" / "export.json"
    if previous.is_file():  # keep rows of models not measured this time (e.g. --skip-1b3)
        old = json.loads(previous.read_text()).get("ollama_decode", {}).get("rows", [])
        rows = [r for r in old if r["model"] not in {m[0] for m in models}] + rows
    save_section("ollama_decode", {"rows": rows, "ollama_version": version, "weights": "random",
                                   "prompt": PROMPT, "num_predict": args.tokens,
                                   "command": "python benchmarks/ollama_decode.py " + " ".join(sys.argv[1:])})


if __name__ == "__main__":
    main()
