"""Text cleaning: NFC, no control or invisible characters, tidy whitespace, re-flowed hard wraps.

Diacritics and punctuation are kept as they are; nothing is lowercased.
"""
from __future__ import annotations

import re
import unicodedata

# Invisible characters that only break words apart: soft hyphen, zero-width space, word joiner, BOM.
# (Zero-width joiners stay: emoji sequences need them.)
INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u2060\ufeff"), None)
# U+2581 is SentencePiece's space marker; in text it would decode as a space.
REPLACE = {0x2581: "_", 0x2028: "\n", 0x2029: "\n\n"}
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
SPACES = re.compile(r"[ \t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")
MANY_BLANK_LINES = re.compile(r"\n{3,}")
# "prze-\nmysł" -> "przemysł": a hyphen at a line end between two lowercase letters is a wrap hyphen.
WRAP_HYPHEN = re.compile(r"(?<=[a-ząćęłńóśźż])-\n(?=[a-ząćęłńóśźż])")
SENTENCE_END = tuple(".!?:;…\"”»)")
WRAP_MIN_CHARS = 40  # a line this long that stops mid-sentence was hard-wrapped

BOILERPLATE = re.compile(
    r"cookie|javascript|polityk[aię] prywatności|wszelkie prawa zastrzeżone|all rights reserved|"
    r"zaloguj się|kliknij tutaj|click here|terms of use|regulamin serwisu",
    re.IGNORECASE,
)
BOILERPLATE_MAX_CHARS = 300  # only short lines are dropped as boilerplate; prose may mention cookies


def normalize(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = unicodedata.normalize("NFC", text).translate(INVISIBLE).translate(REPLACE)
    return CONTROL.sub("", text)


def reflow(block: str) -> str:
    """Joins hard-wrapped lines of one paragraph; verse, lists and dialogue lines stay on their own lines."""
    block = WRAP_HYPHEN.sub("", block)
    lines = block.split("\n")
    out = [lines[0]]
    for line in lines[1:]:
        prev = out[-1]
        if len(prev) >= WRAP_MIN_CHARS and not prev.endswith(SENTENCE_END) and line[:1].islower():
            out[-1] = f"{prev} {line}"
        else:
            out.append(line)
    return "\n".join(out)


def drop_boilerplate(lines: list[str]) -> tuple[list[str], int]:
    kept = [line for line in lines if len(line) > BOILERPLATE_MAX_CHARS or not BOILERPLATE.search(line)]
    return kept, len(lines) - len(kept)


def clean_text(text: str) -> tuple[str, int]:
    """(clean text, number of boilerplate lines removed). Paragraphs stay separated by one blank line."""
    text = normalize(text)
    lines = [SPACES.sub(" ", line).strip() for line in text.split("\n")]
    lines, boilerplate = drop_boilerplate(lines)
    text = MANY_BLANK_LINES.sub("\n\n", "\n".join(lines)).strip("\n")
    return "\n\n".join(reflow(block) for block in text.split("\n\n")), boilerplate
