"""Learning rate as a pure function of the step: linear warmup, then cosine, WSD or constant.

A function of the step (not a stateful scheduler) makes resume trivially exact: the checkpoint holds the step.
"""
from __future__ import annotations

import math

from training.config import OptimConfig


def lr_at(step: int, optim: OptimConfig, max_steps: int, peak_lr: float | None = None) -> float:
    """Learning rate for optimizer step `step` (0-based) of a run of `max_steps` steps."""
    peak = optim.lr if peak_lr is None else peak_lr
    floor = peak * optim.min_lr_ratio
    warmup = min(optim.warmup_steps, max_steps)
    if step < warmup:
        return peak * (step + 1) / warmup
    if optim.schedule == "constant":
        return peak
    if step >= max_steps:
        return floor
    if optim.schedule == "cosine":
        progress = (step - warmup) / max(1, max_steps - warmup)
        return floor + 0.5 * (peak - floor) * (1.0 + math.cos(math.pi * progress))
    # wsd: warmup, stable at the peak, then a linear decay to the floor over the last decay_fraction of steps
    start = decay_start(optim, max_steps)
    if step < start:
        return peak
    progress = (step - start + 1) / max(1, max_steps - start)
    return peak + (floor - peak) * min(1.0, progress)


def decay_start(optim: OptimConfig, max_steps: int) -> int:
    """The first (0-based) step of a WSD schedule's decay."""
    decay_steps = max(1, round(optim.decay_fraction * max_steps))
    return max(min(optim.warmup_steps, max_steps), max_steps - decay_steps)
