"""Optimizers: torch AdamW (fused on CUDA), and AdamW for bf16 weights with stochastic rounding.

With bf16 weights there is no fp32 master copy: an update smaller than half a bf16 ulp would be
lost by round-to-nearest. Stochastic rounding keeps the expected weight equal to the fp32 result,
so small updates survive on average at no extra memory (weights, grads, moments: 8 bytes a parameter).
"""
from __future__ import annotations

import torch

from training.config import Config
from training.engines.base import param_groups

CHUNK = 1 << 24  # elements updated at a time: bounds the fp32 temporaries to a few hundred MB


def stochastic_round_(dst: torch.Tensor, src: torch.Tensor) -> None:
    """dst (bf16) <- src (fp32) rounded up or down at random, with probability by distance."""
    bits = src.view(torch.int32)
    noise = torch.randint_like(bits, 0, 1 << 16)
    dst.copy_(((bits + noise) & -65536).view(torch.float32))  # low 16 bits zero: the cast is exact


class AdamWBF16(torch.optim.Optimizer):
    """AdamW whose weights and moments are bf16; maths in fp32, written back with stochastic rounding."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.0, stochastic_rounding=True):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, stochastic_rounding=stochastic_rounding)
        super().__init__(params, defaults)

    def _write(self, dst, src, stochastic):
        if stochastic and dst.dtype == torch.bfloat16:
            stochastic_round_(dst, src)
        else:
            dst.copy_(src)

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            lr, wd, eps, sr = group["lr"], group["weight_decay"], group["eps"], group["stochastic_rounding"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = torch.zeros((), dtype=torch.float32)
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                state["step"] += 1
                t = float(state["step"])
                bc1, bc2 = 1 - beta1**t, 1 - beta2**t
                flat = [p.view(-1), p.grad.view(-1), state["exp_avg"].view(-1), state["exp_avg_sq"].view(-1)]
                for start in range(0, p.numel(), CHUNK):
                    w, g, m, v = (x[start : start + CHUNK] for x in flat)
                    g32 = g.float()
                    m32 = m.float().mul_(beta1).add_(g32, alpha=1 - beta1)
                    v32 = v.float().mul_(beta2).addcmul_(g32, g32, value=1 - beta2)
                    w32 = w.float().mul_(1 - lr * wd)
                    w32.addcdiv_(m32, (v32 / bc2).sqrt_().add_(eps), value=-lr / bc1)
                    self._write(m, m32, sr)
                    self._write(v, v32, sr)
                    self._write(w, w32, sr)


def build_optimizer(config: Config, model: torch.nn.Module, device: torch.device) -> torch.optim.Optimizer:
    o, t = config.optim, config.train
    groups = param_groups(model, o.weight_decay)
    kw = dict(lr=o.lr, betas=(o.beta1, o.beta2), eps=o.eps)
    if t.param_dtype == "bf16" and t.stochastic_rounding:
        return AdamWBF16(groups, stochastic_rounding=True, **kw)
    return torch.optim.AdamW(groups, fused=device.type == "cuda", **kw)
