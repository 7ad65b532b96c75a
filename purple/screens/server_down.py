"""Shown while the Ollama server cannot be reached; the app keeps retrying behind it.

The chat screen (and the text typed in it) stays underneath, untouched."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from purple.i18n import Catalog
from purple.safe_text import neutralise


class ServerDownScreen(ModalScreen[None]):
    class RetryNow(Message):
        pass

    def __init__(self, host: str, t: Catalog, retry_seconds: float, detail: str = "") -> None:
        super().__init__(classes="dialog-screen")
        self.host, self.t, self.retry_seconds, self.detail = host, t, retry_seconds, detail

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="server-down"):
            yield Static(Text(self.t("server.title"), style="bold red"), classes="dialog-title")
            yield Static(Text(self.t("server.body", host=self.host)))
            if self.detail:
                yield Static(Text(self.t("server.detail", message=neutralise(self.detail)),
                                  style="dim"))
            yield Static(Text(self.t("server.keep_text"), style="dim"))
            yield Static(Text(self.t("server.retrying", seconds=self.retry_seconds, attempt=1)),
                         id="retry-status")
            with Horizontal(classes="buttons"):
                yield Button(self.t("server.retry_now"), id="retry", variant="primary")
                yield Button(self.t("server.quit"), id="quit", variant="error")

    def show_attempt(self, attempt: int) -> None:
        statuses = self.query("#retry-status")
        if not statuses:  # not composed yet
            return
        statuses.first(Static).update(
            Text(self.t("server.retrying", seconds=self.retry_seconds, attempt=attempt)))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "retry":
            self.app.post_message(self.RetryNow())
        else:
            self.app.exit()
