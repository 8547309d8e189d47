"""NVT runs with EMT copper: the thermostat holds T, frames are unwrapped, a killed or interrupted run resumes
bit for bit, blow-ups stop with an error naming the stage, the conserved energy is recorded."""

from __future__ import annotations

import math
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace

import numpy as np
import pytest
from ase import Atoms, units
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.calculators.lj import LennardJones
from ase.io import read

from amorphdb.errors import InputError, MDError, RunBusyError
from amorphdb.md.files import MDResult, load_result, write_result
from amorphdb.md.runner import RunSnapshot, StopDecision, run_nvt


def _copper(repeat: int = 3) -> Atoms:
    return bulk("Cu", "fcc", a=3.61, cubic=True).repeat(repeat)


def test_temperature_holds_and_pressures_are_consistent(tmp_path):
    result = run_nvt(_copper(), EMT(), temperature=600, n_steps=400, path=tmp_path / "cu.traj", frame_interval=20,
                     tdamp=40, seed=4, progress=False)
    assert result.temperature_mean == pytest.approx(600, rel=0.08)
    # the kinetic pressure 2 E_kin / 3V = (3N - 3) kB T / 3V (kbar) is the difference between the two conventions
    kinetic = (result.n_atoms - 1) * units.kB * result.temperature_mean / result.volume / units.GPa * 10
    assert result.pressure_total - result.pressure_virial == pytest.approx(kinetic, rel=1e-6)
    assert result.density == pytest.approx(8.9, rel=0.02)
    frames = read(result.path, index=":")
    assert len(frames) == result.n_frames == 21
    assert {"energy", "forces", "stress"} <= set(frames[-1].calc.results)
    # each frame says when it was taken and at what target temperature (the trajectory readers need no more)
    assert [f.info["time_ps"] for f in frames[:3]] == [0.0, 0.04, 0.08]
    assert {f.info["temperature_K"] for f in frames} == {600.0}
    assert load_result(result.path) == result


def test_frame_zero_is_at_the_target_temperature(tmp_path):
    # 8 atoms: frame 0 used to say 3N/(3N - 3) x 1000 K = 1142.9 K over the 3N - 3 degrees of freedom
    result = run_nvt(_copper(1).repeat((2, 1, 1)), EMT(), temperature=1000, n_steps=10, path=tmp_path / "t.traj",
                     seed=1, progress=False)
    frame = read(result.path, index=0)
    n_dof = 3 * len(frame) - 3
    assert 2 * frame.get_kinetic_energy() / (n_dof * units.kB) == pytest.approx(1000, rel=1e-12)
    assert np.abs(frame.get_momenta().sum(axis=0)).max() < 1e-10


def test_run_lengths_off_the_frame_spacing_are_refused(tmp_path):
    # 10 steps with a frame every 3: step 10 would never be written, yet the means cover it and the next stage
    # would start from step 9; an extra frame would break the constant spacing the MSD needs
    with pytest.raises(InputError, match=r"^n_steps \(10\) must be a multiple of frame_interval \(3\)"):
        run_nvt(_copper(2), EMT(), temperature=1000, n_steps=10, frame_interval=3, path=tmp_path / "f.traj",
                progress=False)
    assert not (tmp_path / "f.traj").exists()
    result = run_nvt(_copper(2), EMT(), temperature=1000, n_steps=12, frame_interval=3, path=tmp_path / "f.traj",
                     progress=False)
    times = [f.info["time_ps"] for f in read(result.path, index=":")]
    assert result.n_frames == 5 and times == pytest.approx([0.0, 0.006, 0.012, 0.018, 0.024])


def test_an_adaptive_stop_lands_on_a_written_frame(tmp_path):
    # stops are asked at checkpoints, rounded up to the frame spacing (12 -> 15 steps): a rule's minimum length
    # (23 steps) need not be a multiple of the frame interval for the run to end on a frame
    def rule(run: RunSnapshot) -> StopDecision:
        return StopDecision(run.step >= 23, True, f"step {run.step}")

    result = run_nvt(_copper(2), EMT(), temperature=600, n_steps=60, frame_interval=5, checkpoint_interval=12,
                     path=tmp_path / "s.traj", stop=rule, progress=False)
    frames = read(result.path, index=":")
    assert result.n_steps == 30 and result.n_frames == len(frames) == 7
    assert frames[-1].info["time_ps"] == pytest.approx(30 * 2.0 / 1000)


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
        from amorphdb.md.runner import run_nvt
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
    _assert_same_run(reference, resumed, 41)


