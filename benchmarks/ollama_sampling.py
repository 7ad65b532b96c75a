"""Sampling settings of a Modelfile, compared on a dev prompt set through a real Ollama server.

    python benchmarks/ollama_sampling.py modelfiles/polski-mini/Modelfile \\
        --prompts training/resources/chat-eval/chat-dev.jsonl --seeds 1 2 \\
        --variant shipped: \\
        --variant window16:repeat_last_n=16 \\
        --variant t0.5:temperature=0.5 \\
        --out benchmarks/results/polski_mini/sampling_dev.md

Each variant is the Modelfile with some PARAMETER lines replaced, registered as `NAME-sampling-VARIANT` and scored by
`polski eval ollama:… --chat` (training/evals/chat.py): usable, on topic, facts, loops, mean reply length. The
evaluation sends the variant's temperature and top-p with each request; the other settings act from the registered
Modelfile, as they do for a user.
Decisions are made on dev prompts only: a test set is refused (docs/evaluation.md).
`--num-thread 1` registers the variants with one llama.cpp thread: on a busy 2-core machine two spinning threads
slow every reply many times over, and the replies do not depend on the thread count.
"""
from __future__ import annotations

import argparse
import datetime
import json
import platform
import re
import sys
import tempfile
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from training.evaluate import run_eval  # noqa: E402
from training.export.modelfile import read_modelfile  # noqa: E402
from training.ollama_client import resolve_host  # noqa: E402
from training.register import register_model  # noqa: E402

COLUMNS = ("usable", "on_topic", "fact_accuracy", "loops", "ended", "mean_words")


def parse_variant(text: str) -> tuple[str, dict]:
    """`NAME:key=value,key=value` (`NAME:` is the Modelfile unchanged)."""
    name, _, rest = text.partition(":")
    if not re.fullmatch(r"[a-z0-9.\-]+", name):
        raise SystemExit(f"variant name {name!r}: use lowercase letters, digits, dots and dashes")
    params = {}
    for item in filter(None, rest.split(",")):
        key, eq, value = item.partition("=")
        if not eq:
            raise SystemExit(f"variant {text!r}: write settings as key=value, e.g. repeat_last_n=16")
        params[key.strip()] = float(value) if "." in value else int(value)
    return name, params


def variant_modelfile(base: Path, params: dict, num_thread: int | None) -> str:
    """The base Modelfile with FROM made absolute and the given PARAMETER lines replaced."""
    mf = read_modelfile(base)
    replaced = set(params) | ({"num_thread"} if num_thread else set())
    lines = []
    for line in base.read_text(encoding="utf-8").splitlines():
        words = line.split()
        if words[:1] and words[0].upper() == "FROM":
            line = f"FROM {mf.from_path().resolve()}"
        elif len(words) >= 2 and words[0].upper() == "PARAMETER" and words[1] in replaced:
            continue
        lines.append(line)
    lines += [f"PARAMETER {k} {v}" for k, v in params.items()]
    if num_thread:
        lines.append(f"PARAMETER num_thread {num_thread}")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("modelfile", type=Path)
    ap.add_argument("--prompts", type=Path, default=ROOT / "training/resources/chat-eval/chat-dev.jsonl")
    ap.add_argument("--variant", action="append", required=True, metavar="NAME:key=value,...")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--host", default=None)
    ap.add_argument("--num-thread", type=int, default=None)
    ap.add_argument("--out", type=Path, required=True, help="a .md table; a .json beside it (figures and examples)")
    args = ap.parse_args()
    if "test" in args.prompts.name:
        raise SystemExit(f"{args.prompts.name} is a test set: compare settings on dev prompts (chat-dev.jsonl)")

    base = read_modelfile(args.modelfile)
    model = args.modelfile.resolve().parent.name
    host = args.host
    base_url, headers = resolve_host(host)
    rows, everything = [], {}
    for name, params in map(parse_variant, args.variant):
        tag = f"{model}-sampling-{name}"
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "Modelfile"
            path.write_text(variant_modelfile(args.modelfile, params, args.num_thread), encoding="utf-8")
            register_model(tag, modelfile=path, host=host)
        temperature = params.get("temperature", base.parameters.get("temperature", 0.8))
        chat = run_eval(f"ollama:{tag}", chat=args.prompts, chat_seeds=args.seeds, chat_temperature=temperature,
                        chat_top_p=base.parameters.get("top_p", 0.9), ollama_host=host)["chat"]
        settings = {**{k: v for k, v in base.parameters.items() if k not in ("stop", "num_ctx")}, **params,
                    "temperature": temperature}
        rows.append((name, settings, chat))
        everything[name] = {"settings": settings, **{k: v for k, v in chat.items() if k != "replies"}}
        print(name, " ".join(f"{c}={chat[c]:.3f}" for c in COLUMNS), flush=True)

    version = httpx.get(f"{base_url}/api/version", headers=headers, timeout=10).json()["version"]
    lines = [f"# {model}: sampling settings on {args.prompts.name}", "",
             f"Ollama {version}, {platform.machine()} CPU, {datetime.date.today()}, seeds {' '.join(map(str, args.seeds))}, "
             f"{len(chat['replies']) // len(args.seeds)} prompts; `python benchmarks/ollama_sampling.py "
             f"{args.modelfile} --prompts {args.prompts} --seeds {' '.join(map(str, args.seeds))} "
             + " ".join(f"--variant {v}" for v in args.variant) + f" --out {args.out}`.", "",
             "| variant | settings | " + " | ".join(COLUMNS) + " |", "|---|---|" + "---:|" * len(COLUMNS)]
    for name, settings, chat in rows:
        shown = ", ".join(f"{k} {v}" for k, v in settings.items())
        lines.append(f"| {name} | {shown} | " + " | ".join(f"{chat[c]:.3f}" if c != "mean_words" else f"{chat[c]:.1f}"
                                                          for c in COLUMNS) + " |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    args.out.with_suffix(".json").write_text(json.dumps(everything, ensure_ascii=False, indent=1), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
