"""Opening a database: URLs, the SQLAlchemy engine of each back end, transactions with retries, upserts.

SQLite runs in WAL mode; writers take the lock up front (``BEGIN IMMEDIATE``), wait for each other (busy
timeout) and retry on "database is locked", so several processes can write at once. PostgreSQL is reached
through psycopg with a connect timeout. Upserts use the back end's ``INSERT ... ON CONFLICT`` (SQLite and
PostgreSQL only), which keeps bulk imports at a few seconds. Every write is one transaction; every read is one
transaction that sees one snapshot of the database (SQLite's WAL read transaction; PostgreSQL's
``REPEATABLE READ``), so that reads of several statements (export, ``show``) are consistent while others write.
JSON columns refuse NaN and ±inf on both back ends (PostgreSQL's json type has no such numbers).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError, StatementError
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from ..errors import AmorphDBError, DatabaseError, InputError, first_line
from ..paths import default_db_path
from .schema import Base

log = logging.getLogger(__name__)

ENV_URL = "AMORPHDB_URL"
CONNECT_TIMEOUT_S = 5.0  # how long to wait for a database server to answer
LOCK_TIMEOUT_S = 60.0  # how long a writer waits for another one (SQLite)

T = TypeVar("T")


def default_url() -> str:
    """``$AMORPHDB_URL``, else the SQLite file ``$XDG_DATA_HOME/amorphdb/amorphdb.sqlite``
    (``~/.local/share/amorphdb/amorphdb.sqlite`` when XDG_DATA_HOME is unset)."""
    return os.environ.get(ENV_URL) or f"sqlite:///{default_db_path()}"


def normalise_url(url: str | URL | os.PathLike | None) -> str:
    """A SQLAlchemy URL from a URL, a bare file path (SQLite) or None (the default)."""
    if url is None:
        url = default_url()
    if isinstance(url, URL):
        return url.render_as_string(hide_password=False)
    url = os.fspath(url)
    if not url.strip():
        raise InputError("empty database URL")
    if "://" not in url:  # a bare path: an SQLite file
        url = f"sqlite:///{Path(url).expanduser().resolve()}"
    return url


def json_text(value: Any) -> str:
    """The JSON text a JSON column stores; InputError for NaN or ±inf, which JSON (and PostgreSQL) cannot hold."""
    try:
        return json.dumps(value, allow_nan=False)
    except ValueError as exc:
        raise InputError(f"cannot store NaN or infinity in a JSON column ({exc})") from None


def _is_locked(exc: BaseException) -> bool:
    msg = str(getattr(exc, "orig", exc)).lower()
    return "database is locked" in msg or "database table is locked" in msg or "busy" in msg


def make_engine(url: str, connect_timeout: float = CONNECT_TIMEOUT_S) -> Engine:
    """The engine of ``url``: SQLite (file folder created, WAL, busy timeout, foreign keys; ``BEGIN IMMEDIATE``
    for writers) or PostgreSQL (psycopg, ``connect_timeout`` s, pre-ping); DatabaseError otherwise."""
    try:
        u = make_url(url)
    except (ArgumentError, ValueError) as exc:  # ValueError: e.g. a port that is not a number
        raise DatabaseError(f"cannot parse database URL {url!r}: {first_line(exc)}") from None
    backend = u.get_backend_name()
    if backend == "sqlite":
        if u.database and u.database != ":memory:":
            try:
                Path(u.database).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DatabaseError(f"cannot create the folder of SQLite file {u.database}: {exc.strerror}") from None
            engine = create_engine(u, connect_args={"timeout": LOCK_TIMEOUT_S}, json_serializer=json_text)
        else:
            engine = create_engine(u, connect_args={"check_same_thread": False}, poolclass=StaticPool,
                                   json_serializer=json_text)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record):
            dbapi_conn.isolation_level = None  # SQLAlchemy's "begin" event below emits BEGIN itself
            cursor = dbapi_conn.cursor()
            cursor.execute(f"PRAGMA busy_timeout = {int(LOCK_TIMEOUT_S * 1000)}")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn):
            # writers take the write lock up front: no deadlock between two readers that both upgrade
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("write") else "BEGIN")

        return engine
    if backend == "postgresql":
        if u.drivername == "postgresql":
            u = u.set(drivername="postgresql+psycopg")
        try:
            return create_engine(u, connect_args={"connect_timeout": max(1, int(round(connect_timeout)))},
                                 pool_pre_ping=True, json_serializer=json_text)
        except ImportError as exc:
            raise DatabaseError(f"no driver for {u.drivername}: {exc} (pip install 'psycopg[binary]')") from None
    raise DatabaseError(f"unsupported database back end {backend!r}: use sqlite:///FILE or postgresql://...")


class Connection:
    """The engine of one database URL and its transactions: :meth:`write` (retried while another writer holds
    the lock) and :meth:`read`. Driver errors come out as :class:`DatabaseError` naming the URL (no password)."""

    def __init__(self, url: str | URL | os.PathLike | None = None, connect_timeout: float = CONNECT_TIMEOUT_S):
        self.url = normalise_url(url)
        self.engine = make_engine(self.url, connect_timeout)
        self._writer = self.engine.execution_options(write=True)
        # reads see one snapshot: SQLite's read transaction does; PostgreSQL's default (READ COMMITTED) does not
        self._reader = (self.engine.execution_options(isolation_level="REPEATABLE READ")
                        if self.engine.dialect.name == "postgresql" else self.engine)
        self.safe_url = self.engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        self.engine.dispose()

    def error(self, exc: DBAPIError) -> DatabaseError:
        msg = first_line(exc)
        if "not a database" in msg:
            return DatabaseError(f"{self.safe_url} is not a database ({msg})")
        if isinstance(exc, OperationalError) and ("connect" in msg.lower() or "timeout" in msg.lower()
                                                  or "unable to open" in msg.lower()):
            return DatabaseError(f"cannot open database {self.safe_url}: {msg}")
        return DatabaseError(f"database {self.safe_url}: {msg}")

    def write(self, fn: Callable[[Session], T]) -> T:
        """Run ``fn(session)`` in one write transaction, retried while another writer holds the lock."""
        deadline = time.monotonic() + LOCK_TIMEOUT_S
        delay = 0.05
        while True:
            try:
                with Session(self._writer) as session, session.begin():
                    return fn(session)
            except DBAPIError as exc:
                if not (_is_locked(exc) and time.monotonic() < deadline):
                    raise self.error(exc) from None
                log.debug("database locked, retrying in %.2f s", delay)
                time.sleep(delay)
                delay = min(2 * delay, 1.0)
            except StatementError as exc:
                _raise_ours(exc)

    def read(self, fn: Callable[[Session], T]) -> T:
        """Run ``fn(session)`` in one read transaction, which sees one snapshot of the database (objects stay
        usable after it)."""
        try:
            with Session(self._reader, expire_on_commit=False) as session, session.begin():
                return fn(session)
        except DBAPIError as exc:
            raise self.error(exc) from None


def _raise_ours(exc: StatementError) -> NoReturn:
    """Raise the amorphdb error SQLAlchemy wrapped, else ``exc``: :func:`json_text` raises while a value is bound,
    which SQLite's dialect does before the driver runs and wraps (psycopg lets it through as it is)."""
    if isinstance(exc.orig, AmorphDBError):
        raise exc.orig from None
    raise exc


def upsert(session: Session, model: type[Base], rows: list[dict[str, Any]], keys: Sequence[str],
           update: bool = True) -> None:
    """INSERT ... ON CONFLICT (keys) DO UPDATE the given columns (or DO NOTHING), in bulk: one statement per set
    of columns (rows that lack a column, as an older export's do, leave it as it is)."""
    insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert
    groups: dict[frozenset[str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(frozenset(row), []).append(row)
    for group in groups.values():
        stmt = insert(model.__table__)
        columns = [c for c in group[0] if c not in keys]
        if update and columns:
            stmt = stmt.on_conflict_do_update(index_elements=list(keys), set_={c: stmt.excluded[c] for c in columns})
        else:
            stmt = stmt.on_conflict_do_nothing(index_elements=list(keys))
        session.execute(stmt, group)
