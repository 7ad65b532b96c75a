"""Does a chat model follow the two restoration instructions of its SFT data on text it never saw?

Sentences of the NTREX news text (absent from the corpus and the SFT data) are stripped of their Polish
diacritics, or of their punctuation and capitals, and sent through a real Ollama server with `purple batch`,
greedy, in the user-message form of `../shared/data/sft/synthetic-pl-tasks` (instruction, blank line, text).
Score: exact matches, and the character similarity (difflib ratio) of each reply to the original sentence.
The stripped input itself is scored too: a model that only echoes its input gets that baseline.

    python benchmarks/chat_restoration.py --models polski-mini cand --out benchmarks/results/chat_restoration
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from provenance import provenance, write_results
from purple_common import purple_batch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from training.evals.chat_tasks import echo_score, prompts, score, sentences, strip  # noqa: E402
from training.evals.texts import load_texts  # noqa: E402


def run_model(model: str, requests: list[dict], workdir: Path, host: str | None) -> tuple[list[str], int]:
    """Replies in prompt order ("" where the request failed, e.g. Ollama's repeat limit) and the failures."""
    src, dst = workdir / "prompts.jsonl", workdir / f"{model.replace(':', '_')}.out.jsonl"
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in requests), encoding="utf-8")
    records = {r["id"]: r for r in purple_batch(src, model, dst, seed=7, options={"temperature": 0, "num_predict": 160},
                                                host=host, concurrency=2)}
    return [(records[r["id"]].get("response") or "").strip() for r in requests], \
        sum(bool(r.get("error")) for r in records.values())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", required=True, help="Ollama model names")
    p.add_argument("--text", type=Path, default=Path("../shared/data/eval/heldout-text/ntrex128-pol.jsonl"))
    p.add_argument("--n", type=int, default=40, help="sentences per task")
    p.add_argument("--host", help="Ollama server (default: OLLAMA_HOST or localhost)")
    p.add_argument("--out", type=Path, required=True, help="OUT.json and OUT.md are written")
    args = p.parse_args()
    if not args.text.exists():
        sys.exit(f"error: {args.text} not found; pass --text with a JSON Lines file of {{\"text\": ...}} records")

    targets = sentences(load_texts(args.text), args.n)
    tasks = {task: [{"id": f"{task}-{i}", "prompt": u} for i, u in enumerate(users)]
             for task, users in prompts(targets).items()}
    table: dict[str, dict] = {}
    examples: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for task, requests in tasks.items():
            table.setdefault("input unchanged", {})[task] = echo_score(task, targets)
            for model in args.models:
                replies, failed = run_model(model, requests, Path(tmp), args.host)
                table.setdefault(model, {})[task] = score(targets, replies, failed)
                examples.setdefault(model, {})[task] = {"input": strip(task, targets[0]), "reply": replies[0]}

    versions = {"ollama": subprocess.run(["ollama", "--version"], capture_output=True, text=True).stdout.strip()}
    result = {**provenance("chat_restoration", versions), "sentences": len(targets), "scores": table,
              "examples": examples, "target_example": targets[0]}
    lines = [f"# Restoration instructions on NTREX sentences ({len(targets)} per task, greedy, Ollama)", "",
             f"`{result['command']}`, {result['date']}, {result['device']}", "",
             "Similarity: difflib ratio of reply to original, mean over sentences (a failed request scores 0).", "",
             "| model | diacritics: exact | diacritics: similarity | punctuation: exact | punctuation: similarity | failed |",
             "|---|---:|---:|---:|---:|---:|"]
    for model, s in table.items():
        d, q = s["diacritics"], s["punctuation"]
        lines.append(f"| {model} | {d['exact']:.3f} | {d['similarity']:.3f} | {q['exact']:.3f} | {q['similarity']:.3f} | {d['failed'] + q['failed']} |")
    write_results(args.out, result, lines)


if __name__ == "__main__":
    main()
