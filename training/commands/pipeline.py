"""`polski pipeline`: corpus -> tokenizer -> bins -> train -> sft [-> refine] -> eval -> export -> Modelfile -> register."""
from __future__ import annotations

from training.pipeline import STAGES


def register(subparsers) -> None:
    p = subparsers.add_parser("pipeline", help="run every stage in order, skipping those already up to date")
    p.add_argument("--config", required=True, help="config name or TOML file (paths in its [paths] table)")
    p.add_argument("--only", nargs="+", choices=STAGES, metavar="STAGE", help=f"run only these stages ({', '.join(STAGES)})")
    p.add_argument("--force", nargs="+", choices=STAGES, default=[], metavar="STAGE", help="re-run these even if up to date")
    p.add_argument("--no-register", action="store_true", help="stop after writing the Modelfile")
    p.add_argument("--host", help="Ollama server (default: OLLAMA_HOST or 127.0.0.1:11434; started if not running)")
    p.add_argument("--work-dir", help="paths.work_dir")
    p.set_defaults(func=run)


def run(args) -> int:
    from training.config import load_config, resolve_config_path
    from training.pipeline import run_pipeline

    path = resolve_config_path(args.config)
    config = load_config(path, {"paths": {"work_dir": args.work_dir}})
    outcome = run_pipeline(config, path, only=args.only, force=args.force, host=args.host, register=not args.no_register)
    print("pipeline: " + ", ".join(f"{k} {v}" for k, v in outcome.items()))
    return 0
