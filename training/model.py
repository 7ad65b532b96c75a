"""GPT in the Llama layout: RMSNorm, rotary attention (rotate-half, GQA), SwiGLU, no biases.

Shapes: B batch, T time, C = d_model, H heads, K kv heads, D head_dim, V vocab.
Parameter names follow docs/architecture.md so the GGUF exporter maps them one-to-one.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from training.config import ModelConfig

IGNORE_INDEX = -1  # targets equal to this do not count in the loss (SFT masks prompts with it)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        # normalise in fp32 (as Llama does), then scale in the input dtype
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return xf.type_as(x) * self.weight.type_as(x)


def rope_cache(head_dim: int, length: int, theta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin, each (length, head_dim), for the rotate-half pairing of dims i and i + D/2."""
    inv_freq = 1.0 / theta ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    angles = torch.outer(torch.arange(length, dtype=torch.float64), inv_freq)  # (T, D/2)
    angles = torch.cat([angles, angles], dim=-1)  # (T, D)
    return angles.cos().float(), angles.sin().float()


def apply_rope(x, cos, sin):
    """x: (B, H, T, D); rotates each pair (x_i, x_{i+D/2}) by the position's angle."""
    x1, x2 = x.chunk(2, dim=-1)
    rotated = torch.cat([-x2, x1], dim=-1)
    return (x.float() * cos + rotated.float() * sin).type_as(x)


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.n_heads, self.n_kv, self.head_dim = cfg.n_heads, cfg.kv_heads, cfg.head_dim
        self.wq = nn.Linear(cfg.d_model, cfg.n_heads * cfg.head_dim, bias=False)
        self.wk = nn.Linear(cfg.d_model, cfg.kv_heads * cfg.head_dim, bias=False)
        self.wv = nn.Linear(cfg.d_model, cfg.kv_heads * cfg.head_dim, bias=False)
        self.wo = nn.Linear(cfg.n_heads * cfg.head_dim, cfg.d_model, bias=False)
        self.dropout = cfg.dropout

    def forward(self, x, cos, sin, mask=None):
        B, T, _ = x.shape
        q = self.wq(x).view(B, T, self.n_heads, self.head_dim).transpose(1, 2)  # (B, H, T, D)
        k = self.wk(x).view(B, T, self.n_kv, self.head_dim).transpose(1, 2)  # (B, K, T, D)
        v = self.wv(x).view(B, T, self.n_kv, self.head_dim).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if self.n_kv != self.n_heads:  # query head h reads kv head h // (H/K), as llama.cpp does
            k = k.repeat_interleave(self.n_heads // self.n_kv, dim=1)
            v = v.repeat_interleave(self.n_heads // self.n_kv, dim=1)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=mask is None,
                                           dropout_p=self.dropout if self.training else 0.0)
        return self.wo(y.transpose(1, 2).reshape(B, T, -1))


class FeedForward(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.w1 = nn.Linear(cfg.d_model, cfg.ffn_hidden, bias=False)  # gate
        self.w2 = nn.Linear(cfg.ffn_hidden, cfg.d_model, bias=False)  # down
        self.w3 = nn.Linear(cfg.d_model, cfg.ffn_hidden, bias=False)  # up

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.attention_norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.attention = Attention(cfg)
        self.ffn_norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.feed_forward = FeedForward(cfg)
        self.drop = nn.Dropout(cfg.dropout)
        self.recompute = False  # set by GPT.set_activation_checkpointing: the whole block
        self.checkpoint_ffn = False  # the same: only the SwiGLU part

    def forward(self, x, cos, sin, mask=None):
        if self.recompute and self.training:
            # inside forward, so that a compiled block has the recomputation in its own backward graph: its forward
            # saves only the block's input, and no second compiled call per block runs in backward
            return checkpoint(self._block, x, cos, sin, mask, use_reentrant=False)
        return self._block(x, cos, sin, mask)

    def _block(self, x, cos, sin, mask=None):
        x = x + self.drop(self.attention(self.attention_norm(x), cos, sin, mask))
        if self.checkpoint_ffn and self.training:
            return x + self.drop(checkpoint(self._ffn, x, use_reentrant=False))
        return x + self.drop(self._ffn(x))

    def _ffn(self, x):
        return self.feed_forward(self.ffn_norm(x))


class GPT(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.config = cfg
        self.tok_embeddings = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.output = None if cfg.tie_embeddings else nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        cos, sin = rope_cache(cfg.head_dim, cfg.context_length, cfg.rope_theta)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        self.loss_chunk_tokens = 0  # >0: loss computed in chunks without keeping full logits
        self.document_start_id = None  # a token id: attention stays inside the documents it starts (see hidden)
        self.chunk_loss = chunk_loss_sum  # the engine swaps in a compiled one (fused: no fp32 logits in memory)
        # (V,) weight of each target id in the training loss, or None (uniform); evaluation never weighs
        self.register_buffer("target_weight", None, persistent=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Normal(0, init_std); the two projections into the residual stream scaled by 1/sqrt(2L) (GPT-2)."""
        std = self.config.init_std
        for name, p in self.named_parameters():
            if name.endswith("norm.weight"):
                nn.init.ones_(p)
            elif name.endswith(("attention.wo.weight", "feed_forward.w2.weight")):
                nn.init.normal_(p, 0.0, std / math.sqrt(2 * self.config.n_layers))
            else:
                nn.init.normal_(p, 0.0, std)

    @property
    def output_weight(self) -> torch.Tensor:
        return self.tok_embeddings.weight if self.output is None else self.output.weight

    def set_activation_checkpointing(self, mode: str) -> None:
        """none; full: recompute every block in backward; selective: recompute only every block's SwiGLU,
        whose 3 x ffn_hidden activations are the largest share of a block's memory."""
        for layer in self.layers:
            layer.recompute = mode == "full"
            layer.checkpoint_ffn = mode == "selective"

    def hidden(self, idx: torch.Tensor) -> torch.Tensor:
        """(B, T) token ids -> (B, T, C) final normed hidden states."""
        T = idx.size(1)
        if T > self.config.context_length:
            raise ValueError(f"sequence of {T} tokens is longer than context_length {self.config.context_length}")
        x = self.tok_embeddings(idx)
        cos, sin = self.rope_cos[:T], self.rope_sin[:T]
        mask = None if self.document_start_id is None else document_mask(idx, self.document_start_id)
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        return self.norm(x)

    def forward(self, idx, targets=None):
        """Returns (logits (B, T, V), mean cross-entropy over targets != -1, or None).

        With `loss_chunk_tokens` set and targets given, logits are None: the loss is computed chunk by
        chunk and each chunk's logits are recomputed in backward, so the full (B, T, V) never lives in memory.
        """
        h = self.hidden(idx)
        if targets is None:
            return F.linear(h, self.output_weight), None
        weight = self.target_weight.float() if self.training and self.target_weight is not None else None
        if self.loss_chunk_tokens and self.training:
            return None, chunked_cross_entropy(h, self.output_weight, targets, self.loss_chunk_tokens, self.chunk_loss,
                                               weight)
        logits = F.linear(h, self.output_weight)
        loss = F.cross_entropy(logits.float().view(-1, logits.size(-1)), targets.reshape(-1), weight=weight,
                               ignore_index=IGNORE_INDEX)
        return logits, loss

    def num_params(self) -> int:
        """Every parameter counted once (a tied embedding once)."""
        return sum(p.numel() for p in self.parameters())

    def flops_per_token(self, seq_len: int | None = None) -> float:
        """Training FLOPs per token: 6N + 12·L·d·T (PaLM appendix B).

        N counts the parameters that take part in a matmul: every block weight and the output
        projection. An untied input embedding is a table lookup and is left out.
        """
        cfg = self.config
        n = self.num_params()
        if self.output is not None:
            n -= self.tok_embeddings.weight.numel()
        T = seq_len or cfg.context_length
        return 6.0 * n + 12.0 * cfg.n_layers * cfg.d_model * T

    @torch.no_grad()
    def generate(
        self,
        idx: torch.Tensor,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        generator: torch.Generator | None = None,
        stop_ids: set[int] | list[int] | tuple[int, ...] = (),
    ) -> torch.Tensor:
        """Extends idx (B, T) by up to max_new_tokens; temperature 0 is greedy.

        Stops once every row has produced one of stop_ids (finished rows are padded with their stop id).
        `seed` makes sampling reproducible without touching the global RNG.
        """
        if idx.dim() == 1:
            idx = idx.unsqueeze(0)
        if generator is None and seed is not None:
            generator = torch.Generator(device=idx.device).manual_seed(seed)
        stops = torch.tensor(sorted(stop_ids), dtype=idx.dtype, device=idx.device)
        done = torch.zeros(idx.size(0), dtype=torch.bool, device=idx.device)
        fill = torch.zeros_like(done, dtype=idx.dtype)
        was_training = self.training
        self.eval()
        try:
            for _ in range(max_new_tokens):
                logits, _ = self(idx[:, -self.config.context_length :])
                next_id = sample_next(logits[:, -1, :].float(), temperature, top_k, top_p, generator)
                next_id = torch.where(done, fill, next_id)
                idx = torch.cat([idx, next_id[:, None]], dim=1)
                if len(stops):
                    newly = torch.isin(next_id, stops) & ~done
                    fill = torch.where(newly, next_id, fill)
                    done |= newly
                    if bool(done.all()):
                        break
        finally:
            self.train(was_training)
        return idx


def sample_next(logits, temperature: float, top_k: int | None, top_p: float | None, generator=None) -> torch.Tensor:
    """logits (B, V) -> next ids (B,)."""
    if temperature <= 0:
        return logits.argmax(dim=-1)
    logits = logits / temperature
    if top_k and top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1.0:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        cumulative = sorted_logits.softmax(-1).cumsum(-1)
        drop = cumulative - sorted_logits.softmax(-1) >= top_p  # keep the smallest prefix reaching top_p
        sorted_logits = sorted_logits.masked_fill(drop, float("-inf"))
        logits = torch.full_like(logits, float("-inf")).scatter(-1, order, sorted_logits)
    probs = logits.softmax(-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


def chunk_loss_sum(h, weight, targets, target_weight=None):
    logits = F.linear(h, weight).float()
    return F.cross_entropy(logits, targets, weight=target_weight, ignore_index=IGNORE_INDEX, reduction="sum")


def document_mask(idx: torch.Tensor, start_id: int) -> torch.Tensor:
    """(B, 1, T, T) bool: causal, and a position sees only its own document (each `start_id` token opens one).

    Training windows are cut from documents packed end to end; evaluation and chat start every document at position
    0. With this mask a document in a window is seen as it would be alone (RoPE is relative, so the offset is moot).
    """
    doc = torch.cumsum(idx == start_id, dim=1)
    T = idx.size(1)
    causal = torch.ones(T, T, dtype=torch.bool, device=idx.device).tril()
    return ((doc[:, :, None] == doc[:, None, :]) & causal)[:, None]


def chunked_cross_entropy(h, weight, targets, chunk_tokens: int, chunk_loss=chunk_loss_sum,
                          target_weight=None) -> torch.Tensor:
    """Mean cross-entropy of (h @ weight.T) against targets, never holding more than one chunk of logits
    (weighted by target_weight[target] when given, as F.cross_entropy's weight does)."""
    h = h.reshape(-1, h.size(-1))
    targets = targets.reshape(-1)
    total = h.new_zeros((), dtype=torch.float32)
    for start in range(0, h.size(0), chunk_tokens):
        sl = slice(start, start + chunk_tokens)
        total = total + checkpoint(chunk_loss, h[sl], weight, targets[sl], target_weight, use_reentrant=False)
    counted = targets != IGNORE_INDEX
    if target_weight is None:
        return total / counted.sum().clamp(min=1)
    return total / (target_weight[targets.clamp(min=0)] * counted).sum().clamp(min=1e-12)  # no data-dependent shape
