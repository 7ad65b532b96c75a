"""The layout of runs on disk: every file and folder name of a RUN_DIR and of a pipeline's WORK_DIR, the names of
the runs made from a run, and the resolver from any run or checkpoint path to its step, run and tokenizer dirs.

    RUN_DIR/
        config.toml                 the effective config
        tokenizer/                  a copy of TOKENIZER_DIR (tokenizer.model, tokenizer.json): a run is self-contained
        metrics.jsonl, samples.jsonl
        checkpoints/
            step-000123/            model.safetensors (weights), state.pt (optimizer, RNG), meta.json (step, config)
            latest, best            text files naming a step dir
        decay-start/                with train.decay_seeds: a run of one checkpoint, the decay's first step
    RUN-seedS/, RUN-soup/           a soup of decays: the decay replayed with seed S, and the average of every end
    SFT-seedS/                      the members of an SFT soup (sft.seeds); SFT itself holds their average
    REFINE-passN/                   the refine stage's earlier passes (refine.repeat_seeds); REFINE holds the last

    WORK_DIR/ ([paths] work_dir, `polski pipeline`)
        corpus/ tokenizer/ bins/ run/ chat/ sft/ refine/ merge/ eval/ export/NAME.gguf export/Modelfile
        stages.json                 the fingerprint of each finished stage
        .registered                 the Ollama registration of the pipeline's model

This module reads pointer files and checks which files exist; it writes nothing (training.checkpoint does).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from training.errors import CheckpointError

# ---------------------------------------------------------------- RUN_DIR

CONFIG_FILE = "config.toml"
TOKENIZER_DIR = "tokenizer"
TOKENIZER_MODEL_FILE = "tokenizer.model"  # the SentencePiece model, inside a TOKENIZER_DIR
TOKENIZER_META_FILE = "tokenizer.json"  # its vocab size, hash and special ids (`polski tokenizer train`)
METRICS_FILE = "metrics.jsonl"
SAMPLES_FILE = "samples.jsonl"
CHECKPOINTS_DIR = "checkpoints"
WEIGHTS_FILE = "model.safetensors"  # a checkpoint's weights
TRAIN_STATE_FILE = "state.pt"  # a checkpoint's optimizer, RNG and loss-guard state
CHECKPOINT_META_FILE = "meta.json"  # a checkpoint's step, tokens seen, losses and config
LATEST, BEST = "latest", "best"  # pointer files in checkpoints/
DECAY_START_DIR = "decay-start"
STEP_RE = re.compile(r"^step-(\d{6,})$")


def step_dir_name(step: int) -> str:
    return f"step-{step:06d}"


def checkpoints_dir(run_dir: Path | str) -> Path:
    return Path(run_dir) / CHECKPOINTS_DIR


def latest_pointer(run_dir: Path | str) -> Path:
    """RUN_DIR/checkpoints/latest: it exists once the run has a checkpoint (what the pipeline's stages wait for)."""
    return checkpoints_dir(run_dir) / LATEST


def read_pointer(checkpoints: Path, name: str) -> str | None:
    """The step dir name a pointer file (latest, best) in CHECKPOINTS names, or None."""
    try:
        return (checkpoints / name).read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


def is_step_dir(path: Path) -> bool:
    return (path / CHECKPOINT_META_FILE).is_file() or (path / WEIGHTS_FILE).is_file()


def run_dir_of(path: Path | str) -> Path | None:
    """The RUN_DIR of a RUN_DIR or of one of its checkpoints/step-* dirs; None for a step dir kept elsewhere."""
    path = Path(path)
    if path.parent.name == CHECKPOINTS_DIR and STEP_RE.match(path.name):
        return path.parent.parent
    return path if (path / CHECKPOINTS_DIR).is_dir() else None


@dataclass(frozen=True)
class RunPaths:
    step_dir: Path | None  # the checkpoint; None while the run has none
    run_dir: Path | None  # None for a step dir kept outside a run
    tokenizer_dir: Path | None  # the first tokenizer/ with a tokenizer.model: the step dir's, the run's, the path's


def locate(path: Path | str, which: str = LATEST) -> RunPaths:
    """The step, run and tokenizer dirs of PATH: a RUN_DIR (its checkpoint named by WHICH), its checkpoints/ dir, a
    step dir, or a step dir's model.safetensors."""
    path = Path(path)
    if path.name == WEIGHTS_FILE and path.is_file():
        path = path.parent
    if is_step_dir(path):
        step_dir = path
    else:
        root = checkpoints_dir(path) if checkpoints_dir(path).is_dir() else path
        name = read_pointer(root, which)
        step_dir = None if name is None else root / name
        if step_dir is not None and not is_step_dir(step_dir):
            raise CheckpointError(f"{root / which} names {name}, which is missing or incomplete: "
                                  "point it at an existing step dir")
    run_dir = run_dir_of(step_dir if step_dir is not None else path)
    candidates = [d / TOKENIZER_DIR for d in (step_dir, run_dir, path) if d is not None]
    tokenizer_dir = next((c for c in candidates if (c / TOKENIZER_MODEL_FILE).is_file()), None)
    return RunPaths(step_dir, run_dir, tokenizer_dir)


# ---------------------------------------------------------------- runs made from a run


def decay_start_dir(run_dir: Path) -> Path:
    """RUN/decay-start: a run of one checkpoint, the decay's first step, kept apart from keep_last's pruning."""
    return run_dir / DECAY_START_DIR


def branch_dir(run_dir: Path, seed: int) -> Path:
    """The run's decay replayed with another data order (train.decay_seeds)."""
    return run_dir.with_name(f"{run_dir.name}-seed{seed}")


def soup_dir(run_dir: Path) -> Path:
    """The average of the run's decays: the pretrained model when train.decay_seeds is set."""
    return run_dir.with_name(f"{run_dir.name}-soup")


def sft_member_dir(sft_dir: Path, seed: int) -> Path:
    """One member of an SFT soup (sft.seeds); SFT_DIR itself holds their average."""
    return sft_dir.with_name(f"{sft_dir.name}-seed{seed}")


def refine_pass_dir(out: Path, n: int, passes: int) -> Path:
    """Pass N of PASSES of the refine stage: the last writes OUT, earlier ones OUT-passN."""
    return out if n == passes else out.with_name(f"{out.name}-pass{n}")


# ---------------------------------------------------------------- WORK_DIR


def _below_root(name: str) -> property:
    return property(lambda self: self.root / name, doc=f"WORK_DIR/{name}")


class WorkLayout:
    """The stage folders of a WORK_DIR, below `self.root` (config.PathsConfig mixes it in: root = [paths] work_dir)."""

    corpus = _below_root("corpus")
    tokenizer = _below_root(TOKENIZER_DIR)
    bins = _below_root("bins")
    run = _below_root("run")
    chat_data = _below_root("chat")
    sft = _below_root("sft")
    refine = _below_root("refine")
    merge = _below_root("merge")
    eval = _below_root("eval")
    modelfile = _below_root("export/Modelfile")
    stages_file = _below_root("stages.json")
    registered_file = _below_root(".registered")

    def gguf(self, name: str) -> Path:
        return self.root / "export" / f"{name}.gguf"


def tokenizer_beside_bins(bins_dir: Path) -> Path:
    """The tokenizer a WORK_DIR keeps beside its bins (what `polski train` uses when given none)."""
    return bins_dir.parent / TOKENIZER_DIR


def pretrained_run(config) -> Path:
    """The run the chat stages start from: the soup of decays when the config makes one, else the run."""
    return soup_dir(config.paths.run) if config.train.decay_seeds else config.paths.run


def tuned_run(config) -> Path:
    """The run of the last chat stage: [refine]'s when there is one, else [sft]'s."""
    return config.paths.refine if config.refine is not None else config.paths.sft


def chat_run(config) -> Path:
    """The run of the finished chat model: the [merge] stage's when there is one, else the last chat stage's."""
    return config.paths.merge if config.merge is not None else tuned_run(config)
