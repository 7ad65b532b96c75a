"""llama.cpp against PyTorch on the shipped polski-mini GGUF: logits and greedy text on the same weights.

    python benchmarks/llamacpp_parity.py [--gguf modelfiles/polski-mini/polski-mini.gguf] [--windows 8] [--length 256]

The PyTorch model gets the GGUF's own weights through `polski import`'s reader (`gguf_tensors`: Q8_0 dequantized to
fp32), so both sides run the same numbers. llama.cpp runs (a) an F32 copy of the GGUF made by its own quantizer
(llama_model_quantize, ALL_F32): the runtime alone, what the parity tests check on tiny models; and (b) the shipped
Q8_0 file itself, whose matmuls also round the activations to 8 bits. Both use an F32 KV cache and no flash
attention. Windows of held-out NTREX news (tokenized by the GGUF's vocabulary, BOS first) are scored at every
position; 64 greedy tokens are compared from one prompt. Writes benchmarks/results/llamacpp_parity.json and .md.
CPU only, about a minute on 2 cores.
"""
from __future__ import annotations

import argparse
import ctypes
import hashlib
import os
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from provenance import provenance, write_results  # noqa: E402

ALL_F32 = 0  # llama_ftype LLAMA_FTYPE_ALL_F32 (llama.h)
PROMPT = "Dawno, dawno temu w małej wsi"


def torch_model(gguf: Path):
    """The GGUF's weights in `training.model.GPT` (fp32, eval mode), read as `polski import` reads them."""
    from training.config import parse_config
    from training.export.import_gguf import gguf_tensors
    from training.export.read_back import read_metadata
    from training.model import GPT

    meta = read_metadata(gguf)
    config = parse_config(tomllib.loads(meta["polski.config_toml"]), source=str(gguf))
    model = GPT(config.model)
    state = gguf_tensors(gguf, model.state_dict(), config.model.n_heads, config.model.kv_heads)
    if config.model.tie_embeddings:
        state.pop("output.weight", None)
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not missing and not unexpected, (missing, unexpected)
    return model.eval(), config, meta


def f32_copy(gguf: Path, out: Path) -> Path:
    """An F32 GGUF of the same weights, written by llama.cpp's quantizer (dequantizing Q8_0)."""
    from training.export.llamacpp import import_llama_cpp, quiet

    lib = import_llama_cpp()
    quiet()
    params = lib.llama_model_quantize_default_params()
    params.ftype = ALL_F32
    params.allow_requantize = True
    params.nthread = 2
    rc = lib.llama_model_quantize(str(gguf).encode(), str(out).encode(), ctypes.byref(params))
    if rc != 0:
        raise SystemExit(f"llama_model_quantize to F32 failed (code {rc})")
    return out


def windows(gguf: Path, text_file: Path, n: int, length: int) -> list[list[int]]:
    """n windows of `length` tokens (BOS + length - 1 text tokens), spread over the text."""
    from training.evals.texts import load_texts
    from training.export.llamacpp import open_gguf

    with open_gguf(gguf, vocab_only=True) as lm:
        bos = lm.tokenize("", add_special=True)[0]
        ids = lm.tokenize("\n".join(load_texts(text_file)))
    step = (len(ids) - length) // n
    return [[bos] + ids[i * step : i * step + length - 1] for i in range(n)]


def compare(ours, theirs) -> dict:
    import numpy as np

    delta = np.abs(ours - theirs)
    return {"max_abs_delta_logit": float(delta.max()), "mean_abs_delta_logit": float(delta.mean()),
            "top1_agreement": float((ours.argmax(-1) == theirs.argmax(-1)).mean()), "positions": int(len(ours)),
            "logit_range": [float(ours.min()), float(ours.max())]}


