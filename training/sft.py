"""Supervised chat fine-tuning data: conversations -> ChatML token rows with a loss mask.

A conversation is rendered exactly as Ollama's Modelfile TEMPLATE renders it at inference:

    <s><|im_start|>system\\n{system}<|im_end|>\\n<|im_start|>user\\n{user}<|im_end|>\\n<|im_start|>assistant\\n{reply}<|im_end|>\\n

Only the assistant replies and their closing <|im_end|> are trained on (targets elsewhere are -1).
Each piece is encoded on its own, split where inference splits it: the prompt ends with
"assistant\\n", and the reply's tokens are whatever the model generates after it.
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from training.checkpoint import find_checkpoint, read_meta
from training.chat_data import read_jsonl
from training.config import Config
from training.errors import ConfigError, DataError
from training.layout import locate, refine_pass_dir
from training.train import bins_val, heldout_sets, train

IGNORE = -1


def read_records(sources: list[str | Path]) -> Iterator[dict]:
    """JSON Lines records ({"messages": [...]} or instruction/input/output) from files or folders."""
    files: list[Path] = []
    for source in sources:
        path = Path(source)
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.name.endswith((".jsonl", ".jsonl.xz")))
        elif path.exists():
            files.append(path)
        else:
            raise DataError(f"SFT source {path} does not exist: fix [sft] sources in the config")
    for file in files:
        yield from read_jsonl(file)


def to_messages(record: dict) -> list[dict]:
    if record.get("messages"):
        return [{"role": m["role"], "content": m["content"]} for m in record["messages"]]
    user = record["instruction"] + (f"\n\n{record['input']}" if record.get("input") else "")
    return [{"role": "user", "content": user}, {"role": "assistant", "content": record["output"]}]


def encode_conversation(tokenizer, messages: list[dict], system: str | None) -> tuple[list[int], list[int]]:
    """Token ids and per-token targets (next token, or IGNORE where nothing is learned)."""
    ids: list[int] = [tokenizer.bos_id]
    trainable: list[bool] = [False]

    def add(text: str, learn: bool) -> None:
        piece = tokenizer.encode(text)
        ids.extend(piece)
        trainable.extend([learn] * len(piece))

    turns = ([{"role": "system", "content": system}] if system else []) + [m for m in messages]
    for message in turns:
        if message["role"] == "assistant":
            add("<|im_start|>assistant\n", False)
            add(message["content"], True)
            ids.append(tokenizer.im_end_id)
            trainable.append(True)
            add("\n", False)
        else:
            add(f"<|im_start|>{message['role']}\n{message['content']}<|im_end|>\n", False)
    # position t predicts token t+1; it is a training target only if token t+1 is trainable
    targets = [ids[t + 1] if trainable[t + 1] else IGNORE for t in range(len(ids) - 1)] + [IGNORE]
    return ids, targets


def pack_rows(
    examples: list[tuple[list[int], list[int]]], row_len: int, pad_id: int
) -> tuple[np.ndarray, np.ndarray]:
    """Greedily packs examples into rows of `row_len` tokens; an example never spans two rows.

    Examples longer than a row are truncated. Returns (inputs uint16 [R, row_len], targets int32 [R, row_len]).
    """
    rows_x: list[list[int]] = []
    rows_y: list[list[int]] = []
    cur_x: list[int] = []
    cur_y: list[int] = []
    for ids, targets in examples:
        ids, targets = ids[:row_len], targets[:row_len]
        if len(cur_x) + len(ids) > row_len:
            rows_x.append(cur_x)
            rows_y.append(cur_y)
            cur_x, cur_y = [], []
        cur_x += ids
        cur_y += targets
    if cur_x:
        rows_x.append(cur_x)
        rows_y.append(cur_y)
    x = np.full((len(rows_x), row_len), pad_id, dtype=np.uint16)
    y = np.full((len(rows_x), row_len), IGNORE, dtype=np.int32)
    for i, (rx, ry) in enumerate(zip(rows_x, rows_y)):
        x[i, : len(rx)] = rx
        y[i, : len(ry)] = ry
    return x, y


def build_sft_rows(tokenizer, sources, row_len: int, system: str | None, seed: int = 0, system_share: float = 0.5,
                   multi_turn_share: float = 0.0, multi_turn_max: int = 3):
    """All SFT conversations as packed rows; about `system_share` of them carry the system prompt.

    About `multi_turn_share` of them open a chain: the next 1 to `multi_turn_max` - 1 conversations (drawn at random)
    follow it as later turns of one conversation, while it still fits a row, so the model learns to answer the last
    message with earlier replies in its context, as in a chat (the instruction data is all single-turn).
    """
    rng = random.Random(seed)
    conversations = []
    for record in read_records(sources):
        messages = to_messages(record)
        if not any(m["role"] == "assistant" and m["content"].strip() for m in messages):
            continue
        conversations.append((messages, system if rng.random() < system_share else None))
    if not conversations:
        raise DataError(f"no usable SFT conversations in {', '.join(map(str, sources))}")
    if multi_turn_share > 0:  # its own generator: with no chains the rows are exactly those of earlier versions
        examples = chain_conversations(tokenizer, conversations, row_len, multi_turn_share, multi_turn_max,
                                       random.Random(f"{seed}-multi-turn"))
    else:
        examples = [encode_conversation(tokenizer, messages, use_system) for messages, use_system in conversations]
    rng.shuffle(examples)
    return pack_rows(examples, row_len, tokenizer.pad_id)


def chain_conversations(tokenizer, conversations: list[tuple[list[dict], str | None]], row_len: int, share: float,
                        max_turns: int, rng: random.Random) -> list[tuple[list[int], list[int]]]:
    """Encoded examples in which about `share` of the conversations start a chain of later turns."""
    order = list(range(len(conversations)))
    rng.shuffle(order)
    examples, i = [], 0
    while i < len(order):
        messages, use_system = conversations[order[i]]
        example = encode_conversation(tokenizer, messages, use_system)
        i += 1
        if rng.random() < share:
            for _ in range(rng.randint(2, max_turns) - 1):
                if i == len(order):
                    break
                chained = messages + conversations[order[i]][0]
                longer = encode_conversation(tokenizer, chained, use_system)
                if len(longer[0]) > row_len:
                    break
                messages, example = chained, longer
                i += 1
        examples.append(example)
    return examples


def sft_config(config: Config) -> Config:
    """The pretraining config with the [sft] overrides applied (lr, steps, batch, warm-up, weight decay, attention)."""
    from training.tokenizer import SPECIAL

    s = config.sft
    optim = {"lr": s.lr, "warmup_steps": s.warmup_steps, "schedule": "cosine"}
    if s.schedule == "linear":  # WSD with nothing stable: warm-up, then a straight line down to the floor
        optim.update(schedule="wsd", decay_fraction=1.0)
    if s.weight_decay is not None:
        optim["weight_decay"] = s.weight_decay
    document_attention = config.train.document_attention if s.document_attention is None else s.document_attention
    return config.model_copy(update={
        "optim": config.optim.model_copy(update=optim),
        "train": config.train.model_copy(update={"max_steps": s.max_steps, "micro_batch_size": s.micro_batch_size,
                                                   "grad_accum_steps": 1, "decay_source_weights": {}, "decay_seeds": [],
                                                   "eval_interval": max(1, s.max_steps // 4),
                                                   "checkpoint_interval": max(1, s.max_steps // 2),
                                                   "sample_prompts": [], "document_attention": document_attention,
                                                   "end_weight": s.end_weight,
                                                   "trainable_embedding_rows": [SPECIAL["im_start"], SPECIAL["im_end"]]
                                                   if s.freeze_embeddings else None}),
    })


def refine_config(config: Config) -> Config:
    """The config of the second chat stage: [sft] with the [refine] settings in place, one run (no soup)."""
    if config.refine is None:
        raise ConfigError("this config has no [refine] table: add one (max_steps, and lr, pretrain_mix, "
                          "multi_turn_share to change) or tune without --refine")
    changes = {k: v for k, v in config.refine.model_dump(exclude={"repeat_seeds"}).items() if v is not None}
    return config.model_copy(update={"sft": config.sft.model_copy(update={**changes, "seeds": []})})


def refine_passes(config: Config, out: Path | str) -> list[tuple[Config, Path]]:
    """Each pass of the [refine] stage in order, as (its config, its run dir): the first with train.seed, then one per
    refine.repeat_seeds, each tuning the previous pass's result; the last pass writes OUT, earlier ones OUT-passN."""
    refined, out = refine_config(config), Path(out)
    seeds = [config.train.seed, *config.refine.repeat_seeds]
    return [(refined.model_copy(update={"train": refined.train.model_copy(update={"seed": seed})}),
             refine_pass_dir(out, n, len(seeds))) for n, seed in enumerate(seeds, 1)]


