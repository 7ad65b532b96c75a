"""A tiny Ollama-shaped HTTP server for faults a real server cannot produce on demand:
an error object mid-stream, a cut connection, a malformed line, a slow first token; and
for a steady token rate in the streaming benchmark. Only /api/chat and /api/version.

    async with FakeOllama(script) as server: OllamaClient(server.url)
"""

from __future__ import annotations

import asyncio
import json
import socket
from dataclasses import dataclass, field


@dataclass
class Script:
    pieces: list[str] = field(default_factory=lambda: ["Dzień ", "dobry"])
    interval: float = 0.0  # seconds between chunks
    first_token_delay: float = 0.0
    fault: str = ""  # "" | "error" | "cut" | "malformed" | "end" (HTTP 200 ends without `done`)
    fault_after: int = 1  # chunks sent before the fault


# the small JSON endpoints; every other path streams the scripted chat reply (a malformed body for them)
JSON_REPLIES = {"/api/version": b'{"version":"0.0.0-fake"}', "/api/ps": b'{"models":[]}'}


def _line(obj: dict) -> bytes:
    return (json.dumps(obj, ensure_ascii=False) + "\n").encode()


class FakeOllama:
    def __init__(self, script: Script | None = None) -> None:
        self.script = script or Script()
        self.server: asyncio.AbstractServer | None = None
        self.requests: list[dict] = []
        self.disconnected = asyncio.Event()

    @property
    def url(self) -> str:
        host, port = self.server.sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    async def __aenter__(self) -> "FakeOllama":
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc) -> None:
        self.server.close()
        await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if sock is not None:  # as Go's net/http does: no Nagle delay on small writes
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *header_lines = head.decode().split("\r\n")
            headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines if h)}
            body = await reader.readexactly(int(headers.get("content-length", 0)))
            path = request_line.split()[1]
            if path in JSON_REPLIES:
                payload = JSON_REPLIES[path]
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(payload), payload))
                await writer.drain()
                return
            self.requests.append(json.loads(body or b"{}"))
            await self._stream_chat(writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            self.disconnected.set()
        finally:
            writer.close()

    async def _send(self, writer, data: bytes) -> None:
        writer.write(b"%x\r\n%s\r\n" % (len(data), data))
        await writer.drain()

    async def _stream_chat(self, writer: asyncio.StreamWriter) -> None:
        s = self.script
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(s.first_token_delay)
        loop = asyncio.get_running_loop()
        start = loop.time()
        for index, piece in enumerate(s.pieces):
            if s.fault and index == s.fault_after:
                if s.fault == "error":
                    await self._send(writer, _line({"error": "model runner crashed"}))
                elif s.fault == "malformed":
                    await self._send(writer, b"{not json\n")
                writer.transport.abort() if s.fault == "cut" else None
                if s.fault != "cut":
                    await self._send(writer, b"")
                return
            if s.interval:  # a steady rate, not drifting with the sleeps' overshoot
                await asyncio.sleep(max(0.0, start + index * s.interval - loop.time()))
            if writer.is_closing():
                self.disconnected.set()
                return
            try:
                await self._send(writer, _line({"model": "fake", "message": {"role": "assistant",
                                                "content": piece}, "done": False}))
            except ConnectionError:
                self.disconnected.set()
                return
        n = len(s.pieces)
        await self._send(writer, _line({
            "model": "fake", "message": {"role": "assistant", "content": ""}, "done": True,
            "done_reason": "stop", "prompt_eval_count": 10, "eval_count": n,
            "eval_duration": int(max(loop.time() - start, 1e-3) * 1e9),
            "total_duration": int((loop.time() - start + s.first_token_delay) * 1e9),
        }))
        await self._send(writer, b"")
