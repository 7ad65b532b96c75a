"""Every setting of the pipeline, as pydantic models loaded from one TOML file.

A config file has one table per concern ([model], [optim], [train], [corpus], ...);
unknown keys are errors, and a bad value is reported as one line naming the key.
"""
from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from training.errors import ConfigError
from training.layout import WorkLayout

CONFIG_DIR = Path(__file__).parent / "configs"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModelConfig(Strict):
    """Shape of the Llama-layout decoder; maps one-to-one onto llama.cpp's `llama` architecture."""

    name: str = "polski"
    vocab_size: int = Field(32000, gt=0, le=65535)  # token bins are uint16
    n_layers: int = Field(gt=0)
    d_model: int = Field(gt=0)
    n_heads: int = Field(gt=0)
    n_kv_heads: int | None = Field(None, gt=0)  # None: same as n_heads (no grouped-query attention)
    ffn_hidden: int = Field(gt=0)  # SwiGLU inner width
    context_length: int = Field(gt=0)
    rope_theta: float = Field(10000.0, gt=0)
    norm_eps: float = Field(1e-5, gt=0)
    tie_embeddings: bool = False
    dropout: float = Field(0.0, ge=0, lt=1)
    init_std: float = Field(0.02, gt=0)

    @model_validator(mode="after")
    def _heads_divide(self) -> "ModelConfig":
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})")
        if (self.d_model // self.n_heads) % 2:
            raise ValueError("head dimension d_model/n_heads must be even for rotary embeddings")
        if self.n_heads % self.kv_heads:
            raise ValueError(f"n_heads ({self.n_heads}) must be divisible by n_kv_heads ({self.kv_heads})")
        return self

    @property
    def kv_heads(self) -> int:
        return self.n_kv_heads or self.n_heads

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads


class OptimConfig(Strict):
    # muon: Muon (orthogonalised momentum, training/engines/muon.py) for the blocks' weight matrices, AdamW for the
    # embedding and norms; Muon's step is scaled to AdamW's update RMS, so lr and weight_decay carry over unchanged
    optimizer: Literal["adamw", "muon"] = "adamw"
    muon_momentum: float = Field(0.95, ge=0, lt=1)
    lr: float = Field(3e-4, gt=0)
    min_lr_ratio: float = Field(0.1, ge=0, le=1)  # final lr = lr * min_lr_ratio
    weight_decay: float = Field(0.1, ge=0)
    beta1: float = Field(0.9, ge=0, lt=1)
    beta2: float = Field(0.95, ge=0, lt=1)
    eps: float = Field(1e-8, gt=0)
    grad_clip: float = Field(1.0, ge=0)  # 0 disables clipping
    warmup_steps: int = Field(100, ge=0)
    schedule: Literal["cosine", "wsd", "constant"] = "cosine"
    decay_fraction: float = Field(0.2, gt=0, le=1)  # wsd: share of steps spent decaying


class TrainConfig(Strict):
    engine: Literal["torch", "deepspeed"] = "torch"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["fp32", "bf16", "fp16"] = "bf16"
    micro_batch_size: int = Field(8, gt=0)
    grad_accum_steps: int = Field(1, gt=0)
    max_steps: int = Field(1000, gt=0)
    seed: int = 1337
    compile: bool = False
    # blocks: each transformer block compiled on its own, so a backward pass hands over one block's gradients
    # at a time (a whole-model graph returns them all at once: with gradient accumulation that is a second
    # full set of gradients in memory); model: one graph, slightly fewer kernels, no accumulation headroom
    compile_scope: Literal["blocks", "model"] = "blocks"
    # inductor's mode; max-autotune-no-cudagraphs also tries Triton matmuls with the next elementwise op fused into
    # them against cuBLAS, per shape (minutes of compilation); reduce-overhead and max-autotune replay CUDA graphs
    # (no launch gaps; need grad_accum_steps = 1: with accumulation the replayed graph's gradient buffer is taken as
    # .grad and overwritten by the next micro-batch, pytorch/pytorch#169545)
    compile_mode: Literal["default", "max-autotune-no-cudagraphs", "reduce-overhead", "max-autotune"] = "default"
    activation_checkpointing: Literal["none", "full", "selective"] = "none"
    max_gpu_memory_gb: float | None = Field(None, gt=0)
    zero_stage: Literal[0, 1, 2] = 2
    offload_optimizer: bool = False
    log_interval: int = Field(10, gt=0)
    eval_interval: int = Field(200, gt=0)
    eval_batches: int = Field(20, gt=0)
    # held-out text files (.txt, or .jsonl of {"text"}) scored at every eval as `bpb:NAME` in metrics.jsonl, windowed
    # as `polski eval` windows them (stride: half the context): e.g. news while pretraining on a corpus without news
    heldout_texts: list[str] = []
    checkpoint_interval: int = Field(500, gt=0)
    keep_last: int = Field(2, gt=0)
    spike_zscore: float = Field(6.0, gt=0)  # loss this many std above the window mean is a spike
    spike_window: int = Field(100, gt=1)
    max_consecutive_skips: int = Field(5, gt=0)
    sample_prompts: list[str] = ["Dawno, dawno temu", "Polska jest", "Warszawa to"]
    sample_tokens: int = Field(48, ge=0)
    sample_temperature: float = Field(0.8, ge=0)
    sample_top_k: int = Field(50, ge=0)
    sample_top_p: float = Field(0.95, gt=0, le=1)
    # memory switches (see docs/training.md): bf16 weights without an fp32 master copy, the optimizer
    # writing them back with stochastic rounding; the loss computed in chunks of this many tokens
    param_dtype: Literal["fp32", "bf16"] = "fp32"
    stochastic_rounding: bool = True
    loss_chunk_tokens: int = Field(0, ge=0)  # 0: whole-batch logits
    # attention stays inside each document of a packed training window (BOS opens one), as in evaluation and chat,
    # where every document starts at position 0; costs the fused causal kernel (a dense mask instead)
    document_attention: bool = False
    # scaled_dot_product_attention kernel on CUDA; auto: PyTorch's choice (cuDNN on H100/H200 with torch 2.11)
    # (benchmarks/attention_backends.py measures them at the polski-1b3 shape)
    attention_backend: Literal["auto", "flash", "cudnn", "efficient"] = "auto"
    peak_tflops: float | None = Field(None, gt=0)  # MFU denominator; None: measured on the GPU at start
    # data mix: glob over the bins' source names -> how many times each document of it is seen per epoch
    # (0.5: each document in every other pass; unlisted sources weigh 1), e.g. {"*sejm-*" = 2.0, "*eltec*" = 0.5}
    source_weights: dict[str, float] = {}
    # the same, for the WSD decay only (optim.schedule = "wsd"): from the decay's first step the batches come from a
    # stream with these weights instead, e.g. {"*ustawy*" = 0.5} to end on less of a register far from the target
    decay_source_weights: dict[str, float] = {}
    # a soup of decays (optim.schedule = "wsd"): the run keeps its decay's first checkpoint in RUN/decay-start, then
    # replays the decay from it once per seed here (another batch order) as RUN-seedS, and averages every decay's end
    # into RUN-soup, the pretrained model the SFT starts from (docs/training.md, "A soup of decays")
    decay_seeds: list[int] = []
    # None: every embedding row learns; a list: only these rows (set by sft.freeze_embeddings)
    trainable_embedding_rows: list[int] | None = None
    # weight of <|im_end|> targets in the training loss (a weighted mean; evaluation is unweighted); set by sft.end_weight
    end_weight: float = Field(1.0, gt=0)

    @field_validator("source_weights", "decay_source_weights")
    @classmethod
    def _weights_non_negative(cls, v: dict[str, float]) -> dict[str, float]:
        bad = {k: w for k, w in v.items() if not (w >= 0 and math.isfinite(w))}
        if bad:
            raise ValueError(f"weights must be finite and >= 0, got {bad}")
        return v

    @property
    def cuda_graphs(self) -> bool:
        """torch.compile replays CUDA graphs in these modes."""
        return self.compile and self.compile_mode in ("reduce-overhead", "max-autotune")

    @property
    def tokens_per_step_factor(self) -> int:
        return self.micro_batch_size * self.grad_accum_steps

    @model_validator(mode="after")
    def _switches_fit(self) -> "TrainConfig":
        if self.param_dtype == "bf16" and self.precision != "bf16":
            raise ValueError("param_dtype = \"bf16\" needs precision = \"bf16\"")
        if self.param_dtype == "bf16" and self.engine == "deepspeed":
            raise ValueError("param_dtype = \"bf16\" is for the torch engine; DeepSpeed keeps its own fp32 master weights")
        if self.offload_optimizer and self.engine != "deepspeed":
            raise ValueError("offload_optimizer needs engine = \"deepspeed\"")
        if self.cuda_graphs and self.grad_accum_steps > 1:
            raise ValueError(f"compile_mode = \"{self.compile_mode}\" replays CUDA graphs, whose gradient outputs the next "
                             "micro-batch overwrites: set grad_accum_steps = 1 or compile_mode = \"max-autotune-no-cudagraphs\"")
        return self


class CorpusConfig(Strict):
    sources: list[str] = []
    min_chars: int = Field(200, ge=0)
    max_line_bytes: int = Field(10_000_000, gt=0)  # longer lines are skipped and reported
    lang_min_confidence: float = Field(0.5, ge=0, le=1)  # Polish confidence from lingua
    lang_sample_chars: int = Field(2000, gt=0)  # lingua sees this many chars from 3 places
    max_symbol_ratio: float = Field(0.1, ge=0, le=1)
    max_digit_ratio: float = Field(0.2, ge=0, le=1)
    min_mean_word_len: float = Field(3.0, ge=0)
    max_mean_word_len: float = Field(10.0, gt=0)
    max_dup_line_ratio: float = Field(0.3, ge=0, le=1)
    max_dup_paragraph_ratio: float = Field(0.3, ge=0, le=1)
    minhash_threshold: float = Field(0.8, gt=0, le=1)  # Jaccard similarity of word 5-grams
    minhash_perm: int = Field(128, gt=0)
    shingle_words: int = Field(5, gt=0)
    val_fraction: float = Field(0.01, ge=0, lt=1)
    shard_bytes: int = Field(50_000_000, gt=0)


class TokenizerConfig(Strict):
    vocab_size: int = Field(32000, gt=0, le=65535)
    sample_sentences: int = Field(2_000_000, gt=0)  # bounded, seeded sample of corpus lines
    seed: int = 1234
    character_coverage: float = Field(0.99995, gt=0, le=1)
    max_sentence_length: int = Field(16384, gt=0)
    threads: int = Field(0, ge=0)  # 0: all cores
    # SentencePiece split_by_whitespace = false: frequent word pairs ("▁się▁nie") become single pieces, so fewer tokens
    # per word; llama.cpp reproduces it exactly (its effect on a model: docs/corpus.md)
    pieces_span_words: bool = False


class SFTConfig(Strict):
    sources: list[str] = []
    max_steps: int = Field(300, gt=0)
    lr: float = Field(1e-4, gt=0)
    micro_batch_size: int = Field(16, gt=0)
    warmup_steps: int = Field(20, ge=0)
    # cosine: from lr to optim.min_lr_ratio * lr; linear: a straight line there, the shape of a WSD pretraining's decay
    # (an SFT started from a checkpoint before the decay, at the pretraining's lr, can stand in for that decay)
    schedule: Literal["cosine", "linear"] = "cosine"
    # share of training rows that are plain pretraining text (windows of the bins, every token learned):
    # keeps chat tuning from costing the model its plain-text quality; needs the bins (`polski sft --bins`)
    pretrain_mix: float = Field(0.0, ge=0, lt=1)
    # None keeps optim.weight_decay; a value here tunes a strongly decayed pretraining with an ordinary decay
    weight_decay: float | None = Field(None, ge=0)
    # true: the (tied) embedding keeps its pretrained rows, all but the chat markers' (pretraining never trained those):
    # the output distribution over ordinary words stays the pretrained one while the blocks learn the chat form
    freeze_embeddings: bool = False
    # None keeps train.document_attention; true: each conversation packed into a row attends only to itself, as in
    # chat, while pretraining keeps the fused causal kernel
    document_attention: bool | None = None
    # a soup of SFTs: the SFT again once per seed here (another order of conversations and plain-text rows), each as
    # SFT_DIR-seedS beside the one with train.seed, and their uniform average as the model (training/soup.py)
    seeds: list[int] = []
    # share of conversations that open a chain of 2 to multi_turn_max conversations rendered as one multi-turn chat
    # (the instruction data is single-turn; without chains a tuned model may answer an earlier message again)
    multi_turn_share: float = Field(0.0, ge=0, le=1)
    multi_turn_max: int = Field(3, ge=2)
    # > 1: the <|im_end|> that closes each reply counts that many times in the loss, so the model learns to stop more
    # firmly than the words around it; for chat stages whose rows are mostly plain text (pretrain_mix)
    end_weight: float = Field(1.0, gt=0)


class ChatDataConfig(Strict):
    """`polski chat-data build` (training/chat_data.py): the one conversation set the chat stages learn from."""

    core: list[str] = []  # the project's own conversations; empty: the packaged training/resources/chat
    core_repeat: int = Field(1, ge=1)  # each core conversation this many times in the set
    sft: list[str] = []  # instruction files or folders (../shared/data/sft)
    corpus: list[str] = []  # corpus files or folders to mine dialogues and definitions from (../shared/data/corpus)
    # at most this many conversations per source (core, dialogue, sejm_qa, textbook, exercises, tasks, quiz, exam);
    # a source not named here is left out, except core, which is always whole
    limits: dict[str, int] = {}
    # conversations sharing a word 8-gram with any of these (or a user message equal to a short one) are dropped;
    # the chat-dev/chat-test prompt sets are always added
    eval_files: list[str] = []
    seed: int = 0


class RefineConfig(Strict):
    """A second, shorter chat SFT of the [sft] result: the [sft] settings with these replaced (one run, no soup).

    Typically fewer steps at a lower lr, with multi-turn chains (polski-mini's: docs/polski-mini.md)."""

    max_steps: int = Field(ge=0)  # 0: no refine stage (a config that extends one with [refine] can switch it off)
    lr: float | None = Field(None, gt=0)
    pretrain_mix: float | None = Field(None, ge=0, lt=1)
    multi_turn_share: float | None = Field(None, ge=0, le=1)
    end_weight: float | None = Field(None, gt=0)
    # after the first pass (train.seed's order of conversations and plain-text rows) the refine runs again on its own
    # result once per seed here, each pass with that seed's order of conversations and plain-text rows
    repeat_seeds: list[int] = Field(default_factory=list)


class MergeConfig(Strict):
    """The finished chat model pulled part of the way back toward the pretrained run it started from (`polski merge`,
    WiSE-FT): base_share x pretrained + (1 - base_share) x chat, the chat markers' embedding rows kept from the chat
    model. Gives back plain-text quality (NTREX) that the chat stages cost, at some of the chat form's firmness."""

    base_share: float = Field(ge=0, lt=1)  # 0: no merge stage
    # only the tensors whose names contain one of these are merged (empty: all); ["feed_forward"] leaves attention,
    # norms and embedding as the chat stages left them
    tensors: list[str] = []


class EvalConfig(Strict):
    """What `polski pipeline` evaluates the finished model on (besides the validation bins)."""

    texts: list[str] = []  # held-out .txt / .jsonl {"text"} files
    pairs: list[str] = []  # minimal-pair .jsonl files; the project's own small set is always added
    samples: bool = True


class ExportConfig(Strict):
    dtype: Literal["f32", "f16", "bf16", "q8_0"] = "f16"
    quantize: Literal["q8_0", "q4_0", "q4_K_M"] | None = None
    license: str = "Apache-2.0"


class OllamaConfig(Strict):
    name: str = "polski"
    num_ctx: int | None = None  # None: the model's context length
    temperature: float = 0.7
    top_p: float = 0.9
    repeat_penalty: float = 1.1
    repeat_last_n: int = Field(default=64, ge=-1)  # tokens the penalty looks back over (-1: the context)
    system: str = "Jesteś pomocnym asystentem. Odpowiadasz po polsku, zwięźle i poprawnie."


class PathsConfig(Strict, WorkLayout):
    """Where each pipeline stage writes, relative to the working directory (the folders: training.layout.WorkLayout)."""

    work_dir: str = "work/polski"

    @property
    def root(self) -> Path:
        return Path(self.work_dir)


class Config(Strict):
    model: ModelConfig
    optim: OptimConfig = OptimConfig()
    train: TrainConfig = TrainConfig()
    corpus: CorpusConfig = CorpusConfig()
    tokenizer: TokenizerConfig = TokenizerConfig()
    chat_data: ChatDataConfig | None = None
    sft: SFTConfig = SFTConfig()
    refine: RefineConfig | None = None
    merge: MergeConfig | None = None
    eval: EvalConfig = EvalConfig()
    export: ExportConfig = ExportConfig()
    ollama: OllamaConfig = OllamaConfig()
    paths: PathsConfig = PathsConfig()

    @field_validator("refine")
    @classmethod
    def _refine_off_at_zero_steps(cls, refine: RefineConfig | None) -> RefineConfig | None:
        return None if refine is not None and refine.max_steps == 0 else refine

    @field_validator("merge")
    @classmethod
    def _merge_off_at_zero_share(cls, merge: MergeConfig | None) -> MergeConfig | None:
        return None if merge is not None and merge.base_share == 0 else merge

    @model_validator(mode="after")
    def _vocab_matches(self) -> "Config":
        if self.tokenizer.vocab_size != self.model.vocab_size:
            raise ValueError(
                f"tokenizer.vocab_size ({self.tokenizer.vocab_size}) must equal model.vocab_size ({self.model.vocab_size})"
            )
        if self.optim.optimizer == "muon" and (self.train.engine != "torch" or self.train.param_dtype != "fp32"):
            raise ValueError('optim.optimizer = "muon" needs train.engine = "torch" and param_dtype = "fp32" '
                             '(DeepSpeed and the bf16-weight optimizer are AdamW only)')
        if self.train.decay_seeds and self.optim.schedule != "wsd":
            raise ValueError(f'train.decay_seeds needs optim.schedule = "wsd" (it is "{self.optim.schedule}"): '
                             'only WSD has a decay to replay')
        for key, seeds, why in (("train.decay_seeds", self.train.decay_seeds, "each replay needs its own batch order"),
                                ("sft.seeds", self.sft.seeds, "each SFT of the soup needs its own data order")):
            if len(set(seeds) | {self.train.seed}) != len(seeds) + 1:
                raise ValueError(f"{key} {seeds} must differ from each other and from train.seed ({self.train.seed}): {why}")
        if self.train.decay_source_weights and self.optim.schedule != "wsd":
            raise ValueError(f'train.decay_source_weights needs optim.schedule = "wsd" (it is "{self.optim.schedule}"): '
                             'only WSD has a decay phase to switch the data mix at')
        return self


def _first_error(path: Path, err: ValidationError) -> str:
    e = err.errors()[0]
    where = ".".join(str(p) for p in e["loc"]) or "(top level)"
    msg = e["msg"].removeprefix("Value error, ")
    if e["type"] == "extra_forbidden":
        msg = "unknown key (check the spelling; see training/configs/ for valid keys)"
    more = f" (+{len(err.errors()) - 1} more)" if len(err.errors()) > 1 else ""
    return f"{path}: {where}: {msg}{more}"


def resolve_config_path(name_or_path: str | Path) -> Path:
    """Accepts a file path or a bare config name such as `polski-tiny`."""
    p = Path(name_or_path)
    if p.exists():
        return p
    candidate = CONFIG_DIR / f"{name_or_path}.toml"
    if candidate.exists():
        return candidate
    known = ", ".join(sorted(c.stem for c in CONFIG_DIR.glob("*.toml")))
    raise ConfigError(f"config {name_or_path!s} not found: give a TOML file or one of: {known}")


def parse_config(data: dict, source: Path | str = "<config>") -> Config:
    try:
        return Config.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_first_error(Path(source), err)) from None


