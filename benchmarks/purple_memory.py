"""Memory of Purple showing a 10,000-message chat (target <= 200 MB resident)."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from purple_common import record, rss_mb

from purple.app import PurpleApp
from purple.config import Config
from purple.store import Store
from tests.purple.fakes import FakeClient


async def measure(path: Path) -> tuple[float, int]:
    app = PurpleApp(Config(), store=Store(path), client=FakeClient())
    async with app.run_test(size=(120, 40)) as pilot:
        while not app.chat_screen or not app.chat_screen.query("MessageView"):
            await pilot.pause(0.01)
        await pilot.pause(0.5)
        return rss_mb(), len(app.chat_screen.query("MessageView"))


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "db"
        store = Store(path)
        chat = store.create_chat("długa rozmowa", "polski-mini")
        parent = None
        store.db.execute("BEGIN")
        for index in range(10_000):
            role = "user" if index % 2 == 0 else "assistant"
            parent = store.db.execute(
                "INSERT INTO messages (chat_id, parent_id, role, content, created)"
                " VALUES (?, ?, ?, ?, 0)",
                (chat, parent, role, f"**Wiadomość {index}**: " + "zażółć gęślą jaźń " * 20),
            ).lastrowid
        store.db.execute("UPDATE chats SET current_leaf = ? WHERE id = ?", (parent, chat))
        store.db.execute("COMMIT")
        store.close()
        rss, mounted = asyncio.run(measure(path))
    record("memory_10k_message_chat", {"rss_mb": round(rss, 1), "mounted_messages": mounted},
           "<= 200 MB", rss <= 200)


if __name__ == "__main__":
    main()
