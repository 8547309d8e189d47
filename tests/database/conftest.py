"""Fixtures of the database tests: one URL per back end (SQLite file; PostgreSQL where
``AMORPHDB_TEST_PG_URL`` is set), fresh databases, and a small paper-like data set made here.

PostgreSQL tests run each in a fresh schema; they skip when no server answers, unless ``CI`` is set.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from db_records import write_small_paper
from sqlalchemy import create_engine, make_url

from amorphdb.database import Database

PG_ENV = "AMORPHDB_TEST_PG_URL"


def _pg_admin_url() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {PG_ENV} is not")
        pytest.skip(f"{PG_ENV} is not set")
    url = make_url(url)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    """A URL of an empty database: an SQLite file, or a fresh schema on the PostgreSQL test server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.sqlite'}"
        return
    admin_url = _pg_admin_url()
    admin = create_engine(admin_url, connect_args={"connect_timeout": 3})
    try:
        with admin.connect():
            pass
    except Exception as exc:  # no server: skip locally, fail in CI
        admin.dispose()
        message = f"PostgreSQL at {make_url(admin_url).render_as_string()} does not answer: {str(exc).splitlines()[0]}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    schema = f"amorphdb_test_{uuid.uuid4().hex[:12]}"
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield make_url(admin_url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


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
