"""The training loop, shared by every engine (torch, deepspeed) and batch source (pretraining, SFT).

    train(config, batches, run_dir, val_batches=..., tokenizer_dir=..., init_from=..., resume=...)

`batches` is a BatchSource (`.batch(i) -> (x, y)`, see training/loader.py) or any iterable of (x, y);
y = -1 marks positions that do not count in the loss. `pretrain()` builds both from a BINS_DIR.
One optimizer step = grad_accum_steps micro-batches. Steps are counted from 1: `step-000050` holds the
state after 50 steps, and a resumed run continues with step 51 on exactly the data it would have seen.
"""
from __future__ import annotations

import math
import os
import random
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from training.checkpoint import (find_checkpoint, load_checkpoint, prepare_run_dir, read_meta, rng_state,
                                 save_checkpoint, set_rng_state)
from training.config import Config
from training.distributed import join_process_group
from training.evals.bpb import bpb_from_loss
from training.errors import CheckpointError, ConfigError, DataError, PolskiError
from training.layout import (METRICS_FILE, SAMPLES_FILE, TOKENIZER_DIR, TOKENIZER_MODEL_FILE, decay_start_dir, locate,
                             tokenizer_beside_bins)
from training.loader import as_batch_source, to_device
from training.metrics import MetricsWriter
from training.schedule import decay_start, lr_at


class TrainingStopped(PolskiError):
    """The loss guard skipped too many steps in a row; the last good checkpoint is intact."""


@dataclass
class Faults:
    """Deliberate faults, for tests of the guards: steps whose loss is made NaN or ten times larger before backward,
    and a step whose forward runs out of GPU memory (what a too-large micro-batch does on a real card)."""

    nan_loss_steps: frozenset[int] = field(default_factory=frozenset)
    spike_loss_steps: frozenset[int] = field(default_factory=frozenset)  # loss x 10: a bad batch
    oom_step: int | None = None


class SpikeGuard:
    """Flags a step whose loss is NaN/Inf or more than `zscore` std above the mean of recent accepted steps.

    The std is floored at 1% of the mean so a flat, noiseless curve does not turn noise into "spikes".
    """

    MIN_HISTORY = 20

    def __init__(self, window: int, zscore: float, history=()):
        self.zscore = zscore
        self.losses: deque[float] = deque(history, maxlen=window)

    def check(self, loss: float) -> str | None:
        if not math.isfinite(loss):
            return "nan_skipped"
        if len(self.losses) >= min(self.MIN_HISTORY, self.losses.maxlen):
            mean = sum(self.losses) / len(self.losses)
            std = math.sqrt(sum((v - mean) ** 2 for v in self.losses) / len(self.losses))
            if (loss - mean) / max(std, 0.01 * abs(mean), 1e-6) > self.zscore:
                return "spike_skipped"
        return None

    def accept(self, loss: float) -> None:
        self.losses.append(loss)


