"""Chat evaluation: what a user of the chat model experiences. Does it answer, in Polish, on topic, and stop?

Prompts are JSON Lines, one conversation a line:

    {"id": "stolica-1", "category": "facts",
     "messages": [{"role": "user", "content": "Jaka jest stolica Polski?"}],   # the last one is the user's
     "stems": ["stolic", "warszaw", "polsk"],   # lowercase word beginnings that show the reply is on topic
     "answers": ["warszaw"]}                     # only for facts: word beginnings of a correct answer

Every prompt is answered once per seed (temperature 0.3, top-p 0.9, at most 200 new tokens by default), and each
reply gets these checks (`score_reply`). Words are `\\w+` runs of the lowercased reply, so punctuation never counts:

- `polish`: lingua, with the corpus filter's languages (training/corpus/filters.py) in high-accuracy mode because
  replies are short, says the reply is Polish. An empty reply is not Polish.
- `ended`: the model closed its turn itself (`<|im_end|>` or EOS) before the token limit.
- `no_loop`: no word 3-gram occurs 3 or more times.
- `length_ok`: 3 to 120 words.
- `not_echo`: false when the reply has at least 3 words and 70% or more of them (counted with repeats) occur in the
  last user message. Shorter replies already fail `length_ok`, and a short answer that reuses a few of the
  question's words ("Stolicą Polski jest Warszawa.") stays below 70%.
- `usable`: all five above.
- `on_topic`: some reply word starts with one of the record's stems (a stem with a space or hyphen must occur at
  the start of a word).
- `correct`: only for records with `answers`: some reply word starts with one of them; otherwise None.
- `words`: the number of words.

The prompt is ChatML exactly as the Ollama Modelfile's TEMPLATE renders it, after the default system prompt
(`[ollama] system`), which Ollama sends as the first turn; a record that starts with its own system message keeps
it instead. Three generators give replies: a PyTorch checkpoint (`GPT.generate`, stop at `<|im_end|>` or EOS), a
GGUF through llama-cpp-python (`llama_cpp.Llama`: temperature, then top-p, no top-k, min-p or repeat penalty,
as the PyTorch sampler does) and an Ollama model (`ollama:NAME`, /api/chat, where the Modelfile's own parameters such
as repeat_penalty apply on top of seed, temperature, top_p and num_predict, as they do for a user).
"""
from __future__ import annotations

import json
import re
from collections import Counter
from functools import lru_cache
from pathlib import Path

from training.errors import CheckpointError, ConfigError, DataError, ServerError

WORD = re.compile(r"\w+")
MIN_WORDS, MAX_WORDS = 3, 120
ECHO_SHARE = 0.7
LOOP_N, LOOP_COUNT = 3, 3
ROLES = ("system", "user", "assistant")
OLLAMA_PREFIX = "ollama:"
DEFAULT_OLLAMA_HOST = "http://127.0.0.1:11434"


# ---------------------------------------------------------------- prompts


