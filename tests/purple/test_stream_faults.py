"""HTTP-level faults through the real client and ChatSession, against fake_server.py."""

from __future__ import annotations

import asyncio

import pytest

from purple.chat_session import ChatSession
from training.ollama_client import OllamaClient, StreamError
from purple.store import STATUS_COMPLETE, STATUS_ERROR, STATUS_STOPPED, Store

from .fake_server import FakeOllama, Script


async def run(tmp_path, script: Script):
    store = Store(tmp_path / "db")
    chat = store.create_chat(model="fake")
    async with FakeOllama(script) as server:
        client = OllamaClient(server.url, timeout=5)
        session = ChatSession(store, client, chat)
        try:
            outcome = await session.stream_reply(session.send_target("q"))
            return store, outcome, None, server
        except Exception as error:
            return store, None, error, server
        finally:
            await client.aclose()


@pytest.mark.parametrize("fault", ["error", "cut", "malformed"])
async def test_fault_mid_stream_keeps_partial(tmp_path, fault):
    store, outcome, error, _ = await run(tmp_path, Script(["Ala ", "ma ", "kota"], fault=fault,
                                                          fault_after=2))
    assert isinstance(error, StreamError)
    reply = store.get_message(store.get_chat(1).current_leaf)
    assert reply.status == STATUS_ERROR and reply.content == "Ala ma "


async def test_stream_ended_by_ollamas_repeat_limit_names_the_fix(tmp_path):
    # what a real Ollama 0.24 sent for a greedy polski-mini reply: 31 "R" pieces, then the end, no `done`
    pieces = ["Jeden", " z", " posłów", " P", "PS"] + ["R"] * 31
    store, _, error, server = await run(tmp_path, Script(pieces + ["x"], fault="end", fault_after=len(pieces)))
    assert isinstance(error, StreamError) and not error.retryable
    assert "repeated 'R' 31 times" in str(error) and "repeat_penalty" in str(error)
    assert len(server.requests) == 1
    reply = store.get_message(store.get_chat(1).current_leaf)
    assert reply.status == STATUS_ERROR and reply.content == "".join(pieces)


async def test_stream_ended_without_done_otherwise_is_retryable(tmp_path):
    _, _, error, _ = await run(tmp_path, Script(["Ala ", "ma ", "ma ", "kota"], fault="end", fault_after=3))
    assert isinstance(error, StreamError) and error.retryable
    assert "closed the stream before it was done" in str(error)


async def test_a_small_call_answered_with_no_json_object_is_a_response_error():
    from training.ollama_client import ResponseError

    async with FakeOllama(Script(["Ala"])) as server:  # answers /api/tags with a chat stream
        async with OllamaClient(server.url, timeout=5) as client:
            with pytest.raises(ResponseError, match="sent no JSON object for /api/tags"):
                await client.tags()


async def test_slow_first_token_is_measured(tmp_path):
    _, outcome, error, _ = await run(tmp_path, Script(["a", "b"], first_token_delay=0.3))
    assert error is None and outcome.status == STATUS_COMPLETE
    assert 0.3 <= outcome.stats.ttft_s < 2


async def test_cancel_closes_the_connection_so_the_server_stops(tmp_path):
    store = Store(tmp_path / "db")
    chat = store.create_chat(model="fake")
    async with FakeOllama(Script(["x"] * 1000, interval=0.01)) as server:
        client = OllamaClient(server.url, timeout=5)
        session = ChatSession(store, client, chat)
        task = asyncio.create_task(session.stream_reply(session.send_target("q")))
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.wait_for(server.disconnected.wait(), 2)
        await client.aclose()
    reply = store.get_message(store.get_chat(chat).current_leaf)
    assert reply.status == STATUS_STOPPED and 0 < len(reply.content) < 1000
