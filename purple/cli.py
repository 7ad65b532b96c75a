"""`purple`: open the chat app; `purple batch ...` and `purple ask ...` run the
non-interactive tools (imported only when asked for)."""

from __future__ import annotations

import argparse
import sys

from purple.i18n import Catalog


def _parser(t: Catalog) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="purple", description=t("cli.description"))
    parser.add_argument("--model", help=t("cli.model"))
    parser.add_argument("--host", help=t("cli.host"))
    parser.add_argument("--lang", choices=("pl", "en"), help=t("cli.lang"))
    return parser


def _language_hint(argv: list[str]) -> str:
    for index, arg in enumerate(argv):
        if arg == "--lang" and index + 1 < len(argv) and argv[index + 1] in ("pl", "en"):
            return argv[index + 1]
        if arg.startswith("--lang=") and arg[7:] in ("pl", "en"):
            return arg[7:]
    return "pl"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "batch":
        from purple.batch import main as batch_main

        return batch_main(argv[1:])
    if argv and argv[0] == "ask":
        from purple.ask import main as ask_main

        return ask_main(argv[1:])

    t = Catalog(_language_hint(argv))
    args = _parser(t).parse_args(argv)
    from purple.config import ConfigError, load_config

    try:
        config = load_config(lang=args.lang, host=args.host, model=args.model)
    except ConfigError as error:
        print(t("cli.config_error", message=str(error)), file=sys.stderr)
        return 2
    from purple.app import PurpleApp

    PurpleApp(config).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
