"""The database: SQLAlchemy schema and the :class:`Database` API (SQLite by default, PostgreSQL by URL).

Modules: :mod:`.schema` (tables, schema version, migration), :mod:`.connection` (URLs, engines, transactions,
upserts), :mod:`.rows` (checked rows), :mod:`.api` (:class:`Database`), :mod:`.views` (typed results),
:mod:`.transfer` (JSON/CSV export and import), :mod:`.importers` (published data sets).
"""

from __future__ import annotations

from .api import Database
from .connection import default_url
from .importers.paper import paper_density
from .views import ModelInfo, RunInfo

__all__ = ["Database", "ModelInfo", "RunInfo", "default_url", "paper_density"]
