"""Shown when the chat's model is not on the server: register polski-mini or pick another."""

from __future__ import annotations

from typing import Awaitable, Callable

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from purple.i18n import Catalog
from purple.model_registration import SHIPPED_MODELFILE
from purple.safe_text import neutralise

Register = Callable[[Callable[[str], None]], Awaitable[str]]


class MissingModelScreen(ModalScreen[str | None]):
    """Dismisses with the model to use ('' = pick one in the model list, None = quit)."""

    def __init__(self, model: str, host: str, t: Catalog, register: Register) -> None:
        super().__init__(classes="dialog-screen")
        self.model, self.host, self.t, self.register = model, host, t, register

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self.t("missing.title", model=neutralise(self.model)), style="bold"),
                         classes="dialog-title")
            yield Static(Text(self.t("missing.body", model=neutralise(self.model), host=self.host,
                                     modelfile=str(SHIPPED_MODELFILE))))
            yield Static("", id="register-status", markup=False)
            with Horizontal(classes="buttons"):
                yield Button(self.t("missing.register"), id="register", variant="primary")
                yield Button(self.t("missing.choose"), id="choose")
                yield Button(self.t("missing.quit"), id="quit", variant="error")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "register":
            self.run_registration()
        elif event.button.id == "choose":
            self.dismiss("")
        else:
            self.dismiss(None)

    def _status(self, text: str, style: str = "") -> None:
        self.query_one("#register-status", Static).update(Text(neutralise(text), style=style))

    @work(exclusive=True, group="register")
    async def run_registration(self) -> None:
        button = self.query_one("#register", Button)
        button.disabled = True
        self._status(self.t("missing.registering", status=""))
        try:
            name = await self.register(
                lambda status: self._status(self.t("missing.registering", status=status)))
        except FileNotFoundError as error:
            self._status(self.t("missing.no_modelfile", modelfile=str(error)), "bold red")
        except Exception as error:
            self._status(self.t("missing.register_failed", message=str(error)), "bold red")
        else:
            self.app.notify(self.t("missing.registered", model=name), markup=False)
            self.dismiss(name)
            return
        button.disabled = False
