"""Replies of a model to a chat prompt set, generated on the GPU machine and scored later where lingua is installed.

Usage: python3 scripts/gpu/chat_replies.py MODEL PROMPTS.jsonl OUT.json [--seeds 1 2 3] [--device cuda]
MODEL is a RUN_DIR, checkpoint dir or FILE.gguf. OUT.json holds every reply ({"id", "category", "seed", "prompt",
"reply", "ended"}); `python3 scripts/gpu/pick_chat.py` scores them with the same checks as `polski eval --chat`.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script on the GPU machine
from training.config import OllamaConfig  # noqa: E402
from training.evals.chat import load_prompts, open_generator, with_system  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("prompts", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--temperature", type=float, default=0.3)
    ap.add_argument("--top-p", type=float, default=0.9)
    ap.add_argument("--max-tokens", type=int, default=200)
    args = ap.parse_args()
    generator = open_generator(args.model, device=args.device)
    replies = []
    for record in load_prompts(args.prompts):
        messages = with_system(record["messages"], OllamaConfig().system)
        for seed in args.seeds:
            text, ended = generator.reply(messages, seed=seed, temperature=args.temperature, top_p=args.top_p,
                                          max_tokens=args.max_tokens)
            replies.append({"id": record["id"], "category": record["category"], "seed": seed,
                            "prompt": record["messages"][-1]["content"], "reply": text, "ended": ended})
    settings = {"model": args.model, "prompts": str(args.prompts), "seeds": args.seeds, "temperature": args.temperature,
                "top_p": args.top_p, "max_tokens": args.max_tokens}
    args.out.write_text(json.dumps({**settings, "replies": replies}, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
