"""The files of a run: checkpoints of the state (bit-exact, versioned), result JSON (older ones still load),
trajectory truncation."""

from __future__ import annotations

import json
import math
from dataclasses import asdict

import numpy as np
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.io import read
from ase.io.trajectory import Trajectory

from amorphdb.md.files import (TRAJ_PROPERTIES, MDResult, load_checkpoint, load_result, run_files, save_checkpoint,
                               sha256_file, truncate_trajectory, write_result)
from amorphdb.md.integrator import nvt_init


def test_checkpoint_round_trip_and_versions(tmp_path):
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(2)
    atoms.calc = EMT()
    state = nvt_init(atoms, 500, 2.0, seed=1)
    obs = np.random.default_rng(0).random((11, 5))
    path = tmp_path / "x.ckpt.npz"
    save_checkpoint(path, state, n_frames=3, obs=obs)
    loaded, book = load_checkpoint(path)
    assert all(np.array_equal(v, state.to_arrays()[k]) for k, v in loaded.to_arrays().items())
    assert set(book) == {"n_frames", "obs"} and int(book["n_frames"]) == 3 and np.array_equal(book["obs"], obs)
    assert not list(tmp_path.glob("*.tmp"))
    np.savez(path, positions=state.positions)  # the former layout, without a version
    assert load_checkpoint(path) is None
    assert load_checkpoint(tmp_path / "absent.npz") is None


def _result(path) -> MDResult:
    return MDResult(stage="md", temperature=300.0, n_atoms=4, n_steps=10, timestep=2.0, volume=40.0, density=1.0,
                    energy=-1.0, energy_first_half=-1.1, pressure_virial=1.0, pressure_total=2.0,
                    temperature_mean=299.0, n_frames=11, path=str(path), sha256=sha256_file(path),
                    conserved_drift=1e-5, wall_s=12.5)


def test_result_round_trip_and_results_written_before_the_drift(tmp_path):
    traj = tmp_path / "a.traj"
    traj.write_bytes(b"frames")
    result = _result(traj)
    write_result(result)
    assert load_result(traj) == result
    _, _, result_file = run_files(traj)
    old = asdict(result)
    del old["conserved_drift"], old["wall_s"]
    result_file.write_text(json.dumps(old))
    assert math.isnan(load_result(traj).conserved_drift) and math.isnan(load_result(traj).wall_s)
    traj.write_bytes(b"altered")
    assert load_result(traj) is None


def test_truncate_trajectory(tmp_path):
    path = tmp_path / "t.traj"
    atoms = bulk("Cu", "fcc", a=3.61)
    atoms.calc = EMT()
    with Trajectory(str(path), "w", properties=TRAJ_PROPERTIES) as traj:
        for k in range(5):
            atoms.info["time_ps"] = 0.1 * k
            traj.write(atoms)
    assert truncate_trajectory(path, 3)
    frames = read(path, index=":")
    assert [f.info["time_ps"] for f in frames] == [0.0, 0.1, 0.2] and "stress" in frames[0].calc.results
    assert not truncate_trajectory(path, 4)
    assert len(read(path, index=":")) == 3
    path.write_bytes(b"cut mid-write")
    assert not truncate_trajectory(path, 1)
