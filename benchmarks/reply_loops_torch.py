"""A quick screen of looping replies for chat runs, in PyTorch (a GPU call), before their GGUFs travel to Ollama.

The model card's prompts, each sampled --samples times from RUN_DIR's last checkpoint with a sampler that follows
Ollama's defaults for the Modelfile (repeat penalty 1.1 over the last 64 tokens, top_k 40, top_p 0.9, temperature
0.3, at most 120 tokens); a reply loops by `reply_loops.loops`. A screen to rank candidates only: the shipping rule
counts replies from Ollama itself (`reply_loops.py`), whose sampler and seeds differ.

    python benchmarks/reply_loops_torch.py WORK-a/refine WORK-b/refine --samples 20 --out OUT/screen
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from provenance import provenance, write_results
from reply_loops import ROOT, loops  # reply_loops also puts the repository on sys.path

MAX_NEW_TOKENS = 120  # as reply_loops.py asks Ollama for


def penalize(logits: torch.Tensor, recent: torch.Tensor, penalty: float) -> torch.Tensor:
    """llama.cpp's repeat penalty: each token seen in `recent` (B, N) has a positive logit divided, a negative one
    multiplied, by `penalty`."""
    seen = torch.zeros_like(logits, dtype=torch.bool).scatter_(1, recent, True)
    return torch.where(seen, torch.where(logits > 0, logits / penalty, logits * penalty), logits)


@torch.no_grad()
def sample_replies(model, prompt_ids: list[int], n: int, stop_ids: list[int], *, seed: int,
                   max_new_tokens: int = MAX_NEW_TOKENS, temperature: float = 0.3, top_k: int = 40,
                   top_p: float = 0.9, penalty: float = 1.1, last_n: int = 64) -> list[list[int]]:
    """n sampled continuations of one prompt (same length rows, so no padding), each cut at its first stop id."""
    from training.model import sample_next

    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed)
    idx = torch.tensor([prompt_ids] * n, dtype=torch.long, device=device)
    stops = torch.tensor(stop_ids, device=device)
    done = torch.zeros(n, dtype=torch.bool, device=device)
    for _ in range(max_new_tokens):
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            logits, _ = model(idx[:, -model.config.context_length:])
        logits = penalize(logits[:, -1, :].float(), idx[:, -last_n:], penalty)
        nxt = sample_next(logits, temperature, top_k, top_p, generator)
        idx = torch.cat([idx, nxt[:, None]], dim=1)
        done |= torch.isin(nxt, stops)
        if bool(done.all()):
            break
    replies = []
    for row in idx[:, len(prompt_ids):].tolist():
        cut = next((i for i, t in enumerate(row) if t in stop_ids), None)
        replies.append(row if cut is None else row[:cut])
    return replies


def screen(run_dir: Path, prompts: list[dict], samples: int, device: str) -> dict:
    from training.evals.backends import load_checkpoint_model
    from training.sft import encode_conversation

    model, tok, src = load_checkpoint_model(run_dir, device)
    system = src.config.ollama.system
    stop_ids = [tok.im_end_id, tok.eos_id]
    replies, cut = [], 0
    for n, record in enumerate(prompts):
        ids, _ = encode_conversation(tok, [{"role": "user", "content": record["prompt"]}], system)
        ids += tok.encode("<|im_start|>assistant\n")
        for row in sample_replies(model, ids, samples, stop_ids, seed=1000 + n):
            cut += len(row) >= MAX_NEW_TOKENS
            replies.append({"id": record["id"], "reply": tok.decode(row)})
    looping = [r for r in replies if loops(r["reply"])]
    return {"replies": len(replies), "looping": len(looping), "cut_at_limit": cut,
            "mean_words": sum(len(r["reply"].split()) for r in replies) / max(1, len(replies)),
            "looping_examples": looping[:5]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", type=Path, help="chat RUN_DIRs (or checkpoint dirs)")
    p.add_argument("--samples", type=int, default=20, help="replies per prompt")
    p.add_argument("--prompts", type=Path, default=ROOT / "modelfiles/polski-mini/sample-prompts.jsonl")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--out", type=Path, required=True, help="OUT.json and OUT.md are written")
    args = p.parse_args()

    prompts = [json.loads(line) for line in args.prompts.read_text(encoding="utf-8").splitlines() if line.strip()]
    table = {str(run): screen(run, prompts, args.samples, args.device) for run in args.runs}
    device = torch.cuda.get_device_name() if args.device == "cuda" else None
    result = {**provenance("reply_loops_torch", {"torch": torch.__version__}, device=device),
              "samples": args.samples, "runs": table}
    lines = [f"# Looping replies (screen): {len(prompts)} prompts × {args.samples} samples, PyTorch sampler", "",
             "| run | replies | looping | cut at 120 tokens | mean words |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {run} | {t['replies']} | {t['looping']} | {t['cut_at_limit']} | {t['mean_words']:.1f} |"
              for run, t in table.items()]
    write_results(args.out, result, lines)


if __name__ == "__main__":
    main()
