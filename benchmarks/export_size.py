"""GGUF sizes and export/quantize times of a model with random weights (default polski-1b3).

    python benchmarks/export_size.py [--config polski-1b3] [--work work/bench-export] [--tokenizer DIR]

Writes a random-weight checkpoint (fp32 safetensors, ~5.2 GB for polski-1b3) once, exports it to an
F16 GGUF with `polski export`'s code, quantizes that with llama.cpp's quantizer to Q8_0 and Q4_0,
and records sizes and times under "export" in benchmarks/results/export.json (+ export.md).
Needs ~8 GB RAM and ~8 GB disk for polski-1b3. Sizes do not depend on the weights' values.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results"
Q4_0_LIMIT_MB = 750


def environment() -> dict:
    import datetime
    import os
    import platform
    from importlib.metadata import PackageNotFoundError, version

    def v(name):
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), platform.processor())
    return {
        "device": f"CPU: {cpu}, {os.cpu_count()} cores (no GPU)",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "versions": {p: v(p) for p in ("torch", "gguf", "llama-cpp-python", "safetensors", "sentencepiece", "ollama")},
    }


def save_section(key: str, data: dict) -> None:
    """Merges one benchmark's results into benchmarks/results/export.json and rewrites export.md."""
    import json

    from training.atomic import write_json, write_text

    path = RESULTS / "export.json"
    results = json.loads(path.read_text()) if path.is_file() else {}
    results[key] = {**data, **environment()}
    write_json(path, results)
    write_text(RESULTS / "export.md", render_markdown(results))


def render_markdown(results: dict) -> str:
    lines = ["# Export and Ollama benchmarks", ""]
    if "export" in results:
        e = results["export"]
        lines += [f"## GGUF sizes: {e['config']} ({e['parameters'] / 1e9:.2f} B parameters, {e['weights']})", "",
                  f"`{e['command']}` on {e['device']}, {e['date']}", "",
                  "| file | type | MB | MiB | seconds | step |", "|---|---|---:|---:|---:|---|"]
        lines += [f"| {r['file']} | {r['type']} | {r['bytes'] / 1e6:.1f} | {r['bytes'] / 2**20:.1f} | {r['seconds']} | {r['step']} |"
                  for r in e["rows"]]
        if e.get("q4_0_within_limit") is not None:
            lines += ["", f"Q4_0 within {e['q4_0_limit_mb']} MB: **{'yes' if e['q4_0_within_limit'] else 'no'}**"]
        lines += [""]
    if "ollama_decode" in results:
        d = results["ollama_decode"]
        lines += ["## Decode speed through Ollama", "", f"`{d['command']}` on {d['device']}, Ollama {d.get('ollama_version')}, {d['date']}", "",
                  "| model | GGUF | MB | prompt tokens | prompt tok/s | generated tokens | decode tok/s (median) |",
                  "|---|---|---:|---:|---:|---:|---:|"]
        lines += [f"| {r['model']} | {r['type']} | {r['bytes'] / 1e6:.1f} | {r['prompt_tokens']} | {r['prompt_tok_s']:.1f} | "
                  f"{r['eval_count']} | {r['decode_tok_s']:.1f} |" for r in d["rows"]]
        lines += [""]
    return "\n".join(lines)


def build_tokenizer(work: Path, vocab_size: int) -> Path:
    """A real polski tokenizer of the config's vocab size, trained on a bounded sample of the shared corpus."""
    from training.config import TokenizerConfig
    from training.tokenizer import train_tokenizer

    out = work / f"tokenizer-{vocab_size}"
    if not (out / "tokenizer.model").is_file():
        corpus = Path(__file__).resolve().parents[2] / "shared" / "data" / "corpus"
        files = sorted(corpus.glob("*.jsonl.xz"))[:3]
        if not files:
            sys.exit("no ../shared/data/corpus: pass --tokenizer TOKENIZER_DIR with the config's vocab size")
        train_tokenizer([str(f) for f in files], out, TokenizerConfig(vocab_size=vocab_size, sample_sentences=60000))
    return out


