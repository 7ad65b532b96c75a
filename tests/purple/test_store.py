"""The SQLite store: schema, tree, streaming durability, search folding, export/import."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from purple.store import (
    STATUS_INTERRUPTED,
    STATUS_STREAMING,
    MIGRATIONS,
    Store,
    fold,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "data")
    yield s
    s.close()


def test_file_is_private_wal_and_versioned(store):
    mode = stat.S_IMODE(os.stat(store.path).st_mode)
    assert mode == 0o600
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.schema_version == len(MIGRATIONS)


def test_refuses_newer_schema(tmp_path):
    s = Store(tmp_path / "d")
    s.db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    s.close()
    with pytest.raises(RuntimeError, match="newer Purple"):
        Store(tmp_path / "d")


def test_fold_handles_polish_letters():
    assert fold("Żółw ŁĄKA źdźbło") == "zolw laka zdzbło".replace("ł", "l")
    assert fold("Łódź") == "lodz"


def test_search_ignores_case_and_diacritics(store):
    chat = store.create_chat("Zwierzęta")
    store.add_message(chat, None, "user", "Czy żółw jest szybki?")
    store.add_message(chat, None, "user", "Łabędź i gęś")
    hits = store.search("zolw")
    assert [h.snippet for h in hits] == ["Czy żółw jest szybki?"]
    assert hits[0].chat_title == "Zwierzęta"
    assert len(store.search("LABEDZ ges")) == 1
    assert store.search("żół")  # prefix
    assert store.search('"; DROP TABLE x') == []  # quotes are escaped, not syntax


def test_tree_branches_and_paths(store):
    chat = store.create_chat()
    u1 = store.add_message(chat, None, "user", "q")
    a1 = store.add_message(chat, u1, "assistant", "a1")
    a2 = store.add_message(chat, u1, "assistant", "a2")
    assert store.get_chat(chat).current_leaf == a2
    assert [m.content for m in store.active_path(chat)] == ["q", "a2"]
    assert store.siblings(a1) == [a1, a2]
    store.set_current_leaf(chat, a1)
    assert [m.content for m in store.active_path(chat)] == ["q", "a1"]
    assert store.path_length(a1) == 2
    assert [m.content for m in store.path_to(a1, limit=1)] == ["a1"]
    assert store.deepest_leaf(u1) == a2


def test_streamed_chunks_and_recovery(tmp_path):
    s = Store(tmp_path / "d")
    chat = s.create_chat()
    reply = s.add_message(chat, None, "assistant", "", status=STATUS_STREAMING)
    s.append_chunk(reply, "Dzień ", "")
    s.append_chunk(reply, "dobry", "hmm")
    assert s.search("dzien") == []  # not indexed while streaming
    s.close()
    reopened = Store(tmp_path / "d")
    message = reopened.get_message(reply)
    assert (message.content, message.thinking, message.status) == ("Dzień dobry", "hmm",
                                                                     STATUS_INTERRUPTED)
    assert len(reopened.search("dzien")) == 1


def test_sigkill_mid_reply_loses_at_most_the_last_chunk(tmp_path):
    writer = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from purple.store import Store, STATUS_STREAMING
        s = Store({str(tmp_path / 'd')!r})
        chat = s.create_chat()
        reply = s.add_message(chat, None, "assistant", "", status=STATUS_STREAMING)
        print(reply, flush=True)
        i = 0
        while True:
            s.append_chunk(reply, f"<{{i}}>")
            print(i, flush=True)
            i += 1
            time.sleep(0.001)
    """)
    process = subprocess.Popen([sys.executable, "-c", writer], stdout=subprocess.PIPE, text=True)
    reply = int(process.stdout.readline())
    acknowledged = -1
    while acknowledged < 50:
        acknowledged = int(process.stdout.readline())
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    s = Store(tmp_path / "d")
    message = s.get_message(reply)
    assert message.status == STATUS_INTERRUPTED
    saved = message.content.count("<")
    assert saved >= acknowledged + 1  # every acknowledged chunk survived
    assert message.content == "".join(f"<{i}>" for i in range(saved))  # no torn chunk


def test_rename_delete_undo_purge(store):
    chat = store.create_chat("stary")
    store.add_message(chat, None, "user", "tekst")
    store.rename_chat(chat, "nowy")
    assert store.list_chats()[0].title == "nowy"
    store.delete_chat(chat)
    assert store.list_chats() == [] and store.search("tekst") == []
    store.undo_delete(chat)
    assert [c.id for c in store.list_chats()] == [chat]
    store.delete_chat(chat)
    assert store.purge_deleted() == 1
    assert store.message_count() == 0


def test_list_chats_pages_follow_on_without_gaps_or_repeats(store):
    ids = [store.create_chat(f"rozmowa {i}") for i in range(25)]
    store.db.execute("UPDATE chats SET updated = 1000 + id % 3")  # ties resolved by id
    pages, after = [], None
    while page := store.list_chats(limit=7, after=after):
        pages.append(page)
        after = page[-1]
    listed = [chat.id for page in pages for chat in page]
    assert listed == [chat.id for chat in store.list_chats()]
    assert sorted(listed) == ids and len(pages) == 4


