"""The message catalog: every UI string of Purple lives in pl.toml / en.toml.

`Catalog("pl")("chat.sent", n=3)` looks up a dotted key and fills `{placeholders}` with
`str.format`. A missing key falls back to Polish, then to the key itself, so a
forgotten translation never crashes the app (a test keeps the catalogs in step).
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from importlib import resources

LANGUAGES = ("pl", "en")
DEFAULT_LANGUAGE = "pl"


def _flatten(table: dict, prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = str(value)
    return flat


@lru_cache(maxsize=None)
def load_messages(lang: str) -> dict[str, str]:
    """All messages of one language as a flat {dotted.key: text} mapping."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; choose one of {', '.join(LANGUAGES)}")
    text = resources.files(__package__).joinpath(f"{lang}.toml").read_text(encoding="utf-8")
    return _flatten(tomllib.loads(text))


class Catalog:
    """Looks up UI strings for one language."""

    def __init__(self, lang: str = DEFAULT_LANGUAGE) -> None:
        self.lang = lang
        self._messages = load_messages(lang)
        self._fallback = load_messages(DEFAULT_LANGUAGE)

    def __call__(self, key: str, /, **values: object) -> str:
        template = self._messages.get(key) or self._fallback.get(key) or key
        return template.format(**values) if values else template

    def keys(self) -> set[str]:
        return set(self._messages)
