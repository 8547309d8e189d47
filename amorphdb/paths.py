"""Where amorphdb keeps its files by default: the XDG data home (the one place that looks it up).

``$XDG_DATA_HOME/amorphdb`` (``~/.local/share/amorphdb`` when XDG_DATA_HOME is unset or empty) holds the
default SQLite database and the default run directories. The environment overrides ``$AMORPHDB_URL`` and
``$AMORPHDB_WORKDIR`` are read by their users (:func:`amorphdb.database.default_url`, the protocol).
"""

from __future__ import annotations

import os
from pathlib import Path


def data_home() -> Path:
    """``$XDG_DATA_HOME/amorphdb``, else ``~/.local/share/amorphdb`` (not created here)."""
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "amorphdb"


def default_db_path() -> Path:
    """The default SQLite database file: ``data_home() / "amorphdb.sqlite"``."""
    return data_home() / "amorphdb.sqlite"


def default_runs_dir() -> Path:
    """The default folder of MD run directories: ``data_home() / "runs"``."""
    return data_home() / "runs"
