"""Muon for the blocks' weight matrices and AdamW for everything else, behind one optimizer interface.

Muon replaces each matrix's (Nesterov) momentum by its nearest semi-orthogonal matrix, computed by a quintic
Newton-Schulz iteration in bf16, so every direction of the update gets the same step. It is defined for 2-D hidden
weights only: the embedding (tied to the output head) and the norms keep AdamW. The step is scaled to the RMS of an
AdamW step (`0.2 * sqrt(max(rows, cols))`, Moonshot's "match_rms_adamw"), which lets both halves share one learning
rate, schedule and weight decay.

The maths are torch.optim.Muon's (tests/test_train.py compares the two). torch's version orthogonalises one matrix at a
time: ~25 small kernels per matrix, and on polski-mini (84 matrices) that cut training from 1.0M to 0.58M tokens/s
on an H200. Here matrices of one shape are stacked and orthogonalised together with batched matmuls.
"""
from __future__ import annotations

import math
from collections import defaultdict

import torch

from training.engines.base import is_decayed
from training.errors import ConfigError

NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)  # the quintic's coefficients, as in torch.optim.Muon
NS_STEPS = 5


def is_hidden_matrix(name: str, p: torch.Tensor) -> bool:
    return p.dim() == 2 and name.startswith("layers.")


def orthogonalize(g: torch.Tensor, steps: int = NS_STEPS, eps: float = 1e-7) -> torch.Tensor:
    """Approximately U V^T for each matrix of a (batch, rows, cols) stack with rows <= cols, in bf16."""
    a, b, c = NS_COEFFICIENTS
    x = g.to(torch.bfloat16)
    x = x / x.norm(dim=(-2, -1), keepdim=True).clamp(min=eps)  # spectral norm <= Frobenius norm <= 1
    for _ in range(steps):
        gram = x @ x.mT
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x


class Muon(torch.optim.Optimizer):
    def __init__(self, params, lr: float, weight_decay: float = 0.0, momentum: float = 0.95):
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay, momentum=momentum))
        for group in self.param_groups:
            if any(p.dim() != 2 for p in group["params"]):
                raise ValueError("Muon updates 2-D weight matrices only")

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            lr, wd, beta = group["lr"], group["weight_decay"], group["momentum"]
            by_shape: dict[tuple[int, int], list[torch.Tensor]] = defaultdict(list)
            for p in group["params"]:
                if p.grad is not None:
                    by_shape[tuple(p.shape)].append(p)
            for (rows, cols), params in by_shape.items():
                grads = [p.grad for p in params]
                bufs = []
                for p in params:
                    if "momentum_buffer" not in self.state[p]:
                        self.state[p]["momentum_buffer"] = torch.zeros_like(p.grad)
                    bufs.append(self.state[p]["momentum_buffer"])
                torch._foreach_lerp_(bufs, grads, 1 - beta)
                nesterov = torch.stack(torch._foreach_lerp(grads, bufs, beta))
                tall = rows > cols
                update = orthogonalize(nesterov.mT if tall else nesterov)
                update = (update.mT if tall else update).to(params[0].dtype)
                torch._foreach_mul_(params, 1 - lr * wd)
                torch._foreach_add_(params, list(update.unbind(0)), alpha=-lr * 0.2 * math.sqrt(max(rows, cols)))


class MuonAdamW:
    """Two optimizers stepped together; `param_groups` lists both, so the engine's lr schedule reaches both."""

    def __init__(self, model: torch.nn.Module, *, lr: float, weight_decay: float, momentum: float,
                 betas: tuple[float, float], eps: float, fused: bool):
        hidden, decayed_rest, plain = [], [], []
        for name, p in model.named_parameters():
            if not p.requires_grad:
                continue
            if is_hidden_matrix(name, p):
                hidden.append(p)
            elif is_decayed(name, p):
                decayed_rest.append(p)  # an untied output head
            else:
                plain.append(p)
        self.muon = Muon(hidden, lr=lr, weight_decay=weight_decay, momentum=momentum)
        groups = [{"params": decayed_rest, "weight_decay": weight_decay}, {"params": plain, "weight_decay": 0.0}]
        self.adamw = torch.optim.AdamW([g for g in groups if g["params"]], lr=lr, betas=betas, eps=eps, fused=fused)

    @property
    def param_groups(self) -> list[dict]:
        return self.muon.param_groups + self.adamw.param_groups

    @torch.no_grad()
    def step(self, closure=None):
        self.muon.step()
        self.adamw.step()

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.muon.zero_grad(set_to_none=set_to_none)
        self.adamw.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict:
        return {"muon": self.muon.state_dict(), "adamw": self.adamw.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        if set(state) != {"muon", "adamw"}:
            raise ConfigError("this checkpoint's optimizer state is AdamW's but the config says optim.optimizer = \"muon\": "
                              "resume with the run's own config (RUN/config.toml) or start a new run")
        self.muon.load_state_dict(state["muon"])
        self.adamw.load_state_dict(state["adamw"])
