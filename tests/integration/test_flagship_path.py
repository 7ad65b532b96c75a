"""The flagship polski-1b3 path end to end on CPU at a tiny size, through `polski pipeline` (issue 39, item 4).

The config is polski-1b3's own (`load_config("polski-1b3", ...)`), so every setting of the flagship stays (untied
embeddings, bf16 weights and AdamW states with stochastic rounding, bf16 autocast, full activation checkpointing,
the chunked loss, the cosine schedule, no chat data so the SFT stage hands the pretrained run on, F16 export then
Q4_0, its [ollama] settings) except what must shrink to run on CPU in seconds. The GGUF must really be Q4_0, and
the model registered in the real Ollama of the tests must answer.
"""
from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.polish_text import TINY_VOCAB, write_polish_jsonl
from training.config import dump_config, load_config

pytestmark = [pytest.mark.slow, pytest.mark.ollama, pytest.mark.llamacpp]  # Q4_0: llama.cpp's llama_model_quantize

NAME = "polski-1b3-tiny-path"
CONTEXT, MICRO_BATCH = 128, 2

# Only what must shrink. d_model and ffn_hidden are multiples of 32, so every Q4_0 row divides into its blocks and
# the block matrices are really Q4_0. (output.weight gets Q6_K at full size, which needs rows of 256: here llama.cpp
# falls back to Q8_0 for it; d_model 256 would avoid that but triples the training time on this CPU.)
SHRINK = {
    "model": {"vocab_size": TINY_VOCAB, "n_layers": 2, "d_model": 128, "n_heads": 4, "ffn_hidden": 256,
              "context_length": CONTEXT},
    "tokenizer": {"vocab_size": TINY_VOCAB},
    "optim": {"warmup_steps": 2},  # 500 of 20000 steps at full size; the schedule keeps its shape
    "train": {
        "device": "cpu",
        "compile": False,  # torch.compile on CPU costs minutes of C++ builds
        "micro_batch_size": MICRO_BATCH, "grad_accum_steps": 2, "max_steps": 20,
        "eval_interval": 10, "eval_batches": 2, "checkpoint_interval": 10, "sample_tokens": 16,
        # two chunks per micro-batch, as at full size (8 x 1024 tokens in chunks of 4096)
        "loss_chunk_tokens": MICRO_BATCH * CONTEXT // 2,
    },
    "corpus": {"val_fraction": 0.1},  # 0.01 of the ~90 test paragraphs could leave validation empty
}


def flagship_config(tmp_path: Path) -> Path:
    source = write_polish_jsonl(tmp_path / "src" / "polski.jsonl")
    config = load_config("polski-1b3", {**SHRINK, "corpus": {**SHRINK["corpus"], "sources": [str(source)]},
                                        "paths": {"work_dir": str(tmp_path / "work")}, "ollama": {"name": NAME}})
    path = tmp_path / "polski-1b3-tiny.toml"
    path.write_text(dump_config(config), encoding="utf-8")
    return path


def test_the_config_differs_from_polski_1b3_only_where_it_must_shrink(tmp_path):
    flagship = load_config("polski-1b3").model_dump(mode="json")
    tiny = load_config(flagship_config(tmp_path)).model_dump(mode="json")
    allowed = {(section, key) for section, keys in SHRINK.items() for key in keys}
    allowed |= {("corpus", "sources"), ("paths", "work_dir"), ("ollama", "name")}
    changed = {(section, key) for section, values in flagship.items() if isinstance(values, dict)
               for key, value in values.items() if tiny[section][key] != value}
    assert changed <= allowed, changed - allowed
    t = tiny["train"]
    assert (t["precision"], t["param_dtype"], t["stochastic_rounding"]) == ("bf16", "bf16", True)
    assert t["activation_checkpointing"] == "full" and tiny["model"]["tie_embeddings"] is False
    assert (tiny["export"]["dtype"], tiny["export"]["quantize"]) == ("f16", "q4_0")
    assert tiny["chat_data"] is None and tiny["sft"]["sources"] == []  # as polski-1b3: SFT hands the run on


@pytest.mark.timeout(480)  # ~100 s here; a hang fails with every thread's stack instead of at the suite's 600 s
def test_polski_pipeline_runs_the_flagship_path_to_a_q4_0_model_that_ollama_serves(tmp_path, ollama_server, capsys,
                                                                                    monkeypatch):
    from training.checkpoint import load_checkpoint
    from training.cli import main
    from training.export import quantize
    from training.export.read_back import read_metadata
    from training.pipeline import STAGES

    quantized_from = []  # the file type of the GGUF the quantizer reads: F16, as at full size
    real_quantize = quantize.quantize_gguf

    def spy(src, dst, qtype, **kwargs):
        quantized_from.append((read_metadata(src)["general.file_type"], qtype))
        return real_quantize(src, dst, qtype, **kwargs)

    monkeypatch.setattr(quantize, "quantize_gguf", spy)
    path = flagship_config(tmp_path)
    work = tmp_path / "work"
    assert main(["pipeline", "--config", str(path), "--host", ollama_server.url]) == 0
    summary = capsys.readouterr().out.strip().splitlines()[-1]
    ran = [s for s in STAGES if s not in ("chat_data", "refine", "merge")]  # polski-1b3 has none of these
    assert summary == "pipeline: " + ", ".join(f"{s} done" for s in ran)

    meta = load_checkpoint(work / "run").meta
    assert meta["step"] == 20

    evaluation = json.loads((work / "eval" / "eval.json").read_text())  # as on the GPU: BPB, minimal pairs, samples
    assert evaluation["bpb"]["bins:val"]["bpb"] > 0 and evaluation["model"]["params"] > 0
    assert sum(r["pairs"] for r in evaluation["minimal_pairs"].values()) > 0 and evaluation["samples"]

    assert quantized_from == [(1, "q4_0")]  # LLAMA_FTYPE_MOSTLY_F16 in, Q4_0 out
    gguf = work / "export" / "polski-1b3.gguf"
    info = read_metadata(gguf)
    assert info["general.file_type"] == 2  # LLAMA_FTYPE_MOSTLY_Q4_0
    types = {name: kind for name, (_shape, kind) in info["__tensors__"].items()}
    assert types["output.weight"] in ("Q6_K", "Q8_0")  # untied, as polski-1b3; Q8_0 is llama.cpp's fallback here
    assert all(types[f"blk.{i}.{t}.weight"] == "Q4_0" for i in range(2)
               for t in ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down")), types
    assert types["token_embd.weight"] == "Q4_0"
    assert info["llama.context_length"] == CONTEXT and info["llama.vocab_size"] == TINY_VOCAB

    assert (work / ".registered").read_text().split()[0] == NAME
    assert NAME in ollama_server.cli("list").stdout
    shown = httpx.post(f"{ollama_server.url}/api/show", json={"model": NAME}, timeout=60).json()
    assert shown["model_info"]["llama.block_count"] == 2 and "<|im_start|>" in shown["template"]
    # what `ollama run NAME PROMPT` sends (/api/chat, the Modelfile's template, system prompt and parameters), with
    # num_predict: a model of 20 steps may never write its stop token, and the CLI has no flag to bound it
    reply = httpx.post(f"{ollama_server.url}/api/chat", timeout=300, json={
        "model": NAME, "messages": [{"role": "user", "content": "Opowiedz mi o Polsce."}], "stream": False,
        "options": {"num_predict": 24, "seed": 1}}).json()
    assert reply.get("done") is True, reply
    assert reply["eval_count"] > 0 and reply["message"]["content"].strip(), reply
