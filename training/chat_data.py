"""`polski chat-data build`: the conversations the chat stages learn from, as one deduplicated ChatML set.

Sources, each capped by [chat_data] limits (conversations, after filtering):
- core:      the project's own conversations (training/resources/chat): greetings, short texts, explanations, language
             tasks, the assistant itself, honest "I don't know" answers; several multi-turn. Repeated core_repeat times.
- dialogue:  exchanges mined from novels and Wikisource books: consecutive paragraphs each opened by a dash, the first
             a question, the narrator's speech tags ("— rzekł Maćko.") stripped, the reply an answer (not a question).
- sejm_qa:   MPs' questions and the government's answers, each trimmed to a few sentences without forms of address.
- textbook:  definitions from the textbooks ("X to Y.") asked back as "Co to jest X?".
- exercises: textbook exercises with short worked answers.
- tasks:     the templated text tasks (restoring diacritics and punctuation, continuation, statute titles).
- quiz:      the quiz's one-word answers, kept to a small share as a short sentence.
- exam:      legal exam questions, a small share.

Every conversation is checked against the evaluation files: one that shares a word 8-gram with any of them, or whose
user message equals a short evaluation prompt, is dropped and counted in the manifest.
"""
from __future__ import annotations

import hashlib
import json
import lzma
import random
import re
from collections import Counter
from pathlib import Path
from typing import Iterable, Iterator

from training.config import ChatDataConfig
from training.errors import DataError

CORE_DIR = Path(__file__).parent / "resources" / "chat"
CHAT_EVAL_DIR = Path(__file__).parent / "resources" / "chat-eval"
NOVEL_FILES = ("eltec", "polish-novels", "wolnelektury", "wikisource")
LENGTH_BINS = [(1, 2), (3, 5), (6, 10), (11, 20), (21, 40), (41, 80), (81, 120), (121, 10**9)]
NGRAM = 8

DASHES = "—–"
SPLIT_SPEECH = re.compile(r"\s+[—–]\s*")
SENTENCE_END = re.compile(r"(?<=[.!?…])\s+(?=[A-ZĄĆĘŁŃÓŚŹŻ„\"(])")
# archaic spellings of the 19th-century books ("historya", "kompozycyach", "dopomódz"): kept out of the replies
ARCHAIC = re.compile(r"\b\w*(?:[cszgkh]y[aąeęou]|[cszgkh]yi\b|ódz\b)\w*", re.IGNORECASE)
ADDRESS = re.compile(r"^(?:(?:Szanown\w+|Pani|Pan|Panie|Panowie|Wysoka|Wysoki)\b[^.!?]{0,80}[!,]\s*)+")
DEFINITION = re.compile(r"^([A-ZĄĆĘŁŃÓŚŹŻ][a-ząćęłńóśźż]+(?: [a-ząćęłńóśźż]+){0,2}) (?:to|jest to) "
                        r"((?:wielkość|jednostka|proces|zjawisko|siła|ruch|stan|sposób|zdolność|teoria|metoda|nauka|"
                        r"część|rodzaj|miara|iloczyn|stosunek|prędkość|ilość|liczba|obszar|układ|cecha|tendencja|"
                        r"zaburzenie|badanie|twierdzenie|model|przekonanie|forma|zmiana|energia|praca|wektor|ciało|"
                        r"zbiór|dziedzina|odległość|okres|przyspieszenie|typ|grupa|reakcja|poczucie|uczucie|"
                        r"przyjęcie|zasada|punkt|fala|ładunek|pole|najmniejsza|najmniejszy)\b[^.?!]{15,200}\.)$")
NOT_TERMS = {"jest", "są", "choć", "ponieważ", "jeżeli", "jeśli", "gdy", "mimo", "więc", "także", "również", "dlatego",
             "możemy", "można", "graficznie", "równie", "przyjmij", "oznacza", "tutaj", "wtedy", "zatem", "jednak"}
WORD = re.compile(r"\w+", re.UNICODE)


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def read_jsonl(path: Path) -> Iterator[dict]:
    opener = lzma.open if path.name.endswith(".xz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as err:
                    raise DataError(f"{path}:{line_no}: not valid JSON ({err.msg}): fix or remove the line") from None


def jsonl_files(sources: Iterable[str | Path]) -> list[Path]:
    files: list[Path] = []
    for source in sources:
        path = Path(source)
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.name.endswith((".jsonl", ".jsonl.xz")))
        elif path.is_file():
            files.append(path)
        else:
            raise DataError(f"chat data source {path} does not exist: fix [chat_data] in the config or pass --shared")
    return files