def dist_info() -> tuple[int, int, int]:
    """(rank, local_rank, world_size) as set by torchrun or the deepspeed launcher; (0, 0, 1) otherwise."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("LOCAL_RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def pick_device(setting: str, local_rank: int) -> torch.device:
    if setting == "cuda" or (setting == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise ConfigError("train.device is \"cuda\" but no CUDA GPU is visible: set train.device = \"cpu\" (or \"auto\")")
        torch.cuda.set_device(local_rank)
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def cap_gpu_memory(device: torch.device, gb: float | None) -> None:
    """The allocator limit that simulates a smaller card. Expandable segments let freed blocks merge, so a run that
    peaks at 11.2 GiB allocated does not fail on fragmentation under a 12 GiB cap (measured: out of memory at step 3)."""
    if device.type == "cuda" and gb:
        if "expandable_segments" not in os.environ.get("PYTORCH_CUDA_ALLOC_CONF", ""):
            setter = getattr(torch._C, "_accelerator_setAllocatorSettings", None) or torch.cuda.memory._set_allocator_settings
            setter("expandable_segments:True")
        total = torch.cuda.get_device_properties(device).total_memory
        torch.cuda.set_per_process_memory_fraction(min(1.0, gb * 2**30 / total), device)


def set_attention_backend(device: torch.device, backend: str) -> None:
    """Leaves only the chosen fused SDPA kernel on (math stays as the fallback for shapes it cannot take)."""
    if device.type != "cuda" or backend == "auto":
        return
    torch.backends.cuda.enable_flash_sdp(backend == "flash")
    torch.backends.cuda.enable_cudnn_sdp(backend == "cudnn")
    torch.backends.cuda.enable_mem_efficient_sdp(backend == "efficient")
    torch.backends.cuda.enable_math_sdp(True)


def format_eta(seconds: float) -> str:
    seconds = int(max(0, seconds))
    h, rem = divmod(seconds, 3600)
    return f"{h}h{rem // 60:02d}m" if h else f"{rem // 60}m{rem % 60:02d}s"


def train_only_embedding_rows(model, rows: list[int]) -> None:
    """Zeroes the embedding gradient outside `rows`: with no gradient, AdamW leaves a row as it is (the embedding is
    not decayed), and with tied embeddings the output projection keeps those rows too."""
    weight = model.tok_embeddings.weight
    if any(not 0 <= r < weight.size(0) for r in rows):
        raise ConfigError(f"train.trainable_embedding_rows {rows} has ids outside the vocabulary of {weight.size(0)}")
    mask = torch.zeros(weight.size(0), 1)
    mask[rows] = 1
    weight.register_hook(lambda grad: grad * mask.to(grad.device, grad.dtype))


def train(
    config: Config,
    batches,
    run_dir: Path | str,
    *,
    val_batches=None,
    val_bytes_per_token: float | None = None,
    heldout: dict[str, tuple[list, float]] | None = None,
    tokenizer_dir: Path | str | None = None,
    init_from: Path | str | None = None,
    resume: bool = False,
    faults: Faults | None = None,
    console=print,
) -> dict:
    """Trains to config.train.max_steps; returns {"step", "tokens_seen", "loss", "val_loss", "best_val_loss"}.

    val_batches: a list (or re-iterable) of (x, y) for the loss at eval steps; val_bytes_per_token turns it into bits per byte.
    heldout: {metric: (batches, bytes per scored target)} of more text scored at eval steps, logged as that metric:
    bpb:NAME for train.heldout_texts (`heldout_sets`); SFT adds text_val_bpb, the pretraining bins' val split (what
    chat tuning costs the model on plain text).
    tokenizer_dir: copied into RUN_DIR/tokenizer, and used for samples at eval steps.
    init_from: a RUN_DIR or step dir whose weights start a fresh run (SFT); ignored when resuming.
    """
    run_dir, t = Path(run_dir), config.train
    rank, local_rank, world = dist_info()
    device = setup_device(t, local_rank, world)
    seed_everything(t.seed + rank)
    ckpt_dir = checkpoint_to_resume(run_dir, resume)
    if ckpt_dir is not None and (done := Progress.of(read_meta(ckpt_dir))).step >= t.max_steps:
        # finished: nothing to train, no engine to build, and nothing in RUN_DIR is rewritten
        console(f"{run_dir} is at step {done.step} of {t.max_steps}: nothing to train")
        return done.result()
    run = Trainer.start(config, run_dir, device, rank, world, ckpt_dir, init_from, tokenizer_dir, faults, console)
    run.validation = (val_batches, val_bytes_per_token, heldout or {})
    source = as_batch_source(batches)
    try:
        while run.at.step < t.max_steps:
            run.step(source)
            is_best = run.due(t.eval_interval) and run.evaluate()
            if run.due(t.checkpoint_interval) or is_best or run.at.step == run.branch_step:
                run.save(is_best)
    except torch.cuda.OutOfMemoryError:
        raise out_of_memory(run.at.step, t) from None
    finally:
        run.close()
    return run.at.result()


def out_of_memory(step: int, t) -> ConfigError:
    return ConfigError(
        f"CUDA out of memory at step {step} (micro_batch_size {t.micro_batch_size}, activation_checkpointing "
        f"{t.activation_checkpointing!r}): lower train.micro_batch_size (raise grad_accum_steps to keep the batch), "
        "set activation_checkpointing = \"full\", or use engine = \"deepspeed\" with offload_optimizer = true; "
        "then `polski train --resume` continues at the same sample"
    )


def setup_device(t, local_rank: int, world: int) -> torch.device:
    """This rank's device, with the process group (torch engine, several ranks), memory cap and attention kernel set."""
    device = pick_device(t.device, local_rank)
    if world > 1 and t.engine == "torch":  # the group lives until the command ends (training.distributed)
        join_process_group("nccl" if device.type == "cuda" else "gloo")
    cap_gpu_memory(device, t.max_gpu_memory_gb)
    set_attention_backend(device, t.attention_backend)
    return device


