"""`polski sft`: chat fine-tuning (ChatML) of a pretrained run on instruction data."""
from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser("sft", help="chat fine-tune a pretrained RUN_DIR on [sft] sources (ChatML)")
    p.add_argument("--config", required=True, help="config name or TOML file ([sft] table)")
    p.add_argument("--init-from", required=True, metavar="RUN_DIR",
                   help="the pretrained run, or one of its checkpoints/step-* dirs (its weights; a fresh optimizer)")
    p.add_argument("--out", required=True, metavar="RUN_DIR")
    p.add_argument("--source", action="append", metavar="PATH", help="sft.sources (repeatable)")
    p.add_argument("--max-steps", type=int, help="sft.max_steps")
    p.add_argument("--lr", type=float, help="sft.lr")
    p.add_argument("--pretrain-mix", type=float, metavar="SHARE", help="sft.pretrain_mix (needs --bins)")
    p.add_argument("--freeze-embeddings", action="store_true", default=None,
                   help="sft.freeze_embeddings: only the chat markers' embedding rows learn")
    p.add_argument("--refine", action="store_true",
                   help="the second chat stage: [sft] with the config's [refine] settings (--init-from the first "
                        "stage's result; --max-steps, --lr and --pretrain-mix then set refine.*; with refine.repeat_seeds the "
                        "earlier passes go to OUT-passN)")
    p.add_argument("--bins", metavar="BINS_DIR", help="pretraining bins: for sft.pretrain_mix, and their val split is scored at every eval (text_val_bpb)")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--heldout-text", action="append", metavar="FILE",
                   help="train.heldout_texts: score this text at every eval as bpb:NAME (repeatable)")
    p.set_defaults(func=run)


def run(args) -> int:
    from training.config import load_config
    from training.sft import run_refine
    from training.soup import run_chat_sft

    steps = {"max_steps": args.max_steps, "lr": args.lr, "pretrain_mix": args.pretrain_mix}
    overrides = {"sft": {"sources": args.source, "freeze_embeddings": args.freeze_embeddings},
                 "train": {"heldout_texts": args.heldout_text}}
    overrides.setdefault("refine" if args.refine and any(v is not None for v in steps.values()) else "sft", {}).update(steps)
    config = load_config(args.config, overrides)
    if args.refine:  # every pass (refine.repeat_seeds); a finished one is kept, a cut one resumes
        result = run_refine(config, args.init_from, args.out, bins_dir=args.bins)
    else:
        result = run_chat_sft(config, args.init_from, args.out, bins_dir=args.bins, resume=args.resume)
    if result is not None:
        print(f"done: step {result['step']}, loss {result['loss']:.4f} -> {args.out}")
    return 0
