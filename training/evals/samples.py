"""Generation samples from fixed Polish prompts with a fixed seed, the same code for every backend."""
from __future__ import annotations

import numpy as np

PROMPTS = [
    "Dawno, dawno temu",
    "Polska jest",
    "Warszawa to miasto, w którym",
    "Najważniejszym wydarzeniem ubiegłego roku było",
    "Art. 1. Ustawa określa",
    "W poniedziałek rano",
]


def sample_next(logits: np.ndarray, rng: np.random.Generator, temperature: float, top_k: int) -> int:
    if temperature <= 0:
        return int(np.argmax(logits))
    z = logits.astype(np.float64) / temperature
    if 0 < top_k < len(z):
        kth = np.partition(z, -top_k)[-top_k]
        z = np.where(z < kth, -np.inf, z)
    p = np.exp(z - z.max())
    p /= p.sum()
    return int(rng.choice(len(p), p=p))


def generate(backend, prompt: str, max_new_tokens: int = 48, temperature: float = 0.8, top_k: int = 50, seed: int = 1234) -> str:
    """Continuation of `prompt` (BOS prepended); stops at EOS or after max_new_tokens."""
    rng = np.random.default_rng(seed)
    prompt_ids = [backend.bos_id] + backend.encode(prompt)
    ids = list(prompt_ids)
    for _ in range(max_new_tokens):
        window = ids[-backend.context_length:]
        nxt = sample_next(backend.logits(window)[-1], rng, temperature, top_k)
        if nxt == backend.eos_id:
            break
        ids.append(nxt)
    return backend.decode(ids[len(prompt_ids):])


def generate_samples(backend, prompts: list[str] | None = None, **kwargs) -> list[dict]:
    return [{"prompt": p, "text": generate(backend, p, **kwargs)} for p in (prompts or PROMPTS)]
