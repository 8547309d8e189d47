"""Campaigns without a cluster: formula lists, bad input refused before any MD (nothing stored lost), the task
book's rules for a rerun, the status of a campaign, the SLURM configuration object, the CLI."""

from __future__ import annotations

import copy
import json
import socket
from pathlib import Path

import pytest

from amorphdb import Database
from amorphdb.cli import main
from amorphdb.database.tasks import TaskBook
from amorphdb.errors import DatabaseError, EngineError, InputError
from amorphdb.protocol.settings import settings_for
from amorphdb.workflows import campaign
from amorphdb.workflows.campaign import (campaign_status, check_formulas, free_cores, paper_formulas,
                                         read_formula_file, run_campaign, task_list)

EMT_SPEC = "ase.calculators.emt:EMT"
DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_formula_file_comments_and_bad_lines(tmp_path):
    path = tmp_path / "list.txt"
    path.write_text("# sulfides\nLi3PS4\n\n  Li2S   # the binary\nLi6P2S8#same as the first\n")
    assert read_formula_file(path) == ["Li3PS4", "Li2S", "Li6P2S8"]
    with pytest.raises(InputError, match="duplicate formula 'Li6P2S8': Li3PS4 is already in the list"):
        check_formulas(read_formula_file(path))
    path.write_text("Li3PS4\nLi2Xq\n")
    with pytest.raises(InputError, match=r"list.txt, line 2: .*Xq"):
        read_formula_file(path)
    path.write_text("# nothing\n\n")
    with pytest.raises(InputError, match="has no formulas"):
        read_formula_file(path)
    with pytest.raises(InputError, match="cannot read formula file"):
        read_formula_file(tmp_path / "missing.txt")
    with pytest.raises(InputError, match="no formulas"):
        check_formulas([])


def test_every_composition_of_the_paper_is_accepted_and_fits_the_paper_cell():
    formulas = paper_formulas()
    assert len(formulas) == 165 == len(check_formulas(formulas))
    settings = settings_for("paper")
    tasks = task_list(check_formulas(formulas), settings)
    assert len(tasks) == 165 * (len(settings.temperatures) + 2)
    assert tasks[:2] == [(check_formulas(formulas)[0], "melt", 5000.0), (check_formulas(formulas)[0], "T1000", 1000.0)]


def test_cell_is_the_smallest_multiple_with_at_least_the_atoms(tmp_path, db):
    from amorphdb.workflows.melt_quench import prepare

    def atoms(formula: str, n: int) -> int:
        return int(prepare(formula, engine=EMT_SPEC, db=db, workdir=tmp_path, progress=False,
                           atoms=n).composition.num_atoms)

    assert atoms("Cu", 30) == 30
    assert atoms("Cu3Au", 25) == 28  # 6.25 formula units -> 7 (the nearest multiple would be 24)
    assert atoms("Cu3Au", 24) == 24


def test_free_cores_is_within_the_affinity():
    import os

    assert 1 <= free_cores() <= len(os.sched_getaffinity(0))


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def stored(tmp_path):
    """A database that already holds a run: bad input must leave it as it was."""
    path = tmp_path / "db.sqlite"
    with Database(path) as db:
        db.add_run("Li3PS4", source="paper-aimd", temperature=1000.0, stage="imported", key="x", status="done")
    return path


def _runs(path: Path) -> list:
    """Every run of the database (formula, key, status); Cu and Ag must never appear."""
    with Database(path) as db:
        for formula in ("Cu", "Ag"):
            with pytest.raises(InputError, match="no data on"):
                db.show(formula)
        return [(r.key, r.status) for r in db.show("Li3PS4").runs]


