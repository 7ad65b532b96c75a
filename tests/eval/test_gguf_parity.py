"""The exported F32 GGUF, run by real llama.cpp, gives the PyTorch checkpoint's BPB."""
import math

import pytest

from tests.conftest import missing_part
from training.evals.backends import GGUFBackend, torch_backend
from training.evals.bpb import evaluate_bpb

pytestmark = [pytest.mark.llamacpp, pytest.mark.slow]


def test_gguf_bpb_matches_torch(eval_run, heldout_texts, tmp_path):
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        missing_part("llama-cpp-python is not installed")
    from training.export.export_model import export_model

    gguf = tmp_path / "tiny-f32.gguf"
    export_model(eval_run, gguf, dtype="f32")
    tb = torch_backend(eval_run)
    gb = GGUFBackend(gguf)
    try:
        texts = heldout_texts[:3]
        assert [gb.encode(t) for t in texts] == [tb.encode(t) for t in texts]
        a, b = evaluate_bpb(tb, texts), evaluate_bpb(gb, texts)
        assert (a.tokens, a.bytes) == (b.tokens, b.bytes)
        assert math.isfinite(b.bpb) and abs(a.bpb - b.bpb) < 1e-3
    finally:
        gb.close()
