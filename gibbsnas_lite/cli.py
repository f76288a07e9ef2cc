"""The ``gibbsnas-lite`` command line.

    gibbsnas-lite notebooks run [--profile smoke|cpu|full] [--only 01,02] [-p key=value] [--out DIR]

(The ``search`` command arrives with the search engine.)
"""
from __future__ import annotations

import argparse
import sys

from . import __version__
from .notebooks import PROFILES


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gibbsnas-lite",
        description="GibbsNAS (Xue et al., AAAI 2021) as a notebook-first kit.",
    )
    parser.add_argument("--version", action="version", version=f"gibbsnas-lite {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    nb = commands.add_parser("notebooks", help="run the course notebooks headless (papermill)")
    nb_commands = nb.add_subparsers(dest="notebooks_command", metavar="ACTION")
    run = nb_commands.add_parser("run", help="execute notebooks, write executed copies and a summary")
    run.add_argument("--profile", choices=PROFILES, default=None,
                     help="papermill 'profile' parameter (default: each notebook's own default)")
    run.add_argument("--only", default=None, help="comma-separated notebook numbers, e.g. 01,04")
    run.add_argument("-p", "--param", action="append", metavar="KEY=VALUE",
                     help="extra papermill parameter (repeatable); VALUE parsed as JSON if it parses")
    run.add_argument("--out", default="outputs/notebooks", help="folder for executed copies (default: %(default)s)")
    run.add_argument("--notebooks", default=None, help="folder holding the notebooks (default: ./notebooks)")
    run.add_argument("--stop-on-error", action="store_true", help="stop at the first failing notebook")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "notebooks" and args.notebooks_command == "run":
        from .notebooks import main_run

        return main_run(args)
    if args.command == "notebooks":
        parser.parse_args(["notebooks", "--help"])
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
