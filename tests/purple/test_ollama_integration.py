"""Purple against the real `ollama serve` fixture and the tiny trained Polish model."""

from __future__ import annotations

import pytest

from purple.chat_session import ChatSession
from training.ollama_client import OllamaClient
from purple.store import STATUS_COMPLETE, Store
from purple.widgets.message_view import MessageView
from training.config import load_config

from .helpers import make_app, type_and_send, wait_until

pytestmark = pytest.mark.ollama


async def test_session_streams_real_reply_with_stats(tmp_path, ollama_server, ollama_model):
    store = Store(tmp_path / "db")
    chat = store.create_chat(model=ollama_model, options={"num_predict": 16, "seed": 1,
                                                          "num_ctx": 256})
    async with OllamaClient(ollama_server.url) as client:
        session = ChatSession(store, client, chat)
        outcome = await session.stream_reply(session.send_target("Dzień dobry!"))
    assert outcome.status == STATUS_COMPLETE
    assert 0 < outcome.stats.tokens <= 16 and outcome.stats.prompt_tokens > 0
    assert store.get_message(outcome.message_id).content
    # the chat asked for 256; Ollama caps num_ctx at the model's trained context, and the gauge follows it
    assert outcome.stats.num_ctx == load_config("polski-tiny").model.context_length


async def test_app_chat_with_real_model(tmp_path, ollama_server, ollama_model):
    client = OllamaClient(ollama_server.url)
    app = make_app(tmp_path, client, model=ollama_model)
    async with app.run_test(size=(110, 40)) as pilot:
        await type_and_send(pilot, "Opowiedz o Polsce.")
        await wait_until(pilot, lambda: len(app.screen.query(MessageView)) == 2
                         and not app.screen.streaming, timeout=60)
        reply = app.store.active_path(app.screen.chat_id)[-1]
        assert reply.status == STATUS_COMPLETE and reply.stats["tokens"] > 0
        # no num_ctx in the chat: the context gauge counts against the Modelfile's, not Ollama's default 4096
        assert reply.stats["num_ctx"] == load_config("polski-tiny").model.context_length
