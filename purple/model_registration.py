"""The one place Purple registers the shipped model, through `training.register`.

`register_model(name, modelfile, host=None, progress=None)` may be sync or async; a sync
one runs in a thread so the UI keeps painting.
"""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path
from typing import Callable

SHIPPED_MODEL = "polski-mini"
SHIPPED_MODELFILE = Path("modelfiles") / SHIPPED_MODEL / "Modelfile"


def shipped_modelfile() -> Path:
    """The Modelfile of polski-mini, looked up beside the package, then in the working dir."""
    beside_package = Path(__file__).resolve().parents[1] / SHIPPED_MODELFILE
    return beside_package if beside_package.exists() else Path.cwd() / SHIPPED_MODELFILE


async def register_shipped_model(host: str | None,
                                 progress: Callable[[str], None] | None = None) -> str:
    from training.register import register_model  # heavy, and only needed here

    modelfile = shipped_modelfile()
    if not modelfile.exists():
        raise FileNotFoundError(str(modelfile))

    def report(*args) -> None:
        if progress is not None:
            progress(" ".join(str(a) for a in args if a is not None))

    if inspect.iscoroutinefunction(register_model):
        await register_model(SHIPPED_MODEL, modelfile, host=host, progress=report)
    else:
        await asyncio.to_thread(register_model, SHIPPED_MODEL, modelfile, host=host, progress=report)
    return SHIPPED_MODEL
