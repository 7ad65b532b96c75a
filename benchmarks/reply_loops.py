"""How often does a chat model fall into a loop? Sampled replies to the model card's prompts, through Ollama.

Each model answers every prompt of modelfiles/polski-mini/sample-prompts.jsonl once per seed (`purple batch`,
temperature 0.3, at most 120 tokens, the Modelfile's own repeat_penalty). A reply loops when one 3-word sequence
occurs in it 3 times or more; a reply Ollama stopped at its repeat limit counts as failed.

    python benchmarks/reply_loops.py --models polski-mini cand --seeds 1 2 3 --out benchmarks/results/reply_loops
"""
from __future__ import annotations

import argparse
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

from provenance import provenance, write_results
from purple_common import purple_batch  # also puts the repository on sys.path (training.atomic)

ROOT = Path(__file__).resolve().parents[1]


def loops(reply: str, n: int = 3, times: int = 3) -> bool:
    words = reply.split()
    grams = Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))
    return bool(grams) and max(grams.values()) >= times


def replies(model: str, prompts: Path, seed: int, workdir: Path, host: str | None) -> list[dict]:
    return purple_batch(prompts, model, workdir / f"{model.replace(':', '_')}-{seed}.jsonl", seed,
                        {"temperature": 0.3, "num_predict": 120}, host)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", required=True, help="Ollama model names")
    p.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    p.add_argument("--prompts", type=Path, default=ROOT / "modelfiles/polski-mini/sample-prompts.jsonl")
    p.add_argument("--host", help="Ollama server (default: OLLAMA_HOST or localhost)")
    p.add_argument("--out", type=Path, required=True, help="OUT.json and OUT.md are written")
    args = p.parse_args()

    table: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models:
            records = [{**r, "seed": seed} for seed in args.seeds
                       for r in replies(model, args.prompts, seed, Path(tmp), args.host)]
            texts = [r.get("response") or "" for r in records]
            looping = [loops(t) for t in texts]
            bad = [{"id": r.get("id"), "seed": r["seed"], "failed": bool(r.get("error")), "reply": t}
                   for r, t, looped in zip(records, texts, looping) if looped or r.get("error")]
            table[model] = {"replies": len(records), "looping": sum(looping),
                            "cut_at_limit": sum(r.get("done_reason") == "length" for r in records),
                            "failed": sum(bool(r.get("error")) for r in records),
                            "mean_words": sum(len(t.split()) for t in texts) / max(1, len(texts)),
                            "looping_or_failed": bad}

    versions = {"ollama": subprocess.run(["ollama", "--version"], capture_output=True, text=True).stdout.strip()}
    result = {**provenance("reply_loops", versions), "seeds": args.seeds, "models": table}
    lines = [f"# Looping replies: the model card's prompts, seeds {', '.join(map(str, args.seeds))}, temperature 0.3, Ollama", "",
             f"`{result['command']}`, {result['date']}, {result['device']}", "",
             "| model | replies | looping (a 3-word sequence 3+ times) | cut at 120 tokens | failed (Ollama's repeat limit) | mean words |",
             "|---|---:|---:|---:|---:|---:|"]
    for model, s in table.items():
        lines.append(f"| {model} | {s['replies']} | {s['looping']} | {s['cut_at_limit']} | {s['failed']} | {s['mean_words']:.1f} |")
    lines += ["", "Looping or failed replies by prompt (the replies themselves are in the JSON):", ""]
    for model, s in table.items():
        by_prompt = Counter(str(b["id"]) for b in s["looping_or_failed"])
        lines.append(f"- {model}: {', '.join(f'{k} {v}' for k, v in sorted(by_prompt.items())) or 'none'}")
    write_results(args.out, result, lines)


if __name__ == "__main__":
    main()
