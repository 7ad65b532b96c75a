"""Chat history in SQLite: chats, a tree of messages, full-text search.

- One file `purple.db` in the data dir, mode 0600 (its WAL and shm files inherit it), WAL
  journal, schema versioned with `PRAGMA user_version` and applied by `MIGRATIONS`.
- Messages form a tree through `parent_id`: editing a user message or regenerating a
  reply adds a sibling, so old branches stay. `chats.current_leaf` marks the branch shown.
- A streaming reply is a row with status 'streaming'; every chunk is appended and
  committed as it arrives, so a killed process loses at most the chunk in flight. On the
  next open such rows become 'interrupted'.
- Search uses an FTS5 table holding a *folded* copy of each message (lower case, Polish
  diacritics removed, ł -> l), so `zolw` finds `Żółw`.
- Deleting a chat is soft (undo restores it); `purge_deleted` removes it for good.
- Import checks the whole file before writing and writes it in one transaction: a malformed file raises
  ChatImportError and changes nothing. Exports are written atomically, with the database file's mode.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from training.atomic import atomic_path
from training.errors import PolskiError

DB_NAME = "purple.db"
EXPORT_FORMAT = "purple-chat"
EXPORT_VERSION = 1

STATUS_COMPLETE = "complete"
STATUS_STREAMING = "streaming"
STATUS_STOPPED = "stopped"
STATUS_ERROR = "error"
STATUS_INTERRUPTED = "interrupted"

MIGRATIONS: list[str] = [
    # version 1
    """
    CREATE TABLE chats (
        id INTEGER PRIMARY KEY,
        title TEXT NOT NULL DEFAULT '',
        model TEXT NOT NULL DEFAULT '',
        system TEXT NOT NULL DEFAULT '',
        options TEXT NOT NULL DEFAULT '{}',
        created REAL NOT NULL,
        updated REAL NOT NULL,
        current_leaf INTEGER,
        deleted_at REAL
    );
    CREATE INDEX chats_updated ON chats(deleted_at, updated DESC);
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        chat_id INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
        parent_id INTEGER REFERENCES messages(id) ON DELETE CASCADE,
        role TEXT NOT NULL,
        content TEXT NOT NULL DEFAULT '',
        thinking TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL DEFAULT 'complete',
        model TEXT NOT NULL DEFAULT '',
        stats TEXT NOT NULL DEFAULT '{}',
        created REAL NOT NULL
    );
    CREATE INDEX messages_chat ON messages(chat_id);
    CREATE INDEX messages_parent ON messages(parent_id);
    CREATE VIRTUAL TABLE messages_fts USING fts5(body, tokenize = 'unicode61 remove_diacritics 2');
    """,
    # version 2: start-up finds replies a crash interrupted without reading every message
    """
    CREATE INDEX messages_streaming ON messages(status) WHERE status = 'streaming';
    """,
]
# a literal, not a parameter: SQLite uses a partial index only when it can see the query implies its WHERE
INTERRUPTED_QUERY = f"SELECT id FROM messages WHERE status = '{STATUS_STREAMING}'"

class ChatImportError(PolskiError, ValueError):
    """A chat file that cannot be imported; the message is one line, and nothing was written."""


class ChatExportError(PolskiError):
    """A chat export that could not be written; the message is one line."""


_EXTRA_FOLDS = str.maketrans({"ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ø": "o", "Ø": "O", "ß": "ss"})


def fold(text: str) -> str:
    """Lower-case `text` and strip diacritics (ł included, which Unicode does not decompose)."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_EXTRA_FOLDS))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()


@dataclass
class Chat:
    id: int
    title: str
    model: str
    system: str
    options: dict
    created: float
    updated: float
    current_leaf: int | None
    deleted_at: float | None = None


@dataclass
class ChatSummary:
    id: int
    title: str
    updated: float


@dataclass
class Message:
    id: int
    chat_id: int
    parent_id: int | None
    role: str
    content: str
    thinking: str = ""
    status: str = STATUS_COMPLETE
    model: str = ""
    stats: dict = field(default_factory=dict)
    created: float = 0.0


@dataclass
class SearchHit:
    chat_id: int
    message_id: int
    chat_title: str
    role: str
    snippet: str


_MESSAGE_COLUMNS = "id, chat_id, parent_id, role, content, thinking, status, model, stats, created"
_CHAT_COLUMNS = "id, title, model, system, options, created, updated, current_leaf, deleted_at"


def _message(row: tuple) -> Message:
    return Message(*row[:8], stats=json.loads(row[8] or "{}"), created=row[9])