def checkpoint_to_resume(run_dir: Path, resume: bool) -> Path | None:
    """The step dir a resumed run continues from (None: a fresh run); refuses to overwrite a run or resume a merge."""
    ckpt_dir = find_checkpoint(run_dir) if resume else None
    if not resume and find_checkpoint(run_dir) is not None:
        raise CheckpointError(f"{run_dir} already has checkpoints: pass --resume to continue it, or choose a new --out")
    if ckpt_dir is not None and "merged" in read_meta(ckpt_dir):
        raise CheckpointError(f"{ckpt_dir} is a merge of runs (`polski merge`) and has no optimizer state to resume: "
                              "start a new run from it with --init-from")
    return ckpt_dir


@dataclass
class Progress:
    """Where a run stands: what a checkpoint's meta.json records and a resume restores."""

    step: int = 0
    tokens_seen: int = 0
    micro: int = 0  # micro-batches this rank has drawn: its data position
    best_val: float = math.inf
    last_val: float | None = None
    started_from: str | None = None  # the step dir whose weights began the run (init_from)
    loss: float = math.nan  # the last step's mean loss
    skips: int = 0  # updates skipped in a row by the loss guard

    @classmethod
    def of(cls, meta: dict) -> "Progress":
        return cls(step=meta["step"], tokens_seen=meta["tokens_seen"], micro=meta.get("data_position", 0),
                   best_val=meta.get("best_val_loss") or math.inf, last_val=meta.get("val_loss"),
                   started_from=meta.get("init_from"))

    def result(self) -> dict:
        return {"step": self.step, "tokens_seen": self.tokens_seen, "loss": self.loss, "val_loss": self.last_val,
                "best_val_loss": None if math.isinf(self.best_val) else self.best_val}


