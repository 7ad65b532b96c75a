"""Real llama.cpp through llama-cpp-python's low-level API: tokenize, logits, greedy decode.

Used by the parity tests and by anything that evaluates a GGUF. Nothing here reimplements
llama.cpp; it only moves ids and logits across the ctypes boundary.
"""
from __future__ import annotations

import contextlib
import ctypes
from pathlib import Path

import numpy as np

from training.errors import ExportError

KV_TYPES = {"f32": 0, "f16": 1}  # ggml_type GGML_TYPE_F32, GGML_TYPE_F16


def import_llama_cpp():
    try:
        import llama_cpp
    except ImportError:
        raise ExportError("llama-cpp-python is not installed: pip install 'llama-cpp-python>=0.3.16' (compiles llama.cpp)") from None
    return llama_cpp


_LOG_CB = None


def quiet() -> None:
    """Silences llama.cpp's stderr logging (it is very chatty on load)."""
    global _LOG_CB
    llama_cpp = import_llama_cpp()
    if _LOG_CB is None:
        _LOG_CB = llama_cpp.llama_log_callback(lambda level, text, user_data: None)
        llama_cpp.llama_log_set(_LOG_CB, ctypes.c_void_p(0))
        llama_cpp.llama_backend_init()


class LlamaCppModel:
    """A GGUF loaded by llama.cpp (CPU). `vocab_only` loads just the tokenizer."""

    def __init__(self, path: Path | str, vocab_only: bool = False, n_ctx: int = 512, kv_type: str = "f32",
                 threads: int = 2, flash_attn: bool = False):
        """flash_attn off by default: llama.cpp's CPU flash attention rounds Q to F16 (max |Δlogit| ~1e-2
        instead of ~2e-5 with F32 weights and cache)."""
        quiet()
        self.lib = lib = import_llama_cpp()
        mparams = lib.llama_model_default_params()
        mparams.vocab_only = vocab_only
        mparams.n_gpu_layers = 0
        self.model = lib.llama_model_load_from_file(str(path).encode(), mparams)
        if not self.model:
            raise ExportError(f"llama.cpp could not load {path}: export it again (see docs/export.md)")
        self.vocab = lib.llama_model_get_vocab(self.model)
        self.n_vocab = lib.llama_vocab_n_tokens(self.vocab)
        self.ctx = None
        if not vocab_only:
            cparams = lib.llama_context_default_params()
            cparams.n_ctx = n_ctx
            cparams.n_batch = n_ctx
            cparams.n_ubatch = n_ctx
            cparams.n_threads = cparams.n_threads_batch = threads
            cparams.type_k = cparams.type_v = KV_TYPES[kv_type]
            if hasattr(cparams, "flash_attn_type"):
                cparams.flash_attn_type = 1 if flash_attn else 0  # llama_flash_attn_type: -1 auto, 0 off, 1 on
            self.ctx = lib.llama_init_from_model(self.model, cparams)
            if not self.ctx:
                raise ExportError(f"llama.cpp could not create a context for {path}")
            self.n_ctx = n_ctx

    def close(self) -> None:
        if self.ctx:
            self.lib.llama_free(self.ctx)
            self.ctx = None
        if self.model:
            self.lib.llama_model_free(self.model)
            self.model = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def tokenize(self, text: str, add_special: bool = False, parse_special: bool = True) -> list[int]:
        data = text.encode("utf-8")
        cap = len(data) + 8
        buf = (self.lib.llama_token * cap)()
        n = self.lib.llama_tokenize(self.vocab, data, len(data), buf, cap, add_special, parse_special)
        if n < 0:
            raise ExportError(f"llama.cpp tokenize needs {-n} slots")
        return list(buf[:n])

    def detokenize(self, ids: list[int]) -> str:
        out = bytearray()
        piece = ctypes.create_string_buffer(256)
        for t in ids:
            n = self.lib.llama_token_to_piece(self.vocab, t, piece, 256, 0, True)
            out += piece.raw[:n]
        return out.decode("utf-8", errors="replace")

    def _reset(self) -> None:
        self.lib.llama_memory_clear(self.lib.llama_get_memory(self.ctx), True)

    def _decode(self, ids: list[int], start: int, all_logits: bool) -> np.ndarray:
        lib = self.lib
        batch = lib.llama_batch_init(len(ids), 0, 1)
        try:
            batch.n_tokens = len(ids)
            for i, t in enumerate(ids):
                batch.token[i] = t
                batch.pos[i] = start + i
                batch.n_seq_id[i] = 1
                batch.seq_id[i][0] = 0
                batch.logits[i] = all_logits or i == len(ids) - 1
            if lib.llama_decode(self.ctx, batch) != 0:
                raise ExportError("llama_decode failed")
            rows = len(ids) if all_logits else 1
            ptr = lib.llama_get_logits(self.ctx)
            return np.ctypeslib.as_array(ptr, shape=(rows, self.n_vocab)).copy()
        finally:
            lib.llama_batch_free(batch)

    def logits(self, ids: list[int]) -> np.ndarray:
        """(len(ids), n_vocab) logits of every position, from a fresh cache."""
        self._reset()
        return self._decode(list(ids), 0, all_logits=True)

    def greedy(self, ids: list[int], n_new: int) -> list[int]:
        """Greedy continuation (argmax), one token a step through the KV cache."""
        self._reset()
        out = []
        logits = self._decode(list(ids), 0, all_logits=False)
        pos = len(ids)
        for _ in range(n_new):
            nxt = int(np.argmax(logits[-1]))
            out.append(nxt)
            logits = self._decode([nxt], pos, all_logits=False)
            pos += 1
        return out


@contextlib.contextmanager
def open_gguf(path, **kwargs):
    model = LlamaCppModel(path, **kwargs)
    try:
        yield model
    finally:
        model.close()
