"""Opening databases: defaults, schema versions and the migration of older ones, things that are not
databases, servers that do not answer."""

from __future__ import annotations

import socket
import threading

import pytest
from db_records import counts, fill, fill_limit
from sqlalchemy import create_engine, inspect, text

from amorphdb.database import Database, default_url
from amorphdb.database.schema import ADDED_COLUMNS, ADDED_TABLES
from amorphdb.errors import DatabaseError, InputError
from amorphdb.paths import data_home, default_db_path, default_runs_dir


def test_default_url_and_bare_paths(tmp_path, monkeypatch):
    monkeypatch.delenv("AMORPHDB_URL", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_url() == f"sqlite:///{tmp_path / 'xdg' / 'amorphdb' / 'amorphdb.sqlite'}"
    Database().add_run("Li3PS4", source="x", temperature=900, stage="production", key="a")
    assert (tmp_path / "xdg" / "amorphdb" / "amorphdb.sqlite").is_file()
    monkeypatch.setenv("AMORPHDB_URL", str(tmp_path / "env.sqlite"))  # a bare path is an SQLite file
    Database().add_run("Li3PS4", source="x", temperature=900, stage="production", key="a")
    assert Database(tmp_path / "env.sqlite").get_run("Li3PS4", "x", "a") is not None
    with Database(f"sqlite:///{tmp_path / 'env.sqlite'}") as db:
        with db._conn.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
    with pytest.raises(InputError, match="empty database URL"):
        Database("  ")


def test_the_data_home_is_looked_up_in_one_place(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert (data_home(), default_db_path(), default_runs_dir()) == (
        tmp_path / "amorphdb", tmp_path / "amorphdb" / "amorphdb.sqlite", tmp_path / "amorphdb" / "runs")
    monkeypatch.setenv("XDG_DATA_HOME", "")  # empty: as if unset
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data_home() == tmp_path / "home" / ".local" / "share" / "amorphdb"


def test_other_schema_version_is_refused(db_url):
    Database(db_url).close()
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE meta SET value = '99' WHERE key = 'schema_version'"))
    engine.dispose()
    with pytest.raises(DatabaseError, match="has schema version 99; this amorphdb .* reads version 3"):
        Database(db_url)


def _make_version_1(url: str) -> None:
    """Turn the database at ``url`` into one as schema version 1 wrote it: without the columns and tables added
    since (``runs.element_data``; the amorphous-limit tables)."""
    engine = create_engine(url)
    with engine.begin() as conn:
        for _, table in reversed(ADDED_TABLES):  # a later table may refer to an earlier one
            conn.execute(text(f"DROP TABLE {table}"))
        for _, table, column in ADDED_COLUMNS:
            conn.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))
        conn.execute(text("UPDATE meta SET value = '1' WHERE key = 'schema_version'"))
    engine.dispose()


def test_a_version_1_database_is_migrated_in_place(db_url):
    db = Database(db_url)
    run = fill(db)
    before = counts(db)
    shown = db.show("Li3PS4").to_dict()
    db.close()
    _make_version_1(db_url)

    engine = create_engine(db_url)
    assert not {t for _, t in ADDED_TABLES} & set(inspect(engine).get_table_names())  # really version 1
    engine.dispose()
    migrated = Database(db_url)
    assert migrated.schema_version() == 3 and counts(migrated) == before
    engine = create_engine(db_url)
    assert "element_data" in {c["name"] for c in inspect(engine).get_columns("runs")}
    assert {t for _, t in ADDED_TABLES} <= set(inspect(engine).get_table_names())
    engine.dispose()
    after = migrated.show("Li3PS4").to_dict()
    for a, b in zip(after["runs"], shown["runs"]):
        assert a == {**b, "element_data": None}  # everything kept; the new column is empty
    migrated.add_features(run, {"AAV": 15.3}, element_data="public")
    assert migrated.run(run).element_data == "public"
    fill_limit(migrated, run)  # the tables the migration made take records
    assert [len(v.relaxations) for v in migrated.amorphous_limits("Li3PS4")] == [2]
    Database(db_url).close()  # opening again: nothing left to do


def test_files_that_are_not_amorphdb_databases(tmp_path):
    junk = tmp_path / "notes.txt"
    junk.write_text("this is not a database\n" * 200)
    with pytest.raises(DatabaseError, match="is not a database"):
        Database(junk)
    other = tmp_path / "other.sqlite"
    engine = create_engine(f"sqlite:///{other}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE things (x INTEGER)"))
    engine.dispose()
    with pytest.raises(DatabaseError, match="is not an amorphdb database"):
        Database(other)
    with pytest.raises(DatabaseError, match="unsupported database back end 'mysql'"):
        Database("mysql://u:p@127.0.0.1/x")
    with pytest.raises(DatabaseError, match="cannot parse database URL"):
        Database("postgresql://u:p@host:notaport/x")


def _silent_server() -> tuple[socket.socket, int]:
    """A TCP port that accepts connections and never says a word (a hung server)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held = []
    threading.Thread(target=lambda: held.extend(server.accept() for _ in range(8)), daemon=True).start()
    return server, server.getsockname()[1]


def test_server_that_does_not_answer(tmp_path):
    server, port = _silent_server()
    hidden = f"cannot open database postgresql\\+psycopg://u:\\*\\*\\*@127.0.0.1:{port}"  # no password shown
    raised = []

    def connect() -> None:
        with pytest.raises(DatabaseError, match=hidden):
            Database(f"postgresql://u:secret@127.0.0.1:{port}/x", connect_timeout=1)
        raised.append(True)

    worker = threading.Thread(target=connect, daemon=True)
    worker.start()
    worker.join(120)  # a hang guard, not a speed check: without the connect timeout the call never returns
    assert raised, "no DatabaseError: the connect timeout did not end the wait for a silent server"
    server.close()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    with pytest.raises(DatabaseError, match="cannot open database"):
        Database(f"postgresql://u:secret@127.0.0.1:{port}/x", connect_timeout=1)
