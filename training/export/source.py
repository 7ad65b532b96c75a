"""What an export reads: the weights of one checkpoint, the run's config and tokenizer, provenance.

Accepts a RUN_DIR (its `checkpoints/latest`), a checkpoint dir (`.../checkpoints/step-000123`)
or a `model.safetensors` file inside one. Weights are read lazily, one tensor at a time, so a
1.3B model is never held twice in memory.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from training.config import Config, dump_config, load_config, parse_config
from training.errors import CheckpointError
from training.layout import CHECKPOINT_META_FILE, CONFIG_FILE, TOKENIZER_MODEL_FILE, WEIGHTS_FILE, locate
from training.tokenizer import sha256_file

_PREFIXES = ("_orig_mod.", "module.")  # torch.compile / DDP wrappers


@dataclass
class ExportSource:
    checkpoint_dir: Path
    run_dir: Path | None
    config: Config
    tokenizer_dir: Path
    meta: dict = field(default_factory=dict)
    config_toml: str = ""

    @property
    def model(self):
        return self.config.model

    @property
    def weights_path(self) -> Path:
        return self.checkpoint_dir / WEIGHTS_FILE

    def tensor_names(self) -> list[str]:
        from safetensors import safe_open

        with safe_open(self.weights_path, framework="pt") as f:
            return [_clean(k) for k in f.keys()]

    def tensors(self) -> Iterator[tuple[str, torch.Tensor]]:  # noqa: F821
        """(name, fp32 tensor) one at a time, with wrapper prefixes removed."""
        from safetensors import safe_open

        with safe_open(self.weights_path, framework="pt") as f:
            for key in f.keys():
                yield _clean(key), f.get_tensor(key).float()

    def tensor(self, name: str):
        from safetensors import safe_open

        with safe_open(self.weights_path, framework="pt") as f:
            for key in f.keys():
                if _clean(key) == name:
                    return f.get_tensor(key).float()
        raise KeyError(name)

    def torch_model(self):
        """The checkpoint as a `training.model.GPT` in eval mode (fp32), for parity checks."""
        from training.model import GPT

        model = GPT(self.model)
        state = dict(self.tensors())
        if self.model.tie_embeddings:
            state.pop("output.weight", None)
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise CheckpointError(f"{self.weights_path} does not match its config (missing {missing[:2]}, "
                                  f"unexpected {unexpected[:2]}): check the run's config.toml")
        return model.eval()

    def provenance(self) -> dict:
        """Facts about where the weights came from, written into the GGUF as `polski.*` keys."""
        facts = {
            "step": self.meta.get("step"),
            "tokens_seen": self.meta.get("tokens_seen"),
            "val_loss": self.meta.get("val_loss"),
            "tokenizer_sha256": sha256_file(self.tokenizer_dir / TOKENIZER_MODEL_FILE),
            "corpus_manifest_sha256": _find_key(self.meta, "corpus_manifest_sha256") or self._corpus_hash_from_run(),
            "config_toml": self.config_toml,
            "config_sha256": hashlib.sha256(self.config_toml.encode("utf-8")).hexdigest() if self.config_toml else None,
        }
        return {k: v for k, v in facts.items() if v is not None}

    def _corpus_hash_from_run(self) -> str | None:
        if self.run_dir is None:
            return None
        for name in ("data_manifest.json", "bins_manifest.json", "manifest.json"):
            path = self.run_dir / name
            if path.is_file():
                found = _find_key(_read_json(path), "corpus_manifest_sha256")
                if found:
                    return found
        return None


def _clean(key: str) -> str:
    for prefix in _PREFIXES:
        key = key.removeprefix(prefix)
    return key


def _find_key(obj, key: str):
    """The first value under `key` anywhere in a nested dict."""
    if isinstance(obj, dict):
        if obj.get(key):
            return obj[key]
        for value in obj.values():
            found = _find_key(value, key)
            if found:
                return found
    return None


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise CheckpointError(f"{path} is unreadable ({err}): re-run the step that wrote it") from None


def load_source(path: Path | str, tokenizer_dir: Path | str | None = None) -> ExportSource:
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path} does not exist: give the RUN_DIR of `polski train` or a checkpoint dir")
    found = locate(path)
    ckpt, run = found.step_dir, found.run_dir
    if ckpt is None or not (ckpt / WEIGHTS_FILE).is_file():
        raise CheckpointError(
            f"{path} is neither a run dir (with checkpoints/latest) nor a checkpoint dir (with {WEIGHTS_FILE}): "
            "give the RUN_DIR of `polski train` or one of its checkpoints/step-* dirs"
        )
    meta = _read_json(ckpt / CHECKPOINT_META_FILE) if (ckpt / CHECKPOINT_META_FILE).is_file() else {}

    config_toml = ""
    if run is not None and (run / CONFIG_FILE).is_file():
        config_toml = (run / CONFIG_FILE).read_text(encoding="utf-8")
        config = load_config(run / CONFIG_FILE)
    elif isinstance(meta.get("config"), dict):
        config = parse_config(meta["config"], ckpt / CHECKPOINT_META_FILE)
        config_toml = dump_config(config)
    else:
        raise CheckpointError(f"no config for {ckpt}: it needs ../../{CONFIG_FILE} (a run dir) or `config` in "
                              f"{CHECKPOINT_META_FILE}")

    if tokenizer_dir is None:
        tokenizer_dir = found.tokenizer_dir
        if tokenizer_dir is None:
            raise CheckpointError(f"no tokenizer/ beside {ckpt}: pass --tokenizer TOKENIZER_DIR")
    tokenizer_dir = Path(tokenizer_dir)
    if not (tokenizer_dir / TOKENIZER_MODEL_FILE).is_file():
        raise CheckpointError(f"{tokenizer_dir} has no tokenizer.model: pass the TOKENIZER_DIR of `polski tokenizer train`")
    return ExportSource(ckpt, run, config, tokenizer_dir, meta, config_toml)
