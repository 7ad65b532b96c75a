"""Per-chat settings: model, system prompt and generation parameters."""

from __future__ import annotations

from pydantic import ValidationError
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static, TextArea

from purple.config import PARAMETER_NAMES, ChatOptions
from purple.i18n import Catalog
from purple.store import Chat

FLOAT_FIELDS = {"temperature", "top_p", "min_p", "repeat_penalty"}


def parse_parameters(values: dict[str, str]) -> ChatOptions:
    """Text fields -> ChatOptions; empty means 'model default'. Raises ValueError(name, msg)."""
    data: dict = {}
    for name, raw in values.items():
        raw = raw.strip()
        if not raw:
            continue
        if name == "keep_alive":
            data[name] = raw
            continue
        try:
            data[name] = float(raw.replace(",", ".")) if name in FLOAT_FIELDS else int(raw)
        except ValueError:
            raise ValueError(name, raw) from None
    try:
        return ChatOptions.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        raise ValueError(str(first["loc"][0]), first["msg"]) from None


class SettingsScreen(ModalScreen[dict | None]):
    BINDINGS = [Binding("escape", "cancel", show=False)]

    def __init__(self, chat: Chat, t: Catalog) -> None:
        super().__init__(classes="dialog-screen")
        self.chat, self.t = chat, t

    def compose(self) -> ComposeResult:
        options = self.chat.options
        with Vertical(classes="dialog wide"):
            yield Static(Text(self.t("settings.title"), style="bold"), classes="dialog-title")
            with VerticalScroll():
                yield Label(self.t("settings.model"))
                yield Input(self.chat.model, id="model")
                yield Label(self.t("settings.system"))
                yield TextArea(self.chat.system, id="system", classes="system-prompt")
                with Grid(classes="parameters"):
                    for name in PARAMETER_NAMES:
                        value = options.get(name)
                        yield Label(name)
                        yield Input("" if value is None else str(value), id=f"param-{name}",
                                    placeholder=self.t("settings.default"))
            yield Static("", id="settings-error", markup=False)
            with Horizontal(classes="buttons"):
                yield Button(self.t("settings.save"), id="save", variant="primary")
                yield Button(self.t("settings.cancel"), id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id != "save":
            self.dismiss(None)
            return
        values = {name: self.query_one(f"#param-{name}", Input).value for name in PARAMETER_NAMES}
        try:
            options = parse_parameters(values)
        except ValueError as error:
            name, message = error.args
            self.query_one("#settings-error", Static).update(
                Text(self.t("settings.invalid", name=name, message=message), style="bold red"))
            return
        self.dismiss({
            "model": self.query_one("#model", Input).value.strip() or self.chat.model,
            "system": self.query_one("#system", TextArea).text,
            "options": options.model_dump(exclude_none=True),
        })

    def action_cancel(self) -> None:
        self.dismiss(None)
