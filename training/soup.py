"""Soups: uniform averages of models trained from one start with other data orders.

A soup of WSD decays: the pretrained run's decay replayed from its first step with other batch orders, and the
uniform average of every decay's end (train.decay_seeds; docs/training.md, "A soup of decays").

The trunk keeps its decay's first checkpoint in RUN/decay-start (the trainer writes it there when decay_seeds is
set). Each seed S resumes a copy of it as RUN-seedS, with train.seed = S and one evaluation at the end (every member
is evaluated afterwards anyway). RUN-soup is the average of RUN and the branches. A branch a stop cut short resumes
from its last checkpoint, and a finished one is kept.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from training.atomic import write_text
from training.checkpoint import find_checkpoint, reached
from training.config import Config
from training.errors import CheckpointError
from training.layout import (CHECKPOINT_META_FILE, DECAY_START_DIR, LATEST, METRICS_FILE, SAMPLES_FILE, branch_dir,
                             checkpoints_dir, decay_start_dir, sft_member_dir, soup_dir, step_dir_name)
from training.merge import average_runs
from training.metrics import read_metrics, segment_seconds
from training.schedule import decay_start
from training.sft import run_sft
from training.train import dist_info, pretrain


def training_seconds(run_dir: Path, seeds: list[int]) -> tuple[float, list[float]]:
    """Seconds the trunk and each branch trained, first to last record of each stretch (process starts and the first
    step's compilation not counted); a branch's metrics open with the trunk's copied records, which are left out."""
    trunk = sum(segment_seconds(read_metrics(run_dir / METRICS_FILE)))
    return trunk, [sum(segment_seconds(read_metrics(branch_dir(run_dir, s) / METRICS_FILE))[1:]) for s in seeds]


def branch_config(config: Config, seed: int) -> Config:
    t = config.train.model_copy(update={"seed": seed, "eval_interval": config.train.max_steps, "decay_seeds": []})
    return config.model_copy(update={"train": t})


def decay_start_checkpoint(config: Config, run_dir: Path) -> Path:
    """RUN/decay-start's checkpoint, or else the run's own checkpoint of that step if keep_last kept it."""
    name = step_dir_name(decay_start(config.optim, config.train.max_steps))
    for candidate in (checkpoints_dir(decay_start_dir(run_dir)) / name, checkpoints_dir(run_dir) / name):
        if (candidate / CHECKPOINT_META_FILE).is_file():
            return candidate
    raise CheckpointError(f"{run_dir} has no checkpoint {name} (the decay's start) in {DECAY_START_DIR}/ or checkpoints/: "
                          "train it with train.decay_seeds set, which keeps it")


def train_decay_soup(config: Config, bins_dir: Path | str, run_dir: Path | str, tokenizer_dir: Path | str | None = None,
                     console=print) -> Path:
    """Trains each branch of the finished RUN's decay and writes RUN-soup; returns RUN-soup."""
    run_dir = Path(run_dir)
    start = decay_start_checkpoint(config, run_dir)
    members = [run_dir]
    for seed in config.train.decay_seeds:
        branch = branch_dir(run_dir, seed)
        if not reached(branch, config.train.max_steps):
            if find_checkpoint(branch) is None:  # a fresh branch: the trunk's state at the decay's start
                shutil.rmtree(branch, ignore_errors=True)
                checkpoints_dir(branch).mkdir(parents=True)
                shutil.copytree(start, checkpoints_dir(branch) / start.name)
                write_text(checkpoints_dir(branch) / LATEST, start.name + "\n")
                if (run_dir / METRICS_FILE).is_file():  # the trunk's curve up to here, as the branch's beginning
                    shutil.copy(run_dir / METRICS_FILE, branch / METRICS_FILE)
            console(f"decay with seed {seed} -> {branch}")
            pretrain(branch_config(config, seed), bins_dir, branch, tokenizer_dir=tokenizer_dir, resume=True, console=console)
        members.append(branch)
    soup = soup_dir(run_dir)
    if dist_info()[0] == 0:
        shutil.rmtree(soup, ignore_errors=True)
        average_runs(members, soup)
        if (run_dir / METRICS_FILE).is_file():  # the trunk's curve stands for the soup's (reports, model card)
            shutil.copy(run_dir / METRICS_FILE, soup / METRICS_FILE)
        console(f"soup of {len(members)} decays -> {soup}")
    return soup


def run_chat_sft(config: Config, init_from: Path | str, sft_dir: Path | str, *, bins_dir: Path | str | None = None,
                 resume: bool = False, console=print) -> dict | None:
    """The chat SFT the config asks for: one run (its result), or with sft.seeds a soup of runs (None)."""
    if config.sft.seeds:  # finished members are kept and a cut one resumes, whatever `resume` says
        train_sft_soup(config, init_from, sft_dir, bins_dir=bins_dir, console=console)
        return None
    return run_sft(config, init_from, sft_dir, bins_dir=bins_dir, resume=resume, console=console)


def train_sft_soup(config: Config, init_from: Path | str, sft_dir: Path | str, *, bins_dir: Path | str | None = None,
                   tokenizer_dir: Path | str | None = None, console=print) -> Path:
    """Tunes INIT_FROM once per seed (train.seed, then sft.seeds) and writes their average to SFT_DIR; returns it."""
    sft_dir = Path(sft_dir)
    members = []
    for seed in [config.train.seed, *config.sft.seeds]:
        member = sft_member_dir(sft_dir, seed)
        if not reached(member, config.sft.max_steps):
            console(f"SFT with seed {seed} -> {member}")
            seeded = config.model_copy(update={"train": config.train.model_copy(update={"seed": seed}),
                                               "sft": config.sft.model_copy(update={"seeds": []})})
            run_sft(seeded, init_from, member, bins_dir=bins_dir, tokenizer_dir=tokenizer_dir,
                    resume=find_checkpoint(member) is not None, console=console)
        members.append(member)
    shutil.rmtree(sft_dir, ignore_errors=True)
    average_runs(members, sft_dir)
    for record in (METRICS_FILE, SAMPLES_FILE):  # the first member's curve and samples stand for the soup's
        if (members[0] / record).is_file():
            shutil.copy(members[0] / record, sft_dir / record)
    console(f"soup of {len(members)} SFTs -> {sft_dir}")
    return sft_dir
