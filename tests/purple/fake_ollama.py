"""A fake Ollama for the faults a real server cannot produce on demand.

Speaks just enough of the native API (/api/version, /api/tags, /api/show, /api/ps, /api/chat) and
injects, per request: HTTP 429/500/502/503, an error object mid-stream, a malformed NDJSON line, a
connection cut mid-stream, and a slow first token. It runs in a thread, so a test in this process
and a `purple batch` subprocess can both talk to it.

The reply to a chat is `REPLY_PREFIX + <last user message>`, so a test can check that every output
record holds the answer to its own prompt.
"""
from __future__ import annotations

import json
import random
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

REPLY_PREFIX = "odpowiedź na: "
FAULTS = ("429", "500", "502", "503", "error", "malformed", "cut", "slow")


def reply_for(prompt: str) -> str:
    return REPLY_PREFIX + prompt


class FakeOllama:
    """`fault(body, attempt) -> fault name | None` picks a fault per chat request (attempt counts from 1)."""

    def __init__(self, *, models=("fake",), token_delay: float = 0.0, first_delay: float = 0.0,
                 slow_delay: float = 2.0, fault: Callable[[dict, int], str | None] | None = None):
        self.models = set(models)
        self.token_delay = token_delay
        self.first_delay = first_delay
        self.slow_delay = slow_delay
        self.fault = fault
        self.attempts: Counter[str] = Counter()   # prompt -> chat requests seen
        self.completed: Counter[str] = Counter()  # prompt -> streams sent to the end
        self.disconnects = 0                      # streams the client closed early
        self.active = 0
        self.max_active = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._server.handle_error = lambda request, address: None  # clients that hang up are the point
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> "FakeOllama":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    @staticmethod
    def random_faults(rate: float, seed: int = 0, kinds=("429", "500", "503", "cut", "error")):
        rng = random.Random(seed)
        lock = threading.Lock()

        def pick(body, attempt):
            with lock:
                return rng.choice(kinds) if rng.random() < rate else None
        return pick

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # as Go servers do; else delayed ACKs add 40 ms a chunk

            def log_message(self, *args):
                pass

            def _json(self, status: int, obj, headers=None):
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> dict:
                n = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(n) or b"{}")

            def do_GET(self):
                if self.path == "/api/version":
                    self._json(200, {"version": "0.0.0-fake"})
                elif self.path == "/api/tags":
                    self._json(200, {"models": [{"name": m, "model": m} for m in sorted(fake.models)]})
                elif self.path == "/api/ps":
                    self._json(200, {"models": []})
                else:
                    self._json(404, {"error": "not found"})

            def do_POST(self):
                body = self._body()
                if self.path == "/api/show":
                    if body.get("model") in fake.models:
                        self._json(200, {"modelfile": "", "parameters": "", "template": "{{ .Prompt }}"})
                    else:
                        self._json(404, {"error": f"model '{body.get('model')}' not found"})
                elif self.path == "/api/chat":
                    self._chat(body)
                else:
                    self._json(404, {"error": "not found"})

            def _chunk(self, obj_or_bytes) -> None:
                data = obj_or_bytes if isinstance(obj_or_bytes, bytes) else json.dumps(obj_or_bytes).encode() + b"\n"
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()

            def _chat(self, body: dict) -> None:
                model = body.get("model")
                if model not in fake.models:
                    return self._json(404, {"error": f"model '{model}' not found, try pulling it first"})
                users = [m for m in body.get("messages", []) if m.get("role") == "user"]
                prompt = users[-1]["content"] if users else ""
                with fake._lock:
                    fake.attempts[prompt] += 1
                    attempt = fake.attempts[prompt]
                fault = fake.fault(body, attempt) if fake.fault else None
                if fault in ("429", "500", "502", "503"):
                    headers = {"Retry-After": "0"} if fault == "429" else None
                    return self._json(int(fault), {"error": f"fake {fault}"}, headers)
                with fake._lock:
                    fake.active += 1
                    fake.max_active = max(fake.max_active, fake.active)
                try:
                    self._stream(model, prompt, fault)
                except (BrokenPipeError, ConnectionResetError):
                    with fake._lock:
                        fake.disconnects += 1
                    self.close_connection = True
                finally:
                    with fake._lock:
                        fake.active -= 1

            def _stream(self, model: str, prompt: str, fault: str | None) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ndjson")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                time.sleep(fake.slow_delay if fault == "slow" else fake.first_delay)
                words = reply_for(prompt).split(" ")
                pieces = [w + " " for w in words[:-1]] + [words[-1]]
                for i, piece in enumerate(pieces):
                    if i == 1 and fault in ("error", "malformed", "cut"):
                        if fault == "error":
                            self._chunk({"error": "fake runner crashed"})
                        elif fault == "malformed":
                            self._chunk(b'{"model": "fake", "message": {"content": \n')
                        else:
                            self.connection.shutdown(socket.SHUT_RDWR)
                            self.close_connection = True
                            return
                        break
                    self._chunk({"model": model, "message": {"role": "assistant", "content": piece}, "done": False})
                    if fake.token_delay:
                        time.sleep(fake.token_delay)
                else:
                    self._chunk({"model": model, "message": {"role": "assistant", "content": ""}, "done": True,
                                 "done_reason": "stop", "prompt_eval_count": len(prompt.split()) + 3,
                                 "eval_count": len(pieces), "eval_duration": max(1, len(pieces)) * 1_000_000,
                                 "prompt_eval_duration": 500_000, "total_duration": 2_000_000,
                                 "load_duration": 1000})
                    with fake._lock:
                        fake.completed[prompt] += 1
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

        return Handler
