"""Batch input parsing, templates, CSV cell safety, backoff and the journal's recovery."""
from __future__ import annotations

import json
import random

import pytest

from purple.batch.inputs import InputError, detect_format, parse_records, render
from purple.batch.journal import Journal, safe_cell
from purple.batch.runner import backoff_delay


def test_jsonl_ids_prompts_messages_options():
    text = '{"id": "a", "prompt": "x", "options": {"top_k": 5}, "system": "s"}\n\n{"messages": [{"role": "user", "content": "y"}]}\n'
    a, b = parse_records(text, "jsonl")
    assert (a.id, a.prompt, a.options, a.system, a.index, a.line) == ("a", "x", {"top_k": 5}, "s", 0, 1)
    assert (b.id, b.messages, b.index, b.line) == (3, [{"role": "user", "content": "y"}], 1, 3)


@pytest.mark.parametrize("line, message", [
    ('{"id": 1, "prompt": ', "line 2: not valid JSON"),
    ('[1, 2]', "line 2: expected a JSON object"),
    ('{"id": 2}', 'line 2: no "prompt"'),
    ('{"id": 2, "prompt": "  "}', 'line 2: no "prompt"'),
    ('{"id": 2.5, "prompt": "x"}', 'line 2: "id" must be a string or an integer'),
    ('{"id": 2, "messages": [{"role": "bot", "content": "x"}]}', "line 2: messages[0] needs"),
    ('{"id": 2, "prompt": "x", "options": [1]}', 'line 2: "options" must be a JSON object'),
    ('{"id": 1, "prompt": "x"}', "line 2: duplicate id 1 (first on line 1)"),
])
def test_malformed_lines_are_named(line, message):
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        parse_records('{"id": 1, "prompt": "ok"}\n' + line + "\n", "jsonl")


def test_skip_invalid_keeps_the_message_and_a_usable_id():
    recs = parse_records('{"id": 1, "prompt": "ok"}\nnot json\n{"id": "z"}\n', "jsonl", skip_invalid=True)
    assert [(r.id, bool(r.invalid)) for r in recs] == [(1, False), ("line-2", True), ("z", True)]
    assert "line 3" in recs[2].invalid


def test_text_ids_are_line_numbers_and_csv_needs_a_prompt_column():
    recs = parse_records("jeden\n\n  \ntrzy\n", "text")
    assert [(r.id, r.prompt) for r in recs] == [(1, "jeden"), (4, "trzy")]
    recs = parse_records('ID,Prompt,extra\n,"wiersz, z przecinkiem",e\nk,"dwie\nlinie",f\n', "csv")
    assert [(r.id, r.prompt) for r in recs] == [(1, "wiersz, z przecinkiem"), ("k", "dwie\nlinie")]
    with pytest.raises(InputError, match='no "prompt" column .*text, n'):
        parse_records("text,n\na,1\n", "csv")
    assert [r.prompt for r in parse_records("text,n\na,1\n", "csv", template="{{text}}/{{ n }}")] == ["a/1"]


def test_templates():
    assert render("Przetłumacz: {{ tekst }} ({{n}})", {"tekst": "kot", "n": 3}, 1) == "Przetłumacz: kot (3)"
    assert render("{{ a }} {b} {{", {"a": "x"}, 1) == "x {b} {{"
    with pytest.raises(InputError, match=r"line 4: template variable 'brak' .*fields: a"):
        render("{{ brak }}", {"a": 1}, 4)


def test_format_detection():
    assert detect_format("a.jsonl", "") == "jsonl" and detect_format("a.csv", "") == "csv"
    assert detect_format("a.txt", "{") == "text"
    assert detect_format("", '\n{"prompt": 1}') == "jsonl" and detect_format("", "zwykły tekst") == "text"


@pytest.mark.parametrize("value, cell", [
    ("=1+1", "'=1+1"), ("+48 123", "'+48 123"), ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("zwykły", "zwykły"), (None, ""), (3, 3), (-1.5, -1.5), ({"a": 1}, '{"a": 1}'),
])
def test_csv_cells_never_start_a_formula(value, cell):
    assert safe_cell(value) == cell


def test_backoff_grows_with_jitter_and_respects_retry_after():
    rng = random.Random(0)
    for attempt in range(1, 8):
        d = backoff_delay(attempt, 0.5, rng=rng)
        full = min(30.0, 0.5 * 2 ** (attempt - 1))
        assert full / 2 <= d <= full
    assert backoff_delay(1, 0.5, retry_after=7, rng=rng) == 7
    assert len({backoff_delay(3, 1.0, rng=rng) for _ in range(10)}) > 1


def test_journal_recovers_torn_tail_locks_and_rewrites(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_bytes(b'{"id": 1, "error": null}\n{"id": 2, "err')
    journal = Journal(path)
    assert list(journal.done()) == ["1"]
    assert path.read_bytes() == b'{"id": 1, "error": null}\n'
    with pytest.raises(InputError, match="another `purple batch` is writing"):
        Journal(path)
    journal.append({"id": "2", "error": None})
    journal.rewrite(list(reversed(journal.records)))
    assert [json.loads(x)["id"] for x in path.read_text().splitlines()] == ["2", 1]
    with pytest.raises(InputError):  # the lock moved to the rewritten file
        Journal(path)
    journal.close()
    Journal(path).close()
    path.write_text('{"id": 1}\nnie json\n')
    with pytest.raises(InputError, match="line 2 is not a batch result"):
        Journal(path)
