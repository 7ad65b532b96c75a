"""`polski eval CHECKPOINT|RUN_DIR|FILE.gguf ...` and `polski eval compare A.json B.json`."""
from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "eval", help="BPB, minimal pairs, samples and chat of a checkpoint, GGUF or Ollama model; `eval compare A.json B.json`",
        description="Evaluate a RUN_DIR (its latest checkpoint), a checkpoint dir or a FILE.gguf (through llama.cpp). "
                    "Without --text/--bins/--pairs it uses --eval-data (../shared/data/eval) when present and the built-in minimal pairs. "
                    "`ollama:NAME` is a model in a running Ollama server, evaluated by --chat only.",
    )
    p.add_argument("target", nargs="+", metavar="TARGET",
                   help="RUN_DIR, checkpoint dir, FILE.gguf or ollama:NAME (--chat only); or: compare A.json B.json")
    p.add_argument("--text", action="append", type=Path, default=[], metavar="FILE", help="held-out .txt or .jsonl {text} (repeatable)")
    p.add_argument("--bins", type=Path, help="BINS_DIR: score its val split")
    p.add_argument("--pairs", action="append", type=Path, default=[], metavar="FILE", help="minimal pairs .jsonl (repeatable)")
    p.add_argument("--eval-data", type=Path, default=Path("../shared/data/eval"), metavar="DIR",
                   help="without --text/--bins/--pairs: DIR/heldout-text/*.jsonl and DIR/minimal-pairs/*.jsonl "
                        "(default: ../shared/data/eval)")
    p.add_argument("--samples", action="store_true", help="also generate from fixed Polish prompts (fixed seed)")
    p.add_argument("--chat-tasks", type=Path, metavar="FILE",
                   help="held-out Polish .jsonl/.txt: score a chat model restoring diacritics and punctuation in its sentences")
    p.add_argument("--chat-tasks-n", type=int, default=40, help="sentences per chat task")
    p.add_argument("--chat", type=Path, metavar="PROMPTS.jsonl",
                   help="chat prompts .jsonl: does the model answer, in Polish, on topic, and stop? (training/evals/chat.py)")
    p.add_argument("--chat-seeds", type=int, nargs="+", default=[1, 2, 3], metavar="SEED", help="one reply per prompt and seed")
    p.add_argument("--chat-temperature", type=float, default=0.3)
    p.add_argument("--chat-top-p", type=float, default=0.9)
    p.add_argument("--chat-max-tokens", type=int, default=200, help="a reply not ended by then counts as not ended")
    p.add_argument("--ollama-host", help="Ollama server for an ollama:NAME target (default: $OLLAMA_HOST or http://127.0.0.1:11434)")
    p.add_argument("--out", type=Path, help="where eval.json and eval.md go (default: beside the target)")
    p.add_argument("--max-docs", type=int, help="at most this many documents per text file / bins split")
    p.add_argument("--max-pairs", type=int, help="at most this many pairs per file")
    p.add_argument("--pairs-split", choices=["dev", "test"],
                   help="only that half of each pair file: dev decides between models, test reports the one shipped")
    p.add_argument("--stride", type=int, help="sliding-window stride in tokens (default: context_length/2)")
    p.add_argument("--device", default="cpu", help="torch device for checkpoints (cpu, cuda)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--threads", type=int, default=2, help="llama.cpp threads for a GGUF")
    p.add_argument("--seed", type=int, default=1234, help="sampling seed")
    p.add_argument("--sample-tokens", type=int, default=48, help="tokens generated per sample prompt")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from training.errors import ConfigError

    console = Console()
    if args.target[0] == "compare":
        from training.evals.compare import table
        from training.evaluate import load_result

        if len(args.target) != 3:
            raise ConfigError("usage: polski eval compare A.json B.json")
        a, b = load_result(args.target[1]), load_result(args.target[2])
        console.print(table(a, b, Path(args.target[1]).name, Path(args.target[2]).name))
        return 0
    if len(args.target) != 1:
        raise ConfigError("give one TARGET (RUN_DIR, checkpoint dir or FILE.gguf), or `compare A.json B.json`")

    from training.evals.texts import default_pair_files, default_text_files
    from training.evaluate import default_out_dir, run_eval, write_report
    from training.evals.markdown import render

    from training.evals.chat import is_ollama_target

    texts, pairs = args.text, args.pairs
    if is_ollama_target(args.target[0]):
        target = args.target[0]
        others = [flag for flag, given in (("--text", texts), ("--pairs", pairs), ("--bins", args.bins),
                                           ("--samples", args.samples), ("--chat-tasks", args.chat_tasks)) if given]
        if others or not args.chat:
            raise ConfigError(f"{target} is an Ollama model: give --chat PROMPTS.jsonl and nothing else"
                              + (f" (not {', '.join(others)})" if others else "")
                              + "; use a RUN_DIR or FILE.gguf for BPB, pairs, samples and chat tasks")
    else:
        target = Path(args.target[0])
        if not (texts or pairs or args.bins or args.samples or args.chat_tasks or args.chat):
            texts, pairs = default_text_files(args.eval_data), default_pair_files(args.eval_data)
    result = run_eval(target, texts, args.bins, pairs, args.samples, max_docs=args.max_docs, max_pairs=args.max_pairs,
                      pairs_split=args.pairs_split, stride=args.stride, device=args.device, batch_size=args.batch_size,
                      threads=args.threads,
                      sample_seed=args.seed, sample_tokens=args.sample_tokens, chat_tasks=args.chat_tasks,
                      chat_tasks_n=args.chat_tasks_n, chat=args.chat, chat_seeds=args.chat_seeds,
                      chat_temperature=args.chat_temperature, chat_top_p=args.chat_top_p,
                      chat_max_tokens=args.chat_max_tokens, ollama_host=args.ollama_host)
    json_path, md_path = write_report(result, args.out or default_out_dir(target))
    console.print(render(result), markup=False, highlight=False)
    console.print(f"wrote {json_path} and {md_path}", markup=False)
    return 0
