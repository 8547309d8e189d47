"""A fresh schema on the PostgreSQL test server, for the tests of every package that run on both back ends."""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager

import pytest


@contextmanager
def fresh_pg_schema(prefix: str = "amorphdb_test"):
    """A URL of a fresh schema on the PostgreSQL test server (``$AMORPHDB_TEST_PG_URL``, which ``.ci/run``
    starts), dropped afterwards; skips without a server, fails when ``CI`` is set."""
    from sqlalchemy import create_engine, make_url

    url = os.environ.get("AMORPHDB_TEST_PG_URL")
    fail = pytest.fail if os.environ.get("CI") else pytest.skip
    if not url:
        fail("AMORPHDB_TEST_PG_URL is not set")
    admin = create_engine(make_url(url).set(drivername="postgresql+psycopg"), connect_args={"connect_timeout": 3})
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    except Exception as exc:  # no server
        admin.dispose()
        fail(f"PostgreSQL of AMORPHDB_TEST_PG_URL does not answer: {str(exc).splitlines()[0]}")
    try:
        yield admin.url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()
