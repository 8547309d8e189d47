"""The amorphous limit and the synthesizability check with real CHGNet on a 12-atom SiO2 cell: a short MD of a
random packing, its snapshots relaxed, stored in a real SQLite database; alpha-quartz below the limit, an
anti-site variant above it; bad inputs, a non-converging relaxation stored as failed, the v2 → v3 migration.

(A 12-atom Li2O packing is no test: relaxed with its cell it finds the antifluorite crystal.)"""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase.io import write
from ase.spacegroup import crystal
from sqlalchemy import create_engine, inspect, text

from amorphdb.cli import main
from amorphdb.database.api import Database
from amorphdb.errors import ConvergenceError, InputError
from amorphdb.md.files import sha256_file
from amorphdb.workflows.amorphous_limit import (
    amorphous_limit,
    reference_structure,
    snapshot_frames,
    synthesizability,
)

LI2O_A = 4.61  # Å, antifluorite Li2O (experiment, room temperature)


def quartz():
    """alpha-quartz (P3_221, a = 4.916, c = 5.405 Å; Levien et al. 1980): 9 atoms."""
    return crystal(["Si", "O"], [(0.4697, 0.0, 2 / 3), (0.4135, 0.2669, 0.1191 + 2 / 3)], spacegroup=154,
                   cellpar=[4.916, 4.916, 5.4054, 90, 90, 120])


def antifluorite(a: float = LI2O_A):
    """Li2O in the antifluorite structure (Fm-3m, O on 4a, Li on 8c): the 12-atom conventional cell."""
    return crystal(["O", "Li"], basis=[(0, 0, 0), (0.25, 0.25, 0.25)], spacegroup=225, cellpar=[a, a, a, 90, 90, 90])


@pytest.fixture(scope="module")
def chgnet():
    from amorphdb.engines import load_engine

    return load_engine("chgnet", device="cpu")


@pytest.fixture(scope="module")
def sio2_md(tmp_path_factory, chgnet):
    """A 40-step NVT run at 1500 K (1 fs) of 12 randomly packed SiO2 atoms: 5 frames 0.01 ps apart."""
    from pymatgen.io.ase import AseAtomsAdaptor

    from amorphdb.md.runner import run_nvt
    from amorphdb.structure import random_packing

    start = AseAtomsAdaptor.get_atoms(random_packing("Si4O8", 2.2, seed=3))
    path = tmp_path_factory.mktemp("md") / "production.traj"
    run_nvt(start, chgnet.calculator, temperature=1500.0, n_steps=40, path=path, timestep=1.0, frame_interval=10,
            checkpoint_interval=40, progress=False)
    return path


def _stored_run(db: Database, path, formula: str = "SiO2") -> int:
    return db.add_run(formula, source="mlip-chgnet", temperature=1500.0, stage="production", key="T1500",
                      status="done", trajectory_path=str(path), trajectory_sha256=sha256_file(path))


