"""Campaigns on a real Dask LocalCluster of worker processes, with EMT metals (and one CHGNet case) in tiny cells:
every task into one SQLite database from several processes at once, the same rows as ``amorphdb run``, failures
that stay local, a worker killed mid-task, the whole campaign killed with kill -9, PostgreSQL."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from amorphdb import Database
from amorphdb.workflows.campaign import campaign_status, run_campaign
from amorphdb.workflows.melt_quench import run

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:structure has no Li")]

EMT_SPEC = "ase.calculators.emt:EMT"
# tiny EMT metals: 8 atoms, melt at 2000 K, two quench temperatures, short runs, tolerances that always pass
TINY = dict(atoms=8, melt_temperature=2000.0, temperatures=[1400.0, 1200.0], volume_steps=40, check_steps=40,
            production_steps=400, frame_interval=5, checkpoint_interval=20, energy_tolerance=0.05,
            pressure_tolerance=1e6)


def _rows(db: Database, formula: str) -> dict[str, tuple]:
    return {r.key: (r.id, r.stage, r.status, r.density, r.energy, r.trajectory_sha256) for r in db.show(formula).runs}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One uninterrupted campaign of Cu, Ag and LiCu (EMT has no Li) on two worker processes."""
    tmp = tmp_path_factory.mktemp("campaign")
    kwargs = dict(engine=EMT_SPEC, db=tmp / "db.sqlite", workdir=tmp / "work", workers=2, progress=False, **TINY)
    result = run_campaign(["Cu", "Ag", "LiCu"], **kwargs)
    return result, kwargs


def test_campaign_stores_every_composition_and_failures_stay_local(reference):
    result, kwargs = reference
    assert result.failed == ["LiCu"] and result.exit_status == 1 and result.n_workers == 2
    by_task = {(o.formula, o.task): o for o in result.outcomes}
    assert by_task[("LiCu", "melt")].message == "engine emt does not cover element Li (in LiCu)"
    assert by_task[("LiCu", "T1400")].message.startswith("the melt failed: engine emt does not cover")
    assert all(o.status == "done" for o in result.outcomes if o.formula != "LiCu")
    with Database(kwargs["db"]) as db:
        for formula in ("Cu", "Ag"):
            runs = db.show(formula).runs
            production = [r for r in runs if r.stage == "production"]
            assert sorted(r.temperature for r in production) == [1200.0, 1400.0, 2000.0]
            assert all(r.status == "done" and r.n_atoms == 8 and r.diffusivity.get(formula) for r in production)
            assert all(r.status == "done" for r in runs)
    status = campaign_status(db=kwargs["db"])
    assert status.totals()["compositions_done"] == 2 and status.totals()["compositions_failed"] == 1
    assert [t.state for t in status.tasks if t.formula == "Cu"] == ["done"] * 4
    assert result.md_seconds > 0 and all(o.seconds >= o.md_seconds for o in result.outcomes)


def test_a_campaign_task_is_the_same_as_amorphdb_run(reference, tmp_path):
    result, kwargs = reference
    alone = Database(tmp_path / "alone.sqlite")
    settings = {k: v for k, v in kwargs.items() if k not in ("db", "workdir", "workers", "progress", "engine")}
    single = run("Cu", engine=EMT_SPEC, db=alone, workdir=tmp_path / "work", progress=False, **settings)
    with Database(kwargs["db"]) as db:
        ours, theirs = _rows(db, "Cu"), _rows(alone, "Cu")
    assert ours.keys() == theirs.keys()
    for key, (_, stage, status, density, energy, sha) in ours.items():
        assert (stage, status) == theirs[key][1:3]
        assert density == pytest.approx(theirs[key][3], rel=1e-9) and energy == pytest.approx(theirs[key][4], rel=1e-9)
    fit = next(o for o in result.outcomes if (o.formula, o.task) == ("Cu", "fit"))
    assert ("Cu" in single.arrhenius) == fit.message.startswith("Ea Cu")


