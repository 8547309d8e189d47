"""The ``amorphdb`` command line: a thin layer over the Python API, one command per public function.

Each command is declared once with :func:`command`; ``--db URL`` and ``-v`` are added to every command.
Errors a user can cause (:class:`amorphdb.errors.AmorphDBError`) are printed as one line, exit status 2.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from typing import Any

from .errors import AmorphDBError

_COMMANDS: dict[str, tuple[str, tuple, Callable[[argparse.Namespace], Any]]] = {}


def arg(*names: str, **kwargs: Any) -> tuple[tuple[str, ...], dict[str, Any]]:
    """One ``add_argument`` call, written as ``arg("--json", action="store_true")``."""
    return names, kwargs


def command(name: str, help: str, *args: tuple[tuple[str, ...], dict[str, Any]]):
    """Register the decorated function as the sub-command ``name`` with the given arguments."""

    def deco(func: Callable[[argparse.Namespace], Any]):
        _COMMANDS[name] = (help, args, func)
        return func

    return deco


def _database(args: argparse.Namespace):
    from .database import Database

    return Database(args.db)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="amorphdb", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (help_, args, func) in _COMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        p.add_argument("--db", metavar="URL", default=None,
                       help="database URL (default: $AMORPHDB_URL or the SQLite file in the user data dir)")
        p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
        for names, kwargs in args:
            p.add_argument(*names, **kwargs)
        p.set_defaults(func=func)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    try:
        result = args.func(args)
    except AmorphDBError as exc:
        print(f"amorphdb: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("amorphdb: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


# ---------------------------------------------------------------------------------------------------
# Commands. Each block below belongs to one module of the package; keep them in data-flow order:
# database/import → run (protocol) → analysis (diffusion, arrhenius, rdf, features) → learning.
# ---------------------------------------------------------------------------------------------------

