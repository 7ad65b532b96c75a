"""Register a GGUF in Ollama through its HTTP API: upload the blob, then /api/create.

    await aregister_model("polski-mini", modelfile="modelfiles/polski-mini/Modelfile")   # from Purple
    register_model("polski-mini", gguf="polski-mini.gguf")                            # from scripts

Idempotent: a blob the server already has is not sent again, and creating the same model twice
gives the same manifest. A Modelfile's FROM must be a local GGUF (resolved against the
Modelfile's folder); it is never handed to the server as a name, so a typo cannot turn into
a pull from the internet.
"""
from __future__ import annotations

import asyncio
import hashlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from training.errors import ConfigError, ExportError, ServerError
from training.export.modelfile import (
    Modelfile,
    parse_modelfile,
    read_modelfile,
    render_modelfile,
)
from training.ollama_client import OllamaClient, OllamaError, ServerUnavailable

# progress(stage, done, total): stage is "hash", "upload" (bytes) or "create" (an Ollama status line, done/total may be None)
Progress = Callable[[str, int | None, int | None], None]
_BLOCK = 1 << 20


@dataclass
class Registration:
    name: str
    gguf: Path
    digest: str
    uploaded: bool  # False when the server already had the blob
    statuses: list[str]


def sha256_digest(path: Path, progress: Progress | None = None) -> str:
    h = hashlib.sha256()
    total, done = path.stat().st_size, 0
    with open(path, "rb") as f:
        while block := f.read(_BLOCK):
            h.update(block)
            done += len(block)
            if progress:
                progress("hash", done, total)
    return "sha256:" + h.hexdigest()


def config_from_gguf(gguf: Path):
    """The run config embedded by `polski export` (polski.config_toml), or defaults for a foreign GGUF."""
    import tomllib

    from training.config import Config, ModelConfig, parse_config
    from training.export.read_back import read_metadata

    meta = read_metadata(gguf)
    toml = meta.get("polski.config_toml")
    if toml:
        try:
            return parse_config(tomllib.loads(toml), f"{gguf}:polski.config_toml")
        except ConfigError as err:  # exported by another polski version: a key since renamed or removed
            print(f"warning: {err}; using the GGUF's architecture metadata instead", file=sys.stderr)
    arch = meta.get("general.architecture", "llama")
    m = ModelConfig(
        name=meta.get("general.name", gguf.stem), vocab_size=len(meta.get("tokenizer.ggml.tokens", [])) or 32000,
        n_layers=meta[f"{arch}.block_count"], d_model=meta[f"{arch}.embedding_length"],
        n_heads=meta[f"{arch}.attention.head_count"], ffn_hidden=meta[f"{arch}.feed_forward_length"],
        context_length=meta[f"{arch}.context_length"],
    )
    return Config(model=m, tokenizer={"vocab_size": m.vocab_size})


def check_gguf_file(path: Path, what: str) -> None:
    if not path.is_file():
        raise ExportError(f"{what} {path} does not exist: export it with `polski export RUN_DIR --out {path}` "
                          "(register never pulls a model from a registry)")
    with open(path, "rb") as f:
        if f.read(4) != b"GGUF":
            raise ExportError(f"{path} is not a GGUF file: export one with `polski export RUN_DIR --out FILE.gguf`")


def resolve_inputs(modelfile: Path | str | None, gguf: Path | str | None) -> tuple[Modelfile, Path]:
    """The Modelfile to use and the GGUF it points at (or the given `gguf`, which overrides FROM)."""
    if modelfile is None and gguf is None:
        raise ExportError("nothing to register: pass --modelfile FILE or --gguf FILE.gguf")
    if modelfile is not None:
        mf = read_modelfile(modelfile)
        path = Path(gguf) if gguf is not None else mf.from_path()
        check_gguf_file(path, f"FROM {mf.from_} in {modelfile} ->" if gguf is None else "GGUF")
        return mf, path
    path = Path(gguf)
    check_gguf_file(path, "GGUF")
    mf = parse_modelfile(render_modelfile(f"./{path.name}", config_from_gguf(path)), path.parent / "Modelfile")
    return mf, path


async def aregister_model(
    name: str,
    modelfile: Path | str | None = None,
    gguf: Path | str | None = None,
    host: str | None = None,
    quantize: str | None = None,
    progress: Progress | None = None,
) -> Registration:
    mf, path = resolve_inputs(modelfile, gguf)
    digest = await asyncio.to_thread(sha256_digest, path, progress)
    size = path.stat().st_size
    statuses: list[str] = []
    async with OllamaClient(host) as client:
        try:
            await client.version()
        except ServerUnavailable as err:
            raise ServerError(f"{err} (or pass --start-server)") from None
        try:
            uploaded = not await client.has_blob(digest)
            if uploaded:
                await client.push_blob(path, digest, (lambda sent: progress("upload", sent, size)) if progress else None)
                if not await client.has_blob(digest):
                    raise ExportError(f"Ollama did not keep the upload of {path}: check the server's disk space and log")
            async for part in client.create(
                name, files={path.name if path.suffix == ".gguf" else f"{path.name}.gguf": digest},
                template=mf.template, system=mf.system, parameters=mf.parameters or None, quantize=quantize,
                license=mf.license or None,
            ):
                status = part.get("status", "")
                statuses.append(status)
                if progress:
                    progress("create", part.get("completed"), part.get("total"))
                    progress(f"create: {status}", None, None)
        except OllamaError as err:
            text = str(err)
            if "digest mismatch" in text:
                raise ExportError(f"{path} changed while it was uploaded (digest mismatch): run `polski register` again") from None
            if isinstance(err, ServerUnavailable):
                raise ServerError(f"{err} (or pass --start-server)") from None
            raise
    if not statuses or statuses[-1] != "success":
        raise ServerError(f"Ollama did not confirm creating {name!r} (last status {statuses[-1:]}): check the server log")
    return Registration(name, path, digest, uploaded, statuses)


def register_model(name: str, modelfile=None, gguf=None, host=None, quantize=None, progress: Progress | None = None) -> Registration:
    """Synchronous `aregister_model` for scripts and the CLI (Purple awaits `aregister_model`)."""
    return asyncio.run(aregister_model(name, modelfile, gguf, host, quantize, progress))
