"""The model picker: the server's models with details from /api/show and /api/ps."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, OptionList, Static
from textual.widgets.option_list import Option

from purple.chat_session import trained_context
from purple.i18n import Catalog
from purple.safe_text import neutralise


def human_size(size: int | None) -> str:
    if not size:
        return "?"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return "?"


def details_table(t: Catalog, tag: dict, show: dict | None, loaded: bool) -> Table:
    details = tag.get("details") or {}
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    rows = [
        (t("models.family"), details.get("family") or "?"),
        (t("models.size"), human_size(tag.get("size"))),
        (t("models.parameters"), details.get("parameter_size") or "?"),
        (t("models.quantization"), details.get("quantization_level") or "?"),
    ]
    if show is not None:
        rows.append((t("models.context"), str(trained_context(show) or "?")))
        rows.append((t("models.capabilities"), ", ".join(show.get("capabilities") or []) or "?"))
    if loaded:
        rows.append((t("models.loaded"), "✓"))
    for name, value in rows:
        table.add_row(Text(name), Text(neutralise(str(value))))
    if show is not None and show.get("template"):
        table.add_row(Text(t("models.template")), Text(neutralise(show["template"][:600])))
    return table


class ModelsScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", show=False)]

    def __init__(self, client, t: Catalog, current: str = "") -> None:
        super().__init__(classes="dialog-screen")
        self.client, self.t, self.current = client, t, current
        self.tags: dict[str, dict] = {}
        self.loaded: set[str] = set()
        self.shown: dict[str, dict] = {}

    def compose(self) -> ComposeResult:
        host = getattr(self.client, "host", "")
        with Vertical(classes="dialog wide"):
            yield Static(Text(self.t("models.title", host=host), style="bold"), classes="dialog-title")
            with Horizontal(classes="models-body"):
                yield OptionList(id="model-list")
                yield Static(Text(self.t("models.loading")), id="model-details")
            with Horizontal(classes="buttons"):
                yield Button(self.t("models.choose"), id="choose", variant="primary")
                yield Button(self.t("models.cancel"), id="cancel")

    def on_mount(self) -> None:
        self.load_models()

    @work(exclusive=True, group="models")
    async def load_models(self) -> None:
        details = self.query_one("#model-details", Static)
        try:
            tags = await self.client.tags()
            loaded = await self.client.ps()
        except Exception as error:  # shown, not raised: the picker stays usable
            details.update(Text(self.t("models.error", message=neutralise(str(error))), "bold red"))
            return
        self.tags = {tag["name"]: tag for tag in tags}
        self.loaded = {model.get("name") for model in loaded}
        names = sorted(self.tags)
        options = self.query_one(OptionList)
        for name in names:
            label = Text(neutralise(name))
            if name in self.loaded:
                label.append(f"  ({self.t('models.loaded')})", style="dim")
            options.add_option(Option(label, id=name))
        if not names:
            details.update(Text(self.t("models.none")))
            return
        current = next((n for n in names if n in (self.current, f"{self.current}:latest")), names[0])
        options.highlighted = names.index(current)
        options.focus()

    async def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self.show_details(event.option.id)

    @work(exclusive=True, group="details")
    async def show_details(self, name: str) -> None:
        if name not in self.shown:
            try:
                self.shown[name] = await self.client.show(name)
            except Exception:
                self.shown[name] = {}
        self.query_one("#model-details", Static).update(
            details_table(self.t, self.tags[name], self.shown[name], name in self.loaded))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "choose":
            options = self.query_one(OptionList)
            if options.highlighted is not None:
                self.dismiss(options.get_option_at_index(options.highlighted).id)
                return
        self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
