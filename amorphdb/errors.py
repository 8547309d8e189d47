"""Exceptions of amorphdb: every error a user can cause is an ``AmorphDBError`` with a one-line message.

The CLI prints ``amorphdb: error: <message>`` and exits with status 2 for these, never a traceback.
"""


class AmorphDBError(Exception):
    """Base class of every error amorphdb raises on purpose."""


class InputError(AmorphDBError, ValueError):
    """Bad user input: unknown element, empty formula, impossible density, malformed file."""


class EngineError(AmorphDBError):
    """The energy/force engine cannot be built or does not cover an element."""


class MDError(AmorphDBError, RuntimeError):
    """Molecular dynamics failed: exploding energies or forces, runaway temperature, atoms overlapping."""


class ConvergenceError(MDError):
    """The volume search hit its iteration cap without converging."""


class DatabaseError(AmorphDBError):
    """The database cannot be opened, has another schema version, or a write failed."""
