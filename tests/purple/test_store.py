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
