"""ChatSession without a UI: history, stats, stop and errors."""

from __future__ import annotations

import asyncio

import pytest

from purple.chat_session import ChatSession, ReplyStats
from training.ollama_client import StreamError
from purple.store import STATUS_COMPLETE, STATUS_ERROR, STATUS_STOPPED, Store

from .fakes import FakeClient, final_chunk


async def until(condition, what: str) -> None:
    for _ in range(1000):  # 10 s at most
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def make(tmp_path, client, **chat):
    store = Store(tmp_path / "db")
    chat_id = store.create_chat(model="polski-mini", **chat)
    return store, ChatSession(store, client, chat_id)


async def test_reply_stats_from_final_chunk(tmp_path):
    client = FakeClient([["a", "b"]])
    client.final = final_chunk(tokens=50, prompt=100, eval_duration_ns=2_000_000_000,
                               total_duration_ns=3_000_000_000)
    store, session = make(tmp_path, client, options={"num_ctx": 128})
    outcome = await session.stream_reply(session.send_target("q"))
    assert outcome.status == STATUS_COMPLETE
    stats = outcome.stats
    assert (stats.tokens, stats.tokens_per_s, stats.total_s) == (50, 25.0, 3.0)
    assert stats.context_used == 150 and stats.context_full and stats.num_ctx == 128
    assert ReplyStats.from_dict(store.get_message(outcome.message_id).stats) == stats


async def test_request_goes_out_while_on_start_runs_and_early_chunks_are_shown(tmp_path):
    """The reply view is mounted beside the request: chunks that come first are saved at
    once and handed on, in order, when `on_start` is done; `on_finish` comes after both."""
    client = FakeClient([["a", "b", "c"]])
    store, session = make(tmp_path, client)
    mounted = asyncio.Event()
    events = []

    async def on_start(message):
        events.append(("start", message.id))
        await mounted.wait()
        events.append(("mounted", client.requests != [],
                       store.get_message(message.id).content))

    task = asyncio.create_task(session.stream_reply(
        session.send_target("q"), on_start=on_start,
        on_chunk=lambda c, t: events.append(("chunk", c)),
        on_finish=lambda outcome: events.append(("finish", outcome.status))))
    await until(lambda: store.active_path(session.chat_id)[-1].content == "abc",
                "chunks saved before the view is ready")
    assert not task.done()  # the reply waits for its view
    mounted.set()
    outcome = await task
    assert outcome.status == STATUS_COMPLETE
    reply_id = outcome.message_id
    assert events[0] == ("start", reply_id)
    assert events[1] == ("mounted", True, "abc")  # sent and saved before the view was ready
    assert "".join(e[1] for e in events if e[0] == "chunk") == "abc"
    assert events[-1] == ("finish", STATUS_COMPLETE)


async def test_stop_before_the_view_is_ready_still_shows_and_finishes_it(tmp_path):
    client = FakeClient([["x"] * 100], delay=0.01)
    store, session = make(tmp_path, client)
    mounted = asyncio.Event()
    shown, finished = [], []

    async def on_start(message):
        await mounted.wait()

    task = asyncio.create_task(session.stream_reply(
        session.send_target("q"), on_start=on_start, on_chunk=lambda c, t: shown.append(c),
        on_finish=finished.append))
    await until(lambda: len(store.active_path(session.chat_id)[-1].content) >= 3, "chunks")
    task.cancel()
    await until(lambda: client.closed_streams == 1, "the stream closed")
    assert not task.done() and finished == []  # it waits for the view
    mounted.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    reply = store.active_path(session.chat_id)[-1]
    assert reply.status == STATUS_STOPPED and "".join(shown) == reply.content
    assert [o.status for o in finished] == [STATUS_STOPPED]


async def test_cancel_closes_stream_and_marks_stopped(tmp_path):
    client = FakeClient([["x"] * 100], delay=0.01)
    store, session = make(tmp_path, client)
    seen = []
    task = asyncio.create_task(session.stream_reply(session.send_target("q"),
                                                    on_chunk=lambda c, t: seen.append(c)))
    while len(seen) < 3:
        await asyncio.sleep(0.005)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    reply = store.active_path(session.chat_id)[-1]
    assert reply.status == STATUS_STOPPED and reply.content.startswith("xxx")
    assert client.closed_streams == 1 and client.finished_streams == 0


async def test_stream_error_keeps_partial_and_reraises(tmp_path):
    class Broken(FakeClient):
        async def chat(self, *args, **kwargs):
            from training.ollama_client import ChatChunk
            yield ChatChunk(content="część")
            raise StreamError("cut", "część")

    store, session = make(tmp_path, Broken())
    with pytest.raises(StreamError):
        await session.stream_reply(session.send_target("q"))
    reply = store.active_path(session.chat_id)[-1]
    assert (reply.status, reply.content) == (STATUS_ERROR, "część")


def test_history_and_regenerate_target(tmp_path):
    store, session = make(tmp_path, FakeClient(), system="Bądź zwięzły.")
    u = session.send_target("pierwsze")
    a = store.add_message(session.chat_id, u, "assistant", "odp")
    assert session.history(a) == [
        {"role": "system", "content": "Bądź zwięzły."},
        {"role": "user", "content": "pierwsze"},
        {"role": "assistant", "content": "odp"},
    ]
    assert session.regenerate_target() == u
    assert store.get_chat(session.chat_id).title == "pierwsze"


async def test_context_gauge_when_the_runner_was_loaded_under_another_name(tmp_path):
    """Two names for one GGUF share a runner, and /api/ps lists only the name it was loaded under: the gauge then
    takes the served context from /api/show (the Modelfile's num_ctx, capped at the trained length), not 4096."""

    class SharedRunner(FakeClient):
        async def ps(self):
            return [{"name": "polski-mini-copy:latest", "model": "polski-mini-copy:latest", "context_length": 1024}]

        async def show(self, model):
            return {"model_info": {"llama.context_length": 1024}, "parameters": 'stop "<|im_end|>"\nnum_ctx 512'}

    store, session = make(tmp_path, SharedRunner([["a"]]))
    outcome = await session.stream_reply(session.send_target("q"))
    assert outcome.stats.num_ctx == 512
    store, session = make(tmp_path / "chat", SharedRunner([["a"]]), options={"num_ctx": 8192})
    outcome = await session.stream_reply(session.send_target("q"))
    assert outcome.stats.num_ctx == 1024  # the chat's 8192 capped at what the model was trained for


def test_context_from_show_without_a_modelfile_setting():
    from purple.chat_session import DEFAULT_NUM_CTX, context_from_show

    assert context_from_show({"model_info": {"qwen2.context_length": 32768}}, None) == DEFAULT_NUM_CTX
    assert context_from_show({"model_info": {"llama.context_length": 1024}}, None) == 1024
    assert context_from_show({}, 2048) == 2048
