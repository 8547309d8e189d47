"""Exceptions of amorphdb: every error a user can cause is an ``AmorphDBError`` with a one-line message.

The CLI prints ``amorphdb: error: <message>`` and exits with status 2 for these, never a traceback.
:func:`first_line` shortens the message of a library's exception to fit into one of ours.
"""


class AmorphDBError(Exception):
    """Base class of every error amorphdb raises on purpose."""


class InputError(AmorphDBError, ValueError):
    """Bad user input: unknown element, empty formula, impossible density, malformed file."""


class EngineError(AmorphDBError):
    """The energy/force engine cannot be built or does not cover an element."""


class MDError(AmorphDBError, RuntimeError):
    """Molecular dynamics failed: exploding energies or forces, runaway temperature, atoms overlapping."""


class RunBusyError(MDError):
    """Another process is running the same MD run (it holds the run's lock)."""


class ConvergenceError(MDError):
    """The volume search hit its iteration cap without converging."""


class DatabaseError(AmorphDBError):
    """The database cannot be opened, has another schema version, or a write failed."""


def first_line(exc: BaseException) -> str:
    """The first line of ``exc``'s message (of the driver's error it wraps, for SQLAlchemy), else its type name."""
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    return lines[0].strip() if lines else type(orig).__name__
