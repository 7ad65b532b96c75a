"""`polski inspect CHECKPOINT "zdanie"`: per-token surprisal as coloured text, top-k next tokens at a
position, and (PyTorch checkpoints) attention maps per layer and head as PNG heatmaps.

Attention weights are recomputed explicitly from each layer's wq/wk applied to the input of the
attention block (captured with a forward hook on `attention_norm`; model.py is unchanged):
softmax(rope(q) rope(k)^T / sqrt(head_dim) + causal mask).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.text import Text

from training.evals.backends import Backend, _log_softmax


@dataclass
class TokenScore:
    id: int
    piece: str
    surprisal_bits: float | None  # None for BOS (not predicted)


def surprisals(backend: Backend, text: str) -> tuple[list[TokenScore], np.ndarray]:
    """Per token of [BOS] + text: -log2 p(token | before), and the log-probs (T, V) at every position."""
    ids = ([backend.bos_id] + backend.encode(text))[: backend.context_length]
    logp = _log_softmax(backend.logits(ids))
    scores = [TokenScore(ids[0], backend.piece(ids[0]), None)]
    for t in range(1, len(ids)):
        scores.append(TokenScore(ids[t], backend.piece(ids[t]), float(-logp[t - 1, ids[t]] / math.log(2))))
    return scores, logp


def _colour(bits: float, top: float = 16.0) -> str:
    x = max(0.0, min(1.0, bits / top))  # green (expected) -> yellow -> red (surprising)
    r, g = (int(510 * x), 255) if x < 0.5 else (255, int(510 * (1 - x)))
    return f"#{r:02x}{g:02x}40"


def surprisal_text(scores: list[TokenScore]) -> Text:
    """Tokens coloured by surprisal (never parsed as markup)."""
    out = Text()
    for s in scores[1:]:
        out.append(s.piece.replace("▁", " "), style=f"black on {_colour(s.surprisal_bits)}")
    return out


def top_k(backend: Backend, logp: np.ndarray, position: int, k: int) -> list[tuple[str, int, float]]:
    """The k most likely next tokens after `position` (0 = after BOS): (piece, id, probability)."""
    row = logp[position]
    best = np.argsort(-row)[:k]
    return [(backend.piece(int(i)), int(i), float(np.exp(row[i]))) for i in best]


def attention_maps(model, ids: list[int]) -> np.ndarray:
    """(layers, heads, T, T) causal attention weights of a training.model.GPT for one sequence."""
    import torch

    from training.model import apply_rope

    cfg = model.config
    captured: dict[int, torch.Tensor] = {}
    hooks = [layer.attention_norm.register_forward_hook(lambda m, inp, out, i=i: captured.__setitem__(i, out.detach()))
             for i, layer in enumerate(model.layers)]
    try:
        with torch.no_grad():
            model.eval()
            x = torch.tensor([ids], dtype=torch.long, device=next(model.parameters()).device)
            model(x)
            T = len(ids)
            cos, sin = model.rope_cos[:T], model.rope_sin[:T]
            maps = []
            for i, layer in enumerate(model.layers):
                h = captured[i]
                att = layer.attention
                q = att.wq(h).view(1, T, cfg.n_heads, cfg.head_dim).transpose(1, 2)
                k = att.wk(h).view(1, T, cfg.kv_heads, cfg.head_dim).transpose(1, 2)
                q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
                k = k.repeat_interleave(cfg.n_heads // cfg.kv_heads, dim=1)
                scores = (q.float() @ k.float().transpose(-1, -2)) / math.sqrt(cfg.head_dim)
                mask = torch.ones(T, T, dtype=torch.bool, device=scores.device).triu(1)
                maps.append(scores.masked_fill(mask, float("-inf")).softmax(-1)[0].cpu().numpy())
    finally:
        for hook in hooks:
            hook.remove()
    return np.stack(maps)


def save_attention_pngs(maps: np.ndarray, labels: list[str], out_dir: Path | str) -> list[Path]:
    """One PNG per layer: a grid of its heads, Polish tokens on both axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from training.atomic import atomic_path

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    n_layers, n_heads, T, _ = maps.shape
    cols = min(4, n_heads)
    rows = math.ceil(n_heads / cols)
    size = max(3.0, 0.28 * T + 1.5)
    paths = []
    for layer in range(n_layers):
        fig, axes = plt.subplots(rows, cols, figsize=(size * cols, size * rows), squeeze=False)
        for h in range(rows * cols):
            ax = axes[h // cols][h % cols]
            if h >= n_heads:
                ax.axis("off")
                continue
            ax.imshow(maps[layer, h], cmap="viridis", vmin=0.0, vmax=1.0)
            ax.set_title(f"layer {layer} head {h}", fontsize=9)
            ax.set_xticks(range(T), labels, rotation=90, fontsize=7)
            ax.set_yticks(range(T), labels, fontsize=7)
            ax.set_xlabel("key")
            ax.set_ylabel("query")
        fig.tight_layout()
        target = out_dir / f"attention-layer{layer:02d}.png"
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format="png", dpi=80)
        plt.close(fig)
        paths.append(target)
    return paths
