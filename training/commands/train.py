"""`polski train`: pretraining on token bins; every flag maps to a config field."""
from __future__ import annotations

from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser("train", help="train the model on token bins (RUN_DIR: checkpoints, metrics.jsonl)")
    p.add_argument("--config", help="config name or TOML file (with --resume: defaults to RUN_DIR/config.toml)")
    p.add_argument("--data", required=True, metavar="BINS_DIR", help="token bins from `polski data tokenize`")
    p.add_argument("--out", required=True, metavar="RUN_DIR")
    p.add_argument("--tokenizer", metavar="DIR", help="TOKENIZER_DIR (default: RUN_DIR/tokenizer, then BINS_DIR/../tokenizer)")
    p.add_argument("--resume", action="store_true", help="continue from RUN_DIR/checkpoints/latest (bitwise on the same machine)")
    p.add_argument("--init-from", metavar="CKPT", help="start from these weights (RUN_DIR or step dir) with a fresh optimizer")
    p.add_argument("--max-steps", type=int, help="train.max_steps")
    p.add_argument("--engine", choices=["torch", "deepspeed"], help="train.engine")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], help="train.device")
    p.add_argument("--precision", choices=["fp32", "bf16", "fp16"], help="train.precision")
    p.add_argument("--micro-batch-size", type=int, help="train.micro_batch_size")
    p.add_argument("--grad-accum-steps", type=int, help="train.grad_accum_steps")
    p.add_argument("--heldout-text", action="append", metavar="FILE",
                   help="train.heldout_texts: score this text at every eval as bpb:NAME (repeatable)")
    p.set_defaults(func=run)


def run(args) -> int:
    from training.config import load_config
    from training.errors import ConfigError
    from training.layout import CONFIG_FILE
    from training.train import dist_info, pretrain

    run_dir = Path(args.out)
    config_path = args.config
    if config_path is None:
        if not (args.resume and (run_dir / CONFIG_FILE).is_file()):
            raise ConfigError("no --config given: pass --config NAME_OR_FILE (or --resume an existing RUN_DIR)")
        config_path = run_dir / CONFIG_FILE
    overrides = {"train": {"max_steps": args.max_steps, "engine": args.engine, "device": args.device,
                           "precision": args.precision, "micro_batch_size": args.micro_batch_size,
                           "grad_accum_steps": args.grad_accum_steps, "heldout_texts": args.heldout_text}}
    config = load_config(config_path, overrides)
    result = pretrain(config, args.data, run_dir, tokenizer_dir=args.tokenizer, resume=args.resume, init_from=args.init_from)
    if dist_info()[0] == 0:  # under torchrun every rank returns here
        print(f"done: step {result['step']}, loss {result['loss']:.4f}"
              + (f", val_loss {result['val_loss']:.4f}" if result["val_loss"] is not None else "") + f" -> {run_dir}")
    if config.train.decay_seeds:
        from training.soup import train_decay_soup

        train_decay_soup(config, args.data, run_dir, tokenizer_dir=args.tokenizer)
    return 0
