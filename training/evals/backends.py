"""Two ways to get next-token logits, behind one interface: a PyTorch checkpoint and a GGUF file.

A backend knows its tokenizer (`encode`, `decode`, `piece`, `bos_id`), its `context_length`, and gives
`logits(ids) -> (len(ids), vocab)` for one sequence and `target_logprobs(windows)` (log p of each
window's ids[1:] given the ids before) for many. The GGUF backend runs real llama.cpp, so an exported
model is evaluated the way users run it.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from training.errors import CheckpointError


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    logits = logits.astype(np.float64)
    m = logits.max(axis=-1, keepdims=True)
    return logits - m - np.log(np.exp(logits - m).sum(axis=-1, keepdims=True))


def _picked_logprobs(logits: np.ndarray, targets) -> np.ndarray:
    """log softmax(logits)[t, targets[t]] for each row t, without a (T, vocab) float64 copy: exp in float32 after
    subtracting the row max, sums in float64 (the full float64 log-softmax was 30% of a GGUF evaluation)."""
    logits = np.asarray(logits, dtype=np.float32)
    m = logits.max(axis=-1)
    lse = m.astype(np.float64) + np.log(np.exp(logits - m[:, None]).sum(axis=-1, dtype=np.float64))
    return logits[np.arange(len(logits)), np.asarray(targets)].astype(np.float64) - lse


class Backend:
    name = "backend"
    context_length: int
    bos_id: int
    eos_id: int

    def encode(self, text: str) -> list[int]:
        raise NotImplementedError

    def decode(self, ids: list[int]) -> str:
        raise NotImplementedError

    def piece(self, token_id: int) -> str:
        return self.decode([token_id])

    def logits(self, ids: list[int]) -> np.ndarray:
        raise NotImplementedError

    def target_logprobs(self, windows: list[list[int]]) -> list[np.ndarray]:
        """For each window (at most context_length + 1 ids): log p(ids[t+1] | ids[:t+1]), t = 0..len-2."""
        return [_picked_logprobs(self.logits(w[:-1]), w[1:]) for w in windows]

    def describe(self) -> dict:
        return {"backend": self.name, "context_length": self.context_length}

    def close(self) -> None:
        pass


class TorchBackend(Backend):
    """A `training.model.GPT` (in memory) with the run's tokenizer."""

    name = "torch"

    def __init__(self, model, tokenizer, device: str | None = None, batch_size: int = 8, source: str = ""):
        import torch

        self.model = model
        self.tokenizer = tokenizer
        self.device = device or next(model.parameters()).device
        self.batch_size = batch_size
        self.context_length = model.config.context_length
        self.bos_id, self.eos_id = tokenizer.bos_id, tokenizer.eos_id
        self.source = source
        self._torch = torch

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text)

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids)

    def piece(self, token_id: int) -> str:
        return self.tokenizer.piece(token_id)

    def _forward(self, batch):
        torch = self._torch
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                logits, _ = self.model(batch)
        finally:
            self.model.train(was_training)
        return logits.float()

    def logits(self, ids: list[int]) -> np.ndarray:
        torch = self._torch
        x = torch.tensor([ids], dtype=torch.long, device=self.device)
        return self._forward(x)[0].cpu().numpy()

    def target_logprobs(self, windows: list[list[int]]) -> list[np.ndarray]:
        torch = self._torch
        out: list[np.ndarray | None] = [None] * len(windows)
        order = sorted(range(len(windows)), key=lambda i: len(windows[i]))  # similar lengths share a batch
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            width = max(len(windows[i]) for i in idx) - 1
            x = torch.zeros((len(idx), width), dtype=torch.long)
            y = torch.zeros((len(idx), width), dtype=torch.long)
            for row, i in enumerate(idx):
                w = windows[i]
                x[row, :len(w) - 1] = torch.tensor(w[:-1])
                y[row, :len(w) - 1] = torch.tensor(w[1:])
            # right padding never influences earlier positions of a causal model
            logp = torch.log_softmax(self._forward(x.to(self.device)), dim=-1)
            picked = logp.gather(-1, y.to(self.device)[..., None])[..., 0].double().cpu().numpy()
            for row, i in enumerate(idx):
                out[i] = picked[row, :len(windows[i]) - 1]
        return out  # type: ignore[return-value]

    def describe(self) -> dict:
        cfg = self.model.config
        return {"backend": self.name, "source": self.source, "context_length": self.context_length,
                "params": sum(p.numel() for p in self.model.parameters()), "n_layers": cfg.n_layers, "d_model": cfg.d_model}