def chat(user: str, assistant: str) -> list[dict]:
    return [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]


def first_sentences(text: str, n: int) -> str:
    return " ".join(SENTENCE_END.split(text.strip())[:n])


# ---- dialogue from the novels ---------------------------------------------------------------------------------------

def speech(paragraph: str) -> str | None:
    """The spoken words of a dash-opened paragraph, without the narrator's tags; None for a paragraph without speech."""
    body = paragraph.strip()
    if not body or body[0] not in DASHES:
        return None
    parts = SPLIT_SPEECH.split(body.lstrip(DASHES + " "))
    kept = [parts[0]]
    for part in parts[1:]:
        if part[:1].isupper():  # after a tag ("— rzekł. — Tylko…") the speech goes on
            kept.append(part)
    kept = [" ".join(k.split()) for k in kept if k.strip()]
    if not kept:
        return None
    out = []
    for k in kept:
        if k[-1] in ",;:":
            k = k[:-1]
        if k[-1] not in ".!?…":
            k += "."
        out.append(k)
    text = " ".join(out)
    return text if not any(c in text for c in DASHES) else None


def _plain(text: str, lo: int, hi: int) -> bool:
    n = len(words(text))
    return lo <= n <= hi and not ARCHAIC.search(text) and not re.search(r"[\d*\[\]{}<>|_]", text)


def dialogue(corpus_files: list[Path]) -> Iterator[list[dict]]:
    """Question-and-answer exchanges (one or two turns) from consecutive dash-opened paragraphs."""
    for path in corpus_files:
        if not any(name in path.name for name in NOVEL_FILES):
            continue
        for doc in read_jsonl(path):
            said = [speech(p) for p in doc["text"].split("\n\n")]
            i = 0
            while i + 1 < len(said):
                q, a = said[i], said[i + 1]
                if q and a and q.endswith("?") and not a.endswith("?") and _plain(q, 3, 50) and _plain(a, 3, 70):
                    messages = chat(q, a)
                    q2, a2 = (said[i + 2], said[i + 3]) if i + 3 < len(said) else (None, None)
                    if q2 and a2 and q2.endswith("?") and not a2.endswith("?") and _plain(q2, 3, 50) and _plain(a2, 3, 70):
                        messages += chat(q2, a2)
                        i += 2
                    yield messages
                    i += 2
                else:
                    i += 1


# ---- the instruction files ------------------------------------------------------------------------------------------

def sft_records(sft_files: list[Path], task: str) -> Iterator[dict]:
    for path in sft_files:
        for record in read_jsonl(path):
            if record.get("task") == task:
                yield record


def sejm_qa(sft_files: list[Path]) -> Iterator[list[dict]]:
    for r in sft_records(sft_files, "sejm_question_government_answer"):
        question = ADDRESS.sub("", r["input"].split(":", 1)[-1].strip())
        sentences = SENTENCE_END.split(question)
        asks = [i for i, s in enumerate(sentences) if s.endswith("?")]
        if not asks:
            continue
        question = " ".join(sentences[max(0, asks[0] - 1): asks[0] + 1])
        answer = first_sentences(ADDRESS.sub("", r["output"].strip()), 2)
        if _plain(question, 6, 70) and 12 <= len(words(answer)) <= 90:
            yield chat(question, answer)


def textbook_definitions(corpus_files: list[Path], rng: random.Random) -> Iterator[list[dict]]:
    asks = ["Co to jest {x}?", "Czym jest {x}?", "Wyjaśnij, czym jest {x}.", "Co oznacza pojęcie „{x}”?",
            "Możesz mi powiedzieć, co to {x}?", "Czym w ogóle jest {x}?"]
    seen: set[str] = set()
    for path in corpus_files:
        if "openstax" not in path.name:
            continue
        for doc in read_jsonl(path):
            for paragraph in doc["text"].split("\n\n"):
                for sentence in SENTENCE_END.split(paragraph):
                    m = DEFINITION.match(sentence.strip())
                    if (not m or m.group(1).lower() in seen or not _plain(sentence, 8, 60)
                            or set(words(m.group(1))) & NOT_TERMS):
                        continue
                    term = m.group(1)
                    seen.add(term.lower())
                    x = term[0].lower() + term[1:] if not term[1:2].isupper() else term
                    yield chat(rng.choice(asks).format(x=x), sentence.strip())