def main() -> None:
    import numpy as np
    import torch

    from training.export.llamacpp import open_gguf

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--gguf", type=Path, default=ROOT / "modelfiles" / "polski-mini" / "polski-mini.gguf")
    p.add_argument("--text", type=Path, default=ROOT.parent / "shared" / "data" / "eval" / "heldout-text" / "ntrex128-pol.jsonl")
    p.add_argument("--windows", type=int, default=8)
    p.add_argument("--length", type=int, default=256)
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "llamacpp_parity")
    args = p.parse_args()
    if not args.text.is_file():
        sys.exit(f"error: {args.text} not found; pass --text with a JSON Lines file of {{\"text\": ...}} records")
    torch.set_num_threads(2)
    start = time.perf_counter()
    model, config, meta = torch_model(args.gguf)
    seqs = windows(args.gguf, args.text, args.windows, args.length)
    with torch.no_grad():
        ours = np.concatenate([model(torch.tensor([s]))[0][0].float().numpy() for s in seqs])
    with open_gguf(args.gguf, vocab_only=True) as lm:
        prompt = lm.tokenize(PROMPT, add_special=True)
    ours_greedy = model.generate(torch.tensor([prompt]), 64, temperature=0.0)[0, len(prompt):].tolist()

    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        f32 = f32_copy(args.gguf, Path(tmp) / "f32.gguf")
        for name, path in (("F32 copy", f32), (f"shipped ({meta.get('polski.weights_dtype', '?').upper()})", args.gguf)):
            with open_gguf(path, n_ctx=args.length, kv_type="f32") as lm:
                theirs = np.concatenate([lm.logits(s) for s in seqs])
                greedy = lm.greedy(prompt, 64)
            rows[name] = {**compare(ours, theirs), "greedy_64_identical": greedy == ours_greedy,
                          "greedy_first_difference": next((i for i, (a, b) in enumerate(zip(greedy, ours_greedy)) if a != b), None)}

    from importlib.metadata import version

    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "CPU")
    versions = {"torch": torch.__version__, "llama-cpp-python": version("llama-cpp-python"), "gguf": version("gguf"),
                "numpy": np.__version__}
    result = {**provenance("llamacpp_parity", versions, device=f"{cpu}, {os.cpu_count()} cores (CPU only)"),
              "gguf": str(args.gguf.relative_to(ROOT) if args.gguf.is_relative_to(ROOT) else args.gguf),
              "gguf_sha256": hashlib.sha256(args.gguf.read_bytes()).hexdigest(),
              "gguf_weights": meta.get("polski.weights_dtype"), "model": config.model.name, "text": args.text.name,
              "windows": args.windows, "window_tokens": args.length, "kv_cache": "f32", "flash_attention": False,
              "torch_weights": "the GGUF's, dequantized to fp32 by polski import's reader", "results": rows,
              "seconds": round(time.perf_counter() - start, 1)}
    lines = [f"# llama.cpp vs PyTorch on {result['gguf']} (same weights)", "",
             f"`{result['command']}`, {result['date']}, {result['device']}; torch {torch.__version__}, "
             f"llama-cpp-python {result['versions']['llama-cpp-python']}; GGUF sha256 {result['gguf_sha256'][:16]}…", "",
             f"{args.windows} windows of {args.length} tokens of {args.text.name} ({args.windows * args.length} positions), "
             "every position's logits; F32 KV cache, no flash attention. PyTorch runs the GGUF's weights dequantized to "
             "fp32; the F32 copy is llama.cpp's own conversion of the shipped file.", "",
             "| llama.cpp runs | max abs Δlogit | mean abs Δlogit | top-1 agreement | 64 greedy tokens |",
             "|---|---:|---:|---:|---|"]
    for name, r in rows.items():
        greedy = "identical" if r["greedy_64_identical"] else f"differ from token {r['greedy_first_difference']}"
        lines.append(f"| {name} | {r['max_abs_delta_logit']:.2e} | {r['mean_abs_delta_logit']:.2e} | "
                     f"{100 * r['top1_agreement']:.2f}% | {greedy} |")
    write_results(args.out, result, lines)


if __name__ == "__main__":
    main()