@pytest.mark.slow
def test_limit_of_a_stored_run_and_crystals_below_and_above(tmp_path, chgnet, sio2_md, capsys):
    db = Database(tmp_path / "db.sqlite")
    run_id = _stored_run(db, sio2_md)
    limit = amorphous_limit("SiO2", snapshots=2, spacing_ps=0.02, engine=chgnet, fmax=0.1, max_steps=400, db=db,
                            progress=False)
    assert (limit.status, limit.run_id, limit.temperature, limit.source) == ("done", run_id, 1500.0, "mlip-chgnet")
    assert [r.frame for r in limit.relaxations] == [2, 4] and [r.time_ps for r in limit.relaxations] == [0.02, 0.04]
    energies = [r.formation_energy for r in limit.relaxations]
    assert all(r.status == "done" and r.fmax <= 0.1 for r in limit.relaxations)
    assert limit.limit == min(energies) and limit.mean == pytest.approx(np.mean(energies))
    assert limit.std == pytest.approx(np.std(energies, ddof=1)) and limit.limit_err >= 0
    assert -3.5 < limit.limit < -2.0  # SiO2: exp. ΔHf(quartz) = -3.15 eV/atom; a quenched packing lies above
    assert limit.references["Si"]["origin"] == "ase bulk diamond"
    assert limit.references["O"]["origin"] == "ase molecule O2 in a 12 Å box"
    assert set(db.relaxed_structures(limit.id)) == {"snapshot-01", "snapshot-02"}
    shown = db.show("SiO2")
    assert shown.amorphous_limits == [limit]
    assert shown.to_dict()["amorphous_limits"][0]["limit"] == limit.limit

    ground = tmp_path / "SiO2-quartz.cif"
    write(ground, quartz())
    swapped = quartz()
    numbers = swapped.numbers.copy()
    numbers[[0, 4]] = numbers[[4, 0]]  # an Si and an O exchange places: an anti-site pair
    swapped.numbers = numbers
    write(tmp_path / "SiO2-antisite.vasp", swapped, format="vasp")
    below, above = synthesizability([ground, tmp_path / "SiO2-antisite.vasp"], engine=chgnet, db=db, fmax=0.1,
                                    max_steps=400)
    assert (below.verdict, below.formula, below.limit_id) == ("below", "SiO2", limit.id)
    assert below.margin_meV_per_atom < -50  # the crystal lies well below a quenched random packing
    assert below.margin_meV_per_atom == pytest.approx(1000 * (below.formation_energy - limit.limit))
    assert above.verdict == "above" and above.margin_meV_per_atom > 0

    # the same through the CLI: text of `show`, JSON of `synthesizability`
    assert main(["show", "SiO2", "--db", str(tmp_path / "db.sqlite")]) == 0
    out = capsys.readouterr().out
    assert "amorphous limits:" in out and "snapshot-02" in out and f"{limit.limit:.4f}" in out
    assert main(["synthesizability", str(ground), "--json", "--limit-from", "SiO2", "--fmax", "0.1",
                 "--db", str(tmp_path / "db.sqlite"), "--device", "cpu"]) == 0
    [record] = json.loads(capsys.readouterr().out)
    assert record["verdict"] == "below" and record["margin_meV_per_atom"] == pytest.approx(
        below.margin_meV_per_atom, abs=1.0)


@pytest.mark.slow
def test_a_relaxation_that_does_not_converge_is_stored_as_failed(tmp_path, chgnet, sio2_md):
    db = Database(tmp_path / "db.sqlite")
    with pytest.raises(ConvergenceError, match=r"^1 of 1 relaxations did not converge; first: snapshot-01 did not "
                                               r"converge: largest force .* after 3 steps"):
        amorphous_limit("SiO2", snapshots=1, spacing_ps=0.01, engine=chgnet, fmax=0.05, max_steps=3, db=db,
                        trajectory=sio2_md, progress=False)
    [failed] = db.amorphous_limits("SiO2")
    assert failed.status == "failed" and failed.message.startswith("1 of 1 relaxations did not converge")
    assert [(r.status, r.n_steps) for r in failed.relaxations] == [("failed", 3)]
    assert failed.run_id is None and failed.trajectory_sha256 == sha256_file(sio2_md)
    # the references were relaxed and cached once; a crystal has no finished limit to compare with
    with pytest.raises(InputError, match="no amorphous limit of SiO2 .* compute it with `amorphdb amorphous-limit SiO2`"):
        synthesizability([_write(tmp_path / "g.cif", quartz())], engine=chgnet, db=db)


def _write(path, atoms):
    write(path, atoms)
    return path


@pytest.fixture
def li2o_frames(tmp_path):
    """A hand-made trajectory file (no MD): 5 rattled antifluorite frames 0.01 ps apart."""
    from ase.io import Trajectory

    path = tmp_path / "frames.traj"
    with Trajectory(path, "w") as traj:
        for k in range(5):
            atoms = antifluorite()
            atoms.rattle(0.05, seed=k)
            atoms.info["time_ps"] = 0.01 * k
            traj.write(atoms)
    return path


