"""NVT runs with EMT copper: the thermostat holds T, frames are unwrapped, a killed run resumes exactly,
blow-ups stop with an error naming the stage."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from ase import Atoms, units
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.calculators.lj import LennardJones
from ase.io import read

from amorphdb.errors import InputError, MDError
from amorphdb.md import load_result, run_nvt


def _copper(repeat: int = 3) -> Atoms:
    return bulk("Cu", "fcc", a=3.61, cubic=True).repeat(repeat)


def test_temperature_holds_and_pressures_are_consistent(tmp_path):
    result = run_nvt(_copper(), EMT(), temperature=600, n_steps=400, path=tmp_path / "cu.traj", frame_interval=20,
                     tdamp=40, seed=4, progress=False)
    assert result.temperature_mean == pytest.approx(600, rel=0.08)
    # the kinetic pressure N kB T / V (kbar) is the difference between the two conventions
    kinetic = result.n_atoms * units.kB * result.temperature_mean / result.volume / units.GPa * 10
    assert result.pressure_total - result.pressure_virial == pytest.approx(kinetic, rel=1e-6)
    assert result.density == pytest.approx(8.9, rel=0.02)
    frames = read(result.path, index=":")
    assert len(frames) == result.n_frames == 21
    assert {"energy", "forces", "stress"} <= set(frames[-1].calc.results)
    assert load_result(result.path) == result


def test_positions_are_unwrapped(tmp_path):
    # a hot liquid: atoms leave the cell, and the trajectory must follow them without jumps
    result = run_nvt(_copper(2), EMT(), temperature=4000, n_steps=400, path=tmp_path / "hot.traj",
                     frame_interval=5, seed=1, progress=False)
    frames = read(result.path, index=":")
    pos = np.array([f.positions for f in frames])
    cell = frames[0].cell.lengths()
    frac = pos / cell
    assert (frac < 0).any() or (frac >= 1).any()
    assert np.abs(np.diff(pos, axis=0)).max() < cell.min() / 4
    # the centre-of-mass drift was removed at the start and stays removed
    masses = frames[0].get_masses()
    assert np.allclose(frames[-1].get_momenta().sum(axis=0), 0.0, atol=1e-8)
    com = np.einsum("i,fij->fj", masses, pos) / masses.sum()
    assert np.abs(com - com[0]).max() < 1e-6


def test_killed_run_resumes_and_matches_an_uninterrupted_one(tmp_path, caplog):
    kwargs = dict(temperature=900, n_steps=400, frame_interval=10, checkpoint_interval=20, seed=11, progress=False)
    reference = run_nvt(_copper(2), EMT(), path=tmp_path / "ref.traj", **kwargs)

    path = tmp_path / "killed.traj"
    script = textwrap.dedent(f"""
        from ase.build import bulk
        from ase.calculators.emt import EMT
        from amorphdb.md import run_nvt
        run_nvt(bulk("Cu", "fcc", a=3.61, cubic=True).repeat(2), EMT(), path={str(path)!r}, **{kwargs!r})
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "OMP_NUM_THREADS": "1"})
    ckpt = path.with_suffix(".ckpt.npz")
    deadline = time.time() + 120
    while not ckpt.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)  # let it run past the checkpoint, so that the resume has frames to cut back
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert ckpt.exists() and load_result(path) is None, "the run was not killed mid-way"

    with caplog.at_level("INFO", logger="amorphdb.md"):
        resumed = run_nvt(_copper(2), EMT(), path=path, **kwargs)
    started = re.search(r"md: resuming at step (\d+) of 400", caplog.text)
    assert started and int(started.group(1)) >= 20  # from the checkpoint, not from the start
    assert not ckpt.exists()
    a, b = read(reference.path, index=":"), read(resumed.path, index=":")
    assert len(a) == len(b) == 41
    assert np.allclose(a[-1].positions, b[-1].positions, atol=1e-8)
    assert resumed.energy == pytest.approx(reference.energy, abs=1e-9)
    assert resumed.pressure_virial == pytest.approx(reference.pressure_virial, abs=1e-7)


def test_finished_run_is_not_redone(tmp_path):
    first = run_nvt(_copper(2), EMT(), temperature=300, n_steps=20, path=tmp_path / "a.traj", progress=False)
    mtime = os.stat(first.path).st_mtime_ns
    again = run_nvt(_copper(2), EMT(), temperature=300, n_steps=20, path=tmp_path / "a.traj", progress=False)
    assert again == first and os.stat(first.path).st_mtime_ns == mtime


def test_runaway_temperature_is_detected(tmp_path):
    atoms = bulk("Cu", "fcc", a=3.0, cubic=True).repeat(2)  # 17 % compressed and disordered: heats up by ~10^4 K
    atoms.rattle(0.3, seed=1)
    with pytest.raises(MDError, match="melt: MD blew up at step 100: mean temperature"):
        run_nvt(atoms, EMT(), temperature=300, n_steps=400, path=tmp_path / "x.traj", stage="melt", progress=False)


def test_exploding_integration_is_detected(tmp_path):
    atoms = _copper(2)
    atoms.rattle(0.2, seed=1)
    with pytest.raises(MDError, match="melt: MD blew up at step [0-9]+: non-finite"):
        run_nvt(atoms, EMT(), temperature=300, n_steps=400, timestep=40.0, path=tmp_path / "x.traj",
                stage="melt", progress=False)


def test_overlapping_atoms_are_detected(tmp_path):
    atoms = _copper(2)
    atoms.positions[1] = atoms.positions[0] + [0.3, 0, 0]
    with pytest.raises(MDError, match="check: MD blew up at step 0: two atoms are 0.30 Å apart"):
        run_nvt(atoms, EMT(), temperature=300, n_steps=50, path=tmp_path / "o.traj", stage="check", progress=False)


def test_non_finite_forces_are_detected(tmp_path):
    atoms = Atoms("Ar3", positions=[[0, 0, 0], [0, 0, 0], [3, 3, 3]], cell=[8, 8, 8], pbc=True)
    with pytest.raises(MDError, match="production: MD blew up at step 0: non-finite"):
        run_nvt(atoms, LennardJones(), temperature=100, n_steps=10, path=tmp_path / "n.traj",
                stage="production", min_distance=0.0, progress=False)


@pytest.mark.parametrize("kwargs", [dict(temperature=-5, n_steps=10), dict(temperature=300, n_steps=0),
                                    dict(temperature=300, n_steps=10, timestep=0.0),
                                    dict(temperature=float("inf"), n_steps=10),
                                    dict(temperature=300, n_steps=10, timestep=float("nan"))])
def test_absurd_md_inputs(tmp_path, kwargs):
    with pytest.raises(InputError):
        run_nvt(_copper(2), EMT(), path=tmp_path / "bad.traj", progress=False, **kwargs)
