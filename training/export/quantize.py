"""Quantization by llama.cpp's own quantizer (llama_model_quantize), from an F32/F16/BF16 GGUF.

No quantization code of our own: llama.cpp decides block layouts, and falls back to a
compatible type for tensors whose rows do not divide into its blocks (e.g. Q4_K needs 256).
"""
from __future__ import annotations

import ctypes
import os
import time
from dataclasses import dataclass
from pathlib import Path

from training.atomic import atomic_path
from training.errors import ExportError

# llama_ftype values (llama.h)
FTYPES = {"q4_0": 2, "q8_0": 7, "q4_K_M": 15}
GGUF_FILE_TYPES = {2: "MOSTLY_Q4_0", 7: "MOSTLY_Q8_0", 15: "MOSTLY_Q4_K_M"}


@dataclass
class QuantizeResult:
    path: Path
    bytes: int
    seconds: float
    qtype: str


def quantize_gguf(src: Path | str, dst: Path | str, qtype: str, force: bool = False, threads: int | None = None) -> QuantizeResult:
    from training.export.llamacpp import import_llama_cpp, quiet

    src, dst = Path(src), Path(dst)
    if qtype not in FTYPES:
        raise ExportError(f"--quantize {qtype} is not one of {', '.join(FTYPES)}")
    if not src.is_file():
        raise ExportError(f"{src} does not exist: export an F16/F32 GGUF first with `polski export`")
    if dst.exists() and not force:
        raise ExportError(f"{dst} exists: pass --force to overwrite it")
    lib = import_llama_cpp()
    quiet()
    params = lib.llama_model_quantize_default_params()
    params.ftype = FTYPES[qtype]
    params.nthread = threads or os.cpu_count() or 1
    start = time.perf_counter()
    with atomic_path(dst) as tmp:
        rc = lib.llama_model_quantize(str(src).encode(), str(tmp).encode(), ctypes.byref(params))
        if rc != 0:
            raise ExportError(f"llama.cpp failed to quantize {src} to {qtype} (code {rc}): quantize from an f16 or f32 export")
    return QuantizeResult(dst, dst.stat().st_size, time.perf_counter() - start, qtype)