def test_export_import_round_trip_keeps_branches(store):
    chat = store.create_chat("Rozmowa", "polski-mini", "sys", {"temperature": 0.5})
    u = store.add_message(chat, None, "user", "pytanie")
    store.add_message(chat, u, "assistant", "stara")
    store.add_message(chat, u, "assistant", "nowa", stats={"tokens": 3})
    data = json.loads(json.dumps(store.export_json(chat)))
    copy = store.import_json(data)
    assert copy != chat
    assert [m.content for m in store.active_path(copy)] == ["pytanie", "nowa"]
    assert store.get_chat(copy).options == {"temperature": 0.5}
    assert len(store.export_json(copy)["messages"]) == 3
    markdown = store.export_markdown(chat)
    assert "# Rozmowa" in markdown and "## assistant\n\nnowa" in markdown and "stara" not in markdown
    with pytest.raises(ValueError):
        store.import_json({"format": "other"})


def test_discard_message_restores_leaf(store):
    chat = store.create_chat()
    u = store.add_message(chat, None, "user", "q")
    a = store.add_message(chat, u, "assistant", "")
    store.discard_message(a)
    assert store.get_chat(chat).current_leaf == u


def test_start_up_finds_interrupted_replies_through_an_index(tmp_path):
    store = Store(tmp_path / "db")
    from purple.store import INTERRUPTED_QUERY

    plan = " ".join(row[-1] for row in store.db.execute("EXPLAIN QUERY PLAN " + INTERRUPTED_QUERY))
    assert "messages_streaming" in plan


# ------------------------------------------------------------------ import/export hardening (issue 41)
def _dump(store) -> list[str]:
    """Everything in the database, FTS shadow tables included: "unchanged" means this is equal."""
    return list(store.db.iterdump())


def _valid_export() -> dict:
    return {"format": "purple-chat", "version": 1,
            "chat": {"title": "t", "model": "m", "system": "", "options": {}, "created": 1.0, "current_leaf": 2},
            "messages": [{"id": 1, "parent_id": None, "role": "user", "content": "pytanie"},
                         {"id": 2, "parent_id": 1, "role": "assistant", "content": "odpowiedź"}]}


def test_import_with_an_unknown_parent_leaves_nothing_behind(store):
    from purple.store import ChatImportError

    store.add_message(store.create_chat("stara"), None, "user", "zostaje")
    before = _dump(store)
    data = _valid_export()
    data["messages"].append({"id": 3, "parent_id": 99, "role": "user", "content": "sierota"})
    with pytest.raises(ChatImportError, match="unknown parent"):
        store.import_json(data)
    assert _dump(store) == before
    assert [c.title for c in store.list_chats()] == ["stara"] and store.message_count() == 1


@pytest.mark.parametrize("data", [
    [], {}, "tekst", 7, None,
    {"format": "purple-chat", "version": 1, "chat": [], "messages": []},
    {"format": "purple-chat", "version": 1, "chat": {}, "messages": {}},
    {"format": "purple-chat", "version": 1, "chat": {}, "messages": [[]]},
    {"format": "purple-chat", "version": 1, "chat": {}, "messages": [{"id": "1", "role": "user"}]},
    {"format": "purple-chat", "version": 1, "chat": {}, "messages": [{"id": 1, "role": ["user"]}]},
    {"format": "purple-chat", "version": 1, "chat": {}, "messages": [{"id": 1}]},
    {"format": "purple-chat", "version": 1, "chat": {"options": [1]}, "messages": []},
    {"format": "purple-chat", "version": 1, "chat": {"current_leaf": [1]}, "messages": []},
    {"format": "purple-chat", "version": 1, "chat": {}, "messages": [{"id": 1, "role": "user", "stats": "x"}]},
    {"format": "purple-chat", "version": 1, "chat": {}, "messages": [{"id": 1, "role": "user", "content": "\ud800"}]},
    {"format": "purple-chat", "version": 1, "chat": {},
     "messages": [{"id": 1, "role": "user"}, {"id": 1, "role": "user"}]},
], ids=lambda d: json.dumps(d)[:60])
def test_malformed_imports_raise_our_error_and_change_nothing(store, data):
    from purple.store import ChatImportError

    before = _dump(store)
    with pytest.raises(ChatImportError) as error:
        store.import_json(data)
    assert "\n" not in str(error.value) and str(error.value)
    assert _dump(store) == before


@pytest.mark.parametrize("content", [b"[]", b'{"format": "purple-chat", "version": 1, "chat": []}', b"{nie json",
                                     b"\xff\xfe\x00", b"[" * 100_000 + b"]" * 100_000, b""],
                         ids=["list", "chat-list", "not-json", "not-utf8", "nested-100000-deep", "empty"])