class _Interrupted(Exception):
    pass


class _InterruptedEMT(EMT):
    """EMT that stops the run (like Ctrl-C) at its ``calls``-th calculation."""

    def __init__(self, calls: int):
        super().__init__()
        self.calls_left = calls

    def calculate(self, *args, **kwargs):
        self.calls_left -= 1
        if self.calls_left < 0:
            raise _Interrupted
        super().calculate(*args, **kwargs)


@pytest.mark.parametrize("calls, step", [(21, 20), (58, 40), (99, 80)])  # after a checkpoint, between two, last step
def test_interrupted_run_resumes_bit_for_bit(tmp_path, caplog, calls, step):
    kwargs = dict(temperature=900, n_steps=100, frame_interval=5, checkpoint_interval=20, seed=3, progress=False)
    reference = run_nvt(_copper(2), EMT(), path=tmp_path / "ref.traj", **kwargs)
    path = tmp_path / "cut.traj"
    with pytest.raises(_Interrupted):
        run_nvt(_copper(2), _InterruptedEMT(calls), path=path, **kwargs)
    assert path.with_suffix(".ckpt.npz").exists() and load_result(path) is None
    with caplog.at_level("INFO", logger="amorphdb.md"):
        resumed = run_nvt(_copper(2), EMT(), path=path, **kwargs)
    assert f"md: resuming at step {step} of 100" in caplog.text  # from the checkpoint, not from the start
    _assert_same_run(reference, resumed, 21)


def _assert_same_run(reference: MDResult, resumed: MDResult, n_frames: int) -> None:
    """Every frame and every number of the result equal bit for bit (the files differ only in layout)."""
    a, b = read(reference.path, index=":"), read(resumed.path, index=":")
    assert len(a) == len(b) == n_frames == resumed.n_frames
    for x, y in zip(a, b):
        assert x.info == y.info
        for get in ("get_positions", "get_momenta", "get_forces", "get_stress"):
            assert np.array_equal(getattr(x, get)(), getattr(y, get)()), get
        assert x.get_potential_energy() == y.get_potential_energy()
    # ... but the wall time (s), which sums the calls that ran the steps kept
    assert 0 < resumed.wall_s < math.inf and 0 < reference.wall_s < math.inf
    assert replace(resumed, path=reference.path, sha256=reference.sha256, wall_s=reference.wall_s) == reference


def test_stale_checkpoints_are_not_resumed(tmp_path, caplog):
    kwargs = dict(temperature=600, n_steps=40, checkpoint_interval=10, seed=2, progress=False)
    reference = run_nvt(_copper(2), EMT(), path=tmp_path / "ref.traj", **kwargs)
    path = tmp_path / "old.traj"
    # a checkpoint of the former layout (ASE's thermostat internals), and one of other settings
    np.savez(path.with_suffix(".ckpt.npz"), positions=np.zeros((32, 3)), eta=np.zeros(3), p_eta=np.zeros(3))
    with caplog.at_level("WARNING", logger="amorphdb.md"):
        first = run_nvt(_copper(2), EMT(), path=path, **kwargs)
    assert "of another version; starting over" in caplog.text
    assert first.energy == reference.energy
    with pytest.raises(_Interrupted):
        run_nvt(_copper(2), _InterruptedEMT(25), path=tmp_path / "other.traj", **{**kwargs, "tdamp": 50.0})
    with caplog.at_level("WARNING", logger="amorphdb.md"):
        second = run_nvt(_copper(2), EMT(), path=tmp_path / "other.traj", **kwargs)
    assert "belongs to another start structure or other settings; starting over" in caplog.text
    assert second.energy == reference.energy


def test_checkpoint_of_another_start_structure_is_not_resumed(tmp_path, caplog):
    kwargs = dict(temperature=600, n_steps=40, checkpoint_interval=10, seed=2, progress=False)
    moved = _copper(2)
    moved.rattle(0.05, seed=4)  # same settings, cell and atoms: only the positions differ
    reference = run_nvt(moved, EMT(), path=tmp_path / "ref.traj", **kwargs)
    path = tmp_path / "run.traj"
    with pytest.raises(_Interrupted):
        run_nvt(_copper(2), _InterruptedEMT(25), path=path, **kwargs)
    with caplog.at_level("WARNING", logger="amorphdb.md"):
        resumed = run_nvt(moved, EMT(), path=path, **kwargs)
    assert "belongs to another start structure or other settings; starting over" in caplog.text
    assert resumed.energy == reference.energy and resumed.start_key == reference.start_key