def test_chained_quenches_run_hottest_first_as_amorphdb_run_does(tmp_path):
    # quench_start = trend: the campaign's T1000 task waits for T1400 and T1200 and starts at the volume ln V
    # linear in T through theirs gives (its EOS run at x1); its rows are those of amorphdb run
    settings = {**TINY, "quench_start": "trend", "temperatures": [1000.0, 1200.0, 1400.0]}
    result = run_campaign(["Cu"], engine=EMT_SPEC, db=tmp_path / "db.sqlite", workdir=tmp_path / "work",
                          workers=2, progress=False, **settings)
    assert result.failed == []
    alone = Database(tmp_path / "alone.sqlite")
    single = run("Cu", engine=EMT_SPEC, db=alone, workdir=tmp_path / "alone", progress=False, **settings)
    assert [t.temperature for t in single.temperatures] == [2000.0, 1000.0, 1200.0, 1400.0]  # reported as given
    with Database(tmp_path / "db.sqlite") as db:
        ours, theirs = _rows(db, "Cu"), _rows(alone, "Cu")
        runs = db.show("Cu").runs
    assert ours.keys() == theirs.keys()
    assert all(ours[k][3] == pytest.approx(theirs[k][3], rel=1e-9) for k in ours)
    v = {t: next(r.volume for r in runs if r.temperature == t and r.stage == "production") for t in (1200.0, 1400.0)}
    cold_start = next(r for r in runs if r.temperature == 1000.0 and r.key.endswith("/x1"))
    assert cold_start.volume == pytest.approx(v[1200.0] ** 2 / v[1400.0], rel=1e-9)  # one more step of 200 K
    assert v[1200.0] != pytest.approx(v[1400.0], rel=1e-6)
    ids = {t: [r.id for r in runs if r.temperature == t] for t in (1000.0, 1200.0, 1400.0)}
    assert max(ids[1400.0]) < min(ids[1200.0]) and max(ids[1200.0]) < min(ids[1000.0])


def test_rerun_redoes_nothing_and_leaves_failures_unless_retried(reference):
    result, kwargs = reference
    with Database(kwargs["db"]) as db:
        before = {f: _rows(db, f) for f in ("Cu", "Ag")}
    again = run_campaign(["Cu", "Ag", "LiCu"], **{**kwargs, "workers": 1})
    assert again.md_seconds == 0.0  # every MD run taken from the database and its files
    assert again.failed == ["LiCu"]
    skipped = next(o for o in again.outcomes if (o.formula, o.task) == ("LiCu", "melt"))
    assert skipped.seconds == 0.0  # recorded as failed: not run again, and it says so
    assert skipped.message == ("failed before, not run again (--retry-failed): "
                               "engine emt does not cover element Li (in LiCu)")
    with Database(kwargs["db"]) as db:
        assert {f: _rows(db, f) for f in ("Cu", "Ag")} == before
    retried = run_campaign(["LiCu"], retry_failed=True, **{**kwargs, "workers": 1})
    melt = next(o for o in retried.outcomes if o.task == "melt")
    assert melt.seconds > 0 and melt.message == "engine emt does not cover element Li (in LiCu)"
    assert retried.exit_status == 1


def _worker_processes() -> list[psutil.Process]:
    """The Dask worker processes this test process started (spawned by the nannies)."""
    return [p for p in psutil.Process().children(recursive=True)
            if any("spawn_main" in part for part in p.cmdline())]


def _wait_for(pattern: str, root: Path, alive, timeout: float = 300.0) -> Path:
    deadline = time.time() + timeout
    while time.time() < deadline and alive():
        found = list(root.glob(pattern))
        if found:
            return found[0]
        time.sleep(0.02)
    raise AssertionError(f"{pattern} never appeared under {root}")


def test_a_killed_worker_task_resumes_from_its_checkpoint(reference, tmp_path, caplog):
    _, ref_kwargs = reference
    caplog.set_level(logging.INFO, logger="amorphdb")
    kwargs = {**ref_kwargs, "db": tmp_path / "db.sqlite", "workdir": tmp_path / "work", "workers": 1,
              "worker_log_level": logging.INFO}
    outcome: dict = {}
    thread = threading.Thread(target=lambda: outcome.setdefault("result", run_campaign(["Cu"], **kwargs)),
                              daemon=True)
    thread.start()
    _wait_for("*/T2000/production-0.ckpt.npz", kwargs["workdir"], thread.is_alive)
    running = [t for t in campaign_status(db=kwargs["db"]).tasks if t.state == "running"]
    assert [t.task for t in running] == ["melt"] and running[0].detail.startswith("production/0: step ")
    assert 20 <= running[0].step < running[0].n_steps == 400
    workers = _worker_processes()
    assert len(workers) == 1
    workers[0].kill()  # SIGKILL in the middle of the melt's production run
    thread.join(600)
    result = outcome["result"]
    assert result.failed == [] and all(o.status == "done" for o in result.outcomes)
    assert "T=2000 K production 0: resuming at step" in caplog.text  # forwarded from the new worker
    with Database(kwargs["db"]) as db, Database(ref_kwargs["db"]) as ref:
        ours, theirs = _rows(db, "Cu"), _rows(ref, "Cu")
    assert ours.keys() == theirs.keys()  # the same runs, none twice
    for key, row in ours.items():
        assert row[2] == "done" and row[4] == pytest.approx(theirs[key][4], rel=1e-9)
    assert not list(kwargs["workdir"].glob("**/*.ckpt.npz"))


def _cli(kwargs: dict, formulas: list[str]) -> list[str]:
    args = ["campaign", "run", *formulas, "--engine", EMT_SPEC, "--db", str(kwargs["db"]), "--workdir",
            str(kwargs["workdir"]), "--workers", "2", "--no-progress"]
    for key, value in TINY.items():
        flag = "--" + key.replace("_", "-")
        args += [flag, *map(str, value)] if isinstance(value, list) else [flag, str(value)]
    return [sys.executable, "-m", "amorphdb", *args]


