"""A 2,000-token reply streamed at 1,000 tokens/s by the fake server, rendered by Purple:
does rendering keep up (the reply finishes shortly after the server's last chunk), and
how much CPU does it take?

The fake server runs in a process of its own, as Ollama does: inside the app's process it
shared the event loop and the CPU with what is measured (on 2 cores it took ~1 s of CPU).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import resource
import tempfile
import time
from pathlib import Path

from textual.widgets import Markdown

from purple_common import record

from purple.app import PurpleApp
from training.ollama_client import OllamaClient
from purple.config import Config
from purple.store import STATUS_STREAMING, Store
from tests.purple.fake_server import FakeOllama, Script

TOKENS, RATE = 2000, 1000


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def serve(pieces: list[str], interval: float, conn) -> None:
    """The fake server's process: sends its URL, serves until the parent sends anything."""
    async def main() -> None:
        async with FakeOllama(Script(pieces, interval=interval)) as server:
            conn.send(server.url)
            await asyncio.get_running_loop().run_in_executor(None, conn.recv)

    asyncio.run(main())


async def run(tmp: Path) -> dict:
    pieces = [("słowo " if i % 12 else "\n\nAkapit z **pogrubieniem** i `kodem`. ") for i in range(TOKENS)]
    ctx = multiprocessing.get_context("spawn")
    conn, child_conn = ctx.Pipe()
    server = ctx.Process(target=serve, args=(pieces, 1 / RATE, child_conn), daemon=True)
    server.start()
    try:
        return await measure(tmp, pieces, conn.recv())
    finally:
        conn.send("stop")
        server.join(10)


async def measure(tmp: Path, pieces: list[str], url: str) -> dict:
    store = Store(tmp / "db")
    app = PurpleApp(Config(model="fake"), store=store, client=OllamaClient(url),
                    check_server=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.chat_screen
        while not (screen.query("#prompt") and screen.query_one("#prompt").has_focus):
            await pilot.pause(0.01)
        screen.query_one("#prompt").text = "Napisz długi tekst"

        def reply():
            leaf = store.get_chat(screen.chat_id).current_leaf if screen.chat_id else None
            message = store.get_message(leaf) if leaf else None
            return message if message and message.role == "assistant" else None

        cpu0, started = cpu_s(), time.perf_counter()
        await pilot.press("enter")
        # polling `streaming` alone could miss a reply that ends before the first poll
        while screen.streaming or not reply() or reply().status == STATUS_STREAMING:
            await pilot.pause(0.01)
        elapsed, cpu = time.perf_counter() - started, cpu_s() - cpu0
        shown = screen.query("MessageView").last().query_one(Markdown).source
        saved = reply().content
    ideal = TOKENS / RATE
    return {"tokens": TOKENS, "rate_tok_s": RATE, "stream_s": round(elapsed, 2),
            "ideal_s": ideal, "lag_s": round(elapsed - ideal, 2), "cpu_s": round(cpu, 2),
            "cpu_per_wall": round(cpu / elapsed, 2), "complete": saved == shown
            and shown == "".join(pieces)}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        figures = asyncio.run(run(Path(tmp)))
    record("stream_2000_tokens_at_1000_tok_s", figures, "lag <= 0.5 s, text complete",
           figures["lag_s"] <= 0.5 and figures["complete"])


if __name__ == "__main__":
    main()
