"""Verbatim conversations with a model served by Ollama, for its model card: single and multi-turn chats.

    python benchmarks/conversations.py --model polski-mini --host http://127.0.0.1:11434 \\
        --out benchmarks/results/polski_mini/conversations.md

Each conversation sends its user turns one by one through /api/chat (the model's own earlier replies stay in the
context, as in Purple), with a fixed seed and the Modelfile's other settings. The first three are the prompts a new
user tried when polski-mini still answered with one invented word.
"""
from __future__ import annotations

import argparse
import datetime
import platform
from pathlib import Path

import httpx

CONVERSATIONS = [
    ["Cześć! Jaka jest stolica Polski?"],
    ["Opowiedz mi coś o jesieni w polskich górach."],
    ["Napisz krótki list do babci."],
    ["Dzień dobry! Kim jesteś?", "A czy masz dostęp do internetu?"],
    ["Podaj trzy pomysły na jesienny weekend.", "A który z nich polecasz dla rodziny z dziećmi?"],
    ["Jak się pisze: „wziąść” czy „wziąć”?", "Dzięki! A „poszłem” czy „poszedłem”?"],
    ["Napisz krótki wierszyk o kocie."],
    ["Mam jutro egzamin i bardzo się stresuję.", "Co mogę zrobić wieczorem, żeby się wyspać?"],
    ["Ile mieszkańców ma dziś Kraków, co do osoby?"],
    ["Wyjaśnij w dwóch zdaniach, czym jest fotosynteza."],
]


def chat(client: httpx.Client, model: str, turns: list[str], seed: int) -> list[tuple[str, str]]:
    messages, out = [], []
    for turn in turns:
        messages.append({"role": "user", "content": turn})
        r = client.post("/api/chat", json={"model": model, "messages": messages, "stream": False,
                                           "options": {"seed": seed, "num_predict": 200}})
        r.raise_for_status()
        reply = r.json()["message"]["content"].strip()
        messages.append({"role": "assistant", "content": reply})
        out.append((turn, reply))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="polski-mini")
    ap.add_argument("--host", default="http://127.0.0.1:11434")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    with httpx.Client(base_url=args.host, timeout=300) as client:
        version = client.get("/api/version").json()["version"]
        lines = [f"# {args.model}: ten conversations, verbatim", "",
                 f"Ollama {version} on {platform.machine()} CPU, seed {args.seed}, the Modelfile's temperature, top-p and "
                 f"repeat penalty; {datetime.date.today()}; `python benchmarks/conversations.py --model {args.model} "
                 f"--out {args.out}`.", ""]
        for n, turns in enumerate(CONVERSATIONS, 1):
            lines.append(f"## {n}")
            for user, reply in chat(client, args.model, turns, args.seed):
                lines += [f"> **user:** {user}", ">", f"> **{args.model}:** " + reply.replace("\n", "\n> "), ""]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
