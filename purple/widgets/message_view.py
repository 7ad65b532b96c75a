"""One message on screen: a header, the collapsed thinking, the body, a status line.

Assistant replies are Markdown (code highlighted). While streaming, chunks are collected
and appended with `Markdown.append` (only the last block is re-parsed), one render at a
time and at a bounded rate: a render costs a layout of the whole reply, which grows with
its length, so the pause between renders grows with the measured cost of the last one
(see `_rendered`). User messages are shown as literal text.
Nothing from the model is ever parsed as Textual markup, and links do not open.
"""

from __future__ import annotations

import re
import time

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message as TextualMessage
from textual.widgets import Collapsible, Markdown, Static

from purple.chat_session import ReplyStats
from purple.i18n import Catalog
from purple.safe_text import has_replacement_char, neutralise, plain
from purple.store import (
    STATUS_ERROR,
    STATUS_INTERRUPTED,
    STATUS_STOPPED,
    STATUS_STREAMING,
    Message,
)

_CODE_BLOCK = re.compile(r"```[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
THINKING_REFRESH_S = 0.1
RENDER_INTERVAL_S = 0.05  # chunks arriving faster are rendered together
RENDER_BACKOFF = 1.0  # pause >= the last render (wall time): renders take at most half the time


def last_code_block(markdown: str) -> str | None:
    blocks = _CODE_BLOCK.findall(markdown)
    return blocks[-1].rstrip("\n") if blocks else None


def stats_line(t: Catalog, stats: ReplyStats) -> str:
    return t("stats.reply", tokens=stats.tokens, rate=stats.tokens_per_s, ttft=stats.ttft_s,
             total=stats.total_s)


class MessageView(Vertical, can_focus=True):
    """Focus a message (click or Tab) to copy it (c), edit it (e) or switch versions (←/→)."""

    BINDINGS = [
        Binding("c", "copy", "copy", show=False),
        Binding("e", "edit", "edit", show=False),
        Binding("left", "branch(-1)", show=False),
        Binding("right", "branch(1)", show=False),
    ]

    class EditRequested(TextualMessage):
        def __init__(self, message_id: int) -> None:
            super().__init__()
            self.message_id = message_id

    class BranchRequested(TextualMessage):
        def __init__(self, message_id: int, step: int) -> None:
            super().__init__()
            self.message_id = message_id
            self.step = step

    def __init__(self, message: Message, t: Catalog, branch: tuple[int, int] | None = None) -> None:
        super().__init__(classes=f"message {message.role}")
        self.message = message
        self.t = t
        self.branch = branch
        self.content = neutralise(message.content)
        self.thinking = neutralise(message.thinking)
        self._pending: list[str] = []
        self._flush_timer = None
        self._rendering = False  # appended, not yet painted
        self._render_interval = RENDER_INTERVAL_S
        self._thinking_shown_at = 0.0

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield Static(self._header(), classes="message-header", markup=False)
        if self.message.role == "assistant":
            with Collapsible(title=self.t("chat.thinking"), collapsed=True,
                             classes="thinking") as box:
                box.display = bool(self.thinking)
                yield Static(plain(self.thinking), classes="thinking-text", markup=False)
            yield Markdown(self.content, classes="message-body", open_links=False)
        else:
            yield Static(plain(self.content), classes="message-body", markup=False)
        yield Static("", classes="message-status", markup=False)

    def on_mount(self) -> None:
        self._show_status(self.message.status, ReplyStats.from_dict(self.message.stats))

    def _header(self) -> Text:
        names = {"user": "chat.you", "assistant": "chat.assistant", "system": "chat.system"}
        header = Text(self.t(names.get(self.message.role, "chat.system")), style="bold")
        if self.message.role == "assistant" and self.message.model:
            header.append(f"  {neutralise(self.message.model)}", style="dim")
        if self.branch and self.branch[1] > 1:
            header.append("  " + self.t("chat.branch", index=self.branch[0], count=self.branch[1]),
                          style="dim")
        return header

    def _show_status(self, status: str, stats: ReplyStats | None, error: str = "") -> None:
        parts: list[tuple[str, str]] = []
        if stats is not None:
            parts.append((stats_line(self.t, stats), "dim"))
        if status == STATUS_STOPPED:
            parts.append((self.t("chat.stopped"), "bold yellow"))
        elif status == STATUS_INTERRUPTED:
            parts.append((self.t("chat.interrupted"), "bold yellow"))
        elif status == STATUS_ERROR:
            parts.append((self.t("chat.error", message=neutralise(error) or "?"), "bold red"))
        if self.message.role == "assistant" and has_replacement_char(self.content):
            parts.append((self.t("chat.replacement_chars"), "bold red"))
            self.add_class("replacement")
        self.set_class(status == STATUS_STOPPED, "stopped")
        line = Text()
        for index, (text, style) in enumerate(parts):
            if index:
                line.append("  ·  ")
            line.append(text, style)
        status_widget = self.query_one(".message-status", Static)
        status_widget.update(line)
        status_widget.display = bool(parts)

    # --------------------------------------------------------------- streaming
    async def append(self, content: str, thinking: str = "") -> None:
        if thinking:
            self.thinking += neutralise(thinking)
            now = time.monotonic()
            if now - self._thinking_shown_at >= THINKING_REFRESH_S:
                self._refresh_thinking()
                self._thinking_shown_at = now
        if content:
            content = neutralise(content)
            self.content += content
            self._pending.append(content)
            self._schedule_render()

    def _schedule_render(self) -> None:
        if self._flush_timer is None and not self._rendering:
            self._flush_timer = self.set_timer(self._render_interval, self._flush)

    async def _flush(self) -> None:
        self._flush_timer = None
        if not self._pending:
            return
        text = "".join(self._pending)
        self._pending.clear()
        self._rendering = True
        started = time.perf_counter()
        await self.query_one(Markdown).append(text)
        self.call_after_refresh(self._rendered, started)

    def _rendered(self, started: float) -> None:
        """The appended text is on screen; wait in proportion to what that cost."""
        self._rendering = False
        cost = time.perf_counter() - started
        self._render_interval = max(RENDER_INTERVAL_S, RENDER_BACKOFF * cost)
        if self._pending:
            self._schedule_render()

    def _refresh_thinking(self) -> None:
        box = self.query_one(Collapsible)
        box.display = bool(self.thinking)
        self.query_one(".thinking-text", Static).update(plain(self.thinking))

    async def finish(self, status: str, stats: ReplyStats | None, error: str = "") -> None:
        if self._flush_timer is not None:
            self._flush_timer.stop()
            self._flush_timer = None
        # status first: it is laid out together with the last text, in one pass of the reply
        if self.thinking:
            self._refresh_thinking()
        self.message.status = status
        self._show_status(status, stats, error)
        await self._flush()

    @property
    def streaming(self) -> bool:
        return self.message.status == STATUS_STREAMING

    # ----------------------------------------------------------------- actions
    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.content)
        self.app.notify(self.t("chat.copied"), markup=False)

    def action_edit(self) -> None:
        if self.message.role == "user":
            self.post_message(self.EditRequested(self.message.id))

    def action_branch(self, step: int) -> None:
        self.post_message(self.BranchRequested(self.message.id, step))
