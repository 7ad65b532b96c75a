"""Instruction following out of domain: put back what was stripped from held-out sentences.

Sentences of a held-out text (NTREX news: in neither the corpus nor the SFT data) lose their Polish diacritics,
or their punctuation and capitals. The model gets the SFT data's own instruction for that task in a ChatML user
turn (after the default system prompt, as Ollama sends it) and answers greedily until `<|im_end|>`.
Score: exact matches and the mean character similarity (difflib ratio) of reply to original. Echoing the stripped
input scores about 0.94: a model below that rewrites more than it repairs.
"""
from __future__ import annotations

import difflib
import re

import numpy as np

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


def sentences(docs: list[str], n: int) -> list[str]:
    """The first n lines of 60-200 characters with at least one diacritic, over the documents in order."""
    out = [s for doc in docs for s in doc.split("\n") if 60 <= len(s) <= 200 and s != s.translate(PLAIN)]
    if not out:
        from training.errors import DataError

        raise DataError("no line of 60-200 characters with a Polish diacritic in the chat-task text; "
                        "give Polish prose, e.g. ../shared/data/eval/heldout-text/ntrex128-pol.jsonl")
    return out[:n]


def prompts(targets: list[str]) -> dict[str, list[str]]:
    """Each task's user message for each target sentence (instruction, blank line, stripped text)."""
    return {task: [f"{instruction}\n\n{strip(task, s)}" for s in targets] for task, instruction in INSTRUCTIONS.items()}


def similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def score(targets: list[str], replies: list[str], failed: int = 0) -> dict:
    return {
        "failed": failed,
        "exact": sum(t == r for t, r in zip(targets, replies)) / len(targets),
        "similarity": sum(similarity(t, r) for t, r in zip(targets, replies)) / len(targets),
    }


def chat_reply(backend, user: str, system: str | None, max_new_tokens: int) -> str:
    """Greedy reply to one ChatML user turn, as the SFT data lays it out; stops at <|im_end|> or EOS."""
    head = f"<|im_start|>system\n{system}<|im_end|>\n" if system else ""
    ids = [backend.bos_id] + backend.encode(f"{head}<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n")
    stops = {backend.eos_id, *backend.encode("<|im_end|>")}
    start = len(ids)
    for _ in range(max_new_tokens):
        nxt = int(np.argmax(backend.logits(ids[-backend.context_length:])[-1]))
        if nxt in stops:
            break
        ids.append(nxt)
    return backend.decode(ids[start:]).strip()


def echo_score(task: str, targets: list[str]) -> dict:
    """The baseline: the stripped input given back unchanged."""
    return score(targets, [strip(task, t) for t in targets])


def evaluate_chat_tasks(backend, targets: list[str], system: str | None = None) -> dict:
    """{"sentences", "scores": {"input unchanged"|"model": {task: score}}, "examples": {task: {...}}}."""
    result: dict = {"sentences": len(targets), "scores": {"input unchanged": {}, "model": {}}, "examples": {}}
    budgets = [2 * len(backend.encode(t)) + 8 for t in targets]  # a reply may take twice the sentence's tokens
    for task, users in prompts(targets).items():
        replies = [chat_reply(backend, u, system, b) for u, b in zip(users, budgets)]
        result["scores"]["input unchanged"][task] = echo_score(task, targets)
        result["scores"]["model"][task] = score(targets, replies)
        result["examples"][task] = {"input": strip(task, targets[0]), "reply": replies[0], "target": targets[0]}
    return result
