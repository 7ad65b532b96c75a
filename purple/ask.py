"""`purple ask "prompt"`: one question for shell pipelines; piped stdin comes first as context.

    git diff | purple ask "Opisz te zmiany jednym zdaniem" > opis.txt

The reply streams to stdout; errors are one line on stderr (exit 2); Ctrl+C exits 130.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys

from training.errors import PolskiError
from training.ollama_client import OllamaClient


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="purple ask", description="Ask a model once and stream the reply to stdout.")
    p.add_argument("prompt", nargs="*", help="the question; piped stdin is put before it as context")
    p.add_argument("-m", "--model", help="model (default: Purple's configured model)")
    p.add_argument("-s", "--system", help="system prompt, or @FILE")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="model option (repeatable)")
    p.add_argument("--seed", type=int, help="options.seed")
    p.add_argument("--think", action="store_true", help="ask a thinking model to think (thoughts go to stderr)")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds without a byte before giving up")
    p.add_argument("--host", help="Ollama server (default: $OLLAMA_HOST or 127.0.0.1:11434)")
    return p


def compose(prompt: str, stdin_text: str | None) -> str:
    context = (stdin_text or "").strip("\n")
    if context and prompt:
        return f"{context}\n\n{prompt}"
    return context or prompt


def _defaults(args):
    """Model, host and system from Purple's config, where the flags leave them open."""
    try:
        from purple.config import ConfigError, load_config
        try:
            config = load_config()
        except ConfigError as err:
            raise PolskiError(f"{err}; fix the config file or pass --model") from None
        return args.model or config.model, args.host or config.host, args.system or config.system or None, \
            config.defaults.ollama_options()
    except ImportError:
        return args.model, args.host, args.system, {}


async def ask(client: OllamaClient, model: str, text: str, *, system=None, options=None, think=None, out=None,
              err=None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    ended_with_newline = True
    async for chunk in client.chat(model, [{"role": "user", "content": text}], system=system,
                                   options=options or None, think=think):
        if chunk.thinking:
            err.write(chunk.thinking)
            err.flush()
        if chunk.content:
            out.write(chunk.content)
            out.flush()
            ended_with_newline = chunk.content.endswith("\n")
    if not ended_with_newline:
        out.write("\n")
        out.flush()
    return 0


def main(argv: list[str] | None = None) -> int:
    from purple.batch.cli import parse_option, read_arg_file

    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    try:
        stdin_text = None if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
        text = compose(" ".join(args.prompt), stdin_text)
        if not text.strip():
            raise PolskiError('nothing to ask; write a prompt, e.g. purple ask "Co to jest pierogi?"')
        model, host, system, options = _defaults(args)
        if not model:
            raise PolskiError("no model; pass --model NAME (see `ollama list`)")
        options = {**options, **dict(parse_option(o) for o in args.option)}
        if args.seed is not None:
            options["seed"] = args.seed

        async def go() -> int:
            async with OllamaClient(host, timeout=args.timeout, max_connections=1) as client:
                return await ask(client, model, text, system=read_arg_file(system, "system"), options=options,
                                 think=True if args.think else None)
        return asyncio.run(go())
    except PolskiError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `purple ask ... | head -1`: the reader has had enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
