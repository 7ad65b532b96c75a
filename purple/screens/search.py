"""Full-text search over every chat; picking a hit opens its chat at that message."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from purple.i18n import Catalog
from purple.safe_text import neutralise, one_line
from purple.store import SearchHit, Store

SEARCH_DELAY_S = 0.15


class SearchScreen(ModalScreen[SearchHit | None]):
    BINDINGS = [Binding("escape", "close", show=False), Binding("down", "focus_results", show=False)]

    def __init__(self, store: Store, t: Catalog, query: str = "") -> None:
        super().__init__(classes="dialog-screen")
        self.store, self.t, self.initial = store, t, query
        self.hits: list[SearchHit] = []
        self._timer = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Static(Text(self.t("search.title"), style="bold"), classes="dialog-title")
            yield Input(self.initial, placeholder=self.t("search.placeholder"), id="query")
            yield Static("", id="search-count", markup=False)
            yield OptionList(id="results")

    def on_mount(self) -> None:
        if self.initial:
            self.run_search(self.initial)

    def on_input_changed(self, event: Input.Changed) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(SEARCH_DELAY_S, lambda: self.run_search(event.value))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if self._timer is not None:
            self._timer.stop()
        self.run_search(event.value)
        self.action_focus_results()

    def run_search(self, query: str) -> None:
        self.hits = self.store.search(query) if query.strip() else []
        results = self.query_one(OptionList)
        results.clear_options()
        for index, hit in enumerate(self.hits):
            line = Text(one_line(hit.chat_title, 30) or "—", style="bold")
            line.append("  ")
            line.append(neutralise(hit.snippet))
            results.add_option(Option(line, id=str(index)))
        if self.hits:
            results.highlighted = 0
        count = self.t("search.results", count=len(self.hits)) if self.hits else (
            self.t("search.none") if query.strip() else "")
        self.query_one("#search-count", Static).update(Text(count))

    def action_focus_results(self) -> None:
        if self.hits:
            results = self.query_one(OptionList)
            if results.highlighted is None:
                results.highlighted = 0
            results.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.hits[int(event.option.id)])

    def action_close(self) -> None:
        self.dismiss(None)