@pytest.mark.parametrize("formulas, kwargs, error, message", [
    (["Cu", "Xq2"], {}, InputError, "Xq"),
    (["Cu", "Ag", "Cu2"], {}, InputError, "duplicate formula 'Cu2': Cu is already in the list"),
    (["Cu"], {"atoms": 0}, InputError, "atoms must be at least 1"),
    (["Cu", "Li3PS4"], {"atoms": 2}, InputError, "cannot be scaled"),
    (["Cu"], {"production_steps": 60, "frame_interval": 5}, InputError, "the diffusion analysis needs"),
    (["Cu"], {"engine": "nonsense"}, EngineError, "unknown engine 'nonsense'"),
    (["Cu"], {"name": " "}, InputError, "needs a name"),
    (["Cu", "Ag"], {"target_d_error": 0.2, "target_d_species": "Cu"}, InputError, "target D species Cu is not in Ag"),
    (["Cu"], {"target_d_error": 0.2, "min_production_steps": 100, "production_steps": 2000,
              "amorphous_limit": True, "frame_interval": 5}, InputError,
     "10 limit snapshots 2 ps apart need 18 ps; a production run is 0.2 ps"),  # it may stop at its minimum
])
def test_bad_input_is_one_line_before_any_md(tmp_path, stored, formulas, kwargs, error, message):
    before = _runs(stored)
    with pytest.raises(error, match=message) as info:
        run_campaign(formulas, db=stored, workdir=tmp_path / "work", progress=False,
                     **{"engine": EMT_SPEC, **kwargs})
    assert "\n" not in str(info.value)
    assert _runs(stored) == before
    assert not list((tmp_path / "work").glob("*/*"))  # no composition folder, no MD


def test_unreachable_scheduler_unopenable_database_unwritable_workdir(tmp_path, stored, monkeypatch):
    monkeypatch.setattr(campaign, "SCHEDULER_TIMEOUT_S", 1.0)
    before = _runs(stored)
    with pytest.raises(InputError, match=r"cannot reach the Dask scheduler at tcp://127.0.0.1:\d+"):
        run_campaign(["Cu"], engine=EMT_SPEC, db=stored, workdir=tmp_path / "work",
                     scheduler=f"tcp://127.0.0.1:{_closed_port()}", progress=False)
    with pytest.raises(DatabaseError, match="cannot open database"):
        run_campaign(["Cu"], engine=EMT_SPEC, db=f"postgresql://u:p@127.0.0.1:{_closed_port()}/x",
                     workdir=tmp_path / "work", progress=False)
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(InputError, match="work directory .*file/runs is not writable"):
        run_campaign(["Cu"], engine=EMT_SPEC, db=stored, workdir=tmp_path / "file" / "runs", progress=False)
    with pytest.raises(InputError, match="not an in-memory SQLite database"):
        run_campaign(["Cu"], engine=EMT_SPEC, db="sqlite://", workdir=tmp_path / "work", progress=False)
    assert _runs(stored) == before
    assert not list((tmp_path / "work").glob("*/*"))