def exercises(sft_files: list[Path]) -> Iterator[list[dict]]:
    for r in sft_records(sft_files, "textbook_exercise"):
        question = r["input"].removeprefix("Sprawdź, czy rozumiesz.").strip()
        if 3 <= len(words(r["output"])) <= 90 and 5 <= len(words(question)) <= 90:
            yield chat(question, r["output"].strip())


def tasks(sft_files: list[Path]) -> Iterator[list[dict]]:
    for task in ("diacritics_restoration", "punctuation_restoration", "continuation", "statute_title"):
        for r in sft_records(sft_files, task):
            yield chat(r["instruction"] + (f"\n\n{r['input']}" if r.get("input") else ""), r["output"])


def quiz(sft_files: list[Path]) -> Iterator[list[dict]]:
    for r in sft_records(sft_files, "quiz_qa"):
        answer = r["output"].strip()
        yield chat(r["instruction"], f"Odpowiedź: {answer}." if not answer.endswith(".") else f"Odpowiedź: {answer}")


def exam(sft_files: list[Path]) -> Iterator[list[dict]]:
    for r in sft_records(sft_files, "legal_exam_mcq"):
        answer = r["output"].split("\nPodstawa prawna:")[0].strip()
        yield chat(f"{r['instruction']}\n\n{r['input']}", answer)


def core(files: list[Path]) -> Iterator[list[dict]]:
    for path in files:
        for record in read_jsonl(path):
            messages = record.get("messages")
            if not messages or messages[0]["role"] != "user" or messages[-1]["role"] != "assistant":
                raise DataError(f"{path}: conversation {record.get('id')} must start with a user message and end "
                                "with an assistant reply")
            yield [{"role": m["role"], "content": m["content"]} for m in messages]


# ---- decontamination ------------------------------------------------------------------------------------------------

def _ngrams(tokens: list[str], n: int = NGRAM) -> Iterator[int]:
    for i in range(len(tokens) - n + 1):
        yield hash(tuple(tokens[i:i + n]))


def eval_texts(path: Path) -> Iterator[str]:
    for record in read_jsonl(path):
        for key in ("text", "sentence_good", "sentence_bad", "question"):
            if isinstance(record.get(key), str):
                yield record[key]
        for message in record.get("messages") or []:
            yield message["content"]


class Contamination:
    """Word 8-grams of every evaluation file, and the whole text of its short items (prompts, questions)."""

    def __init__(self, files: list[Path]):
        self.files = [str(f) for f in files]
        self.grams: set[int] = set()
        self.short: set[str] = set()
        for path in files:
            for text in eval_texts(path):
                tokens = words(text)
                if len(tokens) < NGRAM:
                    self.short.add(" ".join(tokens))
                self.grams.update(_ngrams(tokens))

    def hit(self, messages: list[dict]) -> bool:
        for m in messages:
            tokens = words(m["content"])
            if m["role"] == "user" and " ".join(tokens) in self.short:
                return True
            if any(g in self.grams for g in _ngrams(tokens)):
                return True
        return False


# ---- the build ------------------------------------------------------------------------------------------------------

def _key(messages: list[dict]) -> str:
    return hashlib.sha256(json.dumps([" ".join(words(m["content"])) for m in messages]).encode()).hexdigest()


