"""The MPMorph protocol with EMT copper: EOS fit, volume search against EMT's own equilibrium volume, the
whole protocol into a real SQLite database, kill -9 and resume, blow-ups and bad input."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.eos import EquationOfState
from ase.io import read

from amorphdb.cli import _RUN_NUMBERS, build_parser
from amorphdb.database import Database
from amorphdb.engines import Engine, load_engine
from amorphdb.errors import ConvergenceError, EngineError, InputError, MDError
from amorphdb.protocol import (
    PRESETS,
    ProtocolSettings,
    RunContext,
    birch_murnaghan_pressure,
    equilibrate,
    fit_zero_pressure_volume,
    last_frame,
    run,
    settings_for,
)

EMT_SPEC = "ase.calculators.emt:EMT"
# a small, cheap version of the protocol: 32 Cu atoms, melt at 2000 K (EMT copper boils away at 5000 K),
# one quench temperature
CU = dict(atoms=32, melt_temperature=2000.0, temperatures=[1400.0], volume_steps=80, check_steps=80,
          production_steps=300, frame_interval=5, checkpoint_interval=20, energy_tolerance=0.05)


# ---------------------------------------------------------------------------------------------------
# pure functions
# ---------------------------------------------------------------------------------------------------

def test_birch_murnaghan_fit_recovers_v0():
    v = np.array([80.0, 100.0, 120.0])
    p = birch_murnaghan_pressure(v, 104.0, 900.0, 4.5)
    v0, how = fit_zero_pressure_volume(v, p)
    assert how == "birch-murnaghan" and v0 == pytest.approx(104.0, rel=1e-6)


def test_linear_fallback_and_its_failure():
    v0, how = fit_zero_pressure_volume([90.0, 110.0], [10.0, -10.0])  # two points: no BM fit
    assert how == "linear" and v0 == pytest.approx(100.0)
    with pytest.raises(ConvergenceError, match="does not fall with volume"):
        fit_zero_pressure_volume([90.0, 110.0], [-10.0, 10.0])


def test_presets_and_overrides():
    paper = PRESETS["paper"]
    assert (paper.atoms, paper.volume_steps, paper.check_steps, paper.production_steps, paper.timestep) == (
        100, 2000, 2000, 10000, 2.0)
    assert paper.scales == (0.8, 1.0, 1.2) and paper.pressure_convention == "virial"
    assert (paper.pressure_tolerance, paper.energy_tolerance, paper.rescale_beta) == (5.0, 0.001, 5e-7)
    assert (paper.max_rescales, paper.max_energy_reruns, paper.melt_temperature) == (14, 3, 5000.0)
    assert paper.temperatures == (1000.0, 1500.0, 2000.0, 2500.0)
    s = settings_for("quick", atoms=40, temperatures=[900, 1100], pressure_convention="total")
    assert s.atoms == 40 and s.temperatures == (900.0, 1100.0) and s.pressure_convention == "total"
    # the temperature list is not part of the fingerprint (the melt is shared); every other number is
    assert s.fingerprint() == settings_for("quick", atoms=40, pressure_convention="total").fingerprint()
    assert s.fingerprint() != settings_for("quick", atoms=40).fingerprint()


@pytest.mark.parametrize("preset, overrides, message", [
    ("fast", {}, "unknown preset"),
    ("quick", {"atom": 3}, "unknown setting"),
    ("quick", {"atoms": 0}, "atoms must be at least 1"),
    ("quick", {"temperatures": [-100]}, "temperatures must be positive"),
    ("quick", {"temperatures": [float("nan")]}, "temperatures must be positive and finite"),
    ("quick", {"melt_temperature": float("inf")}, "temperatures must be positive and finite"),
    ("quick", {"temperatures": [1000, 1000]}, "must be distinct"),
    ("quick", {"temperatures": [5000]}, "differ from the melt temperature"),
    ("quick", {"timestep": float("nan")}, "timestep"),
    ("quick", {"density": float("nan")}, "density must be positive"),
    ("quick", {"packing_tolerance": 0.0}, "packing tolerance"),
    ("quick", {"timestep": 0}, "timestep"),
    ("quick", {"scales": [1.0]}, "volume scales"),
    ("quick", {"pressure_convention": "kinetic"}, "pressure convention"),
])
def test_bad_settings(preset, overrides, message):
    with pytest.raises(InputError, match=message):
        settings_for(preset, **overrides)


def test_cli_has_an_option_for_every_number():
    numbers = {f.name for f in dataclasses.fields(ProtocolSettings)
               if f.name not in ("temperatures", "scales", "pressure_convention")}
    assert numbers == {name for name, _, _ in _RUN_NUMBERS}
    args = build_parser().parse_args(["run", "Li3PS4", "--atoms", "48", "--rescale-beta", "1e-6",
                                      "--temperatures", "1000", "1500"])
    assert args.atoms == 48 and args.rescale_beta == 1e-6 and args.temperatures == [1000.0, 1500.0]


# ---------------------------------------------------------------------------------------------------
# volume search against a known answer
# ---------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_volume_search_finds_the_emt_equilibrium_volume(tmp_path, db):
    # EMT's zero-pressure volume of fcc copper at 0 K, from an E(V) fit of the perfect crystal
    volumes, energies = [], []
    for a in np.linspace(3.50, 3.70, 9):
        cell = bulk("Cu", "fcc", a=a, cubic=True)
        cell.calc = EMT()
        volumes.append(cell.get_volume())
        energies.append(cell.get_potential_energy())
    v_eq = EquationOfState(volumes, energies).fit()[0] / 4  # Å3 per atom

    settings = settings_for("quick", volume_steps=100, check_steps=100, pressure_tolerance=5.0,
                            energy_tolerance=0.05, tdamp=50.0)
    ctx = RunContext("Cu", "mlip-emt", load_engine(EMT_SPEC), settings, tmp_path, db, progress=False)
    start = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(3)
    start.set_cell(start.cell * 1.06 ** (1 / 3), scale_atoms=True)  # start 6 % too large
    check, rescales, _ = equilibrate(ctx, start, 50.0)
    assert abs(check.pressure_virial) < 5.0
    # at 50 K the thermal expansion is ~0.2 %; 5 kbar is 0.4 % of volume for B = 134 GPa
    assert check.volume / len(start) == pytest.approx(v_eq, rel=0.007)
    assert rescales <= 3


@pytest.mark.slow
def test_total_pressure_convention_drives_the_total_pressure_to_zero(tmp_path, db):
    # copper at 1000 K: the kinetic term N kB T / V is ~11 kbar, more than twice the tolerance, so the virial
    # pressure of a search converged in the total convention is clearly negative
    settings = settings_for("quick", volume_steps=100, check_steps=100, pressure_tolerance=5.0, energy_tolerance=0.05,
                            tdamp=50.0, max_rescales=14, scales=(0.97, 1.0, 1.03), pressure_convention="total")
    ctx = RunContext("Cu", "mlip-emt", load_engine(EMT_SPEC), settings, tmp_path, db, progress=False)
    check, _, _ = equilibrate(ctx, bulk("Cu", "fcc", a=3.61, cubic=True).repeat(3), 1000.0)
    kinetic = check.pressure_total - check.pressure_virial
    assert kinetic > 2 * settings.pressure_tolerance
    assert abs(check.pressure_total) < settings.pressure_tolerance
    assert check.pressure_virial < -(kinetic - settings.pressure_tolerance)
    stored = [r for r in db.show("Cu")["runs"] if r["stage"] == "check" and r["energy"] == check.energy]
    assert len(stored) == 1 and stored[0]["pressure"] == pytest.approx(check.pressure_total)  # the one searched on


def test_energy_rerun_cap_goes_on_to_production(tmp_path, db, caplog):
    # a pressure tolerance nothing fails and an energy tolerance everything fails: only energy reruns
    settings = settings_for("quick", volume_steps=20, check_steps=20, pressure_tolerance=1e6, energy_tolerance=1e-12,
                            max_energy_reruns=2)
    ctx = RunContext("Cu", "mlip-emt", load_engine(EMT_SPEC), settings, tmp_path, db, progress=False)
    check, rescales, reruns = equilibrate(ctx, bulk("Cu", "fcc", a=3.61, cubic=True).repeat(2), 300.0)
    assert (rescales, reruns) == (0, 2)
    checks = [r for r in db.show("Cu")["runs"] if r["stage"] == "check"]
    assert len(checks) == 3 and all(r["status"] == "done" for r in checks)
    assert check.volume == pytest.approx(checks[0]["volume"])  # energy reruns do not rescale
    assert "still above 1e-12 after 2 reruns; going on to production" in caplog.text


def test_rescale_cap_fails_clearly_and_marks_the_run(tmp_path, capsys):
    from amorphdb.cli import main

    db_path = tmp_path / "db.sqlite"
    args = ["run", "Cu", "--engine", EMT_SPEC, "--db", str(db_path), "--workdir", str(tmp_path / "w"), "--no-progress",
            "--atoms", "32", "--melt-temperature", "2000", "--temperatures", "1400", "--volume-steps", "40",
            "--check-steps", "40", "--pressure-tolerance", "0.001", "--energy-tolerance", "1", "--max-rescales", "1"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("amorphdb: error: T=2000 K volume search: |P| = ")
    assert "after 1 volume rescales (the cap, --max-rescales); no production run" in err[-1]
    runs = Database(db_path).show("Cu")["runs"]
    assert not [r for r in runs if r["stage"] == "production" or r["temperature"] == 1400.0]
    failed = [r for r in runs if r["status"] == "failed"]
    assert [r["key"].split("/", 1)[1] for r in failed] == ["T2000/check/1"]
    assert failed[0]["message"] == err[-1].removeprefix("amorphdb: error: ")
    # the same command again stops at the same place, with the same rows
    assert main(args) == 2
    assert [(r["key"], r["status"]) for r in Database(db_path).show("Cu")["runs"]] == [
        (r["key"], r["status"]) for r in runs]


# ---------------------------------------------------------------------------------------------------
# the whole protocol, kill -9 and resume
# ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One uninterrupted protocol run of EMT copper with analysis: (result, database, database path)."""
    tmp = tmp_path_factory.mktemp("reference")
    db = Database(tmp / "db.sqlite")
    result = run("Cu", preset="quick", engine=EMT_SPEC, db=db, workdir=tmp / "work", progress=False, **CU)
    return result, db


