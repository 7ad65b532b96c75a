"""What the dashboard and the report show, derived from a run's records: series, progress, alerts.

Pure functions of the records plus a clock value, so tests can pin the time.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from training.monitor.reader import RunData


@dataclass(frozen=True)
class Alert:
    level: str  # "error" | "warning"
    kind: str  # "nan" | "spike" | "stalled" | "gpu_memory" | "alloc_retries" | "val_rising"
    message: str


@dataclass(frozen=True)
class AlertRules:
    stall_minutes: float = 10.0
    spike_zscore: float = 6.0
    spike_window: int = 100
    gpu_memory_fraction: float = 0.95
    val_rising_evals: int = 3  # this many consecutive rises of val_loss
    alloc_retries: int = 5  # allocator retries (memory cap reached, cache freed: a GPU sync each) within...
    alloc_retry_steps: int = 100  # ...this many recent steps


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def other_bpb_keys(data) -> list[str]:
    """The eval records' BPB keys besides val_bpb: text_val_bpb (SFT) and bpb:NAME (train.heldout_texts)."""
    keys = {k for r in data.evals for k in r if k == "text_val_bpb" or k.startswith("bpb:")}
    return sorted(k for k in keys if series(data.evals, k)[1])


def bpb_lines(data) -> list[tuple[str, str, str]]:
    """(record group, key, label) of every bits-per-byte series a run logged: validation first."""
    return [("evals", "val_bpb", "val")] + [("evals", k, k) for k in other_bpb_keys(data)]


def line_keys(keys, data) -> list[tuple[str, str, str]]:
    """A chart's (group, key, label) list: fixed, or a function of the run's data (for keys named by the run)."""
    return keys(data) if callable(keys) else keys


def series(records: list[dict], key: str) -> tuple[list[float], list[float]]:
    """(steps, values) of the records that hold a finite `key`."""
    xs, ys = [], []
    for r in records:
        v = r.get(key)
        if _finite(v) and _finite(r.get("step")):
            xs.append(float(r["step"]))
            ys.append(float(v))
    return xs, ys


def stopped(data: RunData) -> bool:
    return any(e.get("event") == "stopped" for e in data.events[-20:])


def last_time(data: RunData) -> float | None:
    times = [r["time"] for group in (data.train[-1:], data.evals[-1:], data.events[-1:]) for r in group if _finite(r.get("time"))]
    return max(times) if times else None


@dataclass(frozen=True)
class Progress:
    step: int
    max_steps: int | None
    fraction: float | None
    eta_s: float | None
    tokens_seen: int | None


def progress(data: RunData) -> Progress:
    last = data.last_train
    if last is None:
        return Progress(0, None, None, None, None)
    step = int(last.get("step", 0))
    max_steps = last.get("max_steps")
    max_steps = int(max_steps) if _finite(max_steps) and max_steps > 0 else None
    fraction = min(1.0, step / max_steps) if max_steps else None
    eta = None
    # speed from the recent train lines: steps per second of wall time
    recent = [r for r in data.train[-50:] if _finite(r.get("time")) and _finite(r.get("step"))]
    if max_steps and len(recent) >= 2:
        dt = recent[-1]["time"] - recent[0]["time"]
        ds = recent[-1]["step"] - recent[0]["step"]
        if dt > 0 and ds > 0:
            eta = max(0.0, (max_steps - step) * dt / ds)
    tokens = last.get("tokens_seen")
    return Progress(step, max_steps, fraction, eta, int(tokens) if _finite(tokens) else None)


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    d, rem = divmod(seconds, 86400)
    h, rem = divmod(rem, 3600)
    m, s = divmod(rem, 60)
    if d:
        return f"{d}d {h:02d}h{m:02d}m"
    return f"{h:d}:{m:02d}:{s:02d}" if h else f"{m:d}:{s:02d}"


def alerts(data: RunData, now: float, rules: AlertRules = AlertRules(), gpus: list | None = None) -> list[Alert]:
    out: list[Alert] = []
    bad = [r for r in data.train if any(k in r and not _finite(r[k]) for k in ("loss", "grad_norm"))]
    bad += [r for r in data.evals if "val_loss" in r and not _finite(r["val_loss"])]
    bad += [e for e in data.events if e.get("event") == "nan_skipped"]
    if bad:
        out.append(Alert("error", "nan", f"NaN/inf at step {bad[-1].get('step')} ({len(bad)} times)"))

    _, losses = series(data.train, "loss")
    w = rules.spike_window
    if len(losses) > 10:
        window = losses[-w - 1:-1]
        mean = sum(window) / len(window)
        std = math.sqrt(sum((x - mean) ** 2 for x in window) / len(window))
        if std > 0 and (losses[-1] - mean) / std > rules.spike_zscore:
            out.append(Alert("warning", "spike", f"loss spike: {losses[-1]:.3f} vs mean {mean:.3f} (z {(losses[-1] - mean) / std:.1f})"))
    skipped = [e for e in data.events if e.get("event") == "spike_skipped"]
    if skipped:
        out.append(Alert("warning", "spike", f"{len(skipped)} spike(s) skipped, last at step {skipped[-1].get('step')}"))

    t = last_time(data)
    if t is not None and not stopped(data) and now - t > rules.stall_minutes * 60:
        out.append(Alert("error", "stalled", f"no new metrics for {format_duration(now - t)} (stalled or crashed?)"))

    for g in gpus or []:
        if g.memory_total and g.memory_used / g.memory_total >= rules.gpu_memory_fraction:
            out.append(Alert("warning", "gpu_memory", f"GPU {g.index} memory {g.memory_used / g.memory_total:.0%} full"))

    steps, retries = series(data.train, "alloc_retries")  # a running count
    if steps:
        since = next(i for i, st in enumerate(steps) if st >= steps[-1] - rules.alloc_retry_steps)
        recent = retries[-1] - (retries[since - 1] if since else 0.0)
        if recent >= rules.alloc_retries:
            out.append(Alert("warning", "alloc_retries", f"the memory cap was hit {recent:.0f} times in the last "
                             f"{rules.alloc_retry_steps} steps (each frees the cache and syncs the GPU): lower "
                             "train.micro_batch_size or train.loss_chunk_tokens"))

    _, vals = series(data.evals, "val_loss")
    k = rules.val_rising_evals
    if len(vals) > k and all(vals[-i] > vals[-i - 1] for i in range(1, k + 1)):
        out.append(Alert("warning", "val_rising", f"validation loss rose {k} evals in a row: {vals[-k - 1]:.3f} -> {vals[-1]:.3f} (overfitting?)"))
    return out
