"""amorphdb.run with EMT copper: the whole protocol into a real SQLite database with its analysis, kill -9 and
resume, the Arrhenius rule, blow-ups and bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from ase import units
from ase.calculators.emt import EMT
from ase.io import read

from amorphdb import Database, Engine
from amorphdb.analysis.arrhenius import ArrheniusResult
from amorphdb.errors import EngineError, InputError, MDError
from amorphdb.protocol.mpmorph import last_frame
from amorphdb.protocol.results import SpeciesDiffusion, TemperatureResult
from amorphdb.workflows.melt_quench import _arrhenius, run

EMT_SPEC = "ase.calculators.emt:EMT"
pytestmark = pytest.mark.filterwarnings("ignore:structure has no Li")  # copper
# a small, cheap version of the protocol: 32 Cu atoms, melt at 2000 K (EMT copper boils away at 5000 K),
# one quench temperature
CU = dict(atoms=32, melt_temperature=2000.0, temperatures=[1400.0], volume_steps=80, check_steps=80,
          production_steps=300, frame_interval=5, checkpoint_interval=20, energy_tolerance=0.05)


def test_rescale_cap_fails_clearly_and_marks_the_run(tmp_path, capsys):
    from amorphdb.cli import main

    db_path = tmp_path / "db.sqlite"
    args = ["run", "Cu", "--engine", EMT_SPEC, "--db", str(db_path), "--workdir", str(tmp_path / "w"), "--no-progress",
            "--atoms", "8", "--melt-temperature", "2000", "--temperatures", "1400", "--volume-steps", "20",
            "--check-steps", "20", "--pressure-tolerance", "0.001", "--energy-tolerance", "1", "--max-rescales", "1"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("amorphdb: error: T=2000 K volume search: |P| = ")
    assert "after 1 volume rescales (the cap, --max-rescales); no production run" in err[-1]
    runs = Database(db_path).show("Cu").runs
    assert not [r for r in runs if r.stage == "production" or r.temperature == 1400.0]
    failed = [r for r in runs if r.status == "failed"]
    assert [r.key.split("/", 1)[1] for r in failed] == ["T2000/check/1"]
    assert failed[0].message == err[-1].removeprefix("amorphdb: error: ")
    # the same command again stops at the same place, with the same rows
    assert main(args) == 2
    assert [(r.key, r.status) for r in Database(db_path).show("Cu").runs] == [(r.key, r.status) for r in runs]


# ---------------------------------------------------------------------------------------------------
# the Arrhenius step: the package's one rule, typed results, stored fits
# ---------------------------------------------------------------------------------------------------

class _Fits:
    """Records add_arrhenius calls (the only database method the Arrhenius step uses)."""

    def __init__(self) -> None:
        self.stored: list[tuple] = []

    def add_arrhenius(self, *args) -> None:
        self.stored.append(args)


def _at(temperature: float, **diffusion: SpeciesDiffusion) -> TemperatureResult:
    return TemperatureResult(temperature, SimpleNamespace(), 1, 0, 0, diffusion)


def test_arrhenius_two_temperatures_with_error_bars_else_three():
    def d(value: float, err: float | None = 1e-6, diffusive: bool = True) -> SpeciesDiffusion:
        return SpeciesDiffusion(value, err, diffusive)

    results = [_at(1000.0, Li=d(1e-5), S=d(1e-7, None), O=d(1e-6)),
               _at(1500.0, Li=d(4e-5), S=d(5e-7, None), O=d(3e-6, diffusive=False)),
               _at(2000.0, Li=d(9e-5, diffusive=False), O=d(-1e-6))]
    db = _Fits()
    fits = _arrhenius(db, "Li2SO4", "mlip-chgnet", results)
    # Li: two diffusive temperatures with error bars; S: two without (needs three); O: one diffusive, positive D
    assert list(fits) == ["Li"] and isinstance(fits["Li"], ArrheniusResult)
    assert (fits["Li"].t_min, fits["Li"].t_max) == (1000.0, 1500.0) and fits["Li"].Ea > 0
    assert [row[:3] for row in db.stored] == [("Li2SO4", "mlip-chgnet", "Li")]
    results.append(_at(2500.0, S=d(2e-6, None)))
    fits = _arrhenius(_Fits(), "Li2SO4", "mlip-chgnet", results)
    assert sorted(fits) == ["Li", "S"] and fits["S"].method == "unweighted least squares on ln D"


# ---------------------------------------------------------------------------------------------------
# the whole protocol, kill -9 and resume
# ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One uninterrupted protocol run of EMT copper with analysis: (result, database)."""
    tmp = tmp_path_factory.mktemp("reference")
    db = Database(tmp / "db.sqlite")
    result = run("Cu", preset="quick", engine=EMT_SPEC, db=db, workdir=tmp / "work", progress=False, **CU)
    return result, db


