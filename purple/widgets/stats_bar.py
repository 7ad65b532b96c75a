"""One line under the chat: model, state, and the context gauge of the last reply."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from purple.chat_session import ReplyStats
from purple.i18n import Catalog
from purple.safe_text import neutralise


def context_text(t: Catalog, stats: ReplyStats) -> tuple[str, str]:
    """The gauge text and its style class ('' / 'near' / 'full')."""
    values = dict(used=stats.context_used, num_ctx=stats.num_ctx,
                  percent=100 * stats.context_fraction)
    if stats.context_full:
        return t("stats.context_full", **values), "full"
    if stats.context_near:
        return t("stats.context_near", **values), "near"
    return t("stats.context", **values), ""


class StatsBar(Static):
    def __init__(self, t: Catalog, **kwargs) -> None:
        super().__init__("", markup=False, **kwargs)
        self.t = t
        self.model = ""
        self.streaming = False
        self.stats: ReplyStats | None = None

    def show(self, *, model: str | None = None, streaming: bool | None = None,
             stats: ReplyStats | None | bool = False) -> None:
        """Update any of the parts; `stats=False` leaves the gauge as it is."""
        if model is not None:
            self.model = model
        if streaming is not None:
            self.streaming = streaming
        if stats is not False:
            self.stats = stats
        self.remove_class("near", "full")
        line = Text()
        line.append(neutralise(self.t("stats.model", model=self.model)), "bold")
        line.append("  ·  ")
        line.append(self.t("stats.streaming") if self.streaming else self.t("stats.ready"))
        if self.stats is not None:
            gauge, level = context_text(self.t, self.stats)
            line.append("  ·  ")
            line.append(gauge)
            if level:
                self.add_class(level)
        self.update(line)