def test_bad_input_is_one_line_before_any_work(tmp_path, li2o_frames, capsys):
    db_path = tmp_path / "db.sqlite"
    cases = [
        (["amorphous-limit", "Li2O"], "no finished production run of Li2O with a trajectory"),
        (["amorphous-limit", "Li2O", "--trajectory", str(li2o_frames), "--snapshots", "3", "--spacing-ps", "0.03"],
         "too few frames: 3 snapshots 0.03 ps apart need 0.06 ps (7 frames); the trajectory has 5 frames (0.04 ps)"),
        (["amorphous-limit", "Li2O", "--trajectory", str(li2o_frames), "--spacing-ps", "0.015"], "not a whole number"),
        (["amorphous-limit", "Li2S", "--trajectory", str(li2o_frames)], "holds Li2O, not Li2S"),
        (["amorphous-limit", "Li2O", "--trajectory", str(tmp_path / "none.traj")], "does not exist"),
        (["amorphous-limit", "Li2O", "--snapshots", "0"], "snapshots must be at least 1"),
        (["amorphous-limit", "Li2O", "--run-id", "999"], "no run with id 999"),
        (["amorphous-limit", "Li2O", "--run-id", "1", "--trajectory", str(li2o_frames)], "not both"),
        (["amorphous-limit", "Li2O", "--run-id", "1", "--temperature", "1000"], "a run id names the run"),
        (["synthesizability", str(_junk(tmp_path))], "cannot read a structure from"),
        (["synthesizability", str(_write(tmp_path / "g.cif", antifluorite())), "--limit-from", "Li2S"],
         "is Li2O; the limit of Li2S applies only to Li2S"),
    ]
    for args, message in cases:
        assert main([*args, "--db", str(db_path), "--device", "cpu"]) == 2, args
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err, (args, err)
    # a stored run whose trajectory was deleted
    db = Database(db_path)
    gone = tmp_path / "gone.traj"
    gone.write_bytes(li2o_frames.read_bytes())
    _stored_run(db, gone, "Li2O")
    gone.unlink()
    with pytest.raises(InputError, match="the trajectory of run .* is gone"):
        amorphous_limit("Li2O", db=db)
    # a run id that is not a finished production run of the composition
    check = db.add_run("Li2O", source="mlip-chgnet", temperature=1500.0, stage="check", key="T1500/check",
                       status="done", trajectory_path=str(li2o_frames))
    for run_id, formula in ((check, "Li2O"), (_stored_run(db, li2o_frames, "Li2S"), "Li2O")):
        with pytest.raises(InputError, match=f"run {run_id} is not a finished production run of {formula}"):
            amorphous_limit(formula, db=db, run_id=run_id)
    assert db.amorphous_limits() == []  # nothing was written


def _junk(tmp_path):
    path = tmp_path / "junk.cif"
    path.write_text("this is not a crystal\n")
    return path


def test_element_references():
    atoms, origin, cell = reference_structure("Si")
    assert (origin, cell, len(atoms)) == ("ase bulk diamond", True, 2)
    atoms, origin, cell = reference_structure("Cl")
    assert origin == "ase molecule Cl2 in a 12 Å box" and not cell and atoms.get_distance(0, 1) == pytest.approx(2.0, abs=0.1)
    for symbol in ("S", "P", "Se"):  # ASE knows their lattice but not their atoms
        with pytest.raises(InputError, match=f"no reference structure for {symbol}: .* --reference {symbol}=FILE"):
            reference_structure(symbol)


def test_element_reference_from_a_file(tmp_path):
    from ase import Atoms
    from ase.build import bulk

    write(tmp_path / "S.cif", Atoms("S", cell=[3.0] * 3, pbc=True))  # any periodic structure of S
    atoms, origin, cell = reference_structure("S", {"S": tmp_path / "S.cif"})
    assert origin.startswith("file S.cif sha256:") and cell
    with pytest.raises(InputError, match="holds Li, not pure S"):
        write(tmp_path / "Li.cif", bulk("Li"))
        reference_structure("S", {"S": tmp_path / "Li.cif"})


def test_snapshot_frames_end_at_the_last_frame():
    from ase import Atoms

    frames = [Atoms("H", info={"time_ps": 0.5 * k}) for k in range(21)]  # 10 ps, 0.5 ps apart
    assert snapshot_frames(frames, 10, 1.0) == list(range(2, 21, 2))
    assert snapshot_frames(frames, 3, 5.0) == [0, 10, 20]
    untimed = [Atoms("H") for _ in range(5)]
    with pytest.raises(InputError, match="--frame-dt-ps"):
        snapshot_frames(untimed, 2, 1.0)
    assert snapshot_frames(untimed, 2, 1.0, frame_dt_ps=0.5) == [2, 4]
    with pytest.raises(InputError, match="too few frames"):
        snapshot_frames(frames, 12, 1.0)