def test_finished_run_of_other_settings_or_start_is_run_again(tmp_path, caplog):
    path = tmp_path / "a.traj"
    first = run_nvt(_copper(2), EMT(), temperature=300, n_steps=20, path=path, progress=False)
    with caplog.at_level("WARNING", logger="amorphdb.md"):
        hotter = run_nvt(_copper(2), EMT(), temperature=600, n_steps=20, path=path, progress=False)
    assert "started from another structure or with other settings; running again" in caplog.text
    assert hotter.temperature == 600 and hotter.start_key != first.start_key
    moved = _copper(2)
    moved.rattle(0.05, seed=4)
    again = run_nvt(moved, EMT(), temperature=600, n_steps=20, path=path, progress=False)
    assert again.start_key not in (first.start_key, hotter.start_key) and again.energy != hotter.energy
    # a result written before results had a key is trusted, as it was
    legacy = replace(again, start_key="")
    write_result(legacy)
    assert run_nvt(moved, EMT(), temperature=300, n_steps=20, path=path, progress=False) == legacy


def test_conserved_energy_drift_is_recorded(tmp_path):
    result = run_nvt(_copper(2), EMT(), temperature=900, n_steps=200, path=tmp_path / "c.traj", seed=5,
                     progress=False)
    # 2 fs with EMT copper: the extended energy drifts by well under 1 meV/atom/ps (its fluctuation is larger)
    assert np.isfinite(result.conserved_drift) and abs(result.conserved_drift) < 1e-3
    assert load_result(result.path).conserved_drift == result.conserved_drift


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
                                    dict(temperature=300, n_steps=10, timestep=float("nan")),
                                    dict(temperature=300, n_steps=10, distance_check_interval=0),
                                    dict(temperature=300, n_steps=10, temperature_window=0)])
def test_absurd_md_inputs(tmp_path, kwargs):
    with pytest.raises(InputError):
        run_nvt(_copper(2), EMT(), path=tmp_path / "bad.traj", progress=False, **kwargs)


def test_a_run_another_process_holds_is_refused(tmp_path):
    import fcntl

    path = tmp_path / "busy.traj"
    with open(path.with_suffix(".lock"), "a") as held:  # as a second process running this run holds it
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(RunBusyError, match=rf"melt: another process is running this MD run "
                                               rf"\({tmp_path.name}/busy.traj\)"):
            run_nvt(_copper(2), EMT(), temperature=300, n_steps=20, path=path, stage="melt", progress=False)
        assert not path.exists()  # nothing written
    result = run_nvt(_copper(2), EMT(), temperature=300, n_steps=20, path=path, stage="melt", progress=False)
    assert result.n_steps == 20 and not path.with_suffix(".lock").exists()  # released with its process
    with pytest.raises(InputError, match="temperature must be positive"):  # bad input leaves no lock behind
        run_nvt(_copper(2), EMT(), temperature=-1, n_steps=20, path=tmp_path / "bad.traj", progress=False)
    assert not (tmp_path / "bad.lock").exists()


def test_a_checkpoint_of_the_previous_layout_is_resumed(tmp_path, caplog):
    # version 2 (before start keys) held the run's parameters: a run killed under it goes on, not over
    kwargs = dict(temperature=900, n_steps=100, frame_interval=5, checkpoint_interval=20, seed=3, progress=False)
    reference = run_nvt(_copper(2), EMT(), path=tmp_path / "ref.traj", **kwargs)
    path = tmp_path / "old.traj"
    with pytest.raises(_Interrupted):
        run_nvt(_copper(2), _InterruptedEMT(58), path=path, **kwargs)
    ckpt = path.with_suffix(".ckpt.npz")
    with np.load(ckpt) as data:
        arrays = {k: data[k] for k in data.files if k != "start_key"}
    arrays["version"] = np.array(2)
    arrays["params"] = np.array([900, 100, 2.0, 5, 3, 200.0], dtype=float)  # T, steps, dt, frames, seed, tdamp
    with open(ckpt, "wb") as fh:
        np.savez(fh, **arrays)
    with caplog.at_level("INFO", logger="amorphdb.md"):
        resumed = run_nvt(_copper(2), EMT(), path=path, **kwargs)
    assert "md: resuming at step 40 of 100" in caplog.text
    _assert_same_run(reference, resumed, 21)
