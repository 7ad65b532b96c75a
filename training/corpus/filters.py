"""Document filters: length, Polish language ID and Gopher/C4-style quality heuristics.

`reject_reason` returns the name of the first filter a document fails, or None to keep it.
"""
from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

from training.config import CorpusConfig

WORD = re.compile(r"\w+")
# Characters that are neither letters, digits, whitespace nor ordinary prose punctuation.
SYMBOL = re.compile(r"[^\w\s.,;:!?\-–—()\[\]\"'„”“«»…/%§]")
DIGIT = re.compile(r"\d")
LOREM = re.compile(r"lorem ipsum", re.IGNORECASE)
# Languages lingua weighs Polish against: neighbours, confusable Slavic ones, and what old Polish texts quote.
LANGUAGES = ("POLISH", "ENGLISH", "GERMAN", "CZECH", "SLOVAK", "RUSSIAN", "UKRAINIAN", "FRENCH", "LATIN")


@lru_cache(maxsize=1)
def detector():
    from lingua import Language, LanguageDetectorBuilder

    # Low-accuracy mode (trigrams only) is fast and reliable on our long samples, and needs ~30 MB.
    languages = [getattr(Language, name) for name in LANGUAGES]
    return LanguageDetectorBuilder.from_languages(*languages).with_low_accuracy_mode().build()


def language_sample(text: str, chars: int) -> str:
    """`chars` characters from the start, middle and end, so a long document costs the same as a short one."""
    if len(text) <= chars:
        return text
    third = chars // 3
    middle = len(text) // 2
    return " ".join((text[:third], text[middle - third // 2: middle + third - third // 2], text[-third:]))


def polish_confidence(text: str, sample_chars: int) -> float:
    from lingua import Language

    return detector().compute_language_confidence(language_sample(text, sample_chars), Language.POLISH)


def duplicate_share(parts: list[str]) -> float:
    """Share of characters in parts that repeat an earlier identical part (Gopher's duplicate-line ratio, by chars)."""
    parts = [p for p in parts if p.strip()]
    total = sum(len(p) for p in parts)
    if not total:
        return 0.0
    counts = Counter(parts)
    repeated = sum(len(p) * (n - 1) for p, n in counts.items() if n > 1)
    return repeated / total


def reject_reason(text: str, config: CorpusConfig) -> str | None:
    if len(text) < config.min_chars:
        return "too_short"
    if LOREM.search(text):
        return "lorem_ipsum"
    chars = len(text)
    non_space = chars - text.count(" ") - text.count("\n")
    if len(SYMBOL.findall(text)) > config.max_symbol_ratio * max(non_space, 1):
        return "symbol_ratio"
    if len(DIGIT.findall(text)) > config.max_digit_ratio * max(non_space, 1):
        return "digit_ratio"
    words = WORD.findall(text)
    mean_word = sum(map(len, words)) / len(words) if words else 0.0
    if not config.min_mean_word_len <= mean_word <= config.max_mean_word_len:
        return "mean_word_length"
    if duplicate_share(text.split("\n\n")) > config.max_dup_paragraph_ratio:
        return "repeated_paragraphs"
    if duplicate_share(text.split("\n")) > config.max_dup_line_ratio:
        return "repeated_lines"
    if polish_confidence(text, config.lang_sample_chars) < config.lang_min_confidence:
        return "not_polish"
    return None
