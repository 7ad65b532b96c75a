"""Snapshots of the main screens in Polish and English (fixed data, no clock text).

Update after an intended visual change with `pytest tests/purple/test_snapshots.py --snapshot-update`."""

from __future__ import annotations

import pytest

from purple.app import PurpleApp
from purple.config import Config
from purple.store import STATUS_STOPPED, Store

from .fakes import FakeClient

SIZE = (110, 32)
STATS = {"tokens": 42, "tokens_per_s": 35.5, "ttft_s": 0.12, "total_s": 1.5,
         "prompt_tokens": 900, "num_ctx": 1024, "done_reason": "stop"}


def seeded_store(path) -> Store:
    store = Store(path)
    store.create_chat("Przepis na pierogi", "polski-mini")
    chat = store.create_chat("Żółw błotny [bold]", "polski-mini")
    user = store.add_message(chat, None, "user", "Gdzie żyje żółw błotny?")
    store.add_message(chat, user, "assistant",
                      "## Żółw błotny\n\nŻyje w **Polsce**, głównie na Polesiu.\n\n"
                      "```python\nprint('żółw')\n```\n", model="polski-mini", stats=STATS)
    user2 = store.add_message(chat, store.get_chat(chat).current_leaf, "user", "A co je?")
    store.add_message(chat, user2, "assistant", "Owady, ślimaki i", model="polski-mini",
                      status=STATUS_STOPPED)
    return store


def app_for(tmp_path, lang: str, client: FakeClient) -> PurpleApp:
    return PurpleApp(Config(lang=lang), store=seeded_store(tmp_path / "db"), client=client)


async def settle(pilot) -> None:
    pilot.app.screen.query("#prompt").first().cursor_blink = False
    await pilot.pause(0.3)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


@pytest.mark.parametrize("lang", ["pl", "en"])
def test_chat_screen(snap_compare, tmp_path, lang):
    assert snap_compare(app_for(tmp_path, lang, FakeClient()), terminal_size=SIZE,
                        run_before=settle)


@pytest.mark.parametrize("lang", ["pl", "en"])
def test_server_down_screen(snap_compare, tmp_path, lang):
    async def wait_for_dialog(pilot):
        await pilot.pause()
        pilot.app.chat_screen.query_one("#prompt").cursor_blink = False
        while pilot.app.server_screen is None or not pilot.app.server_screen.is_mounted:
            await pilot.pause(0.05)
        await pilot.pause(0.2)

    app = app_for(tmp_path, lang, FakeClient(down=True))
    app.config.retry_seconds = 600  # no retry (and no attempt counter change) during the shot
    assert snap_compare(app, terminal_size=SIZE, run_before=wait_for_dialog)


@pytest.mark.parametrize("lang", ["pl", "en"])
def test_missing_model_screen(snap_compare, tmp_path, lang):
    async def wait_for_dialog(pilot):
        await pilot.pause()
        pilot.app.chat_screen.query_one("#prompt").cursor_blink = False
        while type(pilot.app.screen).__name__ != "MissingModelScreen":
            await pilot.pause(0.05)
        await pilot.pause(0.2)

    assert snap_compare(app_for(tmp_path, lang, FakeClient(models=["inny:latest"])),
                        terminal_size=SIZE, run_before=wait_for_dialog)
