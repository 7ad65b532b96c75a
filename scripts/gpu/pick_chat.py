"""The shipping rule of a chat model, on dev data only: scores candidates' chat-dev replies and names the one to ship.

Usage: python3 scripts/gpu/pick_chat.py PROMPTS.jsonl OUT NAME... [--no-language-check]
Reads OUT/replies-NAME.json (scripts/gpu/chat_replies.py) and OUT/eval-NAME/eval.json (`polski eval` on the corpus
validation bins and the dev half of the minimal pairs); writes OUT/ranking.md and OUT/ranking.json and prints the pick.

The rule (docs/evaluation.md): among candidates with validation BPB <= 0.975 and dev minimal pairs >= 0.96, the highest
chat-dev usable rate, ties (within 0.01) broken by the on-topic rate. Test sets (NTREX, chat-test, the test half of the
pairs) never enter it. --no-language-check leaves the Polish check out of "usable" (on the GPU machine, which has no
lingua); the CPU machine scores the same replies with it.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script on the GPU machine
from training.evals import chat  # noqa: E402
from training.evals.compare import headline  # noqa: E402

MAX_VAL_BPB, MIN_PAIRS = 0.975, 0.96


def chat_scores(prompts: dict[str, dict], replies: list[dict], language: bool) -> dict:
    if not language:
        chat.is_polish = lambda text: True  # the Polish check is made on the CPU machine; the other checks are the same
    scored = [{**r, "scores": chat.score_reply(prompts[r["id"]], r["reply"], r["ended"])} for r in replies]
    return chat.summarize(scored)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("prompts", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("names", nargs="+")
    ap.add_argument("--no-language-check", action="store_true")
    args = ap.parse_args()
    prompts = {p["id"]: p for p in chat.load_prompts(args.prompts)}
    rows = {}
    for name in args.names:
        replies = json.loads((args.out / f"replies-{name}.json").read_text(encoding="utf-8"))["replies"]
        eval_path = args.out / f"eval-{name}" / "eval.json"
        figures = headline(json.loads(eval_path.read_text(encoding="utf-8"))) if eval_path.is_file() else {}
        rows[name] = {"chat_dev": chat_scores(prompts, replies, not args.no_language_check), "eval": figures}
    eligible = []
    for name, row in rows.items():
        val = next((v for k, v in row["eval"].items() if k.endswith(":val bpb")), None)  # the corpus validation split
        pairs = [v for k, v in row["eval"].items() if "pairs" in k]
        row["passes_guards"] = val is not None and val <= MAX_VAL_BPB and bool(pairs) and min(pairs) >= MIN_PAIRS
        if row["passes_guards"]:
            eligible.append(name)
    key = lambda n: (round(rows[n]["chat_dev"]["usable"] / 0.01), rows[n]["chat_dev"]["on_topic"])  # noqa: E731
    pick = max(eligible, key=key) if eligible else None
    lines = ["| candidate | usable | on topic | facts | loops | mean words | guards | eval |", "|---|---:|---:|---:|---:|---:|---|---|"]
    for name, row in rows.items():
        c = row["chat_dev"]
        facts = f"{c['fact_accuracy']:.3f}" if c["fact_accuracy"] is not None else "-"
        figures = ", ".join(f"{k} {v:.4f}" for k, v in sorted(row["eval"].items()))
        lines.append(f"| {name}{' (pick)' if name == pick else ''} | {c['usable']:.3f} | {c['on_topic']:.3f} | {facts} | "
                     f"{c['loops']:.3f} | {c['mean_words']:.1f} | {'pass' if row['passes_guards'] else 'fail'} | {figures} |")
    (args.out / "ranking.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (args.out / "ranking.json").write_text(json.dumps({"pick": pick, "rows": rows}, indent=1), encoding="utf-8")
    print("\n".join(lines))
    print(pick or "")


if __name__ == "__main__":
    main()
