"""training.ollama_client: host parsing, error mapping and stream cancellation (fake server for faults),
and the real API round trip (real `ollama serve`, marked `ollama`)."""
from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import socket
import time

import pytest

from training.ollama_client import (ChatChunk, ModelNotFound, OllamaClient, OllamaError, ResponseError, ServerUnavailable,
                           StreamError, resolve_host)
from tests.purple.fake_ollama import FakeOllama, reply_for


async def wait_until(cond, timeout=3.0):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- resolve_host ---------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, url", [
    (None, "http://127.0.0.1:11434"),
    ("", "http://127.0.0.1:11434"),
    ("1.2.3.4", "http://1.2.3.4:11434"),
    (":5000", "http://127.0.0.1:5000"),
    ("example.com:5000", "http://example.com:5000"),
    ("http://example.com", "http://example.com:80"),
    ("https://example.com", "https://example.com:443"),
    ("https://example.com:8443/ollama/", "https://example.com:8443/ollama"),
    ("[::1]:5000", "http://[::1]:5000"),
    ("0.0.0.0", "http://0.0.0.0:11434"),
])
def test_resolve_host_follows_ollama_host_semantics(raw, url, monkeypatch):
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    monkeypatch.delenv("OLLAMA_API_KEY", raising=False)
    assert resolve_host(raw) == (url, {})


def test_resolve_host_reads_env_and_turns_credentials_into_headers(monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", "https://ala:ma%20kota@example.com:9000")
    monkeypatch.delenv("OLLAMA_API_KEY", raising=False)
    url, headers = resolve_host()
    assert url == "https://example.com:9000"
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"ala:ma kota").decode()
    monkeypatch.setenv("OLLAMA_HOST", "example.com")
    monkeypatch.setenv("OLLAMA_API_KEY", "sekret-123")
    assert resolve_host() == ("http://example.com:11434", {"Authorization": "Bearer sekret-123"})


def test_resolve_host_rejects_a_bad_scheme_with_the_fix():
    with pytest.raises(OllamaError, match="OLLAMA_HOST=http"):
        resolve_host("ftp://example.com")


# -- error mapping ------------------------------------------------------------------------------

async def test_unreachable_server_names_ollama_host_and_serve_and_hides_the_key():
    url = f"http://user:pw-secret@127.0.0.1:{free_port()}"
    async with OllamaClient(url, api_key="key-secret", timeout=2) as client:
        with pytest.raises(ServerUnavailable) as info:
            await client.version()
        with pytest.raises(ServerUnavailable):
            async for _ in client.chat("m", [{"role": "user", "content": "x"}]):
                pass
    message = str(info.value)
    assert "OLLAMA_HOST" in message and "ollama serve" in message and "\n" not in message
    assert "secret" not in message
    assert info.value.retryable


async def test_status_errors_are_mapped():
    def fault(body, attempt):
        return body["messages"][-1]["content"]

    with FakeOllama(fault=fault) as fake:
        async with OllamaClient(fake.url) as client:
            assert await client.version() == "0.0.0-fake"
            assert [m["name"] for m in await client.tags()] == ["fake"]
            with pytest.raises(ModelNotFound) as info:
                await client.show("nie-ma")
            assert info.value.model == "nie-ma" and "ollama list" in str(info.value)
            with pytest.raises(ModelNotFound):
                async for _ in client.chat("nie-ma", [{"role": "user", "content": "x"}]):
                    pass
            for status in ("429", "500", "503"):
                with pytest.raises(ResponseError) as info:
                    async for _ in client.chat("fake", [{"role": "user", "content": status}]):
                        pass
                assert info.value.status == int(status) and info.value.retryable
            assert info.value.retry_after is None
            with pytest.raises(ResponseError) as info:
                async for _ in client.chat("fake", [{"role": "user", "content": "429"}]):
                    pass
            assert info.value.retry_after == 0.0


@pytest.mark.parametrize("fault, retryable, text", [
    ("error", True, "fake runner crashed"),
    ("malformed", False, "malformed"),
    ("cut", True, "broke mid-stream"),
])
async def test_mid_stream_faults_raise_stream_error_with_the_partial_text(fault, retryable, text):
    with FakeOllama(fault=lambda body, attempt: fault) as fake:
        async with OllamaClient(fake.url) as client:
            got = []
            with pytest.raises(StreamError, match=text) as info:
                async for chunk in client.chat("fake", [{"role": "user", "content": "jak się masz"}]):
                    got.append(chunk.content)
    assert info.value.partial == "".join(got) == "odpowiedź "
    assert info.value.retryable is retryable
    assert "\n" not in str(info.value)


async def test_chat_streams_chunks_and_final_counts():
    with FakeOllama() as fake:
        async with OllamaClient(fake.url) as client:
            chunks = [c async for c in client.chat("fake", [{"role": "user", "content": "dzień dobry"}],
                                                   system="Bądź zwięzły.", options={"seed": 1})]
    assert all(isinstance(c, ChatChunk) for c in chunks)
    assert "".join(c.content for c in chunks) == reply_for("dzień dobry")
    assert chunks[-1].done and chunks[-1].done_reason == "stop" and chunks[-1].eval_count == len(chunks) - 1
    assert not any(c.done for c in chunks[:-1])


async def test_slow_first_token_times_out_as_server_unavailable():
    with FakeOllama(fault=lambda b, a: "slow", slow_delay=1.5) as fake:
        async with OllamaClient(fake.url, timeout=0.3) as client:
            with pytest.raises(ServerUnavailable, match="did not answer within 0.3 s"):
                async for _ in client.chat("fake", [{"role": "user", "content": "x"}]):
                    pass


