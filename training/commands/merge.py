"""`polski merge`: a chat-tuned run pulled part of the way back toward its pretrained run (weight averaging)."""
from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser("merge", help="average the weights of a pretrained run and its SFT run into a new RUN_DIR")
    p.add_argument("base", metavar="BASE_RUN", help="the pretrained run (or a step dir)")
    p.add_argument("tuned", metavar="TUNED_RUN", help="the SFT run started from it")
    p.add_argument("--out", required=True, metavar="RUN_DIR")
    p.add_argument("--base-share", type=float, required=True, metavar="W",
                   help="weight of BASE in the average: 0 keeps TUNED, 0.3 gives back part of the plain-text quality")
    p.set_defaults(func=run)


def run(args) -> int:
    from training.merge import merge_runs

    step_dir = merge_runs(args.base, args.tuned, args.out, args.base_share)
    print(f"merged ({args.base_share:g} of {args.base}) -> {step_dir}")
    return 0
