"""The one client for Ollama's native API, shared by `polski register`, Purple and `purple batch`.

One `httpx` connection pool per `OllamaClient`. The official `ollama.AsyncClient` rides on the same
pool (same transport) for `create` and `delete`; everything that needs exact status codes, raw JSON,
or a stream that stops the server when it is closed goes through httpx directly.

Every failure is one of the `OllamaError` kinds below; `str(err)` is one line that names the fix and
never contains an API key or a password.
"""
from __future__ import annotations

import asyncio
import base64
import json
import os
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Callable

import httpx

from training.errors import PolskiError

DEFAULT_HOST = "http://127.0.0.1:11434"
RETRYABLE_STATUS = frozenset({429, 500, 502, 503})
_CHUNK = 1 << 20
# Ollama ends a stream without `done` (HTTP 200, no error) once the model repeats one piece ~30 times
# (its "token repeat limit"; ollama/ollama#18374 raises it to 100); a run this long at the cut is that.
REPEAT_RUN = 16


class OllamaError(PolskiError):
    """Base of every client error; `str()` is a one-line message naming the fix."""

    retryable: bool = False


class ServerUnavailable(OllamaError):
    """The server could not be reached (refused, DNS, timeout)."""

    retryable = True


class ModelNotFound(OllamaError):
    def __init__(self, model: str, host: str):
        self.model = model
        super().__init__(f"model {model!r} not found on {host}; see `ollama list`, or register it with `polski register`")


class ResponseError(OllamaError):
    def __init__(self, message: str, status: int | None = None, *, retry_after: float | None = None):
        self.status = status
        self.retryable = status in RETRYABLE_STATUS
        self.retry_after = retry_after
        super().__init__(message)


class StreamError(OllamaError):
    """The stream broke after it started: an error object, a malformed line, or a cut connection."""

    def __init__(self, message: str, partial: str = "", *, retryable: bool = False):
        self.partial = partial
        self.retryable = retryable
        super().__init__(message)


@dataclass
class Repeats:
    """The run of identical pieces at the end of a stream (whitespace-trimmed, empty pieces ignored)."""

    piece: str = ""
    count: int = 0

    def add(self, content: str) -> None:
        piece = content.strip()
        if not piece:
            return
        self.count = self.count + 1 if piece == self.piece else 1
        self.piece = piece


def resolve_host(host: str | None = None) -> tuple[str, dict]:
    """`OLLAMA_HOST` semantics -> (base URL without credentials, headers).

    Accepts `host`, `host:port`, `:port`, `http(s)://host[:port][/path]`, IPv6 in brackets and
    `user:pass@host` (sent as HTTP basic auth). `OLLAMA_API_KEY` becomes `Authorization: Bearer`.
    """
    raw = (host if host is not None else os.environ.get("OLLAMA_HOST", "")).strip()
    headers: dict[str, str] = {}
    scheme, sep, rest = raw.partition("://")
    if not sep:
        scheme, rest = "http", raw
    scheme = scheme.lower()
    if scheme not in ("http", "https"):
        raise OllamaError(f"OLLAMA_HOST scheme {scheme!r} is not http or https; set e.g. OLLAMA_HOST=http://127.0.0.1:11434")
    netloc, _, path = rest.partition("/")
    userinfo, at, hostport = netloc.rpartition("@")
    if at:
        user, _, password = userinfo.partition(":")
        token = f"{urllib.parse.unquote(user)}:{urllib.parse.unquote(password)}"
        headers["Authorization"] = "Basic " + base64.b64encode(token.encode()).decode()
    else:
        hostport = netloc
    default_port = {"http": 80, "https": 443}[scheme] if sep else 11434
    try:
        split = urllib.parse.urlsplit(f"{scheme}://{hostport}")
        port = split.port or default_port
    except ValueError:
        raise OllamaError(f"OLLAMA_HOST {hostport!r} has a bad port; use host:port, e.g. 127.0.0.1:11434") from None
    name = split.hostname or "127.0.0.1"
    if ":" in name:
        name = f"[{name}]"
    base = f"{scheme}://{name}:{port}"
    if path.strip("/"):
        base += "/" + path.strip("/")
    api_key = os.environ.get("OLLAMA_API_KEY")
    if api_key and "Authorization" not in headers:
        headers["Authorization"] = f"Bearer {api_key}"
    return base, headers