class Trainer:
    """One run's loop, step by step: the engine and the batches it draws, the loss guard, and (rank 0) the metrics,
    samples and checkpoints it writes. `train()` drives it."""

    def __init__(self, config: Config, run_dir: Path, model, engine, device: torch.device, rank: int, world: int,
                 at: Progress, guard: SpikeGuard, peak: float | None, faults: Faults | None, console):
        self.config, self.run_dir, self.model, self.engine, self.device = config, run_dir, model, engine, device
        self.rank, self.world, self.at, self.guard, self.faults, self.console = rank, world, at, guard, faults, console
        self.peak = peak  # one GPU's peak FLOP/s, for the MFU
        t = config.train
        self.branch_step = decay_start(config.optim, t.max_steps) if t.decay_seeds else None  # kept for the soup
        self.validation: tuple = (None, None, {})  # (val batches, their bytes per token, {metric: held-out set})
        self.writer: MetricsWriter | None = None  # rank 0 only
        self.tokenizer = None  # for samples at eval steps
        self.session_start, self.session_steps = time.perf_counter(), 0

    @classmethod
    def start(cls, config: Config, run_dir: Path, device: torch.device, rank: int, world: int, ckpt_dir: Path | None,
              init_from, tokenizer_dir, faults: Faults | None, console) -> "Trainer":
        """The model and engine, fresh (from init_from's weights if given) or restored from CKPT_DIR; on rank 0 the
        RUN_DIR made self-contained and its metrics opened."""
        from training.engines import make_engine
        from training.model import GPT

        t = config.train
        model = GPT(config.model)
        at = Progress()
        if init_from is not None and ckpt_dir is None:
            init = load_checkpoint(init_from, weights_only=True)
            _check_same_model(init.meta, config, init.path)
            model.load_state_dict(init.model_state)
            at.started_from = str(init.path.resolve())
        if t.trainable_embedding_rows is not None:
            train_only_embedding_rows(model, t.trainable_embedding_rows)
        engine = make_engine(config, model, device, rank, world)
        guard_history, moved = (), None
        if ckpt_dir is not None:
            at, guard_history, moved = restore(engine, ckpt_dir, config, rank, world)
        peak = t.peak_tflops * 1e12 if t.peak_tflops else None
        if peak is None and device.type == "cuda":
            from training.engines.base import measure_peak_flops

            peak = measure_peak_flops(device)
        guard = SpikeGuard(t.spike_window, t.spike_zscore, guard_history)
        run = cls(config, run_dir, model, engine, device, rank, world, at, guard, peak, faults, console)
        if rank == 0:
            run.open_run_dir(tokenizer_dir, ckpt_dir, moved)
            console(f"{config.model.name}: {model.num_params() / 1e6:.2f}M parameters, engine {t.engine}, {device.type}, "
                    f"{t.precision}, {world} process(es), steps {at.step + 1}..{t.max_steps}")
        return run

    def open_run_dir(self, tokenizer_dir, ckpt_dir: Path | None, moved: str | None) -> None:
        t = self.config.train
        prepare_run_dir(self.run_dir, self.config, tokenizer_dir)
        self.writer = MetricsWriter(self.run_dir / METRICS_FILE)
        if (self.run_dir / TOKENIZER_DIR / TOKENIZER_MODEL_FILE).is_file() and t.sample_tokens and t.sample_prompts:
            from training.tokenizer import Tokenizer

            self.tokenizer = Tokenizer.load(self.run_dir / TOKENIZER_DIR)
        if ckpt_dir is not None:
            self.writer.event(self.at.step, "resumed", f"resumed from {ckpt_dir.name}; later records replace steps "
                              f"after {self.at.step}" + (f"; {moved}" if moved else ""))

    def due(self, interval: int) -> bool:
        return self.at.step % interval == 0 or self.at.step == self.config.train.max_steps

    def step(self, source) -> None:
        """One optimizer step: grad_accum_steps micro-batches forward and backward, the guard's verdict, the update."""
        t0 = time.perf_counter()
        lr = lr_at(self.at.step, self.config.optim, self.config.train.max_steps)
        self.at.step += 1
        skip_reason, x = self.forward_backward(source)
        stats = self.engine.step(lr, skip_reason is not None)
        n_micro = self.config.train.grad_accum_steps
        self.at.tokens_seen += int(x.numel()) * n_micro * self.world
        self.judge(skip_reason, stats)
        self.log_step(lr, stats, x.numel() * n_micro * self.world / (time.perf_counter() - t0), x.size(1))

    def forward_backward(self, source) -> tuple[str | None, torch.Tensor]:
        """Accumulates the step's gradients; the guard checks the mean loss (over ranks) before the last backward,
        so a skipped step's gradients are dropped there. Returns (skip reason or None, the last input batch)."""
        n_micro = self.config.train.grad_accum_steps
        loss_sum = torch.zeros((), device=self.device)
        skip_reason = None
        for m in range(n_micro):
            x, y = source.batch(self.at.micro)
            self.at.micro += 1
            x, y = to_device(x, y, self.device)
            last = m == n_micro - 1
            loss = inject_faults(self.engine.forward(x, y, last), self.at.step, self.faults)
            loss_sum += loss.detach().float()
            if last:
                mean = loss_sum / n_micro
                if self.world > 1:
                    torch.distributed.all_reduce(mean, op=torch.distributed.ReduceOp.AVG)
                self.at.loss = float(mean)
                skip_reason = self.guard.check(self.at.loss)
            self.engine.backward(loss, n_micro, last, skip_reason is not None)
        return skip_reason, x

    def judge(self, skip_reason: str | None, stats) -> None:
        """Feeds an applied step to the guard; records a skipped one, and stops after too many in a row."""
        step, loss, writer = self.at.step, self.at.loss, self.writer
        if skip_reason is None and stats.applied:
            self.guard.accept(loss)
            self.at.skips = 0
        elif skip_reason is not None:
            self.at.skips += 1
            if writer:
                writer.event(step, skip_reason, f"loss {loss:.4g} at step {step}: update skipped "
                             f"({self.at.skips} in a row)", loss=loss)
            if self.at.skips >= self.config.train.max_consecutive_skips:
                last_good = find_checkpoint(self.run_dir)
                msg = (f"stopped at step {step}: {self.at.skips} consecutive steps skipped (NaN/Inf or loss spikes); "
                       f"last good checkpoint: {last_good.name if last_good else 'none'}; lower optim.lr or raise "
                       "optim.warmup_steps, then `polski train --resume`")
                if writer:
                    writer.event(step, "stopped", msg)
                raise TrainingStopped(msg)
        elif writer and stats.loss_scale is not None:
            writer.event(step, "loss_scale", f"fp16 overflow: update skipped, loss scale now {stats.loss_scale:g}",
                         loss_scale=stats.loss_scale)

    def log_step(self, lr: float, stats, tokens_per_s: float, seq_len: int) -> None:
        """The step's train record, and a console line every log_interval steps."""
        t, step, loss = self.config.train, self.at.step, self.at.loss
        self.session_steps += 1
        mfu = tokens_per_s * self.model.flops_per_token(seq_len) / (self.peak * self.world) if self.peak else None
        gpu_mem = retries = None
        if self.device.type == "cuda":
            mem = torch.cuda.memory_stats(self.device)
            gpu_mem = mem.get("allocated_bytes.all.peak", 0) / 2**30
            # allocations that hit the memory limit, freed the cache (a device sync) and retried: slow steps under a cap
            retries = mem.get("num_alloc_retries", 0)
        if not self.writer:
            return
        self.writer.log("train", step, loss=loss, lr=lr, grad_norm=stats.grad_norm, tokens_per_s=tokens_per_s, mfu=mfu,
                        tokens_seen=self.at.tokens_seen, gpu_mem_gb=gpu_mem, alloc_retries=retries,
                        loss_scale=stats.loss_scale, max_steps=t.max_steps)
        if step % t.log_interval == 0 or step == t.max_steps:
            per_step = (time.perf_counter() - self.session_start) / self.session_steps
            gnorm = f"{stats.grad_norm:.2f}" if stats.grad_norm is not None else "-"
            self.console(f"step {step}/{t.max_steps} | loss {loss:.4f} | lr {lr:.2e} | gnorm {gnorm} | "
                         f"{tokens_per_s:,.0f} tok/s" + (f" | mfu {mfu:.2f}" if mfu else "") +
                         (f" | {gpu_mem:.1f} GiB" if gpu_mem else "") +
                         f" | eta {format_eta(per_step * (t.max_steps - step))}")

    def evaluate(self) -> bool:
        """Validation loss (and BPB), held-out texts and samples; returns whether this is the best validation loss.
        A run without validation batches is not evaluated."""
        val_batches, val_bytes_per_token, heldout = self.validation
        if val_batches is None:
            return False
        step, max_steps = self.at.step, self.config.train.max_steps
        val = self.at.last_val = self.engine.eval_loss(val_batches)
        bpb = bpb_from_loss(val, 1, val_bytes_per_token) if val_bytes_per_token else None
        is_best = val < self.at.best_val
        self.at.best_val = min(self.at.best_val, val)
        held = {key: bpb_from_loss(self.engine.eval_loss(b), 1, per_target) for key, (b, per_target) in heldout.items()}
        if self.writer:
            self.writer.log("eval", step, val_loss=val, val_bpb=bpb, **held)
            self.console(f"step {step}/{max_steps} | val_loss {val:.4f}" + (f" | val_bpb {bpb:.4f}" if bpb else "")
                         + "".join(f" | {k} {v:.4f}" for k, v in held.items()))
            if self.tokenizer is not None:
                write_samples(self.engine, self.tokenizer, self.config, step, self.run_dir, self.writer)
        return is_best

    def save(self, is_best: bool = False) -> None:
        """A checkpoint of every rank's state (rank 0 writes it); the decay's first step also into RUN/decay-start."""
        at, t = self.at, self.config.train
        state = {"engine": self.engine.state_dict(), "rng": gather_rng_states(self.world), "guard": list(self.guard.losses)}
        weights = self.engine.model_state_dict()
        if self.rank == 0:
            meta = {"step": at.step, "tokens_seen": at.tokens_seen, "data_position": at.micro, "val_loss": at.last_val,
                    "best_val_loss": None if math.isinf(at.best_val) else at.best_val, "engine": t.engine,
                    "world_size": self.world, "config": self.config.model_dump(mode="json")}
            if at.started_from:
                meta["init_from"] = at.started_from
            path = save_checkpoint(self.run_dir, at.step, weights, state, meta, t.keep_last, is_best)
            self.writer.event(at.step, "checkpoint", f"saved {path.name}" + (" (best)" if is_best else ""))
            if at.step == self.branch_step:  # kept apart from keep_last's pruning: every decay of the soup starts here
                save_checkpoint(decay_start_dir(self.run_dir), at.step, weights, state, meta, keep_last=1)
        _barrier(self.world)

    def close(self) -> None:
        if self.writer:
            self.writer.close()


