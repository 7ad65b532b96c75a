"""Does a chat model answer each turn of a conversation, or repeat an earlier reply? Through Ollama's chat API.

Each model holds each conversation (scripts/purple_screenshot.py's three prompts, then the five of
multi_turn_conversations.json; each prompt sent with the whole history, as Purple sends it) once per seed,
temperature 0.3, at most 120 tokens a reply. A reply from the second turn on
echoes when at least 80% of its word 3-grams (or, under three words, the whole reply) occur in one earlier reply.

    python benchmarks/multi_turn.py --models polski-mini cand --seeds 1 2 3 4 5 --out benchmarks/results/multi_turn
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from provenance import provenance, write_results

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]  # purple_screenshot imports purple from the repository
CONVERSATIONS = Path(__file__).with_name("multi_turn_conversations.json")


def grams(text: str, n: int = 3) -> set[tuple[str, ...]]:
    words = text.lower().split()
    return {tuple(words)} if len(words) < n else {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def echoes(reply: str, earlier: list[str], share: float = 0.8) -> bool:
    mine = grams(reply)
    return bool(mine) and any(len(mine & grams(e)) >= share * len(mine) for e in earlier)


def conversation(client, model: str, prompts: list[str], seed: int) -> list[str]:
    messages, replies = [], []
    for prompt in prompts:
        messages.append({"role": "user", "content": prompt})
        reply = client.chat(model=model, messages=messages,
                            options={"seed": seed, "temperature": 0.3, "num_predict": 120}).message.content
        messages.append({"role": "assistant", "content": reply})
        replies.append(reply)
    return replies


def conversations() -> list[list[str]]:
    from purple_screenshot import PROMPTS

    return [PROMPTS] + json.loads(CONVERSATIONS.read_text(encoding="utf-8"))["conversations"]


def main() -> None:
    import ollama

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", required=True, help="Ollama model names")
    p.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3, 4, 5])
    p.add_argument("--host", help="Ollama server (default: OLLAMA_HOST or localhost)")
    p.add_argument("--only-first", action="store_true", help="only the screenshot's conversation (the 2026-12-03 check)")
    p.add_argument("--out", type=Path, required=True, help="OUT.json and OUT.md are written")
    args = p.parse_args()

    scripts = conversations()[:1] if args.only_first else conversations()
    client = ollama.Client(host=args.host)
    table: dict[str, dict] = {}
    for model in args.models:
        runs = {(c, seed): conversation(client, model, prompts, seed)
                for c, prompts in enumerate(scripts) for seed in args.seeds}
        echoed = {key: [echoes(r[i], r[:i]) for i in range(1, len(r))] for key, r in runs.items()}
        table[model] = {"conversations": len(runs), "later_replies": sum(map(len, echoed.values())),
                        "echoing": sum(map(sum, echoed.values())),
                        "echoing_by_conversation": [sum(sum(e) for (c, _), e in echoed.items() if c == i)
                                                    for i in range(len(scripts))],
                        "echoes": [{"conversation": c, "seed": s, "replies": runs[c, s]}
                                   for (c, s), e in echoed.items() if any(e)]}

    versions = {"ollama": subprocess.run(["ollama", "--version"], capture_output=True, text=True).stdout.strip()}
    result = {**provenance("multi_turn", versions), "seeds": args.seeds, "models": table}
    lines = [f"# Multi-turn: {len(scripts)} three-turn conversations, seeds {', '.join(map(str, args.seeds))}, "
             "temperature 0.3, Ollama", "", f"`{result['command']}`, {result['date']}, {result['device']}", "",
             "| model | conversations | replies after the first | echoing an earlier reply | echoes per conversation |",
             "|---|---:|---:|---:|---|"]
    for model, s in table.items():
        lines.append(f"| {model} | {s['conversations']} | {s['later_replies']} | {s['echoing']} | "
                     f"{' / '.join(map(str, s['echoing_by_conversation']))} |")
    write_results(args.out, result, lines)


if __name__ == "__main__":
    main()