def _chat(row: tuple) -> Chat:
    values = list(row)
    values[4] = json.loads(values[4] or "{}")
    return Chat(*values)


def _fts_query(query: str) -> str:
    """Each folded word becomes a quoted prefix term; terms are ANDed."""
    words = fold(query).split()
    return " ".join('"' + word.replace('"', '""') + '"*' for word in words)


def _snippet(content: str, query: str, width: int = 80) -> str:
    folded = fold(content)
    words = fold(query).split()
    at = min((folded.find(w) for w in words if folded.find(w) >= 0), default=0)
    start = max(0, at - width // 3)
    text = " ".join(content[start : start + width].split())
    return ("…" if start else "") + text + ("…" if start + width < len(content) else "")


class Store:
    """All reads and writes of chat history. Not thread-safe: use it from one thread."""

    def __init__(self, path: Path) -> None:
        path = Path(path)
        if path.is_dir() or not path.suffix:
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
            path = path / DB_NAME
        else:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        os.chmod(path, 0o600)
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.execute("PRAGMA busy_timeout=5000")
        self._migrate()
        self._recover_interrupted()

    # ----------------------------------------------------------------- lifecycle
    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise RuntimeError(
                f"{self.path} was written by a newer Purple (schema {version}); please upgrade"
            )
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            self.db.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")

    @property
    def schema_version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    def _recover_interrupted(self) -> None:
        rows = self.db.execute(INTERRUPTED_QUERY).fetchall()
        for (message_id,) in rows:
            self.finish_message(message_id, STATUS_INTERRUPTED)

    def close(self) -> None:
        self.db.close()

    # --------------------------------------------------------------------- chats
    def create_chat(
        self, title: str = "", model: str = "", system: str = "", options: dict | None = None
    ) -> int:
        now = time.time()
        cursor = self.db.execute(
            "INSERT INTO chats (title, model, system, options, created, updated)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (title, model, system, json.dumps(options or {}), now, now),
        )
        return cursor.lastrowid

    def get_chat(self, chat_id: int) -> Chat:
        row = self.db.execute(
            f"SELECT {_CHAT_COLUMNS} FROM chats WHERE id = ?", (chat_id,)
        ).fetchone()
        if row is None:
            raise KeyError(chat_id)
        return _chat(row)

    def list_chats(self, limit: int | None = None,
                   after: ChatSummary | None = None) -> list[ChatSummary]:
        """Newest first; with `after`, only chats listed after that one (the next page)."""
        where, args = "", ()
        if after is not None:
            where = " AND (updated < ? OR (updated = ? AND id < ?))"
            args = (after.updated, after.updated, after.id)
        rows = self.db.execute(
            "SELECT id, title, updated FROM chats WHERE deleted_at IS NULL" + where +
            " ORDER BY updated DESC, id DESC LIMIT ?",
            (*args, -1 if limit is None else limit),
        ).fetchall()
        return [ChatSummary(*row) for row in rows]

    def rename_chat(self, chat_id: int, title: str) -> None:
        self.db.execute("UPDATE chats SET title = ? WHERE id = ?", (title, chat_id))

    def update_chat_settings(
        self,
        chat_id: int,
        *,
        model: str | None = None,
        system: str | None = None,
        options: dict | None = None,
    ) -> None:
        chat = self.get_chat(chat_id)
        self.db.execute(
            "UPDATE chats SET model = ?, system = ?, options = ? WHERE id = ?",
            (
                chat.model if model is None else model,
                chat.system if system is None else system,
                json.dumps(chat.options if options is None else options),
                chat_id,
            ),
        )

    def delete_chat(self, chat_id: int) -> None:
        """Hide the chat; `undo_delete` brings it back until `purge_deleted` runs."""
        self.db.execute("UPDATE chats SET deleted_at = ? WHERE id = ?", (time.time(), chat_id))

    def undo_delete(self, chat_id: int) -> None:
        self.db.execute("UPDATE chats SET deleted_at = NULL WHERE id = ?", (chat_id,))

    def purge_deleted(self) -> int:
        with self.db:
            self.db.execute("BEGIN")
            self.db.execute(
                "DELETE FROM messages_fts WHERE rowid IN (SELECT m.id FROM messages m"
                " JOIN chats c ON c.id = m.chat_id WHERE c.deleted_at IS NOT NULL)"
            )
            count = self.db.execute("DELETE FROM chats WHERE deleted_at IS NOT NULL").rowcount
        return count

    def set_current_leaf(self, chat_id: int, leaf_id: int | None) -> None:
        self.db.execute("UPDATE chats SET current_leaf = ? WHERE id = ?", (leaf_id, chat_id))

    # ------------------------------------------------------------------ messages
    def add_message(
        self,
        chat_id: int,
        parent_id: int | None,
        role: str,
        content: str,
        *,
        status: str = STATUS_COMPLETE,
        model: str = "",
        thinking: str = "",
        stats: dict | None = None,
    ) -> int:
        """Add a message under `parent_id` and make it the chat's current leaf."""
        now = time.time()
        with self.db:
            self.db.execute("BEGIN")
            cursor = self.db.execute(
                "INSERT INTO messages (chat_id, parent_id, role, content, thinking, status,"
                " model, stats, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (chat_id, parent_id, role, content, thinking, status, model,
                 json.dumps(stats or {}), now),
            )
            message_id = cursor.lastrowid
            self.db.execute(
                "UPDATE chats SET current_leaf = ?, updated = ? WHERE id = ?",
                (message_id, now, chat_id),
            )
            if status != STATUS_STREAMING:
                self._index(message_id, content)
        return message_id

    def append_chunk(self, message_id: int, content: str = "", thinking: str = "") -> None:
        """Append one streamed chunk; committed at once (autocommit)."""
        self.db.execute(
            "UPDATE messages SET content = content || ?, thinking = thinking || ? WHERE id = ?",
            (content, thinking, message_id),
        )

    def finish_message(self, message_id: int, status: str, stats: dict | None = None) -> None:
        with self.db:
            self.db.execute("BEGIN")
            self.db.execute(
                "UPDATE messages SET status = ?, stats = ? WHERE id = ?",
                (status, json.dumps(stats or {}), message_id),
            )
            (content,) = self.db.execute(
                "SELECT content FROM messages WHERE id = ?", (message_id,)
            ).fetchone()
            self._index(message_id, content)

    def _index(self, message_id: int, content: str) -> None:
        self.db.execute("DELETE FROM messages_fts WHERE rowid = ?", (message_id,))
        self.db.execute(
            "INSERT INTO messages_fts (rowid, body) VALUES (?, ?)", (message_id, fold(content))
        )

    def discard_message(self, message_id: int) -> None:
        """Remove a message that has no children (a send that never reached the server)."""
        message = self.get_message(message_id)
        with self.db:
            self.db.execute("BEGIN")
            self.db.execute("DELETE FROM messages_fts WHERE rowid = ?", (message_id,))
            self.db.execute("DELETE FROM messages WHERE id = ?", (message_id,))
            self.db.execute(
                "UPDATE chats SET current_leaf = ? WHERE id = ? AND current_leaf = ?",
                (message.parent_id, message.chat_id, message_id),
            )

    def get_message(self, message_id: int) -> Message:
        row = self.db.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE id = ?", (message_id,)
        ).fetchone()
        if row is None:
            raise KeyError(message_id)
        return _message(row)

    def path_to(self, leaf_id: int | None, limit: int | None = None) -> list[Message]:
        """Messages from the root down to `leaf_id`; with `limit`, only the last `limit`."""
        if leaf_id is None:
            return []
        rows = self.db.execute(
            f"""WITH RECURSIVE up(id, depth) AS (
                    SELECT ?, 0
                    UNION ALL
                    SELECT m.parent_id, up.depth + 1 FROM messages m JOIN up ON m.id = up.id
                    WHERE m.parent_id IS NOT NULL {'AND up.depth + 1 < ?' if limit else ''}
                )
                SELECT {', '.join('m.' + c for c in _MESSAGE_COLUMNS.split(', '))}
                FROM up JOIN messages m ON m.id = up.id ORDER BY up.depth DESC""",
            (leaf_id, limit) if limit else (leaf_id,),
        ).fetchall()
        return [_message(row) for row in rows]

    def active_path(self, chat_id: int, limit: int | None = None) -> list[Message]:
        return self.path_to(self.get_chat(chat_id).current_leaf, limit)

    def path_length(self, leaf_id: int | None) -> int:
        if leaf_id is None:
            return 0
        return self.db.execute(
            """WITH RECURSIVE up(id) AS (SELECT ? UNION ALL
               SELECT m.parent_id FROM messages m JOIN up ON m.id = up.id
               WHERE m.parent_id IS NOT NULL) SELECT count(*) FROM up""",
            (leaf_id,),
        ).fetchone()[0]

    def siblings(self, message_id: int) -> list[int]:
        """Ids of the message and its alternatives (same parent, same role), oldest first."""
        message = self.get_message(message_id)
        rows = self.db.execute(
            "SELECT id FROM messages WHERE chat_id = ? AND parent_id IS ? AND role = ?"
            " ORDER BY id",
            (message.chat_id, message.parent_id, message.role),
        ).fetchall()
        return [row[0] for row in rows]

    def deepest_leaf(self, message_id: int) -> int:
        """Follow the newest child down from `message_id` (used to switch branches)."""
        current = message_id
        while True:
            row = self.db.execute(
                "SELECT max(id) FROM messages WHERE parent_id = ?", (current,)
            ).fetchone()
            if row[0] is None:
                return current
            current = row[0]

    def message_count(self) -> int:
        return self.db.execute("SELECT count(*) FROM messages").fetchone()[0]

    # -------------------------------------------------------------------- search
    def search(self, query: str, limit: int = 50) -> list[SearchHit]:
        """Newest messages matching every word of `query` (diacritics and case ignored)."""
        expression = _fts_query(query)
        if not expression:
            return []
        rows = self.db.execute(
            "SELECT m.chat_id, m.id, c.title, m.role, m.content FROM messages_fts f"
            " JOIN messages m ON m.id = f.rowid JOIN chats c ON c.id = m.chat_id"
            " WHERE messages_fts MATCH ? AND c.deleted_at IS NULL"
            " ORDER BY f.rowid DESC LIMIT ?",
            (expression, limit),
        ).fetchall()
        return [
            SearchHit(chat_id, message_id, title, role, _snippet(content, query))
            for chat_id, message_id, title, role, content in rows
        ]

    # ------------------------------------------------------------ export/import
    def export_json(self, chat_id: int) -> dict:
        """The whole chat, every branch included, in Purple's own JSON format."""
        chat = self.get_chat(chat_id)
        rows = self.db.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE chat_id = ? ORDER BY id", (chat_id,)
        ).fetchall()
        return {
            "format": EXPORT_FORMAT,
            "version": EXPORT_VERSION,
            "chat": {
                "title": chat.title,
                "model": chat.model,
                "system": chat.system,
                "options": chat.options,
                "created": chat.created,
                "current_leaf": chat.current_leaf,
            },
            "messages": [
                {
                    "id": m.id,
                    "parent_id": m.parent_id,
                    "role": m.role,
                    "content": m.content,
                    "thinking": m.thinking,
                    "status": m.status,
                    "model": m.model,
                    "stats": m.stats,
                    "created": m.created,
                }
                for m in map(_message, rows)
            ],
        }

    def export_markdown(self, chat_id: int) -> str:
        """The branch on screen as a Markdown document."""
        chat = self.get_chat(chat_id)
        lines = [f"# {chat.title or 'Purple'}", ""]
        if chat.model:
            lines += [f"*model: {chat.model}*", ""]
        if chat.system:
            lines += ["## system", "", chat.system, ""]
        for message in self.active_path(chat_id):
            lines += [f"## {message.role}", "", message.content, ""]
        return "\n".join(lines)

    def export_file(self, chat_id: int, path: Path | str, kind: str) -> Path:
        """Write the chat as JSON (`kind` "json") or Markdown ("md") to `path`, atomically and with the database
        file's mode (0600: a chat is as private as the history it came from). Raises ChatExportError."""
        target = Path(path).expanduser()
        if kind == "md":
            text = self.export_markdown(chat_id)
        else:
            text = json.dumps(self.export_json(chat_id), ensure_ascii=False, indent=2)
        try:
            mode = stat.S_IMODE(os.stat(self.path).st_mode)
            with atomic_path(target) as tmp:
                tmp.write_text(text, encoding="utf-8")
                os.chmod(tmp, mode)
        except OSError as error:
            raise ChatExportError(f"cannot write {target}: {error.strerror or error}") from None
        return target

    def import_file(self, path: Path | str) -> int:
        """Import a chat from a file written by `export_file`. Raises ChatImportError, changing nothing, for a file
        that cannot be read, is not JSON or is not a Purple chat export."""
        path = Path(path).expanduser()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise ChatImportError(f"cannot read {path}: {error.strerror or error}") from None
        except UnicodeDecodeError:
            raise ChatImportError(f"{path} is not UTF-8 text") from None
        except json.JSONDecodeError as error:
            raise ChatImportError(f"{path} is not valid JSON (line {error.lineno}, column {error.colno})") from None
        except RecursionError:
            raise ChatImportError(f"{path} is nested too deeply to be a Purple chat export") from None
        return self.import_json(data)

    def import_json(self, data) -> int:
        """Add a chat exported by `export_json`; message ids are renumbered. All or nothing: anything malformed
        raises ChatImportError before a row is written, and the rows are written in one transaction."""
        chat, messages, leaf = _parse_export(data)
        now = time.time()
        with self.db:
            self.db.execute("BEGIN")
            chat_id = self.db.execute(
                "INSERT INTO chats (title, model, system, options, created, updated) VALUES (?, ?, ?, ?, ?, ?)",
                (chat["title"], chat["model"], chat["system"], json.dumps(chat["options"]), now, now),
            ).lastrowid
            new_ids: dict[int, int] = {}
            for m in messages:
                new_ids[m["id"]] = self.db.execute(
                    "INSERT INTO messages (chat_id, parent_id, role, content, thinking, status, model, stats, created)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (chat_id, None if m["parent_id"] is None else new_ids[m["parent_id"]], m["role"], m["content"],
                     m["thinking"], m["status"], m["model"], json.dumps(m["stats"]), now),
                ).lastrowid
                self._index(new_ids[m["id"]], m["content"])
            self.db.execute("UPDATE chats SET current_leaf = ? WHERE id = ?", (new_ids.get(leaf), chat_id))
        return chat_id


