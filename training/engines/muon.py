"""Muon for the blocks' weight matrices and AdamW for everything else, behind one optimizer interface.

Muon (torch.optim.Muon) replaces each matrix's momentum by its nearest semi-orthogonal matrix (Newton-Schulz), so
every direction of the update gets the same step. It is defined for 2-D hidden weights only: the embedding (tied to
the output head) and the norms keep AdamW. `match_rms_adamw` scales Muon's step to the RMS of an AdamW step, which
lets both halves share one learning rate, schedule and weight decay.
"""
from __future__ import annotations

import torch

from training.errors import ConfigError


def is_hidden_matrix(name: str, p: torch.Tensor) -> bool:
    return p.dim() == 2 and name.startswith("layers.")


class MuonAdamW:
    """Two torch optimizers stepped together; `param_groups` lists both, so the engine's lr schedule reaches both."""

    def __init__(self, model: torch.nn.Module, *, lr: float, weight_decay: float, momentum: float,
                 betas: tuple[float, float], eps: float, fused: bool):
        hidden, decayed_rest, plain = [], [], []
        for name, p in model.named_parameters():
            if not p.requires_grad:
                continue
            if is_hidden_matrix(name, p):
                hidden.append(p)
            elif p.dim() >= 2 and "tok_embeddings" not in name:
                decayed_rest.append(p)  # an untied output head
            else:
                plain.append(p)
        self.muon = torch.optim.Muon(hidden, lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=True,
                                     adjust_lr_fn="match_rms_adamw")
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