def load_prompts(path: Path | str) -> list[dict]:
    """The records of a chat-eval .jsonl file, checked; a bad line raises DataError naming it and the fix."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"cannot read chat prompts {path} ({err}): give a UTF-8 .jsonl file") from None
    fix = ('each line must be {"id", "category", "messages": [{"role", "content"}, ...] ending with a user turn, '
           '"stems": [lowercase stems], optional "answers": [lowercase stems]}')
    records, seen = [], set()
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            rec = json.loads(line)
        except ValueError as err:
            raise DataError(f"{where} is not JSON ({err.args[0]}): {fix}") from None
        problem = _record_problem(rec)
        if problem:
            raise DataError(f"{where}: {problem}; {fix}")
        if rec["id"] in seen:
            raise DataError(f"{where}: id {rec['id']!r} occurs twice; give every prompt its own id")
        seen.add(rec["id"])
        records.append(rec)
    if not records:
        raise DataError(f"{path} has no prompts: {fix}")
    return records


def _record_problem(rec) -> str | None:
    if not isinstance(rec, dict):
        return "not a JSON object"
    for key in ("id", "category"):
        if not isinstance(rec.get(key), str) or not rec[key].strip():
            return f'"{key}" is missing or not a non-empty string'
    msgs = rec.get("messages")
    if not isinstance(msgs, list) or not msgs:
        return '"messages" is missing or empty'
    for m in msgs:
        if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
            return f'a message is not {{"role": {"|".join(ROLES)}, "content": str}}'
    if msgs[-1]["role"] != "user":
        return "the last message is not the user's"
    for key, required in (("stems", True), ("answers", False)):
        if key not in rec and not required:
            continue
        v = rec.get(key)
        if not isinstance(v, list) or not v or not all(isinstance(s, str) and s.strip() for s in v):
            return f'"{key}" is missing or not a non-empty list of strings'
        if any(s != s.lower() for s in v):
            return f'"{key}" must be lowercase'
    return None


def with_system(messages: list[dict], system: str | None) -> list[dict]:
    """The conversation as Ollama sends it: the default system prompt first unless the record has its own."""
    messages = [{"role": m["role"], "content": m["content"]} for m in messages]
    if system and messages[0]["role"] != "system":
        messages.insert(0, {"role": "system", "content": system})
    return messages


def render_chatml(messages: list[dict]) -> str:
    """The Modelfile TEMPLATE: each message `<|im_start|>ROLE\\nCONTENT<|im_end|>\\n`, then the assistant's head.
    No BOS in the text: the backends add it (tokenizer.ggml.add_bos_token), as Ollama does."""
    return "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages) + "<|im_start|>assistant\n"


# ---------------------------------------------------------------- scoring


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


@lru_cache(maxsize=1)
def detector():
    """The corpus filter's languages, high-accuracy mode (replies are short; low accuracy needs long samples)."""
    from lingua import Language, LanguageDetectorBuilder

    from training.corpus.filters import LANGUAGES

    return LanguageDetectorBuilder.from_languages(*[getattr(Language, n) for n in LANGUAGES]).build()


def is_polish(text: str) -> bool:
    from lingua import Language

    return bool(text.strip()) and detector().detect_language_of(text) == Language.POLISH


def has_loop(ws: list[str]) -> bool:
    grams = Counter(tuple(ws[i:i + LOOP_N]) for i in range(len(ws) - LOOP_N + 1))
    return any(c >= LOOP_COUNT for c in grams.values())


def is_echo(ws: list[str], user: str) -> bool:
    if len(ws) < MIN_WORDS:
        return False
    prompt = set(words(user))
    return sum(w in prompt for w in ws) / len(ws) >= ECHO_SHARE


def _starts_with_any(text: str, stems: list[str]) -> bool:
    low = text.lower()
    return any(re.search(r"(?<!\w)" + re.escape(s.lower()), low) for s in stems)


def score_reply(record: dict, reply: str, ended: bool) -> dict:
    """The checks of one reply (see the module docstring)."""
    ws = words(reply)
    user = record["messages"][-1]["content"]
    s = {
        "polish": is_polish(reply),
        "ended": bool(ended),
        "no_loop": not has_loop(ws),
        "length_ok": MIN_WORDS <= len(ws) <= MAX_WORDS,
        "not_echo": not is_echo(ws, user),
    }
    s["usable"] = all(s.values())
    s["on_topic"] = _starts_with_any(reply, record["stems"])
    s["correct"] = _starts_with_any(reply, record["answers"]) if record.get("answers") else None
    s["words"] = len(ws)
    return s


# ---------------------------------------------------------------- generators


class ChatGenerator:
    """reply(messages, ...) -> (text, ended): `messages` already carry the system turn."""

    name = "generator"

    def reply(self, messages: list[dict], *, seed: int, temperature: float, top_p: float, max_tokens: int) -> tuple[str, bool]:
        raise NotImplementedError

    def describe(self) -> dict:
        return {"backend": self.name}

    def close(self) -> None:
        pass


class TorchChatGenerator(ChatGenerator):
    """A `training.model.GPT` with its run's tokenizer; `GPT.generate` samples (seeded torch generator)."""

    name = "torch"

    def __init__(self, model, tokenizer, source: str = ""):
        self.model, self.tokenizer, self.source = model, tokenizer, source

    @classmethod
    def from_backend(cls, backend) -> "TorchChatGenerator":
        return cls(backend.model, backend.tokenizer, backend.source)

    def reply(self, messages, *, seed, temperature, top_p, max_tokens):
        import torch

        tok = self.tokenizer
        ids = [tok.bos_id] + tok.encode(render_chatml(messages))
        device = next(self.model.parameters()).device
        x = torch.tensor([ids], dtype=torch.long, device=device)
        stops = {tok.im_end_id, tok.eos_id}
        out = self.model.generate(x, max_tokens, temperature=temperature, top_p=top_p, seed=seed, stop_ids=stops)
        new = out[0, len(ids):].tolist()
        cut = next((i for i, t in enumerate(new) if t in stops), None)
        ended = cut is not None
        return tok.decode(new[:cut] if ended else new).strip(), ended

    def describe(self):
        cfg = self.model.config
        return {"backend": self.name, "source": self.source, "context_length": cfg.context_length,
                "params": sum(p.numel() for p in self.model.parameters()), "n_layers": cfg.n_layers, "d_model": cfg.d_model}