def run_refine(config: Config, init_from: Path | str, out: Path | str, *, bins_dir: Path | str | None = None,
               console=print) -> dict | None:
    """The [refine] stage's passes (refine_passes) from INIT_FROM, the [sft] result. A finished pass with the same
    settings and data order is kept and a cut one resumes; a pass tuned otherwise, or after a pass that had to run, is
    tuned again. Returns the last pass's result, or None when every pass was kept."""
    import shutil

    result, tuned = None, False
    for refined, run_dir in refine_passes(config, out):
        kept = find_checkpoint(run_dir)
        meta = read_meta(kept) if kept is not None else None
        if meta is not None and (tuned or not _same_pass(meta["config"], refined)):
            console(f"{run_dir} was tuned from another start or with other settings: tuning it again")
            shutil.rmtree(run_dir)
            meta = None
        if meta is None or meta["step"] < refined.sft.max_steps:
            result = run_sft(refined, init_from, run_dir, bins_dir=bins_dir, resume=meta is not None, console=console)
            tuned = True
        init_from = run_dir
    return result


def _same_pass(recorded: dict, refined: Config) -> bool:
    return recorded["sft"] == refined.sft.model_dump(mode="json") and recorded["train"]["seed"] == refined.train.seed


def pretrain_rows(bins_dir: Path | str, count: int, row_len: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`count` seeded windows of train.bin as (inputs, targets) rows, every target learned."""
    from training.data import TokenBins

    tokens = TokenBins(bins_dir, "train").tokens
    if len(tokens) <= row_len + 1:
        raise DataError(f"{bins_dir}/train.bin has {len(tokens)} tokens, too few for rows of {row_len}")
    starts = np.sort(np.random.default_rng([seed, 1]).integers(0, len(tokens) - row_len - 1, size=count))
    windows = np.stack([np.asarray(tokens[s : s + row_len + 1], dtype=np.int64) for s in starts])
    return windows[:, :-1], windows[:, 1:]


def run_sft(config: Config, init_from: Path | str, run_dir: Path | str, *, tokenizer_dir: Path | str | None = None,
            bins_dir: Path | str | None = None, resume: bool = False, console=print) -> dict:
    """`polski sft`: chat fine-tuning of a pretrained RUN_DIR on ChatML conversations from [sft] sources."""
    from training.loader import PackedRows
    from training.tokenizer import Tokenizer

    init_from = Path(init_from)
    if tokenizer_dir is None:
        tokenizer_dir = locate(init_from).tokenizer_dir
        if tokenizer_dir is None:
            raise DataError(f"{init_from} is neither a run dir nor one of its checkpoints/step-* dirs (no tokenizer/ in "
                            "either): give --init-from the RUN_DIR of `polski train` or a step dir inside it")
    tokenizer_dir = Path(tokenizer_dir)
    tokenizer = Tokenizer.load(tokenizer_dir)
    if not config.sft.sources:
        raise DataError("no SFT data: set [sft] sources in the config (e.g. ../shared/data/sft)")
    x, y = build_sft_rows(tokenizer, config.sft.sources, config.model.context_length, config.ollama.system,
                          seed=config.train.seed, multi_turn_share=config.sft.multi_turn_share,
                          multi_turn_max=config.sft.multi_turn_max)
    n_val = max(1, len(x) // 50)
    cfg = sft_config(config)
    val = [(torch.from_numpy(x[i:i + cfg.train.micro_batch_size].astype(np.int64)),
            torch.from_numpy(y[i:i + cfg.train.micro_batch_size].astype(np.int64)))
           for i in range(0, n_val, cfg.train.micro_batch_size)]
    x_train, y_train = x[n_val:].astype(np.int64), y[n_val:].astype(np.int64)
    mix = config.sft.pretrain_mix
    console(f"SFT: {len(x_train)} packed rows of {x.shape[1]} tokens for training, {n_val} held out")
    if mix:
        if bins_dir is None:
            raise ConfigError(f"sft.pretrain_mix = {mix} needs the pretraining bins: pass --bins BINS_DIR (or set it to 0)")
        count = round(len(x_train) * mix / (1 - mix))
        px, py = pretrain_rows(bins_dir, count, x.shape[1], config.train.seed)
        x_train, y_train = np.concatenate([x_train, px]), np.concatenate([y_train, py])
        console(f"SFT: plus {count} rows of pretraining text ({mix:.0%} of the training rows)")
    source = PackedRows(x_train, y_train, cfg.train.micro_batch_size, cfg.train.seed)
    heldout = heldout_sets(cfg, tokenizer_dir)
    if bins_dir is not None:  # plain-text validation BPB at every eval: what the chat tuning costs
        from training.data import TokenBins

        batches, bytes_per_token = bins_val(TokenBins(bins_dir, "val"), cfg)
        if bytes_per_token:  # None: a val split too short to score
            heldout["text_val_bpb"] = (batches, bytes_per_token)
    return train(cfg, source, run_dir, val_batches=val, heldout=heldout, tokenizer_dir=tokenizer_dir,
                 init_from=init_from, resume=resume, console=console)
