"""Several processes at once, and a process killed in the middle of a write."""

from __future__ import annotations

import multiprocessing as mp
import os

import pytest
from db_records import counts, fill
from sqlalchemy import event

from amorphdb.database import Database
from amorphdb.database.connection import Connection, upsert
from amorphdb.database.schema import Material


def _crash_in_transaction(url: str) -> None:
    conn = Connection(url)

    def write(session):
        upsert(session, Material, [{"formula": "Li2O", "elements": ["Li", "O"], "composition": {"Li": 2, "O": 1},
                                    "n_elements": 2, "source": "crash"}], ["formula"])
        session.flush()
        os._exit(3)  # the process dies with the transaction open

    conn.write(write)


def test_process_killed_mid_write_leaves_database_as_it_was(any_db, db_url):
    run = fill(any_db)
    before = counts(any_db)
    proc = mp.get_context("spawn").Process(target=_crash_in_transaction, args=(db_url,))
    proc.start()
    proc.join(60)
    assert proc.exitcode == 3
    reopened = Database(db_url)
    assert counts(reopened) == before
    reopened.add_diffusivity(run, "P", 1e-8, None, "msd-fit")  # no lock left behind
    assert counts(reopened)["diffusivities"] == before["diffusivities"] + 1


def _writer(url: str, worker: int, n: int, start) -> None:
    db = Database(url)
    start.wait(120)  # every process is up: they all write at the same time
    for i in range(n):
        run = db.add_run("Li3PS4", source=f"worker-{worker}", temperature=1000 + i, stage="production",
                         key=f"T{1000 + i}", status="done")
        db.add_features(run, {"AAV": float(i), "LNC": float(worker)}, element_data=f"worker-{worker}")


@pytest.mark.slow  # about 10 s: four processes start and import amorphdb
def test_several_processes_write_at_once(any_db, db_url):
    n_proc, n_runs = 4, 25
    ctx = mp.get_context("spawn")
    start = ctx.Barrier(n_proc)
    procs = [ctx.Process(target=_writer, args=(db_url, w, n_runs, start)) for w in range(n_proc)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(300)
    assert [p.exitcode for p in procs] == [0] * n_proc
    n = counts(any_db)
    assert (n["runs"], n["features"], n["materials"]) == (n_proc * n_runs, 2 * n_proc * n_runs, 1)
    table = any_db.query(elements="Li")
    assert table.groupby("source").size().to_dict() == {f"worker-{w}": n_runs for w in range(n_proc)}
    assert {r.source: r.element_data for r in any_db.show("Li3PS4").runs} == {
        f"worker-{w}": f"worker-{w}" for w in range(n_proc)}


def test_an_amorphous_limit_another_writer_adds_meanwhile_is_updated(any_db, db_url):
    """Two writers add the same amorphous limit at once: the one that comes second changes the first's instead of
    failing on the unique key (PostgreSQL; SQLite's writers take the lock up front and cannot interleave)."""
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite writers take the write lock up front: they cannot interleave")
    any_db.add_run("Li2O", source="mlip-chgnet", temperature=1000, stage="production", key="T1000")  # the material
    fields = dict(run_id=None, trajectory_path="t.traj", trajectory_sha256="ab" * 32, temperature=1000.0,
                  engine="chgnet", engine_version="0.4.2", n_snapshots=2, spacing_ps=2.0, fmax=0.05, max_steps=500,
                  message=None, references={})
    other, first = Database(db_url), []

    @event.listens_for(any_db._conn.engine, "before_cursor_execute")
    def meanwhile(conn, cursor, statement, *args):
        if statement.lstrip().startswith("INSERT INTO amorphous_limits") and not first:  # another writer commits
            first.append(other.add_amorphous_limit("Li2O", source="mlip-chgnet", key="k", status="running", **fields))

    limit = any_db.add_amorphous_limit("Li2O", source="mlip-chgnet", key="k", status="done", **fields)
    other.close()
    assert first == [limit]
    assert [(v.id, v.status) for v in any_db.amorphous_limits("Li2O")] == [(limit, "done")]
