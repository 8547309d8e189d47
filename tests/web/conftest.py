"""Fixtures of the web explorer's tests: the database of :mod:`web_fixtures`, the app over it, and the app
served by Uvicorn on a free loopback port for the browser."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest
from pg_schema import fresh_pg_schema
from web_fixtures import build_database, build_database_at


def pytest_configure(config):
    # Starlette's test client asks for httpx2, which FastAPI's does not need yet
    config.addinivalue_line("filterwarnings", "ignore:Using `httpx` with `starlette.testclient`")


@pytest.fixture(scope="session")
def web_db(tmp_path_factory, paper_dir) -> Path:
    """The SQLite file of the web tests (built once per session)."""
    path = tmp_path_factory.mktemp("web") / "amorphdb.sqlite"
    build_database(path, paper_dir)
    return path


@pytest.fixture(scope="session")
def web_app(web_db):
    from amorphdb.web.app import create_app

    app = create_app(web_db)
    yield app
    app.state.db.close()


@pytest.fixture(scope="session")
def client(web_app):
    """A test client that raises any server-side exception (so a 500 can never pass unnoticed)."""
    from fastapi.testclient import TestClient

    with TestClient(web_app, raise_server_exceptions=True) as c:
        yield c


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def live_url(web_app):
    """The app served by Uvicorn in a thread on a free loopback port."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(web_app, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{server.config.port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="session")
def pg_web_url(tmp_path_factory, paper_dir):
    """The same database as ``web_db`` in a fresh schema of the PostgreSQL test server (``$AMORPHDB_TEST_PG_URL``);
    skips without one, fails when ``CI`` is set."""
    with fresh_pg_schema("amorphdb_web") as pg_url:
        build_database_at(pg_url, tmp_path_factory.mktemp("web-pg"), paper_dir)
        yield pg_url