_STATUSES = {STATUS_COMPLETE, STATUS_STREAMING, STATUS_STOPPED, STATUS_ERROR, STATUS_INTERRUPTED}


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(where: str, value, default: str = "") -> str:
    if value is None:
        return default
    if not isinstance(value, str):
        raise ChatImportError(f"{where} must be a string, not {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ChatImportError(f"{where} holds a character that is not valid Unicode") from None
    return value


def _object(where: str, value) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ChatImportError(f"{where} must be an object, not {type(value).__name__}")
    try:
        json.dumps(value).encode("utf-8")
    except (UnicodeEncodeError, ValueError, RecursionError):
        raise ChatImportError(f"{where} cannot be stored") from None
    return value


def _parse_export(data) -> tuple[dict, list[dict], int | None]:
    """Check a whole export before anything is written: (chat fields, messages parents-first, current leaf id)."""
    if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT or data.get("version") != EXPORT_VERSION:
        raise ChatImportError("not a Purple chat export (format/version mismatch)")
    meta = data.get("chat")
    if not isinstance(meta, dict):
        raise ChatImportError('"chat" must be an object')
    chat = {key: _text(f"chat.{key}", meta.get(key)) for key in ("title", "model", "system")}
    chat["options"] = _object("chat.options", meta.get("options"))
    leaf = meta.get("current_leaf")
    if leaf is not None and not _is_int(leaf):
        raise ChatImportError("chat.current_leaf must be a message id (an integer) or null")
    raw = data.get("messages")
    if not isinstance(raw, list):
        raise ChatImportError('"messages" must be a list')
    messages = []
    for number, m in enumerate(raw, start=1):
        if not isinstance(m, dict):
            raise ChatImportError(f"message {number} must be an object")
        if not _is_int(m.get("id")):
            raise ChatImportError(f"message {number} has no integer id")
        where = f"message {m['id']}"
        parent = m.get("parent_id")
        if parent is not None and not _is_int(parent):
            raise ChatImportError(f"{where}: parent_id must be an integer or null")
        status = _text(f"{where}: status", m.get("status"), STATUS_COMPLETE)
        if status not in _STATUSES:
            raise ChatImportError(f"{where}: unknown status {_short_repr(status)}")
        role = _text(f"{where}: role", m.get("role"))
        if not role:
            raise ChatImportError(f"{where} has no role")
        messages.append({
            "id": m["id"], "parent_id": parent, "role": role,
            "content": _text(f"{where}: content", m.get("content")),
            "thinking": _text(f"{where}: thinking", m.get("thinking")),
            "status": STATUS_INTERRUPTED if status == STATUS_STREAMING else status,
            "model": _text(f"{where}: model", m.get("model")),
            "stats": _object(f"{where}: stats", m.get("stats")),
        })
    messages.sort(key=lambda m: m["id"])
    seen: set[int] = set()
    for m in messages:
        if m["id"] in seen:
            raise ChatImportError(f"message id {m['id']} appears twice")
        if m["parent_id"] is not None and m["parent_id"] not in seen:
            raise ChatImportError(f"message {m['id']} names an unknown parent {m['parent_id']}")
        seen.add(m["id"])
    return chat, messages, leaf


def _short_repr(value: str, limit: int = 40) -> str:
    text = " ".join(repr(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
