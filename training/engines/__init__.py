"""Engines: how a model is wrapped, stepped and checkpointed. The loop in training/train.py uses only `Engine`."""
from __future__ import annotations

from training.engines.base import Engine, StepStats


def make_engine(config, model, device, rank: int = 0, world: int = 1) -> Engine:
    if config.train.engine == "deepspeed":
        from training.engines.deepspeed_engine import DeepSpeedEngine

        return DeepSpeedEngine(config, model, device, rank, world)
    from training.engines.torch_engine import TorchEngine

    return TorchEngine(config, model, device, rank, world)


__all__ = ["Engine", "StepStats", "make_engine"]
