"""One chat's conversation logic, free of any UI: what to send, streaming into the store,
stopping, regenerating, editing, and the numbers shown after each reply.

The screen calls `send`, `regenerate` or `edit`, each of which adds the user message (if
any) and then streams the assistant reply with `stream_reply`. Cancelling the task that
runs `stream_reply` (Esc) closes the chat iterator, which closes the HTTP connection, so
the server stops generating; the partial reply is kept with status 'stopped'.

The request goes out first: `on_start` (the screen mounting the reply view) runs alongside
it, and chunks that arrive before it is done are saved at once and handed to `on_chunk`
as soon as it is.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from dataclasses import asdict, dataclass
from typing import Awaitable, Callable

from purple.config import ChatOptions
from purple.safe_text import has_replacement_char
from purple.store import (
    STATUS_COMPLETE,
    STATUS_ERROR,
    STATUS_STOPPED,
    STATUS_STREAMING,
    Message,
    Store,
)
from training.ollama_client import OllamaError

DEFAULT_NUM_CTX = 4096  # Ollama's default context when num_ctx is not set
CONTEXT_WARNING_FRACTION = 0.8
TITLE_LENGTH = 48


def trained_context(show: dict) -> int | None:
    """The context length a model was trained for: `*.context_length` of its /api/show model_info."""
    return next((v for k, v in (show.get("model_info") or {}).items() if k.endswith(".context_length")), None)


def context_from_show(show: dict, chat_num_ctx: int | None) -> int:
    """The context Ollama serves a model with, from its /api/show: the chat's num_ctx, else the Modelfile's, else
    Ollama's default, capped at the trained context length."""
    settings = [line.split() for line in (show.get("parameters") or "").splitlines()]
    modelfile_ctx = next((int(words[1]) for words in settings if words[:1] == ["num_ctx"] and len(words) == 2), None)
    asked = chat_num_ctx or modelfile_ctx or DEFAULT_NUM_CTX
    trained = trained_context(show)
    return min(asked, int(trained)) if trained else asked


@dataclass
class ReplyStats:
    """Figures of one finished reply, from the final chunk of the stream."""

    tokens: int = 0
    tokens_per_s: float = 0.0
    ttft_s: float = 0.0
    total_s: float = 0.0
    prompt_tokens: int = 0
    num_ctx: int = DEFAULT_NUM_CTX
    done_reason: str = ""
    replacement_chars: bool = False

    @property
    def context_used(self) -> int:
        return self.prompt_tokens + self.tokens

    @property
    def context_fraction(self) -> float:
        return self.context_used / self.num_ctx if self.num_ctx else 0.0

    @property
    def context_full(self) -> bool:
        """The server is (or will next turn be) dropping the oldest messages."""
        return self.context_used >= self.num_ctx

    @property
    def context_near(self) -> bool:
        return self.context_fraction >= CONTEXT_WARNING_FRACTION

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ReplyStats | None":
        if not data:
            return None
        known = {key: data[key] for key in cls.__dataclass_fields__ if key in data}
        return cls(**known)

    @classmethod
    def from_final_chunk(cls, chunk, *, ttft_s: float, wall_s: float, num_ctx: int,
                         text: str) -> "ReplyStats":
        tokens = chunk.eval_count or 0
        eval_s = (chunk.eval_duration_ns or 0) / 1e9
        total_s = (chunk.total_duration_ns or 0) / 1e9 or wall_s
        return cls(
            tokens=tokens,
            tokens_per_s=tokens / eval_s if eval_s > 0 else 0.0,
            ttft_s=ttft_s,
            total_s=total_s,
            prompt_tokens=chunk.prompt_eval_count or 0,
            num_ctx=num_ctx,
            done_reason=chunk.done_reason or "",
            replacement_chars=has_replacement_char(text),
        )


@dataclass
class ReplyOutcome:
    message_id: int
    status: str
    stats: ReplyStats | None = None
    error: Exception | None = None