def load_config(name_or_path: str | Path, overrides: dict | None = None) -> Config:
    """Loads and validates a config; `overrides` is a nested dict applied on top (CLI flags)."""
    path = resolve_config_path(name_or_path)
    data = _read_config_file(path, ())
    for section, values in (overrides or {}).items():
        data.setdefault(section, {}).update({k: v for k, v in values.items() if v is not None})
    return parse_config(data, path)


def _read_config_file(path: Path, chain: tuple[Path, ...]) -> dict:
    """The file's tables; `extends = "NAME_OR_PATH"` starts from another config and overrides it key by key."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None
    base = data.pop("extends", None)
    if base is None:
        return data
    if not isinstance(base, str):
        raise ConfigError(f"{path}: extends must be a config name or a TOML path")
    base_path = path.parent / base if (path.parent / base).is_file() else resolve_config_path(base)
    chain = (*chain, path.resolve())
    if base_path.resolve() in chain:
        raise ConfigError(f"{path}: extends {base} leads back to itself; remove one of the extends")
    merged = _read_config_file(base_path, chain)
    for section, values in data.items():
        if isinstance(values, dict) and isinstance(merged.get(section), dict):
            merged[section] = {**merged[section], **values}
        else:
            merged[section] = values
    return merged


def dump_config(config: Config) -> str:
    """TOML text of the effective config (written into every run dir)."""
    lines: list[str] = []
    for section, values in config.model_dump(mode="json").items():
        if values is None:  # an optional table not set (refine)
            continue
        lines.append(f"[{section}]")
        for key, value in values.items():
            if value is not None:
                lines.append(f"{key} = {_toml_value(value)}")
        lines.append("")
    return "\n".join(lines)


def _toml_value(value) -> str:
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k, ensure_ascii=False)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")