def _rows(db: Database) -> dict[str, tuple]:
    return {r.key: (r.stage, r.status, r.density, r.energy, r.trajectory_sha256) for r in db.show("Cu").runs}


@pytest.mark.slow
def test_protocol_stores_every_run_and_its_analysis(reference):
    result, db = reference
    shown = db.show("Cu")
    runs = shown.runs
    stages = [r.stage for r in runs]
    assert stages.count("production") == 2 and stages.count("volume") >= 6 and stages.count("check") >= 2
    assert all(r.status == "done" and r.source == "mlip-emt" and r.engine == "emt" for r in runs)
    assert all(r.trajectory_sha256 and Path(r.trajectory_path).exists() for r in runs)
    assert all(r.n_atoms == 32 and r.timestep == 2.0 for r in runs)
    assert len(shown.structures) == len(runs)
    # temperatures hold in the production runs (32 atoms: ±15 %)
    for t in result.temperatures:
        assert t.production.temperature_mean == pytest.approx(t.temperature, rel=0.15)
    assert [t.temperature for t in result.temperatures] == [2000.0, 1400.0]
    # a liquid between EMT's solid (8.9) and a gas
    assert all(6.0 < t.production.density < 8.9 for t in result.temperatures)
    production = [r for r in runs if r.stage == "production"]
    assert all("Cu" in r.diffusivity and r.features and "element_properties" in r.element_data for r in production)
    assert {x.temperature for x in shown.rdfs} == {2000.0, 1400.0}
    d = result.temperatures[0].diffusion["Cu"]
    assert isinstance(d, SpeciesDiffusion) and 1e-6 < d.D < 1e-3  # cm2/s: a liquid metal
    assert "T (K)" in result.table() and "D(Cu)" in result.table()
    # the quench starts from the last melt frame, with fresh velocities at its own temperature
    melt_end = last_frame(result.temperatures[0].production)
    quench_start = read(Path(result.workdir) / "T1400" / "volume-0-x1.traj", index=0)
    assert np.allclose(quench_start.positions, melt_end.positions) and np.allclose(quench_start.cell, melt_end.cell)
    n_dof = 3 * len(quench_start) - 3  # the chain's count (ASE's get_temperature counts 3N)
    assert 2 * quench_start.get_kinetic_energy() / (n_dof * units.kB) == pytest.approx(1400.0, rel=1e-9)


@pytest.mark.slow
def test_rerun_finds_everything_and_duplicates_nothing(reference, file_times):
    result, db = reference
    before, stamps = _rows(db), file_times(result.workdir, (".traj", ".json"))
    again = run("Cu", preset="quick", engine=EMT_SPEC, db=db, workdir=result.workdir.parent, progress=False, **CU)
    assert _rows(db) == before
    assert [t.production for t in again.temperatures] == [t.production for t in result.temperatures]
    assert [t.diffusion for t in again.temperatures] == [t.diffusion for t in result.temperatures]
    assert file_times(result.workdir, (".traj", ".json")) == stamps  # no trajectory or analysis file rewritten


@pytest.mark.slow
def test_a_new_database_over_the_same_work_directory_gets_everything(reference, tmp_path, file_times):
    result, db = reference
    fresh = Database(tmp_path / "fresh.sqlite")
    trajectories = file_times(result.workdir)
    bare = run("Cu", preset="quick", engine=EMT_SPEC, db=fresh, workdir=result.workdir.parent, progress=False,
               analyse=False, **CU)
    assert "Ea(Cu): not computed (no diffusion analysis)" in bare.table()
    assert _rows(fresh) == _rows(db)
    assert file_times(result.workdir) == trajectories  # not rerun
    assert not any(r.diffusivity for r in fresh.show("Cu").runs)
    again = run("Cu", preset="quick", engine=EMT_SPEC, db=fresh, workdir=result.workdir.parent, progress=False, **CU)
    production = [r for r in fresh.show("Cu").runs if r.stage == "production"]
    assert len(production) == 2 and all("Cu" in r.diffusivity and r.features for r in production)
    assert [t.diffusion for t in again.temperatures] == [t.diffusion for t in result.temperatures]