def test_a_version_2_database_gets_the_new_tables(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    db = Database(url)
    run_id = db.add_run("Li2O", source="mlip-chgnet", temperature=1000.0, stage="production", key="x")
    db.close()
    engine = create_engine(url)
    with engine.begin() as conn:
        for table in ("relaxations", "amorphous_limits", "element_references"):
            conn.execute(text(f"DROP TABLE {table}"))
        conn.execute(text("UPDATE meta SET value = '2' WHERE key = 'schema_version'"))
    engine.dispose()
    migrated = Database(url)
    assert migrated.schema_version() == 3 and migrated.run(run_id).key == "x"
    engine = create_engine(url)
    assert {"relaxations", "amorphous_limits", "element_references"} <= set(inspect(engine).get_table_names())
    engine.dispose()
    assert migrated.show("Li2O").amorphous_limits == []


# -- EMT (no CHGNet): Cu3Au, 8 atoms -------------------------------------------------------------------

@pytest.fixture(scope="module")
def emt():
    from amorphdb.engines import load_engine

    return load_engine("ase.calculators.emt:EMT")


def _cu3au_frames(path, amplitude: float = 0.15, n: int = 5):
    """``n`` rattled (``amplitude`` Å) 8-atom Cu3Au frames 0.01 ps apart, written to ``path``."""
    from ase.build import bulk
    from ase.io import Trajectory

    base = bulk("Cu", "fcc", a=3.7, cubic=True).repeat((2, 1, 1))
    symbols = base.get_chemical_symbols()
    symbols[0] = symbols[3] = "Au"
    base.set_chemical_symbols(symbols)
    with Trajectory(path, "w") as traj:
        for k in range(n):
            atoms = base.copy()
            atoms.rattle(amplitude, seed=k)
            atoms.info["time_ps"] = 0.01 * k
            traj.write(atoms)
    return path


def _l12(path):
    """Ordered L1_2 Cu3Au written to ``path``."""
    return _write(path, crystal(["Au", "Cu"], [(0, 0, 0), (0, 0.5, 0.5)], spacegroup=221,
                                cellpar=[3.75] * 3 + [90] * 3))


def test_verdict_is_against_the_coldest_limit_or_the_one_asked_for(tmp_path, emt, capsys):
    db = Database(tmp_path / "db.sqlite")
    kw = dict(snapshots=2, spacing_ps=0.01, engine=emt, fmax=0.01, max_steps=2000, db=db, progress=False)
    cold = _cu3au_frames(tmp_path / "cold.traj", 0.05, 3)
    amorphous_limit("Cu3Au", trajectory=cold, temperature=1000, **kw)
    hot = amorphous_limit("Cu3Au", trajectory=_cu3au_frames(tmp_path / "hot.traj", 0.4, 3), temperature=5000, **kw)
    cold = amorphous_limit("Cu3Au", trajectory=cold, temperature=1000, **kw)  # recomputed last, keeps its old id
    assert cold.id < hot.id and len(db.amorphous_limits()) == 2
    crystal_file = _l12(tmp_path / "l12.cif")
    [v] = synthesizability([crystal_file], engine=emt, db=db, fmax=0.01)
    assert (v.limit_id, v.limit_temperature, v.limit) == (cold.id, 1000.0, cold.limit)
    assert f"(id {cold.id}, 1000 K)" in v.text()
    [v] = synthesizability([crystal_file], engine=emt, db=db, fmax=0.01, temperature=5000)
    assert (v.limit_id, v.limit) == (hot.id, hot.limit) and f"(id {hot.id}, 5000 K)" in v.text()
    with pytest.raises(InputError, match=r"no amorphous limit of Cu3Au from emt .* at 2000 K \(there are: 1000 K, "
                                         r"5000 K\)"):
        synthesizability([crystal_file], engine=emt, db=db, temperature=2000)
    assert main(["synthesizability", str(crystal_file), "--temperature", "5000", "--json", "--fmax", "0.01",
                 "--engine", "ase.calculators.emt:EMT", "--db", str(tmp_path / "db.sqlite")]) == 0
    [record] = json.loads(capsys.readouterr().out)
    assert (record["limit_id"], record["limit_temperature"]) == (hot.id, 5000.0)


def test_a_rerun_shows_no_stale_numbers_and_other_frames_are_another_limit(tmp_path, emt, monkeypatch):
    db = Database(tmp_path / "db.sqlite")
    path = _cu3au_frames(tmp_path / "t.traj")
    kw = dict(snapshots=2, spacing_ps=0.01, engine=emt, fmax=0.01, db=db, trajectory=path, progress=False)
    done = amorphous_limit("Cu3Au", max_steps=2000, **kw)
    assert done.status == "done" and [r.frame for r in done.relaxations] == [3, 4]
    # other frames (every second one): another limit; the first is left as it was
    with pytest.raises(ConvergenceError):
        amorphous_limit("Cu3Au", max_steps=3, frame_dt_ps=0.005, **kw)
    first, other = db.amorphous_limits("Cu3Au")
    assert first == done and other.key != done.key
    assert other.status == "failed" and [r.frame for r in other.relaxations] == [2, 4]
    assert (other.limit, other.limit_err, other.mean, other.std) == (None, None, None, None)
    # numbers left on a failed record (by an older version) are cleared by the next failed rerun
    db.add_amorphous_limit("Cu3Au", source=other.source, key=other.key, limit=-1.0, limit_err=0.1, mean=-0.5, std=0.2)
    with pytest.raises(ConvergenceError):
        amorphous_limit("Cu3Au", max_steps=3, frame_dt_ps=0.005, **kw)
    assert db.amorphous_limits("Cu3Au")[1].limit is None and db.amorphous_limits("Cu3Au")[1].std is None
    # a rerun of the done limit killed midway is `running`, without the old numbers
    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(db, "add_relaxation", killed)
    with pytest.raises(KeyboardInterrupt):
        amorphous_limit("Cu3Au", max_steps=2000, **kw)
    running = db.amorphous_limits("Cu3Au")[0]
    assert running.id == done.id and running.status == "running"
    assert (running.limit, running.limit_err, running.mean, running.std) == (None, None, None, None)


def test_a_failed_limit_resumes_with_more_steps(tmp_path, emt, monkeypatch):
    import amorphdb.workflows.amorphous_limit as workflow

    db = Database(tmp_path / "db.sqlite")
    kw = dict(snapshots=3, spacing_ps=0.01, engine=emt, fmax=0.01, db=db, trajectory=_cu3au_frames(tmp_path / "t.traj"),
              progress=False)
    with pytest.raises(ConvergenceError, match="raise --max-steps"):
        amorphous_limit("Cu3Au", max_steps=60, **kw)  # 58, 67 and 73 steps needed
    [failed] = db.amorphous_limits("Cu3Au")
    converged = {r.label: r for r in failed.relaxations if r.status == "done"}
    assert failed.status == "failed" and converged and len(converged) < 3
    relaxed = []
    real_relax = workflow.relax
    monkeypatch.setattr(workflow, "relax", lambda atoms, *a, **k: relaxed.append(atoms) or real_relax(atoms, *a, **k))
    limit = amorphous_limit("Cu3Au", max_steps=2000, **kw)
    assert len(relaxed) == 3 - len(converged)  # only the failed snapshots were relaxed again
    assert [v.id for v in db.amorphous_limits()] == [failed.id] == [limit.id]
    assert limit.status == "done" and limit.message is None and limit.max_steps == 2000
    assert [r.label for r in limit.relaxations] == ["snapshot-01", "snapshot-02", "snapshot-03"]
    assert all(r.status == "done" and r.fmax <= 0.01 for r in limit.relaxations)
    for r in limit.relaxations:
        if r.label in converged:
            assert (r.n_steps, r.energy, r.frame) == (converged[r.label].n_steps, converged[r.label].energy, r.frame)
    energies = [r.formation_energy for r in limit.relaxations]
    assert limit.limit == min(energies) and limit.mean == pytest.approx(np.mean(energies))
    assert set(db.relaxed_structures(limit.id)) == {"snapshot-01", "snapshot-02", "snapshot-03"}
