"""Every key binding (after the config's remapping) in one table."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from purple.i18n import Catalog
from purple.screens.actions import ACTIONS, effective_keys


def bindings_table(t: Catalog, keymap: dict[str, str]) -> Table:
    table = Table(show_edge=False, expand=True)
    table.add_column(t("help.key"), no_wrap=True)
    table.add_column(t("help.action"))
    keys = effective_keys(keymap)
    for action in ACTIONS:
        shown = keys[action.id] or "Ctrl+P"
        table.add_row(Text(shown), Text(t(f"actions.{action.id}")))
    table.add_row(Text("ctrl+p"), Text("Command palette"))
    table.add_row(Text("ctrl+q"), Text(t("actions.quit")))
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,f1,q", "close", show=False)]

    def __init__(self, t: Catalog, keymap: dict[str, str], config_path: str) -> None:
        super().__init__(classes="dialog-screen")
        self.t, self.keymap, self.config_path = t, keymap, config_path

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Static(Text(self.t("help.title"), style="bold"), classes="dialog-title")
            with VerticalScroll():
                yield Static(bindings_table(self.t, self.keymap))
                yield Static(Text(self.t("help.input_keys")), classes="hint")
                yield Static(Text(self.t("help.intro", path=self.config_path)), classes="hint")
            yield Button(self.t("help.close"), id="close")

    def on_button_pressed(self) -> None:
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)
