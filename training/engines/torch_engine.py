"""Plain PyTorch: autocast, GradScaler for fp16, DDP when launched by torchrun, optional torch.compile."""
from __future__ import annotations

import math

import torch

from training.config import Config
from training.engines.base import Engine, StepStats
from training.engines.optim import build_optimizer


class TorchEngine(Engine):
    def __init__(self, config: Config, model, device: torch.device, rank: int = 0, world: int = 1):
        self.config, self.device = config, device
        t = config.train
        self.prepare_model(model, t)
        if t.param_dtype == "bf16":
            model.to(torch.bfloat16)
            model.rope_cos, model.rope_sin = model.rope_cos.float(), model.rope_sin.float()
        self.model = model.to(device)
        self.optimizer = build_optimizer(config, model, device)
        self.scaler = torch.amp.GradScaler(device.type, enabled=t.precision == "fp16")
        self.ddp = None
        wrapped = model
        if world > 1:
            from torch.nn.parallel import DistributedDataParallel

            self.ddp = wrapped = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
        if t.compile and t.compile_scope == "blocks":
            self.compile_blocks(model, t.compile_mode)
        self.wrapped = torch.compile(wrapped, mode=t.compile_mode) if t.compile and t.compile_scope == "model" else wrapped

    def forward(self, x, y, last: bool = True):
        if self.ddp is not None:
            self.ddp.require_backward_grad_sync = last  # what DDP.no_sync() does: all-reduce only on the last micro-batch
        if self.config.train.cuda_graphs:
            torch.compiler.cudagraph_mark_step_begin()  # the previous replay's outputs are no longer read
        with self.autocast():
            _, loss = self.wrapped(x, y)
        return loss

    def backward(self, loss, n_micro: int, last: bool, skip: bool) -> None:
        if skip:
            return  # the step is dropped; its accumulated gradients are cleared in step()
        if getattr(self.optimizer, "flat", False):
            self.optimizer.bind_grads()  # backward adds into the flat gradient buffer
        self.scaler.scale(loss / n_micro).backward()

    def step(self, lr: float, skip: bool) -> StepStats:
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        scale = self.scaler.get_scale() if self.scaler.is_enabled() else None
        if skip:
            self.optimizer.zero_grad(set_to_none=True)
            return StepStats(None, scale, False)
        self.scaler.unscale_(self.optimizer)
        clip = self.config.optim.grad_clip or math.inf
        norm = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip))
        if not math.isfinite(norm) and not self.scaler.is_enabled():
            self.optimizer.zero_grad(set_to_none=True)  # inf/NaN gradient with a finite loss: never apply it
            return StepStats(norm, None, False)
        self.scaler.step(self.optimizer)  # with fp16, skipped when the unscaled grads hold inf/NaN
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        applied = math.isfinite(norm)
        return StepStats(norm, self.scaler.get_scale() if self.scaler.is_enabled() else None, applied)

    def state_dict(self) -> dict:
        return {"engine": "torch", "optimizer": self.optimizer.state_dict(), "scaler": self.scaler.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])

    def model_state_dict(self) -> dict[str, torch.Tensor]:
        # copied to the CPU before the fp32 cast: on a 12 GiB card an fp32 copy of bf16 weights does not fit beside them
        return {k: v.detach().cpu().float() for k, v in self.model.state_dict().items()}

    def load_model_state_dict(self, state) -> None:
        dtype = next(self.model.parameters()).dtype
        self.model.load_state_dict({k: v.to(dtype) for k, v in state.items()})