def build_run(work: Path, config_name: str, tokenizer: Path) -> Path:
    import json
    import shutil

    import torch
    from safetensors.torch import save_file

    from training.config import dump_config, load_config
    from training.model import GPT

    run = work / f"run-{config_name}"
    ckpt = run / "checkpoints" / "step-000000"
    if (ckpt / "model.safetensors").is_file():
        return run
    config = load_config(config_name)
    torch.manual_seed(0)
    model = GPT(config.model)
    with torch.no_grad():  # zero </s> and <|im_end|> so greedy decoding of random weights never stops early
        for head in [model.tok_embeddings.weight] + ([model.output.weight] if model.output is not None else []):
            head[[2, 5]] = 0.0
    ckpt.mkdir(parents=True, exist_ok=True)
    (run / "config.toml").write_text(dump_config(config), encoding="utf-8")
    shutil.copytree(tokenizer, run / "tokenizer", dirs_exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, ckpt / "model.safetensors")
    (ckpt / "meta.json").write_text(json.dumps({"step": 0, "tokens_seen": 0, "note": "random weights"}), encoding="utf-8")
    (run / "checkpoints" / "latest").write_text("step-000000", encoding="utf-8")
    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="polski-1b3")
    ap.add_argument("--work", default="work/bench-export")
    ap.add_argument("--tokenizer", default=None)
    ap.add_argument("--quantize", nargs="+", default=["q8_0", "q4_0"])
    args = ap.parse_args()

    from training.config import load_config
    from training.export.export_model import export_model
    from training.export.quantize import quantize_gguf
    from training.export.read_back import validate_gguf

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    model_cfg = load_config(args.config).model
    t0 = time.perf_counter()
    tokenizer = Path(args.tokenizer) if args.tokenizer else build_tokenizer(work, model_cfg.vocab_size)
    t1 = time.perf_counter()
    run = build_run(work, args.config, tokenizer)
    t2 = time.perf_counter()
    rows = []
    f16 = work / f"{args.config}-f16.gguf"
    report = export_model(run, f16, dtype="f16", force=True)
    rows.append({"file": f16.name, "type": "F16", "bytes": report.bytes, "seconds": round(report.seconds, 1),
                 "step": "polski export: safetensors -> GGUF (read-back check not timed)"})
    for q in args.quantize:
        out = work / f"{args.config}-{q}.gguf"
        res = quantize_gguf(f16, out, q, force=True)
        validate_gguf(out, model_cfg)
        rows.append({"file": out.name, "type": q.upper(), "bytes": res.bytes, "seconds": round(res.seconds, 1),
                     "step": "llama_model_quantize from F16"})
    m = model_cfg  # parameter count from the config
    params = (m.vocab_size * m.d_model * (1 if m.tie_embeddings else 2)
              + m.n_layers * (2 * m.d_model * m.n_heads * m.head_dim + 2 * m.d_model * m.kv_heads * m.head_dim
                              + 3 * m.d_model * m.ffn_hidden + 2 * m.d_model) + m.d_model)
    print(f"{args.config}: {params / 1e9:.3f} B parameters (random weights)")
    print(f"{'file':<28}{'type':<8}{'MB':>10}{'MiB':>10}{'s':>8}")
    for r in rows:
        print(f"{r['file']:<28}{r['type']:<8}{r['bytes'] / 1e6:>10.1f}{r['bytes'] / 2**20:>10.1f}{r['seconds']:>8.1f}")
    q4 = next((r for r in rows if r["type"] == "Q4_0"), None)
    verdict = None
    if q4:
        verdict = q4["bytes"] / 1e6 <= Q4_0_LIMIT_MB
        print(f"Q4_0 {q4['bytes'] / 1e6:.1f} MB <= {Q4_0_LIMIT_MB} MB: {'yes' if verdict else 'NO'}")
    save_section("export", {
        "config": args.config, "parameters": params, "weights": "random (seed 0)",
        "rows": rows, "q4_0_limit_mb": Q4_0_LIMIT_MB, "q4_0_within_limit": verdict,
        "setup_seconds": {"tokenizer": round(t1 - t0, 1), "random_checkpoint": round(t2 - t1, 1)},
        "command": "python benchmarks/export_size.py " + " ".join(sys.argv[1:]),
    })


if __name__ == "__main__":
    main()