def inject_faults(loss: torch.Tensor, step: int, faults: Faults | None) -> torch.Tensor:
    """The loss as `faults` (tests of the guards) makes it at STEP: NaN, ten times larger, or out of GPU memory."""
    if faults is None:
        return loss
    if step in faults.nan_loss_steps:
        loss = loss * float("nan")
    if step in faults.spike_loss_steps:
        loss = loss * 10
    if step == faults.oom_step:
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (injected)")
    return loss


def restore(engine, ckpt_dir: Path, config: Config, rank: int, world: int) -> tuple[Progress, list, str | None]:
    """Loads CKPT_DIR's weights, optimizer and this rank's RNG into the engine; returns (where the run stands, the loss
    guard's history, a note when the data position was converted to another world or micro-batch size)."""
    ckpt = load_checkpoint(ckpt_dir)
    _check_same_model(ckpt.meta, config, ckpt.path)
    if ckpt.train_state.get("engine", {}).get("engine") != config.train.engine:
        raise CheckpointError(f"{ckpt.path} was written by the {ckpt.meta.get('engine')} engine: resume with the same train.engine")
    engine.load_model_state_dict(ckpt.model_state)
    engine.load_state_dict(ckpt.train_state["engine"])
    set_rng_state(own_rng_state(ckpt.train_state["rng"], rank, world))
    at = Progress.of(ckpt.meta)
    at.micro, moved = resume_position(ckpt.meta, world, config.train.micro_batch_size)
    return at, ckpt.train_state.get("guard", ()), moved


