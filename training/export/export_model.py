"""`polski export` end to end: checkpoint -> GGUF (-> quantized GGUF) or HF dir, each validated after writing."""
from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from training.errors import ExportError
from training.export.source import load_source


@dataclass
class ExportReport:
    path: Path
    format: str
    bytes: int
    steps: list[dict] = field(default_factory=list)  # {"step", "seconds", "bytes"}

    @property
    def seconds(self) -> float:
        return sum(s["seconds"] for s in self.steps)


def export_model(
    path: Path | str,
    out: Path | str,
    dtype: str | None = None,
    quantize: str | None = None,
    force: bool = False,
    fmt: str = "gguf",
    tokenizer_dir: Path | str | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> ExportReport:
    source = load_source(path, tokenizer_dir)
    out = Path(out)
    dtype = dtype or source.config.export.dtype
    if fmt == "hf":
        from training.export.hf import write_hf

        if quantize:
            raise ExportError("--quantize applies to GGUF only: drop it or use --format gguf")
        result = write_hf(source, out, dtype=dtype, force=force)
        return ExportReport(out, "hf", result["bytes"], [{"step": f"hf {dtype}", **result}])
    if fmt != "gguf":
        raise ExportError(f"--format {fmt} is not one of gguf, hf")

    from training.export.gguf_writer import write_gguf
    from training.export.read_back import validate_gguf

    if out.exists() and not force:
        raise ExportError(f"{out} exists: pass --force to overwrite it")
    if not quantize:
        res = write_gguf(source, out, dtype=dtype, force=force, progress=progress)
        validate_gguf(out, source.model)
        return ExportReport(out, "gguf", res.bytes, [{"step": f"gguf {dtype}", "seconds": res.seconds, "bytes": res.bytes}])

    from training.export.quantize import quantize_gguf

    if dtype == "bf16":
        dtype = "f16"  # llama.cpp quantizes from f16/f32; bf16 gains nothing as an intermediate
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".polski-export-", dir=out.parent) as scratch:
        full = Path(scratch) / f"model-{dtype}.gguf"
        res = write_gguf(source, full, dtype=dtype, progress=progress)
        validate_gguf(full, source.model)
        q = quantize_gguf(full, out, quantize, force=force)
    validate_gguf(out, source.model)
    return ExportReport(out, "gguf", q.bytes, [
        {"step": f"gguf {dtype}", "seconds": res.seconds, "bytes": res.bytes},
        {"step": f"quantize {quantize}", "seconds": q.seconds, "bytes": q.bytes},
    ])
