"""One NVT molecular-dynamics run: Nosé–Hoover chain, trajectory, checkpoint/resume, blow-up detection.

:func:`run_nvt` drives :func:`~amorphdb.md.integrator.nvt_step` with the forces of an ASE calculator so that
it can (1) write every ``frame_interval``-th frame to an ASE ``.traj`` file with unwrapped positions, energy,
forces and stress; (2) save a checkpoint (the :class:`~amorphdb.md.state.MDState` and the per-step
observables) every ``checkpoint_interval`` steps, so that a killed run resumes where it stopped and ends
bit for bit as an uninterrupted run would; (3) stop with :class:`MDError` naming the stage when the run
blows up (non-finite energy or forces, a mean temperature far above the target, two atoms closer than a
physical bound). Every step also records the Nosé–Hoover conserved energy; its drift goes into the result.
The files of a run are described in :mod:`amorphdb.md.files`.

A run may also stop when its answer is known: a :data:`StopRule` is called at every checkpoint boundary with
a :class:`RunSnapshot` (the per-step observables and the frames written so far) and returns a
:class:`StopDecision`. Its decision is taken before that checkpoint is saved and depends on the data up to
that step only, which a resumed run reproduces bit for bit: a killed run stops at the same step with the
same decision. It is called once more at the last step, so that a run that reaches its maximum length is
stored as converged or not, with what it reached.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms, units
from ase.calculators.calculator import Calculator
from ase.io.trajectory import Trajectory
from ase.neighborlist import neighbor_list
from tqdm.auto import tqdm

from ..errors import InputError, MDError, RunBusyError
from ..units import AMU_PER_A3_IN_G_PER_CM3
from .files import (TRAJ_PROPERTIES, MDResult, load_checkpoint, load_result, run_files, save_checkpoint,
                    sha256_file, truncate_trajectory, write_result)
from .integrator import EnergyForces, atoms_energy_forces, conserved_energy, nvt_init, nvt_step
from .state import MDState
from .statistics import error_floor, mean_error

log = logging.getLogger(__name__)

#: eV/Å³ → kbar
EV_A3_TO_KBAR = 10.0 / units.GPa
#: columns of the per-step observables array (eV/atom, K, kbar, kbar, eV)
OBSERVABLES = ("energy", "temperature", "pressure_virial", "pressure_total", "conserved_energy")
#: what a calculator raises on a broken configuration (e.g. NaN positions)
_CALCULATOR_FAILURES = (ValueError, RuntimeError, FloatingPointError, IndexError)


@dataclass(frozen=True)
class RunSnapshot:
    """A run at a checkpoint boundary, as a :data:`StopRule` sees it: ``step`` of at most ``n_steps`` steps of
    ``timestep`` fs done; ``observables`` (read-only, ``step`` + 1 rows, columns :data:`OBSERVABLES`: energy
    eV/atom, temperature K, virial and total pressure kbar, conserved energy eV); ``n_frames`` frames, one every
    ``frame_interval`` steps, written (and flushed) to the trajectory ``path``."""

    step: int
    n_steps: int
    timestep: float
    frame_interval: int
    n_frames: int
    path: Path
    observables: np.ndarray

    def second_half(self, name: str) -> np.ndarray:
        """The series ``name`` over the second half of the steps so far: what the run's means are taken over."""
        return self.observables[self.step // 2 + 1:, OBSERVABLES.index(name)]


@dataclass(frozen=True)
class StopDecision:
    """A stop rule's verdict: ``stop`` now; ``converged``: its target is reached; ``message``: what was reached
    (one line, e.g. ``SE(P) = 0.41 kbar < 0.50 kbar``)."""

    stop: bool
    converged: bool
    message: str


#: called at checkpoint boundaries and at the last step; must depend only on the snapshot's data
StopRule = Callable[[RunSnapshot], StopDecision]


def _one_process_per_run(func: Callable[..., MDResult]) -> Callable[..., MDResult]:
    """Run ``func`` (:func:`run_nvt`) holding an exclusive lock on ``X.lock`` next to its trajectory ``X.traj``:
    a second process on the same run (a campaign rerun while the first one's worker still runs it, ``amorphdb
    run`` beside a campaign) gets a :class:`RunBusyError` at once instead of writing the same files. The lock
    goes with the process (``flock``: also on ``kill -9``); the file is removed when the call ends."""

    @functools.wraps(func)
    def locked(atoms: Atoms, calculator: Calculator, **kwargs: Any) -> MDResult:
        if "path" not in kwargs:
            return func(atoms, calculator, **kwargs)  # its own TypeError
        traj_path = Path(kwargs["path"])
        traj_path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = traj_path.with_suffix(".lock")
        with open(lock_path, "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                # the holder before us removes its file when it ends: a lock on a removed file is no lock
                if not lock_path.exists() or lock_path.stat().st_ino != os.fstat(lock.fileno()).st_ino:
                    raise BlockingIOError
            except BlockingIOError:
                raise RunBusyError(f"{kwargs.get('stage', 'md')}: another process is running this MD run "
                                   f"({traj_path.parent.name}/{traj_path.name}); wait for it to end or stop "
                                   "it") from None
            try:
                return func(atoms, calculator, **kwargs)
            finally:
                lock_path.unlink(missing_ok=True)  # still held: no other process can be running the run now

    return locked


@_one_process_per_run
def run_nvt(
    atoms: Atoms,
    calculator: Calculator,
    *,
    temperature: float,
    n_steps: int,
    path: str | Path,
    timestep: float = 2.0,
    frame_interval: int = 1,
    checkpoint_interval: int = 500,
    tdamp: float | None = None,
    seed: int = 0,
    stage: str = "md",
    max_temperature_factor: float = 3.0,
    start_temperature: float | None = None,
    temperature_window: int = 100,
    min_distance: float = 0.5,
    distance_check_interval: int = 10,
    progress: bool = True,
    stop: StopRule | None = None,
) -> MDResult:
    """NVT run of ``n_steps`` steps of ``timestep`` fs at ``temperature`` K from ``atoms`` (not modified).

    Velocities are drawn from Maxwell–Boltzmann at ``temperature`` (``seed``) with the centre-of-mass drift
    removed; the Nosé–Hoover chain has damping time ``tdamp`` fs (default 100 × timestep). Frames every
    ``frame_interval`` steps go to ``path`` (ASE trajectory, unwrapped positions; ``n_steps`` must be a multiple
    of ``frame_interval``, so that the last step is the last frame at the same spacing); a checkpoint every
    ``checkpoint_interval`` steps (rounded up to a multiple of ``frame_interval``) lets a killed run resume.
    A finished run (``X.result.json`` present, checksum matching) is returned without running again.

    Raises :class:`MDError` naming ``stage`` when energy or forces are not finite, when the mean temperature
    over ``temperature_window`` steps exceeds ``max_temperature_factor`` × the target (or × the
    ``start_temperature`` the structure comes from, when higher: a quench heats up at first), or when two
    atoms come closer than ``min_distance`` Å (checked at the start and every ``distance_check_interval``
    steps; 0 turns the check off).

    ``stop``: a :data:`StopRule` asked at every checkpoint boundary whether the run can end there (``n_steps``
    is then its maximum); a run that reaches ``n_steps`` without it is logged as a warning naming what was
    reached. The result's ``n_steps`` is the number of steps run, ``converged`` and ``stop_message`` the last
    decision.
    """
    if not temperature > 0 or not math.isfinite(temperature):
        raise InputError(f"temperature must be positive, got {temperature} K")
    if n_steps < 2 or not 0 < timestep < math.inf or frame_interval < 1:
        raise InputError(f"need at least 2 steps, a positive timestep and frame interval "
                         f"(got {n_steps}, {timestep} fs, {frame_interval})")
    if n_steps % frame_interval:
        raise InputError(f"n_steps ({n_steps}) must be a multiple of frame_interval ({frame_interval}): the last "
                         "steps would not be written to the trajectory, whose last frame is the run's end structure")
    if distance_check_interval < 1 or temperature_window < 1:
        raise InputError(f"distance_check_interval and temperature_window must be at least 1 step (got "
                         f"{distance_check_interval}, {temperature_window}); min_distance=0 turns the distance "
                         "check off")
    traj_path, ckpt_path, _ = run_files(path)
    traj_path.parent.mkdir(parents=True, exist_ok=True)
    tdamp = tdamp or 100 * timestep
    params = np.array([temperature, n_steps, timestep, frame_interval, seed, tdamp], dtype=float)
    key = start_key(atoms, params)
    done = load_result(traj_path)
    if done is not None and done.start_key in (key, ""):  # "": written before results had a key
        log.debug("%s: finished run found at %s", stage, traj_path)
        return done
    if done is not None:
        log.warning("%s: the finished run at %s started from another structure or with other settings; "
                    "running again", stage, traj_path)
    t_bound = max_temperature_factor * max(temperature, start_temperature or 0.0)
    checkpoint_interval = max(frame_interval, -(-checkpoint_interval // frame_interval) * frame_interval)

    atoms = atoms.copy()
    atoms.calc = calculator
    # the calculator starts fresh here and after each checkpoint (where a resumed run starts), so that a run
    # does not depend on what it computed before (EMT's neighbour list, for one, depends on its history)
    calculator.reset()
    energy_forces = _finite_positions_only(atoms_energy_forces(atoms))
    volume = atoms.get_volume()
    resumed = _resume(ckpt_path, atoms, key, params, traj_path, stage)
    if resumed is None:
        traj_path.unlink(missing_ok=True)
    traj = Trajectory(str(traj_path), "a", properties=TRAJ_PROPERTIES)
    started, wall_before = time.perf_counter(), 0.0  # wall time of the steps kept at the checkpoint resumed from
    try:
        if resumed is None:
            _check_distances(atoms, min_distance, stage, 0)
            try:
                state = nvt_init(atoms, temperature, timestep, tdamp, seed=seed, energy_forces=energy_forces)
            except _CALCULATOR_FAILURES as exc:
                raise MDError(f"{stage}: MD blew up at step 0: the calculator failed ({exc})") from exc
            obs = np.full((n_steps + 1, len(OBSERVABLES)), np.nan)
            obs[0] = _observables(atoms, state, volume, stage)
            _write_frame(traj, atoms, state)
            n_frames = 1
        else:
            state, n_frames, obs, wall_before = resumed
            log.info("%s: resuming at step %d of %d", stage, state.step, n_steps)
        decision: StopDecision | None = None
        with tqdm(total=n_steps, initial=state.step, desc=stage, unit="step",
                  disable=not progress, leave=False, mininterval=1.0) as bar:
            for step in range(state.step + 1, n_steps + 1):
                try:
                    state = nvt_step(state, energy_forces)
                except _NonFinitePositions:
                    raise MDError(f"{stage}: MD blew up at step {step}: non-finite velocities or positions") from None
                except _CALCULATOR_FAILURES as exc:
                    raise MDError(f"{stage}: MD blew up at step {step}: the calculator failed ({exc})") from exc
                obs[step] = _observables(atoms, state, volume, stage)
                if step >= temperature_window:
                    mean_t = float(obs[step - temperature_window + 1: step + 1, 1].mean())
                    if not mean_t <= t_bound:  # NaN counts as a blow-up
                        raise MDError(f"{stage}: MD blew up at step {step}: mean temperature {mean_t:.0f} K over "
                                      f"{temperature_window} steps is above {t_bound:g} K")
                if step % distance_check_interval == 0:
                    _check_distances(atoms, min_distance, stage, step)
                if step % frame_interval == 0:
                    _write_frame(traj, atoms, state)
                    n_frames += 1
                bar.update(1)
                if step % checkpoint_interval == 0 and step < n_steps:
                    # the rule decides before the checkpoint is saved: a resume from an earlier one decides again
                    decision = _ask(stop, step, n_steps, timestep, frame_interval, n_frames, traj_path, obs)
                    if decision is not None and decision.stop:
                        break
                    save_checkpoint(ckpt_path, state, n_frames=n_frames, obs=obs, start_key=np.array(key),
                                    wall_s=np.array(wall_before + time.perf_counter() - started))
                    calculator.reset()
    finally:
        traj.close()

    steps = state.step
    if stop is not None:
        if decision is None or not decision.stop:  # asked once more at the last step
            decision = _ask(stop, steps, n_steps, timestep, frame_interval, n_frames, traj_path, obs)
        (log.info if decision.converged else log.warning)(
            "%s: %s after %d of at most %d steps: %s", stage, "converged" if decision.converged else "NOT converged",
            steps, n_steps, decision.message)
    obs = obs[: steps + 1]
    time_ps = np.arange(steps + 1) * timestep / 1000.0
    result = MDResult(
        stage=stage, temperature=float(temperature), n_atoms=state.n_atoms, n_steps=int(steps),
        timestep=float(timestep), volume=float(volume),
        density=float(state.masses.sum() / volume * AMU_PER_A3_IN_G_PER_CM3), **half_means(obs),
        n_frames=int(n_frames), path=str(traj_path), sha256=sha256_file(traj_path),
        conserved_drift=float(np.polyfit(time_ps, obs[:, 4], 1)[0]) / state.n_atoms,
        max_steps=int(n_steps), converged=None if decision is None else decision.converged,
        stop_message="" if decision is None else decision.message, start_key=key,
        wall_s=wall_before + time.perf_counter() - started,
    )
    write_result(result)
    ckpt_path.unlink(missing_ok=True)
    log.debug("%s: done, E=%.4f eV/atom, P=%.1f kbar, conserved-energy drift %.2e eV/atom/ps",
              stage, result.energy, result.pressure_virial, result.conserved_drift)
    return result


def half_means(obs: np.ndarray) -> dict[str, float]:
    """The means of a run's per-step observables (rows: steps 0…n, columns :data:`OBSERVABLES`) as
    :class:`MDResult` holds them, with their standard errors: energy over steps 1…n/2 and n/2+1…n (errors
    and their floors from the fluctuations about a line through each half), pressures and temperature over the
    second half."""
    n = len(obs) - 1
    first, second = obs[1: n // 2 + 1], obs[n // 2 + 1:]
    return dict(energy=float(second[:, 0].mean()), energy_first_half=float(first[:, 0].mean()),
                pressure_virial=float(second[:, 2].mean()), pressure_total=float(second[:, 3].mean()),
                temperature_mean=float(second[:, 1].mean()),
                energy_err=mean_error(second[:, 0], detrend=True),
                energy_first_half_err=mean_error(first[:, 0], detrend=True),
                energy_err_floor=error_floor(second[:, 0], detrend=True),
                energy_first_half_err_floor=error_floor(first[:, 0], detrend=True),
                pressure_virial_err=mean_error(second[:, 2]), pressure_total_err=mean_error(second[:, 3]))


def _ask(stop: StopRule | None, step: int, n_steps: int, timestep: float, frame_interval: int, n_frames: int,
         traj_path: Path, obs: np.ndarray) -> StopDecision | None:
    """The stop rule's decision on the run at ``step`` (None without a rule)."""
    if stop is None:
        return None
    seen = obs[: step + 1].view()
    seen.flags.writeable = False
    return stop(RunSnapshot(step, n_steps, timestep, frame_interval, n_frames, traj_path, seen))


class _NonFinitePositions(Exception):
    """The integrator moved atoms to non-finite positions (raised before the calculator sees them)."""


def _finite_positions_only(energy_forces: EnergyForces) -> EnergyForces:
    """``energy_forces`` that raises :class:`_NonFinitePositions` instead of calling the calculator on
    non-finite positions (calculators fail on them in their own ways, or not at all)."""

    def checked(positions: np.ndarray) -> tuple[float, np.ndarray]:
        if not np.isfinite(positions).all():
            raise _NonFinitePositions
        return energy_forces(positions)

    return checked


def _observables(atoms: Atoms, state: MDState, volume: float, stage: str) -> tuple[float, ...]:
    """(potential energy eV/atom, temperature K, virial pressure kbar, total pressure kbar, conserved energy eV)
    of ``state``, whose forces the calculator on ``atoms`` has just computed (the stress is read from it)."""
    step = state.step
    if not math.isfinite(state.energy) or not np.isfinite(state.forces).all():
        raise MDError(f"{stage}: MD blew up at step {step}: non-finite energy or forces")
    stress = atoms.get_stress(voigt=True)
    if not np.isfinite(stress).all():
        raise MDError(f"{stage}: MD blew up at step {step}: non-finite stress")
    ekin = state.kinetic_energy()
    if not math.isfinite(ekin) or not np.isfinite(state.positions).all():
        raise MDError(f"{stage}: MD blew up at step {step}: non-finite velocities or positions")
    p_virial = -float(stress[:3].mean())
    p_total = p_virial + 2.0 * ekin / (3.0 * volume)
    n = state.n_atoms
    return (state.energy / n, 2.0 * ekin / (state.n_dof * units.kB), p_virial * EV_A3_TO_KBAR,
            p_total * EV_A3_TO_KBAR, conserved_energy(state))


def _write_frame(traj: Trajectory, atoms: Atoms, state: MDState) -> None:
    """Append ``atoms`` (at the positions of ``state``, with its momenta) to the trajectory, with the time of
    the frame (ps) and the target temperature (K) in its info: what :mod:`amorphdb.analysis.trajectory` reads."""
    atoms.set_momenta(state.momenta, apply_constraint=False)
    atoms.info["time_ps"] = state.step * state.timestep / 1000.0
    atoms.info["temperature_K"] = state.temperature
    traj.write(atoms)


def _check_distances(atoms: Atoms, bound: float, stage: str, step: int) -> None:
    if bound <= 0:  # check switched off
        return
    i, d = neighbor_list("id", atoms, bound)
    if len(i):
        raise MDError(f"{stage}: MD blew up at step {step}: two atoms are {d.min():.2f} Å apart (bound {bound} Å)")


def start_key(atoms: Atoms, params: np.ndarray) -> str:
    """SHA-256 of what a run starts from: the settings ``params``, the atoms' numbers, cell and positions. A
    checkpoint or finished run with another key belongs to another run and is not used."""
    digest = hashlib.sha256()
    for part in (params.astype(float), atoms.numbers.astype(np.int64), np.asarray(atoms.cell[:], dtype=float),
                 atoms.positions.astype(float)):
        digest.update(np.ascontiguousarray(part).tobytes())
    return digest.hexdigest()


def _resume(path: Path, atoms: Atoms, key: str, params: np.ndarray, traj_path: Path,
            stage: str) -> tuple[MDState, int, np.ndarray, float] | None:
    """(state, frames written, observables, wall time in s up to it: NaN for a checkpoint written before it was
    kept) from the checkpoint, with the trajectory cut back to it and ``atoms`` moved to its positions; ``None``
    when there is none or it belongs to another start (:func:`start_key`)."""
    loaded = load_checkpoint(path)
    if loaded is None:
        if path.exists():
            log.warning("%s: checkpoint %s is of another version; starting over", stage, path)
        return None
    state, book = loaded
    if "start_key" in book:
        same = str(book["start_key"]) == key
    else:  # a version-2 checkpoint (before start keys): its parameters, atoms and cell, as that version checked
        same = (book["params"].shape == params.shape and np.allclose(book["params"], params)
                and np.array_equal(state.numbers, atoms.numbers)
                and np.allclose(state.cell, atoms.cell[:], rtol=1e-12, atol=1e-12))
    if not same:
        log.warning("%s: checkpoint %s belongs to another start structure or other settings; starting over",
                    stage, path)
        return None
    n_frames = int(book["n_frames"])
    if not truncate_trajectory(traj_path, n_frames):
        log.warning("%s: trajectory %s is shorter than its checkpoint; starting over", stage, traj_path)
        return None
    atoms.set_positions(state.positions, apply_constraint=False)
    return state, n_frames, book["obs"], float(book["wall_s"]) if "wall_s" in book else math.nan