class GGUFChatGenerator(ChatGenerator):
    """A GGUF run by llama-cpp-python's `Llama` (CPU), the KV cache cleared before each reply so that a reply
    depends only on its prompt and seed."""

    name = "gguf"

    def __init__(self, path: Path | str, threads: int = 2):
        from training.evals.backends import gguf_context_length
        from training.export.llamacpp import import_llama_cpp

        self.path = Path(path)
        if not self.path.is_file():
            raise CheckpointError(f"{self.path} does not exist: export one with `polski export RUN_DIR --out FILE.gguf`")
        llama_cpp = import_llama_cpp()
        self.context_length = gguf_context_length(self.path)
        self.llm = llama_cpp.Llama(model_path=str(self.path), n_ctx=self.context_length, n_threads=threads,
                                   n_threads_batch=threads, n_gpu_layers=0, verbose=False)

    def reply(self, messages, *, seed, temperature, top_p, max_tokens):
        prompt = self.llm.tokenize(render_chatml(messages).encode("utf-8"), add_bos=True, special=True)
        budget = min(max_tokens, self.context_length - len(prompt))
        if budget < 1:
            raise DataError(f"a prompt of {len(prompt)} tokens leaves no room in {self.path.name}'s context of "
                            f"{self.context_length}: shorten it")
        self.llm.reset()
        processors, temp = None, temperature
        if temperature > 0:
            # llama-cpp-python's chain applies top-p before temperature; PyTorch and Ollama scale first, so scale
            # the logits here and sample at temperature 1 (top-k 0 and min-p 0 are no-ops)
            from llama_cpp import LogitsProcessorList

            processors, temp = LogitsProcessorList([lambda ids, logits: logits / temperature]), 1.0
        out = self.llm.create_completion(prompt, max_tokens=budget, temperature=temp, top_p=top_p, top_k=0, min_p=0.0,
                                         typical_p=1.0, repeat_penalty=1.0, seed=seed, stop=["<|im_end|>"],
                                         logits_processor=processors)
        choice = out["choices"][0]
        return choice["text"].strip(), choice["finish_reason"] == "stop"

    def describe(self):
        return {"backend": self.name, "source": str(self.path), "context_length": self.context_length,
                "file_bytes": self.path.stat().st_size}

    def close(self):
        llm, self.llm = getattr(self, "llm", None), None
        if llm is not None:
            llm.close()


class OllamaChatGenerator(ChatGenerator):
    """A model registered in an Ollama server, asked through POST /api/chat (not streamed)."""

    name = "ollama"

    def __init__(self, model: str, host: str | None = None, timeout: float = 600.0):
        import httpx

        from training.ollama_client import OllamaError, resolve_host

        try:
            self.url, self.headers = resolve_host(host)
        except OllamaError as err:
            raise ConfigError(str(err)) from None
        self.model = model
        self.client = httpx.Client(timeout=timeout, headers=self.headers)

    def reply(self, messages, *, seed, temperature, top_p, max_tokens):
        import httpx

        body = {"model": self.model, "messages": messages, "stream": False,
                "options": {"seed": seed, "temperature": temperature, "top_p": top_p, "num_predict": max_tokens}}
        try:
            resp = self.client.post(f"{self.url}/api/chat", json=body)
        except httpx.HTTPError as err:
            raise ServerError(f"no answer from Ollama at {self.url} ({err.__class__.__name__}): start `ollama serve` "
                              "or give --ollama-host / OLLAMA_HOST") from None
        if resp.status_code == 404:
            raise ConfigError(f"Ollama at {self.url} has no model {self.model!r}: register it with "
                              f"`polski register --name {self.model} --modelfile FILE`")
        if resp.status_code != 200:
            raise ServerError(f"Ollama at {self.url} answered {resp.status_code}: {resp.text[:200]}")
        data = resp.json()
        return data["message"]["content"].strip(), data.get("done_reason") == "stop"

    def describe(self):
        return {"backend": self.name, "source": f"{OLLAMA_PREFIX}{self.model}", "host": self.url}

    def close(self):
        self.client.close()