def test_the_whole_campaign_killed_then_the_same_command_goes_on(reference, tmp_path):
    _, ref_kwargs = reference
    kwargs = {"db": tmp_path / "db.sqlite", "workdir": tmp_path / "work"}
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(_cli(kwargs, ["Cu", "Ag"]), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    _wait_for("*/T2000/production-0.ckpt.npz", kwargs["workdir"], lambda: proc.poll() is None)
    for formula in ("Cu", "Ag"):  # on a loaded machine one worker may start late: both must have a run to kill
        _wait_for(f"{formula}-*/T*/*.traj", kwargs["workdir"], lambda: proc.poll() is None)
    group = [proc.pid, *(p.pid for p in psutil.Process(proc.pid).children(recursive=True))]
    os.killpg(proc.pid, signal.SIGKILL)  # client, scheduler, nannies and workers at once
    proc.wait()
    time.sleep(0.5)
    assert not [pid for pid in group if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]
    with Database(kwargs["db"]) as db:
        before = {(f, key): row for f in ("Cu", "Ag") for key, row in _rows(db, f).items()}
    finished = {k: row for k, row in before.items() if row[2] == "done"}
    assert finished and any(row[2] == "running" for row in before.values())
    mtimes = _mtimes(kwargs["db"], finished)
    interrupted = [t for t in campaign_status(db=kwargs["db"], stale_after=0).tasks if t.state == "interrupted"]
    assert interrupted and any(t.detail and "production/0: step" in t.detail for t in interrupted)

    done = subprocess.run(_cli(kwargs, ["Cu", "Ag"]), env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "campaign default: 2 of 2 compositions done, 0 failed" in done.stdout
    assert "Dask dashboard: http" in done.stderr
    with Database(kwargs["db"]) as db, Database(ref_kwargs["db"]) as ref:
        for formula in ("Cu", "Ag"):
            ours, theirs = _rows(db, formula), _rows(ref, formula)
            assert ours.keys() == theirs.keys()  # nothing duplicated, nothing lost
            for key, row in ours.items():
                assert row[2] == "done" and row[4] == pytest.approx(theirs[key][4], rel=1e-9)
                if (formula, key) in finished:
                    assert row == finished[(formula, key)]  # the same row ...
    assert _mtimes(kwargs["db"], finished) == mtimes  # ... and the same files: not redone
    assert all(t.state == "done" for t in campaign_status(db=kwargs["db"]).tasks)


def _mtimes(db_path: Path, rows: dict) -> dict[tuple[str, str], int]:
    """The modification times (ns) of the trajectory files of the runs ``rows`` ((formula, key) -> row)."""
    with Database(db_path) as db:
        return {(f, r.key): Path(r.trajectory_path).stat().st_mtime_ns for f in ("Cu", "Ag")
                for r in db.show(f).runs if (f, r.key) in rows}


def test_chgnet_campaign_on_a_tiny_cell(tmp_path):
    settings = dict(atoms=6, melt_temperature=2500.0, temperatures=[1500.0], volume_steps=10, check_steps=10,
                    production_steps=40, frame_interval=2, checkpoint_interval=10, pressure_tolerance=1e6,
                    energy_tolerance=1.0, analysis_frames=2)
    result = run_campaign(["Li2S"], engine="chgnet", device="cpu", db=tmp_path / "db.sqlite",
                          workdir=tmp_path / "work", workers=1, progress=False, **settings)
    assert result.failed == [], result.summary()
    with Database(tmp_path / "db.sqlite") as db:
        production = [r for r in db.show("Li2S").runs if r.stage == "production"]
    assert sorted(r.temperature for r in production) == [1500.0, 2500.0]
    assert all(r.engine == "chgnet" and r.n_atoms == 6 and r.diffusivity.get("Li") for r in production)
    assert all(0.3 < r.density < 5.0 for r in production)  # g/cm3: a condensed phase, Li2S is 1.66


@pytest.mark.postgres
def test_campaign_into_postgresql(pg_url, tmp_path):
    result = run_campaign(["Cu", "Ag"], engine=EMT_SPEC, db=pg_url, workdir=tmp_path / "work", workers=2,
                          progress=False, **{**TINY, "production_steps": 150})
    assert result.failed == []
    with Database(pg_url) as db:
        for formula in ("Cu", "Ag"):
            production = [r for r in db.show(formula).runs if r.stage == "production"]
            assert len(production) == 3 and all(r.status == "done" and r.diffusivity for r in production)
    assert campaign_status(db=pg_url).totals()["compositions_done"] == 2
    again = run_campaign(["Cu", "Ag"], engine=EMT_SPEC, db=pg_url, workdir=tmp_path / "work", workers=1,
                         progress=False, **{**TINY, "production_steps": 150})
    assert again.md_seconds == 0.0 and again.failed == []