@dataclass
class ChatChunk:
    content: str = ""
    thinking: str = ""
    done: bool = False
    done_reason: str | None = None
    prompt_eval_count: int | None = None
    eval_count: int | None = None
    eval_duration_ns: int | None = None
    prompt_eval_duration_ns: int | None = None
    total_duration_ns: int | None = None
    load_duration_ns: int | None = None
    raw: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, obj: dict) -> "ChatChunk":
        msg = obj.get("message") or {}
        return cls(
            content=msg.get("content") or "",
            thinking=msg.get("thinking") or "",
            done=bool(obj.get("done")),
            done_reason=obj.get("done_reason"),
            prompt_eval_count=obj.get("prompt_eval_count"),
            eval_count=obj.get("eval_count"),
            eval_duration_ns=obj.get("eval_duration"),
            prompt_eval_duration_ns=obj.get("prompt_eval_duration"),
            total_duration_ns=obj.get("total_duration"),
            load_duration_ns=obj.get("load_duration"),
            raw=obj,
        )


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
        if isinstance(body, dict) and body.get("error"):
            return str(body["error"])
    except (json.JSONDecodeError, UnicodeDecodeError):
        pass
    text = response.text.strip().splitlines()
    return text[0][:200] if text else response.reason_phrase or "no details"


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers.get("retry-after", "")))
    except ValueError:
        return None


