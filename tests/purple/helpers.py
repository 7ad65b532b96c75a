"""Shared helpers for Purple's Pilot tests."""

from __future__ import annotations

import time

from purple.app import PurpleApp
from purple.config import Config
from purple.store import Store


async def wait_until(pilot, condition, timeout: float = 5.0, what: str = "condition") -> None:
    """Let the app run until `condition()` is true; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


def make_app(tmp_path, client, *, lang: str = "pl", store: Store | None = None,
             check_server: bool = True, **config) -> PurpleApp:
    return PurpleApp(Config(lang=lang, **config), store=store or Store(tmp_path / "db"),
                     client=client, check_server=check_server)


async def type_and_send(pilot, text: str) -> None:
    prompt = pilot.app.screen.query_one("#prompt")
    prompt.focus()
    prompt.text = text
    await pilot.press("enter")