def _rows(db: Database) -> dict[str, tuple]:
    return {r["key"]: (r["stage"], r["status"], r["density"], r["energy"], r["trajectory_sha256"])
            for r in db.show("Cu")["runs"]}


@pytest.mark.slow
def test_protocol_stores_every_run_and_its_analysis(reference):
    result, db = reference
    shown = db.show("Cu")
    runs = shown["runs"]
    stages = [r["stage"] for r in runs]
    assert stages.count("production") == 2 and stages.count("volume") >= 6 and stages.count("check") >= 2
    assert all(r["status"] == "done" and r["source"] == "mlip-emt" and r["engine"] == "emt" for r in runs)
    assert all(r["trajectory_sha256"] and Path(r["trajectory_path"]).exists() for r in runs)
    assert all(r["n_atoms"] == 32 and r["timestep"] == 2.0 for r in runs)
    assert len(shown["structures"]) == len(runs)
    # temperatures hold in the production runs (32 atoms: ±15 %)
    for t in result.temperatures:
        assert t.production.temperature_mean == pytest.approx(t.temperature, rel=0.15)
    assert [t.temperature for t in result.temperatures] == [2000.0, 1400.0]
    # a liquid between EMT's solid (8.9) and a gas
    assert all(6.0 < t.production.density < 8.9 for t in result.temperatures)
    production = [r for r in runs if r["stage"] == "production"]
    assert all("Cu" in r["diffusivity"] and r["features"] for r in production)
    assert {x["temperature"] for x in shown["rdfs"]} == {2000.0, 1400.0}
    d = result.temperatures[0].diffusion["Cu"]
    assert 1e-6 < d["D"] < 1e-3  # cm2/s: a liquid metal
    assert "T (K)" in result.table() and "D(Cu)" in result.table()
    # the quench starts from the last melt frame, with fresh velocities at its own temperature
    melt_end = last_frame(result.temperatures[0].production)
    quench_start = read(Path(result.workdir) / "T1400" / "volume-0-x1.traj", index=0)
    assert np.allclose(quench_start.positions, melt_end.positions) and np.allclose(quench_start.cell, melt_end.cell)
    assert quench_start.get_temperature() == pytest.approx(1400.0)


