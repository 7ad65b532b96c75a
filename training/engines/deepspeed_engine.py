"""DeepSpeed ZeRO (stage 0-2, optional CPU optimizer offload); config generated from TrainConfig.

Launch multi-GPU with `deepspeed` or `torchrun`; DeepSpeed owns the fp32 master weights, loss scaling,
gradient accumulation and clipping. Checkpoints stay engine-neutral: full fp32 weights and AdamW
moments gathered per parameter name (deepspeed.utils.safe_get_full_*), so they load safely and on any world size.
"""
from __future__ import annotations

import os

import torch

from training.config import Config
from training.engines.base import Engine, StepStats, param_groups


def deepspeed_config(config: Config, world: int = 1) -> dict:
    t, o = config.train, config.optim
    zero: dict = {"stage": t.zero_stage, "overlap_comm": True, "contiguous_gradients": True,
                  "reduce_bucket_size": 200_000_000, "allgather_bucket_size": 200_000_000}
    optimizer_params = {"lr": o.lr, "betas": [o.beta1, o.beta2], "eps": o.eps, "weight_decay": o.weight_decay}
    if t.offload_optimizer:
        zero["offload_optimizer"] = {"device": "cpu", "pin_memory": True}  # DeepSpeed's CPU Adam (a C++ JIT build)
    else:
        # torch's fused AdamW on DeepSpeed's fp32 partitions: DeepSpeed's own FusedAdam is a JIT CUDA build that needs
        # nvcc and fails on some arch lists (measured: `ValueError: invalid literal for int() ... '0a'` for sm_90a)
        optimizer_params.update(torch_adam=True, fused=True)
    return {
        "train_micro_batch_size_per_gpu": t.micro_batch_size,
        "gradient_accumulation_steps": t.grad_accum_steps,
        "train_batch_size": t.micro_batch_size * t.grad_accum_steps * world,
        "gradient_clipping": o.grad_clip,
        "optimizer": {"type": "AdamW", "params": optimizer_params},
        "zero_optimization": zero,
        "bf16": {"enabled": t.precision == "bf16"},
        "fp16": {"enabled": t.precision == "fp16", "loss_scale": 0, "initial_scale_power": 16,
                 "loss_scale_window": 1000, "hysteresis": 2, "min_loss_scale": 1},
        "zero_allow_untested_optimizer": False,
        "steps_per_print": 2**31 - 1,
        "wall_clock_breakdown": False,
    }


def _single_process_env() -> None:
    # deepspeed.initialize wants a process group; a plain `python` run is a world of one
    for key, value in {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1",
                       "MASTER_PORT": os.environ.get("MASTER_PORT", "29511")}.items():
        os.environ.setdefault(key, value)