ChunkCallback = Callable[[str, str], Awaitable[None] | None]
StartCallback = Callable[[Message], Awaitable[None] | None]


async def _call(callback, *args) -> None:
    if callback is None:
        return
    result = callback(*args)
    if inspect.isawaitable(result):
        await result


class _ReplyDisplay:
    """Runs `on_start` as a task beside the request; until it is done, chunks are kept here
    and then passed on together, in order, before any later chunk."""

    def __init__(self, on_start: StartCallback | None, on_chunk: ChunkCallback | None,
                 message: Message) -> None:
        self.on_chunk = on_chunk
        self.content: list[str] = []
        self.thinking: list[str] = []
        self.ready = on_start is None
        self.task = None if on_start is None else asyncio.ensure_future(self._start(on_start, message))

    async def _start(self, on_start: StartCallback, message: Message) -> None:
        await _call(on_start, message)
        while self.content or self.thinking:  # more may come in while on_chunk runs
            content, thinking = "".join(self.content), "".join(self.thinking)
            self.content.clear()
            self.thinking.clear()
            await _call(self.on_chunk, content, thinking)
        self.ready = True

    async def chunk(self, content: str, thinking: str) -> None:
        if self.ready:
            await _call(self.on_chunk, content, thinking)
        else:
            self.content.append(content)
            self.thinking.append(thinking)

    async def wait(self) -> None:
        """Until everything is shown; raises what `on_start` raised."""
        if self.task is not None:
            await asyncio.shield(self.task)  # a stop cancels the reply, not the display

    async def settle(self) -> None:
        """As `wait`, when another outcome is already decided: errors are not raised again,
        and the display is finished even if this task is cancelled meanwhile."""
        if self.task is not None:
            try:
                await asyncio.shield(self.task)
            except Exception:
                pass