class OllamaClient:
    def __init__(self, host: str | None = None, *, api_key: str | None = None, timeout: float = 300.0,
                 max_connections: int = 16):
        self.host, headers = resolve_host(host)
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self.timeout = timeout
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self._transport = httpx.AsyncHTTPTransport(limits=limits)
        self._timeout = httpx.Timeout(timeout, connect=min(timeout, 10.0))
        self._http = httpx.AsyncClient(base_url=self.host, headers=headers, timeout=self._timeout,
                                       transport=self._transport)
        self._headers = headers
        self._official_client = None

    @property
    def _ollama(self):
        """The official client (imported on first use: it costs ~0.3 s), on our transport, hence our pool."""
        if self._official_client is None:
            import ollama
            self._official_client = ollama.AsyncClient(host=self.host, headers=self._headers, timeout=self._timeout,
                                                       transport=self._transport)
        return self._official_client

    async def __aenter__(self) -> "OllamaClient":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- error mapping -----------------------------------------------------------------------

    def _unavailable(self, err: Exception) -> ServerUnavailable:
        if isinstance(err, httpx.TimeoutException) and not isinstance(err, httpx.ConnectTimeout):
            return ServerUnavailable(f"Ollama at {self.host} did not answer within {self.timeout:g} s; "
                                     "raise the timeout or check the server with `ollama ps`")
        return ServerUnavailable(f"cannot reach Ollama at {self.host}; start it with `ollama serve` "
                                 "or point OLLAMA_HOST at a running server")

    def _status_error(self, response: httpx.Response, model: str | None = None) -> OllamaError:
        text = _error_text(response)
        status = response.status_code
        if status == 404 and model is not None and "not found" in text.lower():
            return ModelNotFound(model, self.host)
        if status in (401, 403):
            return ResponseError(f"Ollama at {self.host} refused access ({status}: {text}); "
                                 "check OLLAMA_API_KEY or the user:password in OLLAMA_HOST", status)
        hint = "retry later" if status in RETRYABLE_STATUS else "check the request and the server log"
        return ResponseError(f"Ollama answered {status}: {text}; {hint}", status,
                             retry_after=_retry_after(response))

    async def _request(self, method: str, path: str, *, model: str | None = None, **kwargs) -> httpx.Response:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.TransportError as err:
            raise self._unavailable(err) from None
        if response.status_code >= 400:
            raise self._status_error(response, model)
        return response

    async def _official(self, call, model: str | None = None):
        import ollama
        try:
            return await call
        except ollama.ResponseError as err:
            status = err.status_code if err.status_code and err.status_code > 0 else None
            if status == 404 and model is not None:
                raise ModelNotFound(model, self.host) from None
            raise ResponseError(f"Ollama answered {status or 'an error'}: {err.error}; check the server log",
                                status) from None
        except (httpx.TransportError, ConnectionError) as err:
            raise self._unavailable(err) from None

    # -- small calls ---------------------------------------------------------------------------

    async def _json(self, method: str, path: str, *, model: str | None = None, **kwargs) -> dict:
        response = await self._request(method, path, model=model, **kwargs)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ResponseError(f"Ollama at {self.host} sent no JSON object for {path} "
                                f"({response.text[:60]!r}); check the server version and any proxy in between")
        return body

    async def version(self) -> str:
        return (await self._json("GET", "/api/version"))["version"]

    async def tags(self) -> list[dict]:
        return (await self._json("GET", "/api/tags")).get("models") or []

    async def show(self, model: str) -> dict:
        return await self._json("POST", "/api/show", model=model, json={"model": model})

    async def ps(self) -> list[dict]:
        return (await self._json("GET", "/api/ps")).get("models") or []

    async def delete(self, model: str) -> None:
        await self._official(self._ollama.delete(model), model=model)

    # -- chat ------------------------------------------------------------------------------------

    async def chat(self, model: str, messages: list[dict], *, options: dict | None = None, keep_alive=None,
                   think: bool | None = None, system: str | None = None) -> AsyncIterator[ChatChunk]:
        """Streams the reply. Closing the iterator closes the connection, so the server stops generating."""
        messages = list(messages)
        if system is not None:
            if messages and messages[0].get("role") == "system":
                messages = messages[1:]
            messages.insert(0, {"role": "system", "content": system})
        body: dict[str, Any] = {"model": model, "messages": messages, "stream": True}
        if options:
            body["options"] = options
        if keep_alive is not None:
            body["keep_alive"] = keep_alive
        if think is not None:
            body["think"] = think
        partial: list[str] = []
        run = Repeats()
        started = False
        try:
            async with self._http.stream("POST", "/api/chat", json=body) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise self._status_error(response, model)
                async for line in response.aiter_lines():
                    started = True
                    if not line.strip():
                        continue
                    try:
                        obj = json.loads(line)
                        if not isinstance(obj, dict):
                            raise ValueError("not an object")
                    except ValueError:
                        raise StreamError(f"Ollama sent a malformed line mid-stream ({line[:60]!r}); "
                                          "check the server version and any proxy in between",
                                          "".join(partial)) from None
                    if obj.get("error"):
                        raise StreamError(f"Ollama failed mid-stream: {str(obj['error'])[:200]}; "
                                          "see the server log", "".join(partial), retryable=True)
                    chunk = ChatChunk.from_json(obj)
                    partial.append(chunk.content)
                    run.add(chunk.content)
                    yield chunk
                    if chunk.done:
                        return
                if run.count >= REPEAT_RUN:
                    raise StreamError(f"Ollama stopped the reply: the model repeated {run.piece!r} {run.count} times "
                                      "(its repeat limit); raise repeat_penalty or temperature", "".join(partial))
                raise StreamError("Ollama closed the stream before it was done; retry, "
                                  "and check the server log", "".join(partial), retryable=True)
        except httpx.TransportError as err:
            if not started:
                raise self._unavailable(err) from None
            if isinstance(err, httpx.TimeoutException):
                raise StreamError(f"Ollama went quiet for {self.timeout:g} s mid-stream; raise the timeout "
                                  "or check the server with `ollama ps`", "".join(partial), retryable=True) from None
            raise StreamError("the connection to Ollama broke mid-stream; retry, and check the server log",
                              "".join(partial), retryable=True) from None

    # -- blobs and create ----------------------------------------------------------------------

    @staticmethod
    def _digest(digest: str) -> str:
        hexpart = digest.removeprefix("sha256:").removeprefix("sha256-")
        if len(hexpart) != 64 or any(c not in "0123456789abcdef" for c in hexpart.lower()):
            raise OllamaError(f"blob digest {digest!r} is not sha256:<64 hex digits>; compute it with `sha256sum`")
        return f"sha256:{hexpart.lower()}"

    async def has_blob(self, digest: str) -> bool:
        try:
            response = await self._http.head(f"/api/blobs/{self._digest(digest)}")
        except httpx.TransportError as err:
            raise self._unavailable(err) from None
        if response.status_code == 404:
            return False
        if response.status_code >= 400:
            raise self._status_error(response)
        return True

    async def push_blob(self, path: str | Path, digest: str,
                        progress: Callable[[int], None] | None = None) -> None:
        """Uploads a file as a blob, streamed from disk; `progress(bytes_sent_so_far)` after each chunk."""
        digest = self._digest(digest)
        path = Path(path)

        async def body():
            sent = 0
            with open(path, "rb") as f:
                while chunk := await asyncio.to_thread(f.read, _CHUNK):
                    yield chunk
                    sent += len(chunk)
                    if progress:
                        progress(sent)

        headers = {"Content-Length": str(path.stat().st_size)}
        await self._request("POST", f"/api/blobs/{digest}", content=body(), headers=headers)

    async def create(self, name: str, *, files: dict[str, str], template: str | None = None,
                     system: str | None = None, parameters: dict | None = None,
                     quantize: str | None = None, license: list[str] | str | None = None) -> AsyncIterator[dict]:
        """Streams `/api/create` status objects ({"status", ...}); an error object raises."""
        import ollama
        try:
            stream = await self._ollama.create(name, files=files, template=template, system=system, license=license,
                                               parameters=parameters, quantize=quantize, stream=True)
            try:
                async for part in stream:
                    yield part.model_dump(exclude_none=True)
            finally:
                await stream.aclose()
        except ollama.ResponseError as err:
            status = err.status_code if err.status_code and err.status_code > 0 else None
            hint = "retry later" if status in RETRYABLE_STATUS else "check the Modelfile fields and the server log"
            raise ResponseError(f"creating {name!r} failed: {err.error}; {hint}", status) from None
        except (httpx.TransportError, ConnectionError) as err:
            raise self._unavailable(err) from None
