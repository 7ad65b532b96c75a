"""A real conversation in Purple, saved as an SVG screenshot: polski-mini (or --model) on a running Ollama server.

    python scripts/purple_screenshot.py --out docs/images/purple-polski-mini.svg [--model polski-mini] [--seed 7]

Each prompt is typed into Purple's prompt box and sent with Enter, as a user would; the screenshot is taken
once the last reply has finished streaming. The chat lives in a temporary store.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from purple.app import PurpleApp
from purple.config import ChatOptions, Config
from purple.store import Store

PROMPTS = [  # a multi-turn chat: a greeting, a request, a follow-up that needs the earlier reply
    "Cześć! Kim jesteś?",
    "Podaj trzy pomysły na jesienny weekend.",
    "A który z nich polecasz dla rodziny z dziećmi?",
]


async def converse(app: PurpleApp, prompts: list[str], out: Path, size: tuple[int, int], timeout: float) -> None:
    async with app.run_test(size=size) as pilot:
        for prompt in prompts:
            box = app.screen.query_one("#prompt")
            box.focus()
            box.text = prompt
            await pilot.press("enter")
            await pilot.pause(0.2)
            deadline = time.monotonic() + timeout
            while getattr(app.screen, "streaming", False):
                if time.monotonic() > deadline:
                    sys.exit(f"error: no reply finished within {timeout:g} s; is `ollama serve` running?")
                await pilot.pause(0.1)
        await pilot.pause(0.5)
        out.parent.mkdir(parents=True, exist_ok=True)
        app.save_screenshot(filename=out.name, path=str(out.parent))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--model", default="polski-mini")
    p.add_argument("--host")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--temperature", type=float, default=0.3)
    p.add_argument("--lang", choices=["pl", "en"], default="pl")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds a reply may take")
    args = p.parse_args()
    options = ChatOptions(seed=args.seed, temperature=args.temperature, num_predict=120)
    with tempfile.TemporaryDirectory() as tmp:
        config = Config(lang=args.lang, model=args.model, host=args.host, defaults=options, data_dir=tmp)
        app = PurpleApp(config, store=Store(Path(tmp) / "db"))
        asyncio.run(converse(app, PROMPTS, args.out, (110, 48), args.timeout))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