async def test_silence_mid_stream_is_a_retryable_stream_error():
    with FakeOllama(token_delay=0.6) as fake:
        async with OllamaClient(fake.url, timeout=0.2) as client:
            with pytest.raises(StreamError, match="went quiet for 0.2 s") as info:
                async for _ in client.chat("fake", [{"role": "user", "content": "x y"}]):
                    pass
    assert info.value.retryable and info.value.partial == "odpowiedź "


async def test_breaking_out_closes_the_connection_so_the_server_stops():
    with FakeOllama(token_delay=0.02) as fake:
        async with OllamaClient(fake.url) as client:
            long_prompt = " ".join(["słowo"] * 300)
            stream = client.chat("fake", [{"role": "user", "content": long_prompt}])
            async for _ in stream:
                break
            await stream.aclose()
            assert await wait_until(lambda: fake.disconnects == 1)
            assert fake.completed[long_prompt] == 0
            # the pool still works afterwards
            assert await client.version() == "0.0.0-fake"


async def test_cancelling_the_task_closes_the_connection():
    with FakeOllama(token_delay=0.02) as fake:
        async with OllamaClient(fake.url) as client:
            started = asyncio.Event()

            async def consume():
                async for _ in client.chat("fake", [{"role": "user", "content": " ".join(["a"] * 300)}]):
                    started.set()

            task = asyncio.create_task(consume())
            await asyncio.wait_for(started.wait(), 5)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert await wait_until(lambda: fake.disconnects == 1)


async def test_one_pool_serves_concurrent_streams():
    with FakeOllama(token_delay=0.01) as fake:
        async with OllamaClient(fake.url, max_connections=4) as client:
            async def one(i):
                return "".join([c.content async for c in client.chat("fake", [{"role": "user", "content": f"p{i} a b c"}])])
            replies = await asyncio.gather(*(one(i) for i in range(8)))
    assert replies == [reply_for(f"p{i} a b c") for i in range(8)]
    assert fake.max_active == 4


def test_bad_digest_is_refused_before_any_request():
    client = OllamaClient("127.0.0.1:1")
    with pytest.raises(OllamaError, match="sha256sum"):
        client._digest("sha256:xyz")
    assert client._digest("sha256-" + "A" * 64) == "sha256:" + "a" * 64


# -- the real server ------------------------------------------------------------------------------

@pytest.mark.ollama
async def test_real_server_read_calls(ollama_server, ollama_model):
    async with OllamaClient(ollama_server.url) as client:
        assert re.match(r"\d+\.\d+", await client.version())
        names = [m["name"] for m in await client.tags()]
        assert any(n == ollama_model or n.split(":")[0] == ollama_model.split(":")[0] for n in names)
        info = await client.show(ollama_model)
        assert "modelfile" in info and "details" in info
        with pytest.raises(ModelNotFound):
            await client.show("nie-ma-takiego-modelu")
        assert isinstance(await client.ps(), list)


@pytest.mark.ollama
async def test_real_server_chat_streams_and_cancels(ollama_server, ollama_model):
    async with OllamaClient(ollama_server.url) as client:
        messages = [{"role": "user", "content": "Jak się masz?"}]
        chunks = [c async for c in client.chat(ollama_model, messages, options={"seed": 7, "num_predict": 24})]
        assert chunks[-1].done and chunks[-1].done_reason in ("stop", "length")
        assert chunks[-1].eval_count and chunks[-1].eval_count <= 24
        assert "".join(c.content for c in chunks).strip()
        # closing a long generation early, then the same client's next request is answered
        stream = client.chat(ollama_model, messages, options={"num_predict": 4096})
        async for _ in stream:
            break
        await stream.aclose()
        short = [c async for c in client.chat(ollama_model, messages, options={"num_predict": 4})]
        assert short[-1].done and short[-1].eval_count <= 4


@pytest.mark.ollama
async def test_real_server_blobs_create_and_delete(ollama_server, ollama_model, tmp_path):
    async with OllamaClient(ollama_server.url) as client:
        data = b"polski test blob " + str(time.time_ns()).encode()
        blob = tmp_path / "blob.bin"
        blob.write_bytes(data)
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        assert not await client.has_blob(digest)
        seen = []
        await client.push_blob(blob, digest, progress=seen.append)
        assert await client.has_blob(digest) and seen[-1] == len(data)
        with pytest.raises(ResponseError):  # content does not match the digest
            await client.push_blob(blob, "sha256:" + "0" * 64)

        modelfile = (await client.show(ollama_model))["modelfile"]
        gguf = re.search(r"^FROM .*sha256[-:]([0-9a-f]{64})", modelfile, re.M).group(1)
        name = f"polski-client-test-{time.time_ns() % 10**6}"
        statuses = [s async for s in client.create(name, files={"model.gguf": f"sha256:{gguf}"},
                                                   system="Odpowiadaj krótko.", parameters={"num_predict": 8})]
        assert statuses[-1]["status"] == "success"
        try:
            assert "Odpowiadaj krótko." in (await client.show(name)).get("system", "") + \
                (await client.show(name))["modelfile"]
            chunks = [c async for c in client.chat(name, [{"role": "user", "content": "Cześć"}])]
            assert chunks[-1].done and chunks[-1].eval_count <= 8
        finally:
            await client.delete(name)
        with pytest.raises(ModelNotFound):
            await client.show(name)
        with pytest.raises(ModelNotFound):
            await client.delete(name)
        with pytest.raises(ResponseError, match="creating"):
            async for _ in client.create(name, files={"model.gguf": "sha256:" + "1" * 64}):
                pass
