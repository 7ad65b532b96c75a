"""The sidebar list of chats (an OptionList: cheap with thousands of entries).

Only the first page is added before the first paint; the rest follow a page per refresh,
so a long history does not delay start-up or switching chats."""

from __future__ import annotations

from typing import Callable

from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from purple.safe_text import one_line, plain
from purple.store import ChatSummary

FIRST_PAGE = 60  # more rows than a terminal shows
PAGE = 250

# load(after, limit): up to `limit` chats listed after `after` (None: from the newest)
Loader = Callable[[ChatSummary | None, int], list[ChatSummary]]


class ChatList(OptionList):
    class ChatChosen(Message):
        def __init__(self, chat_id: int) -> None:
            super().__init__()
            self.chat_id = chat_id

    def __init__(self, untitled: str, load: Loader, **kwargs) -> None:
        super().__init__(**kwargs)
        self.untitled = untitled
        self.load = load
        self._generation = 0  # a new `show` abandons the pages still due from the last one

    def show(self, current: int | None) -> None:
        """Refill the list, highlighting chat `current` once its page is in."""
        self._generation += 1
        self.clear_options()
        self._add_page(self._generation, None, current, FIRST_PAGE)

    def _add_page(self, generation: int, after: ChatSummary | None, current: int | None,
                  size: int = PAGE) -> None:
        if generation != self._generation or not self.is_attached:
            return
        chats = self.load(after, size)
        self.add_options(
            Option(plain(one_line(chat.title, 40) or self.untitled), id=str(chat.id))
            for chat in chats
        )
        if current is not None and any(chat.id == current for chat in chats):
            self.select(current)
        if len(chats) == size:
            self.call_after_refresh(self._add_page, generation, chats[-1], current)

    def select(self, chat_id: int) -> None:
        try:
            self.highlighted = self.get_option_index(str(chat_id))
        except Exception:
            self.highlighted = None

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.post_message(self.ChatChosen(int(event.option.id)))
