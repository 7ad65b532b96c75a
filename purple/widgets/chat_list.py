"""The sidebar list of chats (an OptionList: cheap with thousands of entries)."""

from __future__ import annotations

from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from purple.safe_text import one_line, plain
from purple.store import ChatSummary


FIRST_BATCH = 60


class ChatList(OptionList):
    class ChatChosen(Message):
        def __init__(self, chat_id: int) -> None:
            super().__init__()
            self.chat_id = chat_id

    def __init__(self, untitled: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.untitled = untitled

    def show(self, chats: list[ChatSummary], current: int | None) -> None:
        """Fill the list; beyond `FIRST_BATCH` entries the rest follow after the first paint."""
        self.clear_options()
        self._add(chats[:FIRST_BATCH])
        if len(chats) > FIRST_BATCH:
            self.call_after_refresh(self._add_rest, chats[FIRST_BATCH:], current)
        if current is not None:
            self.select(current)

    def _add(self, chats: list[ChatSummary]) -> None:
        self.add_options(
            Option(plain(one_line(chat.title, 40) or self.untitled), id=str(chat.id))
            for chat in chats
        )

    def _add_rest(self, chats: list[ChatSummary], current: int | None) -> None:
        self._add(chats)
        if current is not None:
            self.select(current)

    def select(self, chat_id: int) -> None:
        try:
            self.highlighted = self.get_option_index(str(chat_id))
        except Exception:
            self.highlighted = None

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.post_message(self.ChatChosen(int(event.option.id)))