@pytest.mark.slow
def test_rerun_finds_everything_and_duplicates_nothing(reference):
    result, db = reference
    before = _rows(db)
    again = run("Cu", preset="quick", engine=EMT_SPEC, db=db, workdir=result.workdir.parent, progress=False, **CU)
    assert _rows(db) == before
    assert [t.production for t in again.temperatures] == [t.production for t in result.temperatures]


@pytest.mark.slow
def test_a_new_database_over_the_same_work_directory_gets_everything(reference, tmp_path):
    result, db = reference
    fresh = Database(tmp_path / "fresh.sqlite")
    bare = run("Cu", preset="quick", engine=EMT_SPEC, db=fresh, workdir=result.workdir.parent, progress=False,
               analyse=False, **CU)
    assert "Ea(Cu): not computed (no diffusion analysis)" in bare.table()
    assert _rows(fresh) == _rows(db)  # the finished MD runs are taken from their files, not run again
    assert not any(r["diffusivity"] for r in fresh.show("Cu")["runs"])
    again = run("Cu", preset="quick", engine=EMT_SPEC, db=fresh, workdir=result.workdir.parent, progress=False, **CU)
    production = [r for r in fresh.show("Cu")["runs"] if r["stage"] == "production"]
    assert len(production) == 2 and all("Cu" in r["diffusivity"] and r["features"] for r in production)
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
    runs = db.show("Cu")["runs"]
    assert [r["status"] for r in runs] == ["failed"]
    assert runs[0]["message"] == "T=2000 K volume 0/x0.8: KeyError: 'parameters gone'"


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
    failed = [r for r in db.show("Cu")["runs"] if r["status"] == "failed"]
    assert len(failed) == 1 and "MD blew up" in failed[0]["message"] and failed[0]["stage"] == "volume"


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
])
def test_absurd_inputs(tmp_path, db, formula, overrides, error, message):
    with pytest.raises(error, match=message):
        run(formula, engine=EMT_SPEC, db=db, workdir=tmp_path, progress=False, **overrides)