def title_from(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= TITLE_LENGTH else line[: TITLE_LENGTH - 1].rstrip() + "…"


class ChatSession:
    """Talks to the model on behalf of one stored chat."""

    def __init__(self, store: Store, client, chat_id: int, default_model: str = "") -> None:
        self.default_model = default_model
        self.store = store
        self.client = client
        self.chat_id = chat_id

    @property
    def chat(self):
        return self.store.get_chat(self.chat_id)

    @property
    def options(self) -> ChatOptions:
        return ChatOptions.model_validate(self.chat.options)

    def history(self, leaf_id: int | None) -> list[dict]:
        """The messages sent to the model: system prompt plus the branch ending at `leaf_id`."""
        chat = self.chat
        messages = [{"role": "system", "content": chat.system}] if chat.system else []
        for message in self.store.path_to(leaf_id):
            if message.role in ("user", "assistant") and message.content:
                messages.append({"role": message.role, "content": message.content})
        return messages

    # ------------------------------------------------------------------ actions
    def add_user_message(self, text: str, parent_id: int | None) -> int:
        chat = self.chat
        if not chat.title:
            self.store.rename_chat(self.chat_id, title_from(text))
        return self.store.add_message(self.chat_id, parent_id, "user", text)

    def send_target(self, text: str) -> int:
        """Add `text` after the current leaf; returns the new user message id."""
        return self.add_user_message(text, self.chat.current_leaf)

    def edit_target(self, message_id: int, text: str) -> int:
        """A new user message beside `message_id` (the old branch stays in the tree)."""
        original = self.store.get_message(message_id)
        return self.add_user_message(text, original.parent_id)

    def regenerate_target(self) -> int | None:
        """The user message whose reply should be generated again, or None."""
        leaf = self.chat.current_leaf
        if leaf is None:
            return None
        message = self.store.get_message(leaf)
        if message.role == "assistant":
            return message.parent_id
        return message.id if message.role == "user" else None

    def last_user_message(self) -> Message | None:
        for message in reversed(self.store.active_path(self.chat_id)):
            if message.role == "user":
                return message
        return None

    def switch_branch(self, message_id: int, step: int) -> int | None:
        """Show the previous (-1) or next (+1) alternative of `message_id`; returns its id."""
        siblings = self.store.siblings(message_id)
        index = siblings.index(message_id) + step
        if not 0 <= index < len(siblings):
            return None
        target = siblings[index]
        self.store.set_current_leaf(self.chat_id, self.store.deepest_leaf(target))
        return target

    # ---------------------------------------------------------------- streaming
    async def _served_context(self, model: str) -> int | None:
        """The context window the server loaded `model` with (`/api/ps`): the Modelfile's num_ctx, the chat's,
        or Ollama's default, capped at what the model was trained for. A model served by a runner loaded under
        another name (two names for one GGUF share it) is not in /api/ps under its own: then the same figure
        comes from `/api/show`. None if the server says neither."""
        name = model if ":" in model else f"{model}:latest"
        try:
            running = await self.client.ps()
        except OllamaError:
            running = []
        served = next((m.get("context_length") for m in running if name in (m.get("name"), m.get("model"))), None)
        if served:
            return served
        try:
            return context_from_show(await self.client.show(model), self.options.num_ctx)
        except OllamaError:
            return None

    async def stream_reply(
        self,
        parent_id: int,
        *,
        on_start: StartCallback | None = None,
        on_chunk: ChunkCallback | None = None,
        on_finish: Callable[[ReplyOutcome], Awaitable[None] | None] | None = None,
    ) -> ReplyOutcome:
        """Stream the reply to the user message `parent_id`, saving every chunk.

        Errors from the client are recorded on the message and re-raised after `on_finish`
        (ServerUnavailable and ModelNotFound are the caller's to show as screens).
        """
        chat = self.chat
        options = self.options
        messages = self.history(parent_id)
        model = chat.model or self.default_model
        reply_id = self.store.add_message(
            self.chat_id, parent_id, "assistant", "", status=STATUS_STREAMING, model=model
        )
        started = time.perf_counter()
        ttft: float | None = None
        text_parts: list[str] = []
        final = None
        outcome = ReplyOutcome(reply_id, STATUS_STREAMING)
        stream = self.client.chat(
            model,
            messages,
            options=options.ollama_options() or None,
            keep_alive=options.keep_alive,
        )
        if inspect.isawaitable(stream):
            stream = await stream
        display = _ReplyDisplay(on_start, on_chunk, self.store.get_message(reply_id))
        try:
            async for chunk in stream:  # the first step sends the request
                if ttft is None and (chunk.content or chunk.thinking):
                    ttft = time.perf_counter() - started
                if chunk.content or chunk.thinking:
                    self.store.append_chunk(reply_id, chunk.content, chunk.thinking)
                    text_parts.append(chunk.content)
                    await display.chunk(chunk.content, chunk.thinking)
                if chunk.done:
                    final = chunk
                    break
            await display.wait()
            text = "".join(text_parts)
            stats = None
            if final is not None:
                wall_s = time.perf_counter() - started
                num_ctx = await self._served_context(model) or options.num_ctx or DEFAULT_NUM_CTX
                stats = ReplyStats.from_final_chunk(final, ttft_s=ttft or 0.0, wall_s=wall_s, num_ctx=num_ctx,
                                                    text=text)
            outcome = ReplyOutcome(reply_id, STATUS_COMPLETE, stats)
        except asyncio.CancelledError:
            outcome = ReplyOutcome(reply_id, STATUS_STOPPED)
            raise
        except Exception as error:  # recorded on the message, then re-raised
            outcome = ReplyOutcome(reply_id, STATUS_ERROR, error=error)
            raise
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                try:
                    await asyncio.shield(aclose())
                except Exception:
                    pass
            self.store.finish_message(
                reply_id, outcome.status, outcome.stats.to_dict() if outcome.stats else None
            )
            await display.settle()
            await _call(on_finish, outcome)
        return outcome
