"""An in-process stand-in for `OllamaClient`, for UI and session tests that need exact,
repeatable replies. It follows the client's API; HTTP-level faults are tested against
`fake_server.py` with the real client, and real behaviour against the `ollama` fixture."""

from __future__ import annotations

import asyncio

from training.ollama_client import ChatChunk, ModelNotFound, ServerUnavailable

HOST = "http://127.0.0.1:11434"


def final_chunk(tokens: int = 5, prompt: int = 20, **extra) -> ChatChunk:
    values = dict(done=True, done_reason="stop", prompt_eval_count=prompt, eval_count=tokens,
                  eval_duration_ns=500_000_000, prompt_eval_duration_ns=10_000_000,
                  total_duration_ns=700_000_000, load_duration_ns=1_000_000)
    values.update(extra)
    return ChatChunk(**values)


class FakeClient:
    host = HOST

    def __init__(self, replies=None, *, models=("polski-mini:latest",), delay: float = 0.0,
                 down: bool = False, first_token_delay: float = 0.0) -> None:
        self.replies = list(replies or [])  # each: list[str] pieces, or list[ChatChunk]
        self.models = list(models)
        self.delay = delay
        self.first_token_delay = first_token_delay
        self.down = down
        self.requests: list[dict] = []
        self.closed_streams = 0
        self.finished_streams = 0
        self.thinking: list[str] = []
        self.final = final_chunk()

    def _check(self) -> None:
        if self.down:
            raise ServerUnavailable(f"cannot reach Ollama at {self.host}; start it with `ollama serve`")

    async def version(self) -> str:
        self._check()
        return "0.0.0-fake"

    async def tags(self) -> list[dict]:
        self._check()
        return [{"name": name, "model": name, "size": 12_345_678,
                 "details": {"family": "llama", "parameter_size": "8M",
                             "quantization_level": "Q8_0"}} for name in self.models]

    async def show(self, model: str) -> dict:
        self._check()
        return {"model_info": {"llama.context_length": 1024}, "template": "{{ .Prompt }}",
                "capabilities": ["completion"]}

    async def ps(self) -> list[dict]:
        self._check()
        return [{"name": self.models[0]}] if self.models else []

    async def chat(self, model, messages, *, options=None, keep_alive=None, think=None,
                   system=None):
        self._check()
        if not any(model in (name, name.split(":")[0]) for name in self.models):
            raise ModelNotFound(model, self.host)
        self.requests.append({"model": model, "messages": messages, "options": options,
                              "keep_alive": keep_alive})
        pieces = self.replies.pop(0) if self.replies else ["Dzień ", "dobry!"]
        try:
            if self.first_token_delay:
                await asyncio.sleep(self.first_token_delay)
            for index, thought in enumerate(self.thinking):
                yield ChatChunk(thinking=thought)
            for piece in pieces:
                if self.delay:
                    await asyncio.sleep(self.delay)
                yield piece if isinstance(piece, ChatChunk) else ChatChunk(content=piece)
            yield self.final
            self.finished_streams += 1
        finally:
            self.closed_streams += 1

    async def aclose(self) -> None:
        pass
