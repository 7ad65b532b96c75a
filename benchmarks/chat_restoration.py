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
import difflib
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from provenance import provenance, write_results

INSTRUCTIONS = {
    "diacritics": "Przywróć polskie znaki diakrytyczne w poniższym tekście.",
    "punctuation": "Dodaj interpunkcję i wielkie litery do poniższego tekstu.",
}
PLAIN = str.maketrans("ąćęłńóśźżĄĆĘŁŃÓŚŹŻ", "acelnoszzACELNOSZZ")
PUNCTUATION = re.compile(r"[^\w\s-]")


def strip(task: str, sentence: str) -> str:
    if task == "diacritics":
        return sentence.translate(PLAIN)
    return " ".join(PUNCTUATION.sub("", sentence).lower().split())


def sentences(path: Path, n: int) -> list[str]:
    """The first n lines of 60-200 characters with at least one diacritic, over the documents in order."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        for s in json.loads(line)["text"].split("\n"):
            if 60 <= len(s) <= 200 and s != s.translate(PLAIN):
                out.append(s)
                if len(out) == n:
                    return out
    return out


def similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def run_model(model: str, prompts: list[dict], workdir: Path, host: str | None) -> tuple[list[str], int]:
    """Replies in prompt order ("" where the request failed, e.g. Ollama's repeat limit) and the failures."""
    src, dst = workdir / "prompts.jsonl", workdir / f"{model.replace(':', '_')}.out.jsonl"
    src.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in prompts), encoding="utf-8")
    cmd = [sys.executable, "-m", "purple.cli", "batch", str(src), "-m", model, "-o", str(dst), "-q", "-c", "2", "--seed", "7",
           "--option", "temperature=0", "--option", "num_predict=160"] + (["--host", host] if host else [])
    subprocess.run(cmd, check=False)  # exits 1 when a prompt failed; the output file still has every record
    records = {r["id"]: r for r in map(json.loads, dst.read_text(encoding="utf-8").splitlines())}
    return [(records[p["id"]].get("response") or "").strip() for p in prompts], \
        sum(bool(r.get("error")) for r in records.values())


def score(targets: list[str], replies: list[str], failed: int = 0) -> dict:
    return {
        "failed": failed,
        "exact": sum(t == r for t, r in zip(targets, replies)) / len(targets),
        "similarity": sum(similarity(t, r) for t, r in zip(targets, replies)) / len(targets),
    }


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

    targets = sentences(args.text, args.n)
    tasks = {task: [{"id": f"{task}-{i}", "prompt": f"{instr}\n\n{strip(task, s)}"} for i, s in enumerate(targets)]
             for task, instr in INSTRUCTIONS.items()}
    table: dict[str, dict] = {}
    examples: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for task, prompts in tasks.items():
            table.setdefault("input unchanged", {})[task] = score(targets, [strip(task, s) for s in targets])
            for model in args.models:
                replies, failed = run_model(model, prompts, Path(tmp), args.host)
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
