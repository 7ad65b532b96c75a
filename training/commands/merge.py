"""`polski merge`: a chat-tuned run pulled part of the way back toward its pretrained run, or the uniform average of
several runs of one model (a soup); both are weight averages."""
from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser("merge", help="average the weights of runs of one model into a new RUN_DIR")
    p.add_argument("runs", nargs="+", metavar="RUN",
                   help="with --base-share: BASE_RUN (the pretrained run) then TUNED_RUN (its SFT); with --average: "
                        "two or more runs (or step dirs)")
    p.add_argument("--out", required=True, metavar="RUN_DIR")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--base-share", type=float, metavar="W",
                     help="weight of BASE in the average: 0 keeps TUNED, 0.3 gives back part of the plain-text quality")
    how.add_argument("--average", action="store_true", help="the uniform average of every RUN (a soup)")
    p.add_argument("--only", nargs="+", default=[], metavar="PART",
                   help="with --base-share: merge only the tensors whose names contain PART (e.g. feed_forward)")
    p.set_defaults(func=run)


def run(args) -> int:
    from training.errors import ConfigError
    from training.merge import average_runs, merge_runs

    if args.average:
        step_dir = average_runs(args.runs, args.out)
        print(f"averaged {len(args.runs)} runs -> {step_dir}")
        return 0
    if len(args.runs) != 2:
        raise ConfigError(f"--base-share merges exactly two runs, BASE_RUN and TUNED_RUN (got {len(args.runs)}); "
                          "use --average for a soup of several")
    base, tuned = args.runs
    step_dir = merge_runs(base, tuned, args.out, args.base_share, args.only)
    print(f"merged ({args.base_share:g} of {base}) -> {step_dir}")
    return 0
