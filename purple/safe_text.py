"""Neutralise untrusted text (model output, chat titles, imported data) before display.

Model output is never interpreted as Rich/Textual markup: callers wrap it in `Text`
(or pass `markup=False`). This module removes what would reach the terminal itself:
escape sequences (OSC 52 clipboard writes, cursor movement, title changes) and other
C0/C1 control characters. Newlines and tabs stay.
"""

from __future__ import annotations

import re

from rich.text import Text

# Complete escape sequences first, so their parameters do not survive as visible junk.
_ESCAPE_SEQUENCE = re.compile(
    r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC ... BEL | ST (also unterminated)
    r"|\x1b[P^_X][^\x1b]*(?:\x1b\\)?"  # DCS / PM / APC / SOS strings
    r"|\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
    r"|\x1b[@-Z\\-_]"  # two-character escapes
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
    r"|\x9d[^\x07\x9c]*(?:\x07|\x9c)?"  # 8-bit OSC
)
# Every other control character except TAB and LF (CR is dropped: it rewrites lines).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def neutralise(text: str) -> str:
    """Return `text` without terminal escape sequences or control characters."""
    if not text:
        return ""
    text = text.replace("\r\n", "\n")
    text = _ESCAPE_SEQUENCE.sub("", text)
    return _CONTROL.sub("", text)


def plain(text: str, style: str = "") -> Text:
    """A Rich `Text` holding `text` literally (no markup), neutralised."""
    return Text(neutralise(text), style=style)


def one_line(text: str, limit: int = 60) -> str:
    """A single neutralised line, shortened with an ellipsis: for titles and list entries."""
    line = " ".join(neutralise(text).split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


REPLACEMENT_CHAR = "\ufffd"


def has_replacement_char(text: str) -> bool:
    """True when the text holds U+FFFD: the model produced invalid UTF-8 somewhere."""
    return REPLACEMENT_CHAR in text
