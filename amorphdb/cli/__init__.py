"""The ``amorphdb`` command line: a thin layer over the Python API, one command per public function.

Each command is declared once with :func:`command`; ``--db URL`` and ``-v`` are added to every command.
Errors a user can cause (:class:`amorphdb.errors.AmorphDBError`) are printed as one line, exit status 2.
The commands live in one module per group (database, run, campaign, validate, analysis, limit, learning,
web), imported at the bottom of this file in data-flow order, which is the order of ``amorphdb --help``. They
import the API inside their bodies, so that ``--help`` stays light.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from typing import Any

from ..errors import AmorphDBError

_COMMANDS: dict[str, tuple[str, tuple, Callable[[argparse.Namespace], Any]]] = {}


def arg(*names: str, **kwargs: Any) -> tuple[tuple[str, ...], dict[str, Any]]:
    """One ``add_argument`` call, written as ``arg("--json", action="store_true")``."""
    return names, kwargs


def plot_file(text: str) -> str:
    """The argparse type of ``--plot``: a file name whose suffix matplotlib can write, checked before any work."""
    from ..errors import InputError
    from ..reports.plots import plot_path  # matplotlib only when a plot is asked for

    try:
        plot_path(text)
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def command(name: str, help: str, *args: tuple[tuple[str, ...], dict[str, Any]]):
    """Register the decorated function as the sub-command ``name`` with the given arguments."""

    def deco(func: Callable[[argparse.Namespace], Any]):
        _COMMANDS[name] = (help, args, func)
        return func

    return deco


def _database(args: argparse.Namespace):
    """The Database of `--db URL` (default: $AMORPHDB_URL or the user data dir)."""
    from ..database.api import Database

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
    except BrokenPipeError:  # output piped into `head` and closed early
        sys.stderr.close()
        return 0
    except OSError as exc:  # a file the command was told to write or read: no folder, no permission, disk full
        where = f": {exc.filename}" if exc.filename else ""
        print(f"amorphdb: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("amorphdb: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


def _print_table(table, empty: str = "(no rows)", index: bool = False) -> None:
    """Print a DataFrame as text: 4 significant digits, '-' for missing values."""
    text_columns = table.select_dtypes(include="object").columns  # None there prints as "None", not na_rep
    table = table.assign(**{c: table[c].fillna("-") for c in text_columns})
    print(empty if table.empty else table.to_string(index=index, na_rep="-", float_format=lambda x: f"{x:.4g}"))


def _json_records(table) -> str:
    """A DataFrame as a JSON list of records, NaN as null."""
    import json

    import pandas as pd

    return json.dumps([{k: (None if isinstance(v, float) and pd.isna(v) else v) for k, v in row.items()}
                       for row in table.to_dict(orient="records")], indent=1, default=str)


# The command groups register themselves on import; this order is the order of `amorphdb --help`.
from . import database, run, campaign, validate, analysis, limit, learning, web  # noqa: E402,F401,I001