def test_a_failing_calculator_marks_the_run_failed(tmp_path, db):
    class LosesItsParameters(EMT):  # a calculator that breaks mid-run with an error of its own kind
        calls = 0

        def calculate(self, *args, **kwargs):
            LosesItsParameters.calls += 1
            if LosesItsParameters.calls > 30:
                raise KeyError("parameters gone")
            super().calculate(*args, **kwargs)

    engine = Engine("flaky", "1", LosesItsParameters(), frozenset({"Cu"}))
    with pytest.raises(KeyError):
        run("Cu", engine=engine, db=db, workdir=tmp_path, progress=False, analyse=False, **CU)
    runs = db.show("Cu").runs
    assert [r.status for r in runs] == ["failed"]
    assert runs[0].message == "T=2000 K volume 0/x0.8: KeyError: 'parameters gone'"


def _cli(db: Path, work: Path) -> list[str]:
    args = ["run", "Cu", "--engine", EMT_SPEC, "--db", str(db), "--workdir", str(work), "--no-progress"]
    for key, value in CU.items():
        flag = "--" + key.replace("_", "-")
        args += [flag, *map(str, value)] if isinstance(value, list) else [flag, str(value)]
    return [sys.executable, "-c", "import sys; from amorphdb.cli import main; sys.exit(main(sys.argv[1:]))", *args]


@pytest.mark.slow
def test_kill_9_then_the_same_command_resumes(reference, tmp_path):
    result, ref_db = reference
    db_path, work = tmp_path / "db.sqlite", tmp_path / "work"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(_cli(db_path, work), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # kill inside the melt's production run (checkpoints from step 20 to 280 of 300), before the quench
    deadline = time.time() + 300
    while not list(work.glob("*/T2000/production-0.ckpt.npz")) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed = _rows(Database(db_path))
    assert any(status == "running" for _, status, *_ in killed.values()), "killed too late"
    assert list(work.glob("*/T2000/production-0.ckpt.npz")) and not list(work.glob("*/T1400"))

    done = subprocess.run(_cli(db_path, work), env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "T (K)" in done.stdout and "Ea(Cu)" in done.stdout
    assert "T=2000 K production 0: resuming at step" in done.stderr  # from the periodic MD checkpoint
    resumed = _rows(Database(db_path))
    reference_rows = _rows(ref_db)
    assert resumed.keys() == reference_rows.keys()  # the same runs, none duplicated, none lost
    for key, (stage, status, density, energy, _) in resumed.items():
        assert status == "done"
        assert density == pytest.approx(reference_rows[key][2], rel=1e-9)
        assert energy == pytest.approx(reference_rows[key][3], rel=1e-9, abs=1e-12)
    assert not list(work.glob("**/*.ckpt.npz"))


# ---------------------------------------------------------------------------------------------------
# failures
# ---------------------------------------------------------------------------------------------------

def test_blow_up_marks_the_run_failed(tmp_path, db):
    with pytest.raises(MDError, match="T=2000 K volume 0/x0.8: MD blew up"):
        run("Cu", engine=EMT_SPEC, db=db, workdir=tmp_path, progress=False, analyse=False,
            **{**CU, "timestep": 30.0})
    failed = [r for r in db.show("Cu").runs if r.status == "failed"]
    assert len(failed) == 1 and "MD blew up" in failed[0].message and failed[0].stage == "volume"


def test_uncovered_element_is_refused_before_any_md(tmp_path, db):
    with pytest.raises(EngineError, match="does not cover element Li"):
        run("LiCu", engine=EMT_SPEC, db=db, workdir=tmp_path / "work", progress=False)
    assert not (tmp_path / "work").exists()
    with pytest.raises(InputError, match="no data on LiCu"):  # nothing written to the database either
        db.show("LiCu")


@pytest.mark.parametrize("formula, overrides, error, message", [
    ("Cu", {"atoms": 0}, InputError, "atoms"),
    ("Cu", {"temperatures": [1000, -5]}, InputError, "temperatures must be positive"),
    ("Li3PS4", {"atoms": 2}, InputError, "cannot be scaled"),
    ("Xx2O", {}, InputError, "formula|element"),
    ("Cu", {"density": 40.0}, InputError, "too high to pack"),
    ("Cu", {"production_steps": 60, "frame_interval": 5}, InputError, "writes 13 frames; the diffusion analysis"),
    ("Cu", {"fit_start_ps": 0.49}, InputError, r"fit window from --fit-start-ps 0.49 ps to half the "
                                               r"production run \(0.5 ps\) holds fewer than 3 frames"),
])
def test_absurd_inputs(tmp_path, db, formula, overrides, error, message):
    with pytest.raises(error, match=message):
        run(formula, engine=EMT_SPEC, db=db, workdir=tmp_path, progress=False, **overrides)


def test_a_short_production_is_fine_without_analysis(tmp_path, db):
    # the frame check belongs to the analysis: with analyse=False a 13-frame production run is accepted
    result = run("Cu", engine=EMT_SPEC, db=db, workdir=tmp_path, progress=False, analyse=False,
                 **{**CU, "atoms": 8, "temperatures": [], "volume_steps": 20, "check_steps": 20, "production_steps": 60,
                    "energy_tolerance": 1.0, "pressure_tolerance": 1e6})
    assert [t.production.n_frames for t in result.temperatures] == [13]


def test_a_relative_or_moved_work_directory_keeps_its_runs(tmp_path, monkeypatch):
    settings = {**CU, "atoms": 8, "temperatures": [], "volume_steps": 20, "check_steps": 20, "production_steps": 60,
                "energy_tolerance": 1.0, "pressure_tolerance": 1e6}
    monkeypatch.chdir(tmp_path)
    db = Database(tmp_path / "db.sqlite")
    first = run("Cu", engine=EMT_SPEC, db=db, workdir="w", progress=False, analyse=False, **settings)
    paths = [r.trajectory_path for r in db.show("Cu").runs]
    assert paths and all(p.startswith(str(tmp_path / "w") + "/") for p in paths)  # absolute, not cwd-relative
    (tmp_path / "w").rename(tmp_path / "moved")
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "moved").rglob("*.traj")}
    again = run("Cu", engine=EMT_SPEC, db=db, workdir=tmp_path / "moved", progress=False, analyse=False, **settings)
    runs = db.show("Cu").runs
    assert [r.trajectory_path for r in runs] == [p.replace("/w/", "/moved/", 1) for p in paths]
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "moved").rglob("*.traj")} == stamps  # no MD again
    assert again.temperatures[0].production.energy == first.temperatures[0].production.energy
    assert again.temperatures[0].production.path.startswith(str(tmp_path / "moved"))


