"""History search over 100,000 stored messages (target <= 100 ms per query)."""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from pathlib import Path

from purple_common import record

from purple.store import Store, fold

WORDS = ("żółw kot pies łąka źdźbło gęś miasto rzeka góra szkoła dom chleb woda słońce "
         "książka muzyka pociąg zima lato jesień wiosna ogród").split()


def main() -> None:
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "db")
        store.db.execute("BEGIN")
        for c in range(1000):
            chat = store.create_chat(f"czat {c}")
            for m in range(100):
                text = " ".join(rng.choice(WORDS) for _ in range(30))
                cur = store.db.execute(
                    "INSERT INTO messages (chat_id, role, content, created) VALUES (?, 'user', ?, 0)",
                    (chat, text))
                store.db.execute("INSERT INTO messages_fts (rowid, body) VALUES (?, ?)",
                                 (cur.lastrowid, fold(text)))
        store.db.execute("COMMIT")
        assert store.message_count() == 100_000
        times = []
        for query in ("zolw", "łąka gęś", "zima pociag", "ksiazka", "nie ma takiego slowa"):
            for _ in range(5):
                started = time.perf_counter()
                store.search(query)
                times.append(time.perf_counter() - started)
    worst = max(times) * 1000
    record("search_100k_messages", {"median_ms": round(statistics.median(times) * 1000, 1),
                                    "worst_ms": round(worst, 1), "queries": len(times)},
           "<= 100 ms", worst <= 100)


if __name__ == "__main__":
    main()