def resume_position(meta: dict, world: int, micro_batch_size: int) -> tuple[int, str | None]:
    """(micro-batch index to continue at, a note or None). Micro-batch i of rank r holds samples (i·W + r)·B ...,
    so a resume with another world size W or micro-batch size B (e.g. halved after running out of memory)
    converts the position through the samples consumed; it rounds up, so no sample is seen twice in an epoch."""
    micro = meta["data_position"]
    old_world = meta.get("world_size", 1)
    old_b = meta.get("config", {}).get("train", {}).get("micro_batch_size", micro_batch_size)
    if (old_world, old_b) == (world, micro_batch_size):
        return micro, None
    samples = micro * old_world * old_b
    new = -(-samples // (world * micro_batch_size))
    return new, (f"data position {samples:,} samples ({old_world} rank(s) x micro-batch {old_b}) -> micro-batch {new} "
                 f"of {world} x {micro_batch_size}" + (f", skipping {new * world * micro_batch_size - samples} samples"
                                                        if new * world * micro_batch_size != samples else ""))


def gather_rng_states(world: int) -> list[dict]:
    """Every rank's RNG state, in rank order: each rank draws its own dropout masks (seeded with seed + rank)."""
    if world == 1 or not torch.distributed.is_initialized():
        return [rng_state()]
    states: list = [None] * world
    torch.distributed.all_gather_object(states, rng_state())
    return states


def own_rng_state(saved, rank: int, world: int) -> dict:
    """This rank's state from a checkpoint's "rng": a list per rank, or one dict (checkpoints before 2026-12-01).
    Resuming with another world size restarts every rank from rank 0's state (the data order changes anyway)."""
    if isinstance(saved, dict):
        return saved
    return saved[rank] if len(saved) == world else saved[0]


def _barrier(world: int) -> None:
    if world > 1 and torch.distributed.is_initialized():
        torch.distributed.barrier()


def _check_same_model(meta: dict, config: Config, path: Path) -> None:
    saved = meta.get("config", {}).get("model", {})
    ours = config.model.model_dump(mode="json")
    diff = sorted(k for k in ours if k not in ("dropout", "name") and saved.get(k) != ours[k])
    if diff:
        k = diff[0]
        raise CheckpointError(f"{path} has model.{k} = {saved.get(k)!r}, the config says {ours[k]!r}: use the run's own config")


def write_samples(engine, tokenizer, config: Config, step: int, run_dir: Path, writer: MetricsWriter) -> None:
    """Continuations of the fixed prompts; seeded by the step so they do not touch the training RNG."""
    import json

    t = config.train
    model = engine.model
    with open(run_dir / SAMPLES_FILE, "a", encoding="utf-8") as f:
        for i, prompt in enumerate(t.sample_prompts):
            ids = torch.tensor([[tokenizer.bos_id, *tokenizer.encode(prompt)]], device=engine.device)
            with engine.autocast():
                out = model.generate(ids, t.sample_tokens, temperature=t.sample_temperature, top_k=t.sample_top_k or None,
                                     top_p=t.sample_top_p, seed=t.seed + step * 1000 + i, stop_ids={tokenizer.eos_id})
            new = [int(v) for v in out[0, ids.size(1):] if int(v) != tokenizer.eos_id]
            text = tokenizer.decode(new)
            record = writer.log("sample", step, prompt=prompt, text=text)
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
            f.flush()


def bins_val(val_bins, config: Config) -> tuple[list | None, float | None]:
    """The eval batches of a bins dir's val split, and its bytes per token (None, None when it is too short)."""
    from training.loader import val_windows

    T, B = config.model.context_length, config.train.micro_batch_size
    val = val_windows(val_bins.tokens, B, T, config.train.eval_batches) if len(val_bins) > T else None
    bytes_per_token = val_bins.bytes / val_bins.num_tokens if val is not None and val_bins.bytes else None
    return val, bytes_per_token


def heldout_sets(config: Config, tokenizer_dir: Path | str) -> dict[str, tuple[list, float]]:
    """train.heldout_texts as the trainer's eval batches, by metric (bpb:STEM)."""
    from training.evals.bpb import heldout_batches
    from training.evals.texts import load_texts
    from training.tokenizer import Tokenizer

    if not config.train.heldout_texts:
        return {}
    paths = [Path(p) for p in config.train.heldout_texts]
    stems = [p.stem for p in paths]
    if clash := next((s for s in stems if stems.count(s) > 1), None):  # checked before any file is tokenized
        raise ConfigError(f"train.heldout_texts has two files named {clash}: their metrics would collide")
    tokenizer, T = Tokenizer.load(tokenizer_dir), config.model.context_length
    sets = {}
    for path in paths:
        batches, per_target = heldout_batches(load_texts(path), tokenizer, T, config.train.micro_batch_size, T // 2)
        if not batches:
            raise DataError(f"{path} has no text to score: fix train.heldout_texts (or --heldout-text)")
        sets[f"bpb:{path.stem}"] = (batches, per_target)
    return sets


def weighted_windows(train_bins, config: Config, key: str, console=print):
    """Windows over the train split with the data mix `train.<key>` (source weights)."""
    from training.loader import TokenWindows, weighted_stream

    weights = getattr(config.train, key)
    stream, passes = weighted_stream(train_bins, weights, config.train.seed, key=f"train.{key}")
    if weights:
        console(f"{key.replace('_', ' ')}: {len(train_bins):,} train tokens -> {len(stream) // passes:,} a pass, "
                f"{passes} pass(es) an epoch")
    rank, _, world = dist_info()
    return TokenWindows(stream, config.train.micro_batch_size, config.model.context_length, config.train.seed, rank, world)


def pretrain(
    config: Config,
    bins_dir: Path | str,
    run_dir: Path | str,
    tokenizer_dir: Path | str | None = None,
    resume: bool = False,
    init_from: Path | str | None = None,
    faults: Faults | None = None,
    console=print,
) -> dict:
    """`polski train`: random-order epochs over BINS_DIR/train.bin, eval on the start of val.bin."""
    from training.data import TokenBins, check_tokenizer
    from training.loader import Phased

    bins_dir, run_dir = Path(bins_dir), Path(run_dir)
    if tokenizer_dir is None:  # the run's own copy, else the one beside the bins in a pipeline's WORK_DIR
        tokenizer_dir = locate(run_dir).tokenizer_dir or tokenizer_beside_bins(bins_dir)
        if not (tokenizer_dir / TOKENIZER_MODEL_FILE).is_file():
            raise ConfigError(f"no tokenizer found at {tokenizer_dir}: pass --tokenizer TOKENIZER_DIR")
    check_tokenizer(bins_dir, tokenizer_dir, config.model.vocab_size)
    train_bins, val_bins = TokenBins(bins_dir, "train"), TokenBins(bins_dir, "val")
    source = weighted_windows(train_bins, config, "source_weights", console)
    if config.train.decay_source_weights:
        switch = decay_start(config.optim, config.train.max_steps)
        source = Phased(source, weighted_windows(train_bins, config, "decay_source_weights", console),
                        switch * config.train.grad_accum_steps)
        console(f"decay data mix from step {switch + 1}")
    val, bytes_per_token = bins_val(val_bins, config)
    return train(config, source, run_dir, val_batches=val, val_bytes_per_token=bytes_per_token,
                 heldout=heldout_sets(config, tokenizer_dir), tokenizer_dir=tokenizer_dir, init_from=init_from,
                 resume=resume, faults=faults, console=console)
