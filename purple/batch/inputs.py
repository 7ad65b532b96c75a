"""Reading batch input: JSON Lines, plain text or CSV (from a file or stdin), plus {{ variable }} templates.

Every record gets a stable `id` (given, or the line/row number) and its input position `index`.
A malformed line raises `InputError` naming the line; with `skip_invalid` it becomes a record whose
`invalid` holds the message, so the runner writes it out as a failed record.
"""
from __future__ import annotations

import csv
import io
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from training.errors import PolskiError

ROLES = {"system", "user", "assistant", "tool"}
_VAR = re.compile(r"\{\{\s*([A-Za-z_][\w.-]*)\s*\}\}")


class InputError(PolskiError):
    pass


@dataclass
class Record:
    index: int
    id: object
    line: int
    prompt: str | None = None
    messages: list | None = None
    options: dict = field(default_factory=dict)
    system: str | None = None
    invalid: str | None = None

    @property
    def key(self) -> str:
        return id_key(self.id)


def id_key(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def render(template: str, fields: dict, line: int) -> str:
    def sub(match):
        name = match.group(1)
        if name not in fields:
            known = ", ".join(sorted(fields)) or "none"
            raise InputError(f"line {line}: template variable {name!r} is not a field of the record (fields: {known})")
        value = fields[name]
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return _VAR.sub(sub, template)


def detect_format(name: str, text: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".csv", ".tsv"):
        return "csv"
    if suffix in (".txt", ".text", ".md"):
        return "text"
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return "jsonl" if first.startswith("{") else "text"


def read_text(path: str) -> str:
    try:
        if path == "-":
            data = sys.stdin.buffer.read()
        else:
            data = Path(path).read_bytes()
    except OSError as err:
        raise InputError(f"cannot read {path}: {err.strerror}; check the path") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(f"{path} is not UTF-8 (byte {err.start}); convert it, e.g. `iconv -t utf-8`") from None


def _check_id(value, line: int):
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InputError(f"line {line}: \"id\" must be a string or an integer, not {json.dumps(value)}")
    return value


def _check_messages(messages, line: int) -> list:
    if not isinstance(messages, list) or not messages:
        raise InputError(f"line {line}: \"messages\" must be a non-empty list of {{\"role\", \"content\"}} objects")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
            raise InputError(f"line {line}: messages[{i}] needs \"role\" (one of {', '.join(sorted(ROLES))}) "
                             "and a string \"content\"")
    return messages


def _from_fields(fields: dict, index: int, line: int, default_id, template: str | None) -> Record:
    rec_id = _check_id(fields["id"], line) if fields.get("id") not in (None, "") else default_id
    options = fields.get("options") or {}
    if isinstance(options, str):
        try:
            options = json.loads(options)
        except json.JSONDecodeError:
            raise InputError(f"line {line}: \"options\" is not a JSON object") from None
    if not isinstance(options, dict):
        raise InputError(f"line {line}: \"options\" must be a JSON object like {{\"temperature\": 0.2}}")
    system = fields.get("system") or None
    if system is not None and not isinstance(system, str):
        raise InputError(f"line {line}: \"system\" must be a string")
    rec = Record(index=index, id=rec_id, line=line, options=options, system=system)
    if fields.get("messages") is not None and template is None:
        rec.messages = _check_messages(fields["messages"], line)
    elif template is not None:
        rec.prompt = render(template, fields, line)
    elif isinstance(fields.get("prompt"), str) and fields["prompt"].strip():
        rec.prompt = fields["prompt"]
    else:
        raise InputError(f"line {line}: no \"prompt\" (a non-empty string) or \"messages\"; add one or use --template")
    return rec


def _jsonl(text: str, template: str | None):
    for line, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as err:
            yield line, f"line-{line}", InputError(f"line {line}: not valid JSON ({err.msg}, column {err.colno})")
            continue
        if not isinstance(obj, dict):
            yield line, f"line-{line}", InputError(f"line {line}: expected a JSON object like {{\"id\": 1, \"prompt\": \"...\"}}")
            continue
        yield line, obj.get("id", line), obj


def _plain(text: str, template: str | None):
    for line, raw in enumerate(text.splitlines(), 1):
        if raw.strip():
            yield line, line, {"id": line, "prompt": raw, "text": raw, "line": line}


def _csv(text: str, template: str | None):
    dialect = "excel-tab" if "\t" in text.split("\n", 1)[0] and "," not in text.split("\n", 1)[0] else "excel"
    reader = csv.DictReader(io.StringIO(text, newline=""), dialect=dialect)
    header = reader.fieldnames or []
    lower = {h.lower().strip(): h for h in header if h}
    if template is None and "prompt" not in lower:
        raise InputError(f"CSV has no \"prompt\" column (columns: {', '.join(header) or 'none'}); "
                         "rename one or use --template")
    for row_no, row in enumerate(reader, 1):
        fields = {k.strip(): v for k, v in row.items() if k}
        if None in row:
            yield reader.line_num, row_no, InputError(f"line {reader.line_num}: more cells than columns in the header")
            continue
        for name in ("prompt", "id", "system", "options"):
            if name in lower:
                fields[name] = row[lower[name]]
        fields.setdefault("id", None)
        yield reader.line_num, row_no, fields


READERS = {"jsonl": _jsonl, "text": _plain, "csv": _csv}


def parse_records(text: str, fmt: str, *, template: str | None = None, skip_invalid: bool = False) -> list[Record]:
    records: list[Record] = []
    seen: dict[str, int] = {}
    for line, default_id, item in READERS[fmt](text, template):
        try:
            if isinstance(item, InputError):
                raise item
            rec = _from_fields(item, len(records), line, default_id, template)
        except InputError as err:
            if not skip_invalid:
                raise InputError(f"{err}; fix it or pass --skip-invalid") from None
            rec_id = item.get("id", default_id) if isinstance(item, dict) else default_id
            if isinstance(rec_id, bool) or not isinstance(rec_id, (str, int)) or rec_id == "":
                rec_id = f"line-{line}"
            rec = Record(index=len(records), id=rec_id, line=line, invalid=str(err))
        if rec.key in seen:
            raise InputError(f"line {line}: duplicate id {rec.key} (first on line {seen[rec.key]}); ids must be unique")
        seen[rec.key] = line
        records.append(rec)
    return records


def load(path: str, fmt: str | None = None, *, template: str | None = None,
         skip_invalid: bool = False) -> list[Record]:
    text = read_text(path)
    fmt = fmt or detect_format(path if path != "-" else "", text)
    return parse_records(text, fmt, template=template, skip_invalid=skip_invalid)
