"""`purple batch INPUT --model M ...`: arguments, resume, signals, exit codes.

Exit codes: 0 every record succeeded, 1 some record failed (see its "error"), 2 a usage, input or
server error (one line on stderr), 130 stopped by Ctrl+C / SIGTERM (finished records are saved).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path

from training.errors import PolskiError
from training.ollama_client import OllamaClient

from . import inputs
from .inputs import InputError, Record, id_key
from .journal import Journal, StdoutSink, write_csv
from .report import Reporter
from .runner import Settings, run


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="purple batch", description="Run a file of prompts against an Ollama model, "
                                "each exactly once; re-running the same command resumes.")
    p.add_argument("input", help="JSON Lines, plain text (one prompt a line) or CSV with a prompt column; - for stdin")
    p.add_argument("-o", "--output", help="results (default: INPUT stem + .out.jsonl beside it; - for stdout)")
    p.add_argument("-m", "--model", required=True, help="Ollama model name")
    p.add_argument("-c", "--concurrency", type=int, default=4, help="requests in flight (default 4)")
    p.add_argument("--system", help="system prompt, or @FILE to read it from a file")
    p.add_argument("--template", metavar="FILE", help="prompt template with {{ field }} variables from each record")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="model option, e.g. temperature=0.2 num_predict=64 (repeatable)")
    p.add_argument("--seed", type=int, help="options.seed, for reproducible sampling")
    p.add_argument("--retries", type=int, default=3, help="retries on connection errors, 429, 500, 502, 503 (default 3)")
    p.add_argument("--backoff", type=float, default=0.5, help="first retry delay in seconds, doubled each retry")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds without a byte from the server before an attempt fails")
    p.add_argument("--keep-alive", help="how long Ollama keeps the model loaded, e.g. 10m")
    p.add_argument("--resume", action="store_true", help="continue an existing output (also the default when it exists)")
    p.add_argument("--retry-failed", action="store_true", help="run again the records that failed in the existing output")
    p.add_argument("--format", choices=["jsonl", "csv"], help="output format (default: from -o, else jsonl)")
    p.add_argument("--input-format", choices=["jsonl", "text", "csv"], help="input format (default: from the extension)")
    p.add_argument("--unordered", action="store_true", help="write results as they finish instead of in input order")
    p.add_argument("--skip-invalid", action="store_true", help="record malformed input lines as failed and go on")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    p.add_argument("--host", help="Ollama server (default: $OLLAMA_HOST or 127.0.0.1:11434)")
    return p


def parse_option(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise InputError(f"--option {text!r} is not KEY=VALUE; write e.g. --option temperature=0.2")
    try:
        return key.strip(), json.loads(value)
    except json.JSONDecodeError:
        return key.strip(), value


def read_arg_file(value: str | None, what: str) -> str | None:
    if value is None or not value.startswith("@"):
        return value
    try:
        return Path(value[1:]).read_text(encoding="utf-8")
    except OSError as err:
        raise InputError(f"cannot read the {what} file {value[1:]}: {err.strerror}") from None


def output_paths(args) -> tuple[str, str]:
    fmt = args.format or ("csv" if args.output and args.output.lower().endswith(".csv") else "jsonl")
    if args.output:
        return args.output, fmt
    if args.input == "-":
        raise InputError("reading from stdin needs -o OUTPUT (or -o - for stdout)")
    src = Path(args.input)
    return str(src.with_name(f"{src.stem}.out.{fmt}")), fmt


def settings_from(args) -> Settings:
    if args.concurrency < 1 or args.retries < 0 or args.timeout <= 0:
        raise InputError("--concurrency must be >= 1, --retries >= 0 and --timeout > 0")
    options = dict(parse_option(o) for o in args.option)
    if args.seed is not None:
        options["seed"] = args.seed
    return Settings(model=args.model, concurrency=args.concurrency, retries=args.retries, backoff=args.backoff,
                    options=options, system=read_arg_file(args.system, "system"), unordered=args.unordered,
                    keep_alive=args.keep_alive)


def in_input_order(existing: list[dict], records: list[Record]) -> list[dict]:
    position = {r.key: r.index for r in records}
    known = sorted((r for r in existing if id_key(r["id"]) in position), key=lambda r: position[id_key(r["id"])])
    return known + [r for r in existing if id_key(r["id"]) not in position]


async def execute(args) -> int:
    settings = settings_from(args)
    template = read_arg_file("@" + args.template, "template") if args.template else None
    records = inputs.load(args.input, args.input_format, template=template, skip_invalid=args.skip_invalid)
    output, fmt = output_paths(args)
    if output == "-":
        sink = StdoutSink(fmt)
    else:
        sink = Journal(Path(output + ".journal.jsonl") if fmt == "csv" else Path(output))
    try:
        return await _execute(args, settings, records, sink, output, fmt)
    finally:
        sink.close()


async def _execute(args, settings: Settings, records: list[Record], sink, output: str, fmt: str) -> int:
    wanted = {r.key for r in records}
    if args.retry_failed and isinstance(sink, Journal):
        keep = [r for r in sink.records if not (r.get("error") and id_key(r["id"]) in wanted)]
        if len(keep) < len(sink.records):
            sink.rewrite(keep)
    done = sink.done()
    others = sorted({r.get("model") for k, r in done.items() if k in wanted} - {settings.model}, key=str)
    if others:
        raise InputError(f"{output} holds results of model {others[0]!r}, not {settings.model!r}; choose another -o")
    pending = [r for r in records if r.key not in done]
    skipped = len(records) - len(pending)
    reporter = Reporter(len(pending), quiet=args.quiet)
    if skipped:
        reporter.note(f"resuming {output}: {skipped} of {len(records)} records already done")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    handled = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            handled.append(sig)
        except (ValueError, RuntimeError, NotImplementedError):  # not the main thread
            pass
    written = 0

    def write(result: dict) -> None:
        nonlocal written
        sink.append(result)
        written += 1
        reporter.add(result)

    try:
        async with OllamaClient(args.host, timeout=args.timeout, max_connections=settings.concurrency) as client:
            if any(not r.invalid for r in pending):
                await client.show(settings.model)  # fail fast on a wrong model or host
            with reporter:
                await run(client, pending, settings, write, stop)
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)
    interrupted = written < len(pending)
    final = sink.records
    if isinstance(sink, Journal):
        ordered = final if settings.unordered or interrupted else in_input_order(final, records)
        if ordered != final:
            sink.rewrite(ordered)
        if fmt == "csv":
            write_csv(Path(output), in_input_order(sink.records, records) if not settings.unordered else sink.records)
        final = sink.records
    failed_total = sum(1 for r in final if r.get("error") and id_key(r["id"]) in wanted)
    reporter.summary(skipped=skipped, failed_total=failed_total, output=output, interrupted=interrupted)
    if interrupted:
        return 130
    return 1 if failed_total else 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    try:
        return asyncio.run(execute(args))
    except PolskiError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # before the signal handlers were in place
        print("interrupted; run the same command again to go on", file=sys.stderr)
        return 130