def test_the_analysis_is_redone_when_its_settings_change(tmp_path, caplog):
    settings = {**CU, "atoms": 8, "temperatures": [], "volume_steps": 20, "check_steps": 20, "production_steps": 150,
                "energy_tolerance": 1.0, "pressure_tolerance": 1e6, "analysis_frames": 5}
    db = Database(tmp_path / "db.sqlite")
    first = run("Cu", engine=EMT_SPEC, db=db, workdir=tmp_path, progress=False, **settings)
    cache = Path(first.temperatures[0].production.path).with_suffix(".analysis.json")
    assert json.loads(cache.read_text())["settings"] == {"analysis_frames": 5, "fit_start_ps": None}
    stamp = cache.stat().st_mtime_ns
    with caplog.at_level("INFO", logger="amorphdb"):
        run("Cu", engine=EMT_SPEC, db=db, workdir=tmp_path, progress=False, **settings)  # nothing to redo
        assert "analysing again" not in caplog.text and cache.stat().st_mtime_ns == stamp  # the cache was used
        run("Cu", engine=EMT_SPEC, db=db, workdir=tmp_path, progress=False, **{**settings, "analysis_frames": 10})
    assert "analysing again with {'analysis_frames': 10, 'fit_start_ps': None}" in caplog.text
    assert json.loads(cache.read_text())["settings"]["analysis_frames"] == 10
    # the fit start (an analysis setting without a stop rule: the same work directory) gives another D
    d_before = db.show("Cu").runs[-1].diffusivity["Cu"][-1].D
    again = run("Cu", engine=EMT_SPEC, db=db, workdir=tmp_path, progress=False,
                **{**settings, "analysis_frames": 10, "fit_start_ps": 0.05})
    assert again.workdir == first.workdir and json.loads(cache.read_text())["settings"]["fit_start_ps"] == 0.05
    assert db.show("Cu").runs[-1].diffusivity["Cu"][-1].D != d_before
    # a cache written before the settings were recorded holds the default window
    cache.write_text(json.dumps(json.loads(cache.read_text())["diffusion"]))
    stamp = cache.stat().st_mtime_ns
    run("Cu", engine=EMT_SPEC, db=db, workdir=tmp_path, progress=False, **{**settings, "analysis_frames": 10})
    assert cache.stat().st_mtime_ns == stamp
