"""Fixtures of the database tests: one URL per back end (SQLite file; PostgreSQL where
``AMORPHDB_TEST_PG_URL`` is set), fresh databases, and a small paper-like data set made here.

PostgreSQL tests run each in a fresh schema; they skip when no server answers, unless ``CI`` is set.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from db_records import write_small_paper
from pg_schema import fresh_pg_schema

from amorphdb.database import Database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    """A URL of an empty database: an SQLite file, or a fresh schema on the PostgreSQL test server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.sqlite'}"
        return
    with fresh_pg_schema() as url:
        yield url


@pytest.fixture
def any_db(db_url):
    """A fresh Database on each back end."""
    database = Database(db_url)
    yield database
    database.close()


@pytest.fixture
def small_paper(tmp_path) -> Path:
    """A small paper-like data set in tmp_path (see :func:`write_small_paper`)."""
    return write_small_paper(tmp_path / "paper")