def test_import_file_turns_every_bad_file_into_our_error(store, tmp_path, content):
    from purple.store import ChatImportError

    path = tmp_path / "zly.json"
    path.write_bytes(content)
    before = _dump(store)
    with pytest.raises(ChatImportError):
        store.import_file(path)
    with pytest.raises(ChatImportError, match="nie-ma.json"):
        store.import_file(tmp_path / "nie-ma.json")
    assert _dump(store) == before


def test_import_file_reads_an_export(store, tmp_path):
    path = tmp_path / "dobry.json"
    path.write_text(json.dumps(_valid_export(), ensure_ascii=False), encoding="utf-8")
    chat = store.import_file(path)
    assert [m.content for m in store.active_path(chat)] == ["pytanie", "odpowiedź"]


def _json_values():
    from hypothesis import strategies as st

    # lone surrogates too: json.loads accepts "\ud800", SQLite cannot store it
    text = st.one_of(st.text(max_size=8), st.sampled_from(["\ud800", "user", "assistant", "streaming", "purple-chat"]))
    scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 5), st.integers(), st.floats(), text)
    return st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                         st.dictionaries(text, inner, max_size=4)), max_leaves=12)


def _near_exports():
    """Documents shaped like an export, with any JSON in any field: random JSON alone almost never gets past the
    format check."""
    from hypothesis import strategies as st

    anything = _json_values()
    ids = st.one_of(st.integers(0, 6), st.none(), anything)
    message = st.fixed_dictionaries(
        {}, optional={"id": ids, "parent_id": ids, "role": st.one_of(st.sampled_from(["user", "assistant"]), anything),
                      "content": st.one_of(st.text(max_size=10), anything), "thinking": anything,
                      "status": st.one_of(st.sampled_from(["complete", "streaming", "error", "nie"]), anything),
                      "model": anything, "stats": st.one_of(st.dictionaries(st.text(max_size=3), anything), anything),
                      "created": anything})
    chat = st.one_of(st.fixed_dictionaries({}, optional={
        "title": st.one_of(st.text(max_size=10), anything), "model": anything, "system": anything,
        "options": st.one_of(st.dictionaries(st.text(max_size=3), anything), anything),
        "created": anything, "current_leaf": ids}), anything)
    return st.fixed_dictionaries({"format": st.just("purple-chat"), "version": st.just(1)},
                                 optional={"chat": chat, "messages": st.one_of(st.lists(message, max_size=5), anything)})


def test_import_of_random_json_raises_only_our_error_and_changes_nothing_on_error(tmp_path):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from purple.store import ChatImportError

    store = Store(tmp_path / "data")
    store.add_message(store.create_chat("stara"), None, "user", "zostaje")
    outcomes = {"imported": 0, "refused": 0}

    @settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.one_of(_json_values(), _near_exports()))
    def check(data):
        before = _dump(store)
        try:
            chat = store.import_json(data)
        except ChatImportError as error:
            assert str(error) and "\n" not in str(error)
            assert _dump(store) == before
            outcomes["refused"] += 1
        else:
            assert store.get_chat(chat).deleted_at is None
            store.active_path(chat)  # the imported tree reads back
            store.export_json(chat)
            outcomes["imported"] += 1

    check()
    assert outcomes["imported"] and outcomes["refused"]  # the strategy reaches both sides
    store.close()


def test_export_file_gets_the_databases_mode_and_replaces_atomically(store, tmp_path):
    chat = store.create_chat("Rozmowa")
    store.add_message(chat, None, "user", "pytanie")
    target = tmp_path / "out" / "rozmowa.json"
    target.parent.mkdir()
    target.write_text("stara treść")
    os.chmod(target, 0o644)
    store.export_file(chat, target, "json")
    assert json.loads(target.read_text(encoding="utf-8"))["chat"]["title"] == "Rozmowa"
    assert stat.S_IMODE(target.stat().st_mode) == stat.S_IMODE(store.path.stat().st_mode) == 0o600
    store.export_file(chat, tmp_path / "out" / "rozmowa.md", "md")
    assert stat.S_IMODE((tmp_path / "out" / "rozmowa.md").stat().st_mode) == 0o600
    assert sorted(p.name for p in target.parent.iterdir()) == ["rozmowa.json", "rozmowa.md"]  # no temp files left


def test_export_file_that_cannot_be_written_is_our_error_and_keeps_the_old_file(store, tmp_path, monkeypatch):
    from purple.store import ChatExportError

    chat = store.create_chat("Rozmowa")
    blocker = tmp_path / "plik"
    blocker.write_text("")
    with pytest.raises(ChatExportError, match="plik"):
        store.export_file(chat, blocker / "x.json", "json")  # a path under a file
    with pytest.raises(ChatExportError):
        store.export_file(chat, tmp_path, "json")  # a directory
    target = tmp_path / "rozmowa.json"
    target.write_text("stara treść")

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(ChatExportError, match="No space left"):
        store.export_file(chat, target, "json")
    monkeypatch.undo()
    assert target.read_text() == "stara treść"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "data") == ["plik", "rozmowa.json"]