def build_chat_data(config: ChatDataConfig, out: Path | str, tokenizer=None, console=print) -> dict:
    """Writes OUT/chat.jsonl ({"source", "messages"} per line) and OUT/manifest.json; returns the manifest."""
    from training.atomic import atomic_dir

    out = Path(out)
    rng = random.Random(config.seed)
    core_files = jsonl_files(config.core) if config.core else sorted(CORE_DIR.glob("*.jsonl"))
    if not core_files:
        raise DataError(f"no core conversations in {config.core or CORE_DIR}: set [chat_data] core")
    sft_files = jsonl_files(config.sft)
    corpus_files = jsonl_files(config.corpus)
    contamination = Contamination(sorted(CHAT_EVAL_DIR.glob("*.jsonl")) + jsonl_files(config.eval_files))
    generators = {
        "core": lambda: core(core_files),
        "dialogue": lambda: dialogue(corpus_files),
        "sejm_qa": lambda: sejm_qa(sft_files),
        "textbook": lambda: textbook_definitions(corpus_files, random.Random(f"{config.seed}-textbook")),
        "exercises": lambda: exercises(sft_files),
        "tasks": lambda: tasks(sft_files),
        "quiz": lambda: quiz(sft_files),
        "exam": lambda: exam(sft_files),
    }
    seen: set[str] = set()
    rows: list[dict] = []
    stats: dict[str, Counter] = {}
    for name, make in generators.items():
        limit = config.limits.get(name, 0 if name != "core" else 10**9)
        count = stats.setdefault(name, Counter())
        if limit <= 0:
            continue
        candidates = []
        for messages in make():
            count["found"] += 1
            key = _key(messages)
            if key in seen:
                count["duplicates"] += 1
                continue
            seen.add(key)
            if contamination.hit(messages):
                count["contaminated"] += 1
                continue
            candidates.append(messages)
        if len(candidates) > limit:
            candidates = random.Random(f"{config.seed}-{name}").sample(candidates, limit)
        repeat = config.core_repeat if name == "core" else 1
        rows += [{"source": name, "messages": m} for m in candidates for _ in range(repeat)]
        count["kept"] = len(candidates)
        console(f"chat data: {name}: {count['found']} found, {count['kept']} kept "
                f"({count['duplicates']} duplicates, {count['contaminated']} contaminated)")
    rng.shuffle(rows)
    manifest = summarize(rows, stats, tokenizer)
    manifest["decontamination"] = {"eval_files": contamination.files, "ngram": NGRAM}
    manifest["config"] = config.model_dump(mode="json")
    with atomic_dir(out) as tmp:
        with open(tmp / "chat.jsonl", "w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")
    return manifest


def summarize(rows: list[dict], stats: dict[str, Counter], tokenizer=None) -> dict:
    per_source: dict[str, dict] = {}
    lengths = Counter()
    for row in rows:
        s = per_source.setdefault(row["source"], {"conversations": 0, "multi_turn": 0, "tokens": 0, "words": 0})
        s["conversations"] += 1
        replies = [m["content"] for m in row["messages"] if m["role"] == "assistant"]
        s["multi_turn"] += len(replies) > 1
        text = "\n".join(m["content"] for m in row["messages"])
        s["words"] += len(words(text))
        if tokenizer is not None:
            s["tokens"] += len(tokenizer.encode(text))
        for reply in replies:
            n = len(words(reply))
            lengths[next(f"{lo}-{hi}" if hi < 10**9 else f"{lo}+" for lo, hi in LENGTH_BINS if lo <= n <= hi)
                    if n else "0"] += 1
    total = {"conversations": len(rows), "words": sum(s["words"] for s in per_source.values()),
             "tokens": sum(s["tokens"] for s in per_source.values()) if tokenizer is not None else None}
    for name, s in per_source.items():
        s["share"] = round(s["conversations"] / max(1, len(rows)), 4)
        if tokenizer is None:
            s.pop("tokens")
    order = [f"{lo}-{hi}" if hi < 10**9 else f"{lo}+" for lo, hi in LENGTH_BINS]
    return {"total": total, "sources": per_source, "filtering": {k: dict(v) for k, v in stats.items()},
            "reply_words_histogram": {b: lengths.get(b, 0) for b in ["0", *order]}}


def render_manifest(manifest: dict) -> str:
    """The manifest as a short Markdown table (what `polski chat-data build` prints)."""
    lines = ["| source | conversations | share | multi-turn | tokens |", "|---|---:|---:|---:|---:|"]
    for name, s in manifest["sources"].items():
        lines.append(f"| {name} | {s['conversations']} | {s['share']:.1%} | {s['multi_turn']} | {s.get('tokens', '-')} |")
    hist = " · ".join(f"{k}: {v}" for k, v in manifest["reply_words_histogram"].items())
    return "\n".join(lines + ["", f"reply length in words: {hist}"])