def is_ollama_target(target) -> bool:
    return str(target).startswith(OLLAMA_PREFIX)


def open_generator(target: Path | str, *, device: str = "cpu", threads: int = 2, ollama_host: str | None = None,
                   backend=None) -> ChatGenerator:
    """`ollama:NAME`, a FILE.gguf, or a RUN_DIR/checkpoint (`backend`, an open TorchBackend, is reused)."""
    if is_ollama_target(target):
        name = str(target)[len(OLLAMA_PREFIX):]
        if not name:
            raise ConfigError("give the Ollama model as ollama:NAME, e.g. ollama:polski-mini")
        return OllamaChatGenerator(name, ollama_host)
    if Path(target).suffix == ".gguf":
        return GGUFChatGenerator(target, threads=threads)
    if backend is not None and hasattr(backend, "model"):
        return TorchChatGenerator.from_backend(backend)
    from training.evals.backends import load_checkpoint_model

    model, tok, src = load_checkpoint_model(target, device)
    return TorchChatGenerator(model, tok, str(src.checkpoint_dir))


# ---------------------------------------------------------------- evaluation


def _rate(flags) -> float | None:
    flags = list(flags)
    return sum(bool(f) for f in flags) / len(flags) if flags else None


def summarize(replies: list[dict]) -> dict:
    """The rates over per-reply records (each has "category" and "scores"); `evaluate_chat` uses this too."""
    scores = [r["scores"] for r in replies]
    facts = [s["correct"] for s in scores if s["correct"] is not None]
    out = {
        "usable": _rate(s["usable"] for s in scores),
        "on_topic": _rate(s["on_topic"] for s in scores),
        "fact_accuracy": _rate(facts),
        "fact_replies": len(facts),
        "loops": _rate(not s["no_loop"] for s in scores),
        "polish": _rate(s["polish"] for s in scores),
        "ended": _rate(s["ended"] for s in scores),
        "echo": _rate(not s["not_echo"] for s in scores),
        "length_ok": _rate(s["length_ok"] for s in scores),
        "mean_words": sum(s["words"] for s in scores) / len(scores) if scores else None,
        "per_category": {},
    }
    for cat in sorted({r["category"] for r in replies}):
        sub = [r["scores"] for r in replies if r["category"] == cat]
        out["per_category"][cat] = {"replies": len(sub), "usable": _rate(s["usable"] for s in sub),
                                    "on_topic": _rate(s["on_topic"] for s in sub)}
    return out


def evaluate_chat(generator: ChatGenerator, prompts: list[dict], seeds=(1, 2, 3), temperature: float = 0.3,
                  top_p: float = 0.9, max_tokens: int = 200, system: str | None = None, n_examples: int = 8) -> dict:
    """Every prompt answered once per seed and scored. `system` defaults to the config's default system prompt.

    Returns {"prompts", "seeds", "temperature", "top_p", "max_tokens", "system", "replies": all, "examples",
    "usable", "on_topic", "fact_accuracy", "loops", "polish", "ended", "echo", "mean_words", "per_category", ...}.
    """
    if system is None:
        from training.config import OllamaConfig

        system = OllamaConfig().system
    seeds = [int(s) for s in seeds]
    replies = []
    for rec in prompts:
        messages = with_system(rec["messages"], system)
        for seed in seeds:
            text, ended = generator.reply(messages, seed=seed, temperature=temperature, top_p=top_p, max_tokens=max_tokens)
            replies.append({"id": rec["id"], "category": rec["category"], "seed": seed, "prompt": rec["messages"][-1]["content"],
                            "reply": text, "scores": score_reply(rec, text, ended)})
    # examples: the first seed's reply to the first prompt of each category, then further prompts, up to n_examples
    first = [r for r in replies if r["seed"] == seeds[0]]
    picked, cats = [], set()
    for r in first:
        if r["category"] not in cats:
            cats.add(r["category"])
            picked.append(r)
    picked += [r for r in first if r not in picked]
    examples = [{"id": r["id"], "category": r["category"], "prompt": r["prompt"], "seed": r["seed"], "reply": r["reply"],
                 "usable": r["scores"]["usable"]} for r in picked[:n_examples]]
    return {"prompts": len(prompts), "seeds": seeds, "temperature": temperature, "top_p": top_p, "max_tokens": max_tokens,
            "system": system, **summarize(replies), "examples": examples, "replies": replies}
