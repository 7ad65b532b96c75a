"""Time to first paint of Purple with 1,000 stored chats (target <= 0.5 s)."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from purple_common import record

from purple.app import PurpleApp
from purple.config import Config
from purple.store import Store
from tests.purple.fakes import FakeClient


def seed(path: Path, chats: int) -> None:
    store = Store(path)
    store.db.execute("BEGIN")
    for index in range(chats):
        chat = store.create_chat(f"Rozmowa numer {index} o żółwiach", "polski-mini")
        store.db.execute("INSERT INTO messages (chat_id, parent_id, role, content, created)"
                         " VALUES (?, NULL, 'user', 'Cześć, jak się masz?', 0)", (chat,))
        store.db.execute("UPDATE chats SET current_leaf = last_insert_rowid() WHERE id = ?",
                         (chat,))
    store.db.execute("COMMIT")
    store.close()


async def first_paint(path: Path) -> float:
    started = time.perf_counter()
    app = PurpleApp(Config(), store=Store(path), client=FakeClient())
    async with app.run_test(size=(120, 40)) as pilot:
        # first paint: the chat screen is up, the newest chats are listed, the chat is shown
        while not (app.chat_screen and app.chat_screen.query("#chat-list")
                   and app.chat_screen.query_one("#chat-list").option_count > 0
                   and app.chat_screen.query("MessageView")):
            await pilot.pause(0.005)
        await pilot.pause(0)  # one refresh
        painted = time.perf_counter() - started
        while app.chat_screen.query_one("#chat-list").option_count < 1000:
            await pilot.pause(0.005)
        return painted, time.perf_counter() - started


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "db"
        seed(path, 1000)
        runs = [asyncio.run(first_paint(path)) for _ in range(3)]
    paints = [r[0] for r in runs]
    full = [r[1] for r in runs]
    record("first_paint_1000_chats", {"first_paint_best_s": round(min(paints), 3),
                                      "first_paint_worst_s": round(max(paints), 3),
                                      "all_1000_listed_worst_s": round(max(full), 3), "runs": 3},
           "<= 0.5 s", max(paints) <= 0.5)


if __name__ == "__main__":
    main()
