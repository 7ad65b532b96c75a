"""Running records against Ollama: a fixed number of workers over one client (one connection pool),
retries with exponential backoff and jitter, per-record errors, input-order or completion-order output.

`run()` returns when every record is written or `stop` is set; on stop the requests in flight are
cancelled (closing their connections) and every result already finished is still written.
"""
from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from typing import Callable

from training.ollama_client import OllamaClient, OllamaError

from .inputs import Record

BACKOFF_CAP_S = 30.0


@dataclass
class Settings:
    model: str
    concurrency: int = 4
    retries: int = 3
    backoff: float = 0.5
    options: dict = field(default_factory=dict)
    system: str | None = None
    unordered: bool = False
    keep_alive: str | None = None


def backoff_delay(attempt: int, base: float, retry_after: float | None = None, rng=random) -> float:
    """Exponential (base * 2^(attempt-1), capped) with equal jitter; never shorter than Retry-After."""
    delay = min(BACKOFF_CAP_S, base * 2 ** (attempt - 1))
    delay = delay / 2 + rng.uniform(0, delay / 2)
    if retry_after is not None:
        delay = max(delay, min(retry_after, 300.0))
    return delay


def sent_system(rec: Record, s: Settings) -> str | None:
    """The system prompt sent with the record (None: only its own messages' system message, if any).
    The record's "system" wins, then a system message opening its messages, then --system."""
    if rec.system is not None:
        return rec.system
    if rec.messages and rec.messages[0]["role"] == "system":
        return None
    return s.system


def base_result(rec: Record, s: Settings) -> dict:
    out: dict = {"id": rec.id, "model": s.model}
    if rec.messages is not None:
        out["messages"] = rec.messages
    else:
        out["prompt"] = rec.prompt
    # the system prompt the model got: the one opening the record's messages when nothing replaced it
    system = sent_system(rec, s)
    if system is None and rec.messages and rec.messages[0]["role"] == "system":
        system = rec.messages[0]["content"]
    out["system"] = system
    out.update(response=None, done_reason=None, prompt_eval_count=None, eval_count=None, ttft_s=None,
               total_s=None, tokens_per_s=None, options={**s.options, **rec.options} or None,
               error=None, attempts=0)
    return out


async def attempt_once(client: OllamaClient, rec: Record, s: Settings) -> dict:
    messages = rec.messages if rec.messages is not None else [{"role": "user", "content": rec.prompt}]
    system = sent_system(rec, s)
    options = {**s.options, **rec.options} or None
    parts: list[str] = []
    ttft = None
    last = None
    t0 = time.monotonic()
    async for chunk in client.chat(s.model, messages, options=options, system=system, keep_alive=s.keep_alive):
        if ttft is None and (chunk.content or chunk.thinking or chunk.done):
            ttft = time.monotonic() - t0
        parts.append(chunk.content)
        last = chunk
    total = time.monotonic() - t0
    tps = None
    if last.eval_count and last.eval_duration_ns:
        tps = last.eval_count / (last.eval_duration_ns / 1e9)
    return {"response": "".join(parts), "done_reason": last.done_reason,
            "prompt_eval_count": last.prompt_eval_count, "eval_count": last.eval_count,
            "ttft_s": round(ttft, 4), "total_s": round(total, 4),
            "tokens_per_s": round(tps, 2) if tps is not None else None}


async def process(client: OllamaClient, rec: Record, s: Settings) -> dict:
    out = base_result(rec, s)
    if rec.invalid:
        out["error"] = rec.invalid
        return out
    attempt = 0
    while True:
        attempt += 1
        try:
            out.update(await attempt_once(client, rec, s))
            out["attempts"] = attempt
            return out
        except OllamaError as err:
            if not err.retryable or attempt > s.retries:
                out.update(error=str(err), attempts=attempt)
                return out
            await asyncio.sleep(backoff_delay(attempt, s.backoff, getattr(err, "retry_after", None)))


async def run(client: OllamaClient, pending: list[Record], s: Settings, write: Callable[[dict], None],
              stop: asyncio.Event) -> None:
    """Runs `pending` (in input order) and `write`s each result exactly once, until done or `stop`."""
    order = [r.index for r in pending]
    buffer: dict[int, dict] = {}
    cursor = 0
    queue = iter(pending)

    def emit(rec: Record, result: dict) -> None:
        nonlocal cursor
        if s.unordered:
            write(result)
            return
        buffer[rec.index] = result
        while cursor < len(order) and order[cursor] in buffer:
            write(buffer.pop(order[cursor]))
            cursor += 1

    async def worker() -> None:
        for rec in queue:
            if stop.is_set():
                return
            emit(rec, await process(client, rec, s))

    workers = [asyncio.create_task(worker()) for _ in range(max(1, s.concurrency))]
    stopper = asyncio.create_task(stop.wait())
    try:
        pending_tasks = set(workers)
        while pending_tasks:
            done, pending_tasks = await asyncio.wait(pending_tasks | {stopper}, return_when=asyncio.FIRST_COMPLETED)
            pending_tasks.discard(stopper)
            if stopper in done or any(t.exception() for t in done if t is not stopper):
                break
        for w in workers:
            w.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        for w in workers:  # an unexpected error in a worker (a bug) is raised after the cleanup below
            if not w.cancelled() and w.exception():
                raise w.exception()
    finally:
        stopper.cancel()
        for index in sorted(buffer):  # finished out of order before a stop: still saved
            write(buffer.pop(index))