def load_checkpoint_model(path: Path | str, device: str = "cpu"):
    """(GPT in eval mode, Tokenizer, ExportSource) for a RUN_DIR, checkpoint dir or its model.safetensors."""
    import torch
    from safetensors.torch import load_file

    from training.export.source import _clean, load_source
    from training.model import GPT
    from training.tokenizer import Tokenizer

    src = load_source(path)
    model = GPT(src.config.model)
    state = {_clean(k): v for k, v in load_file(str(src.weights_path)).items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise CheckpointError(f"{src.weights_path} does not match the run's [model] config "
                              f"(missing {missing[:3]}, unexpected {unexpected[:3]}): evaluate it with its own run dir")
    model.to(torch.device(device)).eval()
    return model, Tokenizer.load(src.tokenizer_dir), src


def torch_backend(path: Path | str, device: str = "cpu", batch_size: int = 8) -> TorchBackend:
    model, tok, src = load_checkpoint_model(path, device)
    return TorchBackend(model, tok, device=device, batch_size=batch_size, source=str(src.checkpoint_dir))


def gguf_context_length(path: Path | str) -> int:
    from gguf import GGUFReader

    reader = GGUFReader(str(path))
    arch = "llama"
    field = reader.fields.get("general.architecture")
    if field is not None:
        arch = bytes(field.parts[field.data[0]]).decode()
    field = reader.fields.get(f"{arch}.context_length")
    if field is None:
        raise CheckpointError(f"{path} has no {arch}.context_length: export it again with `polski export`")
    return int(field.parts[field.data[0]][0])


class GGUFBackend(Backend):
    """A GGUF file run by llama.cpp (llama-cpp-python), tokenized by llama.cpp's own tokenizer."""

    name = "gguf"

    def __init__(self, path: Path | str, threads: int = 2, context_length: int | None = None):
        from training.export.llamacpp import LlamaCppModel

        self.path = Path(path)
        if not self.path.is_file():
            raise CheckpointError(f"{self.path} does not exist: export one with `polski export RUN_DIR --out FILE.gguf`")
        self.context_length = context_length or gguf_context_length(self.path)
        # f32 KV cache so that an F32 export matches the PyTorch model to ~1e-5
        self.llm = LlamaCppModel(self.path, n_ctx=self.context_length, kv_type="f32", threads=threads)
        lib = self.llm.lib
        self.bos_id = int(lib.llama_vocab_bos(self.llm.vocab))
        self.eos_id = int(lib.llama_vocab_eos(self.llm.vocab))

    def encode(self, text: str) -> list[int]:
        return self.llm.tokenize(text, add_special=False, parse_special=True)

    def decode(self, ids: list[int]) -> str:
        return self.llm.detokenize(list(ids))

    def logits(self, ids: list[int]) -> np.ndarray:
        return self.llm.logits(list(ids))

    def describe(self) -> dict:
        return {"backend": self.name, "source": str(self.path), "context_length": self.context_length,
                "file_bytes": self.path.stat().st_size}

    def close(self) -> None:
        self.llm.close()


def open_backend(target: Path | str, device: str = "cpu", batch_size: int = 8, threads: int = 2) -> Backend:
    """A `.gguf` file gets the llama.cpp backend; a RUN_DIR or checkpoint the PyTorch one."""
    target = Path(target)
    if target.suffix == ".gguf":
        return GGUFBackend(target, threads=threads)
    return torch_backend(target, device=device, batch_size=batch_size)
