"""The scrolling conversation. Only the newest `PAGE` messages are mounted; a button at
the top mounts the previous page, so a 10,000-message chat costs a few dozen widgets.
It stays scrolled to the bottom while new text arrives, unless the user scrolled up."""

from __future__ import annotations

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Button, Static

from purple.i18n import Catalog
from purple.store import Message
from purple.widgets.message_view import MessageView

PAGE = 40


class MessageList(VerticalScroll):
    def __init__(self, t: Catalog, **kwargs) -> None:
        super().__init__(**kwargs)
        self.t = t
        self.hidden_count = 0
        self._load_earlier = None

    async def show(self, messages: list[Message], hidden_count: int,
                   branches: dict[int, tuple[int, int]] | None = None) -> None:
        """Replace the content with `messages` (the newest page of the branch)."""
        branches = branches or {}
        await self.remove_children()
        self.hidden_count = hidden_count
        widgets = []
        if hidden_count:
            widgets.append(Button(self.t("chat.load_earlier", count=hidden_count),
                                  id="load-earlier", classes="load-earlier"))
        if not messages:
            widgets.append(Static(Text(self.t("chat.empty")), classes="empty-chat", markup=False))
        widgets.extend(MessageView(m, self.t, branches.get(m.id)) for m in messages)
        await self.mount_all(widgets)
        self.anchor()

    async def prepend(self, messages: list[Message], hidden_count: int,
                      branches: dict[int, tuple[int, int]] | None = None) -> None:
        """Mount an earlier page above the current messages."""
        branches = branches or {}
        self.hidden_count = hidden_count
        button = self.query("#load-earlier")
        views = [MessageView(m, self.t, branches.get(m.id)) for m in messages]
        first = self.query(MessageView).first() if self.query(MessageView) else None
        if first is not None:
            await self.mount_all(views, before=first)
        else:
            await self.mount_all(views)
        if button:
            if hidden_count:
                button.first().label = self.t("chat.load_earlier", count=hidden_count)
            else:
                await button.remove()

    async def add(self, message: Message, branch: tuple[int, int] | None = None) -> MessageView:
        for empty in self.query(".empty-chat"):
            await empty.remove()
        view = MessageView(message, self.t, branch)
        await self.mount(view)
        return view

    def views(self) -> list[MessageView]:
        return list(self.query(MessageView))
