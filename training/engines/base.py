"""The small interface every engine implements, and what the engines share."""
from __future__ import annotations

import contextlib
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch

from training.config import Config

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass
class StepStats:
    grad_norm: float | None  # before clipping; None when the update was skipped
    loss_scale: float | None  # fp16 dynamic loss scale, else None
    applied: bool  # False: skipped (by the guard or by a loss-scale overflow)


class Engine(ABC):
    """One optimizer step is: forward/backward per micro-batch, then `step`.

    model: the plain GPT (unwrapped), e.g. for eval and sampling.
    """

    model: torch.nn.Module
    device: torch.device

    @staticmethod
    def prepare_model(model, train) -> None:
        """The memory and attention switches every engine applies before wrapping the model."""
        from training.tokenizer import SPECIAL

        model.set_activation_checkpointing(train.activation_checkpointing)
        model.loss_chunk_tokens = train.loss_chunk_tokens
        model.document_start_id = SPECIAL["bos"] if train.document_attention else None
        model.target_weight = None
        if train.end_weight != 1:
            model.target_weight = torch.ones(model.config.vocab_size)
            model.target_weight[SPECIAL["im_end"]] = train.end_weight

    @staticmethod
    def compile_blocks(model, mode: str = "default") -> None:
        """compile_scope = "blocks": each transformer block and the chunked loss compiled on their own."""
        from training.model import chunk_loss_sum

        for layer in model.layers:
            layer.compile(mode=mode)
        model.chunk_loss = torch.compile(chunk_loss_sum, mode=mode)

    @abstractmethod
    def forward(self, x: torch.Tensor, y: torch.Tensor, last: bool = True) -> torch.Tensor:
        """Training-mode loss of one micro-batch (scalar, graph attached); last: the step's final micro-batch."""

    @abstractmethod
    def backward(self, loss: torch.Tensor, n_micro: int, last: bool, skip: bool) -> None:
        """Accumulates gradients of loss / n_micro. skip=True (only with last=True): this step's update
        will be dropped; the engine discards the accumulated gradients instead of applying them."""

    @abstractmethod
    def step(self, lr: float, skip: bool) -> StepStats:
        """Applies (or with skip, drops) the accumulated gradients; sets lr first."""

    @abstractmethod
    def state_dict(self) -> dict:
        """Optimizer and loss-scaler state: tensors, numbers, strings, lists and dicts only."""

    @abstractmethod
    def load_state_dict(self, state: dict) -> None: ...

    @abstractmethod
    def model_state_dict(self) -> dict[str, torch.Tensor]:
        """Full fp32 weights, named as in docs/architecture.md (collective on every rank)."""

    @abstractmethod
    def load_model_state_dict(self, state: dict[str, torch.Tensor]) -> None: ...

    def autocast(self):
        precision = self.config.train.precision
        if precision == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=DTYPES[precision])

    @torch.no_grad()
    def eval_loss(self, batches) -> float:
        """Mean loss over (x, y) batches, weighted by counted targets."""
        model = self.model
        was_training = model.training
        model.eval()
        total, count = 0.0, 0
        try:
            for x, y in batches:
                x, y = x.to(self.device), y.to(self.device)
                with self.autocast():
                    _, loss = model(x, y)
                n = int((y != -1).sum())
                total += float(loss) * n
                count += n
        finally:
            model.train(was_training)
        return total / max(count, 1)

    config: Config


def is_decayed(name: str, p: torch.Tensor) -> bool:
    """Weight decay on matmul weights (2-D, not the embedding); none on norms and the embedding table.

    Decaying the embedding shrinks rare tokens' rows toward zero between their rare updates; with
    tied embeddings the output projection is the same tensor, so it is not decayed either.
    """
    return p.dim() >= 2 and "tok_embeddings" not in name


def param_group_names(model: torch.nn.Module) -> list[list[str]]:
    """[decayed, not decayed] trainable parameter names, in the order of `param_groups`."""
    groups: list[list[str]] = [[], []]
    for name, p in model.named_parameters():
        if p.requires_grad:
            groups[0 if is_decayed(name, p) else 1].append(name)
    return groups


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    params = dict(model.named_parameters())
    decay, no_decay = ([params[n] for n in names] for names in param_group_names(model))
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def measure_peak_flops(device: torch.device, n: int = 8192, repeats: int = 10) -> float | None:
    """Dense bf16 matmul FLOP/s on this GPU (the MFU denominator); None on CPU."""
    if device.type != "cuda":
        return None
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    for _ in range(repeats):
        a @ b
    torch.cuda.synchronize(device)
    dt = time.perf_counter() - t0
    del a, b
    torch.cuda.empty_cache()
    return 2.0 * n**3 * repeats / dt