def test_task_book_keeps_done_and_failed_tasks_for_a_rerun(tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    Database(url).close()
    book = TaskBook(url)
    assert not book.exists()
    book.create()
    book.create()  # once is enough, twice does no harm
    tasks = [("Cu", "melt", 2000.0), ("Cu", "T1000", 1000.0), ("Cu", "T1200", 1200.0), ("Cu", "fit", None),
             ("Ag", "melt", 2000.0)]
    book.plan("c1", tasks, "fp1")
    assert [t.status for t in book.tasks("c1")] == ["queued"] * 5
    book.set("c1", "Cu", "melt", status="done", seconds=3.0, md_seconds=2.5, source="mlip-emt")
    book.set("c1", "Cu", "T1000", status="failed", message="T=1000 K volume search: |P| too high")
    book.set("c1", "Cu", "T1200", status="running")  # its campaign was killed
    book.plan("c1", tasks, "fp1")
    assert [t.status for t in book.tasks("c1")] == ["done", "failed", "queued", "queued", "queued"]
    assert book.get("c1", "Cu", "T1000").message == "T=1000 K volume search: |P| too high"
    book.plan("c1", tasks, "fp1", retry_failed=True)
    assert [t.status for t in book.tasks("c1")] == ["done", "queued", "queued", "queued", "queued"]
    book.set("c1", "Cu", "T1000", status="failed", message="again")
    book.plan("c1", tasks, "fp2")  # other settings: everything again
    assert [t.status for t in book.tasks("c1")] == ["queued"] * 5
    book.plan("c1", [t for t in tasks if t[1] != "T1200"], "fp2")  # a temperature dropped: its task goes
    assert [(t.formula, t.task) for t in book.tasks("c1")] == [("Cu", "melt"), ("Cu", "T1000"), ("Cu", "fit"),
                                                              ("Ag", "melt")]
    book.plan("c1", tasks, "fp2")
    book.plan("c2", tasks[:1], "fp1")
    assert book.campaigns() == ["c1", "c2"] and book.get("c1", "Ag", "fit") is None
    for kwargs, message in [({"statuss": "done"}, "cannot set task field.s. statuss .settable: status, message"),
                            ({"position": 0}, "cannot set task field.s. position"),
                            ({"status": "finished"}, "unknown task state 'finished'")]:
        with pytest.raises(InputError, match=message):
            book.set("c1", "Cu", "melt", **kwargs)
    with pytest.raises(InputError, match="campaign 'c1' has no task 'T900' of Cu"):
        book.set("c1", "Cu", "T900", status="done")
    assert book.get("c1", "Cu", "melt").status == "queued"


def test_a_task_waits_for_an_md_run_another_process_holds(tmp_path, monkeypatch):
    """A rerun's task meeting the melt's MD run locked by a worker of the first call (here: this test holds the
    run's lock) waits, noting why, and runs when the lock is let go; it is not recorded as failed."""
    import fcntl
    import threading
    import time

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    settings = settings_for("quick", atoms=8, melt_temperature=2000.0, temperatures=[1400.0], volume_steps=40,
                            check_steps=40, production_steps=100, frame_interval=5, checkpoint_interval=20,
                            pressure_tolerance=1e6, energy_tolerance=0.05)
    spec = campaign.CampaignSpec("c", url, str(tmp_path / "work"), "quick", EMT_SPEC, None, False, settings)
    book = TaskBook(url)
    book.create()
    book.plan("c", task_list(["Cu"], settings), spec.fingerprint)
    lock_path = campaign._job(spec, "Cu").ctx.workdir / "T2000" / "volume-0-x0.8.lock"  # the melt's first run
    lock_path.parent.mkdir(parents=True)
    held = open(lock_path, "a")
    fcntl.flock(held, fcntl.LOCK_EX)
    monkeypatch.setattr(campaign, "BUSY_POLL_S", 0.05)
    seen: list[str] = []

    def holder() -> None:  # lets go (as a finished run does) once the task says it waits, or after 60 s anyway
        deadline = time.monotonic() + 60
        try:
            while not (message := book.get("c", "Cu", "melt").message or "").startswith("waiting"):
                if time.monotonic() > deadline:
                    return
                time.sleep(0.01)
            seen.append(message)
        finally:
            lock_path.unlink()
            held.close()

    thread = threading.Thread(target=holder, daemon=True)
    thread.start()
    outcome = campaign.melt_task(spec, "Cu")
    thread.join(10)
    assert seen[0].startswith("waiting: T=2000 K volume") and "another process is running this MD run" in seen[0]
    assert outcome.status == "done" and book.get("c", "Cu", "melt").status == "done"
    assert not lock_path.exists()
    # a holder that never lets go: the task gives up after BUSY_MAX_WAIT_S and says why
    lock_path = campaign._job(spec, "Cu").ctx.workdir / "T1400" / "volume-0-x0.8.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        monkeypatch.setattr(campaign, "BUSY_MAX_WAIT_S", 0.2)
        outcome = campaign.quench_task(spec, "Cu", outcome, 1400.0)
    assert outcome.status == "failed" and outcome.message.startswith("gave up after waiting")
    assert "another process is running this MD run" in outcome.message


def test_status_of_a_campaign(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    with pytest.raises(InputError, match="no campaign in sqlite:///"):
        campaign_status(db=url)
    book = TaskBook(url)
    book.create()
    with pytest.raises(InputError, match="no campaign in"):
        campaign_status(db=url)
    book.plan("first", [("Cu", "melt", 2000.0)], "fp")
    book.plan("second", [("Cu", "melt", 2000.0), ("Cu", "T1000", 1000.0), ("Cu", "fit", None),
                         ("Ag", "melt", 2000.0), ("Ag", "T1000", 1000.0), ("Ag", "fit", None)], "fp")
    book.set("second", "Cu", "melt", status="done")
    book.set("second", "Cu", "T1000", status="done")
    book.set("second", "Cu", "fit", status="done", message="Ea Cu 0.500 eV")
    book.set("second", "Ag", "melt", status="failed", message="engine emt does not cover element Ag")
    book.set("second", "Ag", "T1000", status="running")  # in packing or analysis: no running MD run
    with pytest.raises(InputError, match=r"no campaign 'third' .* \(known: first, second\)"):
        campaign_status("third", db=url)
    status = campaign_status(db=url)  # the latest
    assert status.name == "second"
    assert [(t.formula, t.task, t.state) for t in status.tasks] == [
        ("Cu", "melt", "done"), ("Cu", "T1000", "done"), ("Cu", "fit", "done"), ("Ag", "melt", "failed"),
        ("Ag", "T1000", "running"), ("Ag", "fit", "queued")]
    assert status.totals() == {"queued": 1, "running": 1, "interrupted": 0, "done": 3, "failed": 1,
                               "compositions": 2, "compositions_done": 1, "compositions_failed": 1}
    assert campaign_status(db=url, stale_after=-1).tasks[4].state == "interrupted"
    text = status.table()
    assert "Ag               melt     failed       engine emt does not cover element Ag" in text
    assert text.splitlines()[-1] == "1 queued, 1 running, 3 done, 1 failed tasks; 1 of 2 compositions done, 1 failed"
    # the CLI prints the same, and JSON
    capsys.readouterr()
    assert main(["campaign", "status", "--db", url]) == 0
    assert capsys.readouterr().out.rstrip("\n") == campaign_status(db=url).table().rstrip("\n")
    assert main(["campaign", "status", "--db", url, "--name", "first", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["campaign"] == "first" and [(t["formula"], t["task"], t["state"]) for t in doc["tasks"]] == [
        ("Cu", "melt", "queued")]
    assert main(["campaign", "status", "--db", url, "--stale-after", "-1"]) == 0  # the running task: interrupted
    assert "Ag               T1000    interrupted" in capsys.readouterr().out


def test_status_json_and_cli_errors(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    book = TaskBook(url)
    book.create()
    book.plan("c", [("Cu", "melt", 2000.0)], "fp")
    capsys.readouterr()
    assert main(["campaign", "status", "--db", url, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["campaign"] == "c" and doc["totals"]["queued"] == 1
    assert doc["tasks"] == [{"formula": "Cu", "task": "melt", "temperature": 2000.0, "state": "queued",
                             "detail": None, "step": None, "n_steps": None, "seconds": None}]
    assert main(["campaign", "run", "--db", url]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "amorphdb: error: no formulas: give FORMULA..., --file FILE or --from-paper"
    (tmp_path / "list.txt").write_text("Cu\nLi2Xq\n")
    assert main(["campaign", "run", "--db", url, "--file", str(tmp_path / "list.txt")]) == 2
    assert "list.txt, line 2" in capsys.readouterr().err


@pytest.fixture
def dask_config():
    """Dask's config as it was before the test (with the defaults distributed and dask-jobqueue add on import)."""
    import dask.config
    import dask_jobqueue

    assert dask_jobqueue.SLURMCluster  # its defaults are in the config from here on

    saved = copy.deepcopy(dask.config.config)
    yield
    dask.config.config.clear()
    dask.config.config.update(saved)


def test_slurm_configuration_of_the_docs(dask_config, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # dask-jobqueue makes its log directory here
    data = campaign.load_dask_config(DOCS / "campaign-slurm.yaml")
    assert data["jobqueue"]["slurm"]["processes"] == 32
    cluster = campaign.jobqueue_cluster("slurm")
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    for line in ("#SBATCH -p compute", "#SBATCH -A myproject", "#SBATCH --cpus-per-task=32", "#SBATCH -t 24:00:00",
                 "source ~/venvs/amorphdb/bin/activate", "export OMP_NUM_THREADS=1",
                 "export MALLOC_MMAP_THRESHOLD_=33554432"):
        assert line in script
    worker = script.strip().splitlines()[-1]
    assert "--nthreads 1" in worker and "--nworkers 32" in worker and "--lifetime 23h50m" in worker
    import dask.config

    assert dask.config.get("distributed.scheduler.allowed-failures") == 5


def _worker_environ(names: list[str]) -> dict[str, str | None]:
    import os

    return {n: os.environ.get(n) for n in names}


def test_local_workers_keep_an_adaptive_heap_for_torch():
    # Dask's nannies fix MALLOC_TRIM_THRESHOLD_, which makes glibc mmap torch's buffers at every call (CHGNet
    # 2.4 x slower per step); the workers a campaign starts get a fixed 32 MiB mmap threshold as well
    from distributed import Client

    cluster = campaign.make_cluster("local", 1, dashboard_address=None)
    try:
        with Client(cluster) as client:
            env = client.submit(_worker_environ, ["MALLOC_MMAP_THRESHOLD_", "OMP_NUM_THREADS"]).result()
    finally:
        cluster.close()
    assert env == {"MALLOC_MMAP_THRESHOLD_": "33554432", "OMP_NUM_THREADS": "1"}


def test_bad_dask_configurations(dask_config, tmp_path):
    import dask.config

    with pytest.raises(InputError, match="cannot read Dask config"):
        campaign.load_dask_config(tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_text("jobqueue: [unclosed\n")
    with pytest.raises(InputError, match="not valid YAML"):
        campaign.load_dask_config(tmp_path / "bad.yaml")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(InputError, match="must be a mapping"):
        campaign.load_dask_config(tmp_path / "list.yaml")
    dask.config.set({"jobqueue.slurm.cores": None, "jobqueue.slurm.memory": None})
    with pytest.raises(InputError, match="slurm cluster: .*(cores|memory).*see docs/campaign.md"):
        campaign.jobqueue_cluster("slurm")
    with pytest.raises(InputError, match="unknown cluster 'sge'"):
        campaign.make_cluster("sge", 1)
    with pytest.raises(InputError, match="workers must be at least 1"):
        campaign.make_cluster("local", 0)


def _task_writer(url: str, worker: int, n: int, start) -> None:
    """One process marking its tasks running then done, and adding a run for each, as a worker does."""
    book, db = TaskBook(url), Database(url)
    start.wait(120)  # every process is up: they all write at once
    for i in range(n):
        book.set("c", f"Cu{worker + 1}Au", f"T{1000 + i}", status="running", source="mlip-emt")
        db.add_run(f"Cu{worker + 1}Au", source="mlip-emt", temperature=1000 + i, stage="production",
                   key=f"fp/T{1000 + i}/production/0", status="done")
        book.set("c", f"Cu{worker + 1}Au", f"T{1000 + i}", status="done", seconds=1.0, md_seconds=0.5)


@pytest.mark.slow  # about 10 s: four processes start and import amorphdb
def test_several_worker_processes_write_the_task_book_at_once(tmp_path):
    import multiprocessing as mp

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    n_proc, n = 4, 20
    book = TaskBook(url)
    book.create()
    book.plan("c", [(f"Cu{w + 1}Au", f"T{1000 + i}", 1000.0 + i) for w in range(n_proc) for i in range(n)], "fp")
    ctx = mp.get_context("spawn")
    start = ctx.Barrier(n_proc)
    procs = [ctx.Process(target=_task_writer, args=(url, w, n, start)) for w in range(n_proc)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(300)
    assert [p.exitcode for p in procs] == [0] * n_proc
    assert [t.status for t in book.tasks("c")] == ["done"] * (n_proc * n)
    with Database(url) as db:
        assert all(len(db.show(f"Cu{w + 1}Au").runs) == n for w in range(n_proc))