class DeepSpeedEngine(Engine):
    def __init__(self, config: Config, model, device: torch.device, rank: int = 0, world: int = 1):
        import deepspeed

        self.config, self.device = config, device
        t = config.train
        self.prepare_model(model, t)
        _single_process_env()
        self.names = [n for n, p in model.named_parameters() if p.requires_grad]
        self.ds, self.optimizer, _, _ = deepspeed.initialize(
            model=model, model_parameters=param_groups(model, config.optim.weight_decay),
            config=deepspeed_config(config, world))
        self.model = self.ds.module
        self.model.rope_cos, self.model.rope_sin = self.model.rope_cos.float(), self.model.rope_sin.float()
        if t.compile and t.compile_scope == "blocks":
            self.compile_blocks(self.model, t.compile_mode)
        elif t.compile:
            self.ds.compile(compile_kwargs={"mode": t.compile_mode})

    def forward(self, x, y, last: bool = True):
        _, loss = self.ds(x, y)
        return loss

    def backward(self, loss, n_micro: int, last: bool, skip: bool) -> None:
        if skip:
            # DeepSpeed has no public "drop this step": NaN gradients make its overflow check discard them
            loss = loss * float("nan")
        self.ds.backward(loss)  # DeepSpeed divides by gradient_accumulation_steps itself
        if not last:
            self.ds.step()  # a micro-step: DeepSpeed only counts it

    def step(self, lr: float, skip: bool) -> StepStats:
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.ds.step()
        norm = self.ds.get_global_grad_norm()
        norm = float(norm) if norm is not None else None
        overflow = bool(getattr(self.optimizer, "overflow", False))
        scale = float(self.optimizer.cur_scale) if self.config.train.precision == "fp16" and hasattr(self.optimizer, "cur_scale") else None
        return StepStats(None if overflow else norm, scale, not (overflow or skip))

    def _named(self):
        return [(n, p) for n, p in self.ds.module.named_parameters() if p.requires_grad]

    def _link_optimizer_state(self) -> None:
        """DeepSpeed links each parameter's view of the optimizer state after its first step, for every param group
        at once, but torch's AdamW creates a group's state only when it steps that group: the later groups were
        linked to nothing (measured: `exp_avg not found in optimizer state fragment` at the first checkpoint).
        Missing state is created (zeros, as AdamW would) and the views linked again; also before a resume's load."""
        zero = self.optimizer
        if not hasattr(zero, "_lazy_init_hp_params_optimizer_state"):
            return
        base = getattr(zero, "optimizer", zero)
        for group in base.param_groups:
            on_device = group.get("fused") or group.get("capturable")
            for flat in group["params"]:
                if not base.state[flat]:  # torch's AdamW counts steps in a tensor, DeepSpeed's CPU Adam in an int
                    step = (torch.zeros((), dtype=torch.float32, device=flat.device if on_device else "cpu")
                            if isinstance(base, torch.optim.AdamW) else 0)
                    base.state[flat] = {"step": step, "exp_avg": torch.zeros_like(flat), "exp_avg_sq": torch.zeros_like(flat)}
        zero._hp_optimizer_states_linked = False
        zero._lazy_init_hp_params_optimizer_state()

    def state_dict(self) -> dict:
        from deepspeed.utils import safe_get_full_optimizer_state

        self._link_optimizer_state()

        moments = {key: {n: safe_get_full_optimizer_state(p, key).float().cpu() for n, p in self._named()}
                   for key in ("exp_avg", "exp_avg_sq")}
        base = getattr(self.optimizer, "optimizer", self.optimizer)
        steps = [int(s["step"]) for s in base.state.values() if "step" in s] or [int(g.get("step", 0)) for g in base.param_groups]
        scaler = None
        if self.config.train.precision == "fp16":
            ls = self.optimizer.loss_scaler
            scaler = {k: float(getattr(ls, k)) for k in ("cur_scale", "cur_iter", "last_overflow_iter", "cur_hysteresis") if hasattr(ls, k)}
        return {"engine": "deepspeed", "moments": moments, "step": max(steps or [0]), "scaler": scaler,
                "global_steps": int(self.ds.global_steps)}

    def load_state_dict(self, state: dict) -> None:
        from deepspeed.utils import safe_set_full_optimizer_state

        self._link_optimizer_state()
        for key, values in state["moments"].items():
            for n, p in self._named():
                safe_set_full_optimizer_state(p, values[n].to(self.device), key)
        base = getattr(self.optimizer, "optimizer", self.optimizer)
        for s in base.state.values():
            if "step" in s:
                s["step"] = torch.full_like(s["step"], float(state["step"])) if torch.is_tensor(s["step"]) else state["step"]
        for g in base.param_groups:
            if "step" in g:
                g["step"] = state["step"]
        if state.get("scaler"):
            for k, v in state["scaler"].items():
                setattr(self.optimizer.loss_scaler, k, type(getattr(self.optimizer.loss_scaler, k))(v))
        self.ds.global_steps = state.get("global_steps", self.ds.global_steps)

    def model_state_dict(self) -> dict[str, torch.Tensor]:
        from deepspeed.utils import safe_get_full_fp32_param

        return {n: safe_get_full_fp32_param(p).float().cpu() for n, p in self._named()}

    def load_model_state_dict(self, state) -> None:
        from deepspeed.utils import safe_set_full_fp32_param

        with torch.no_grad():
            for n, p in self._named():
                p.copy_(state[n].to(p.dtype))  # the bf16/fp16 working copy
                safe_set_full_fp32_param(p, state[n].to(self.device))  # the fp32 master in the optimizer
