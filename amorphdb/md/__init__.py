"""One NVT molecular-dynamics run: Nosé–Hoover chain, trajectory, checkpoint/resume, blow-up detection.

:func:`run_nvt` drives ASE's ``NoseHooverChainNVT`` step by step so that it can (1) write every
``frame_interval``-th frame to an ASE ``.traj`` file with unwrapped positions, energy, forces and stress;
(2) save a checkpoint (positions, momenta, thermostat variables, step count, the per-step observables) every
``checkpoint_interval`` steps, so that a killed run resumes where it stopped and ends as an uninterrupted
run would; (3) stop with :class:`MDError` naming the stage when the run blows up (non-finite energy or
forces, a mean temperature far above the target, two atoms closer than a physical bound).

Files of a run at ``path`` (``X.traj``): ``X.traj`` (frames), ``X.ckpt.npz`` (checkpoint, removed at the end)
and ``X.result.json`` (the :class:`MDResult`, written last: a run with it is finished and is not redone).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from ase import Atoms, units
from ase.calculators.calculator import Calculator
from ase.io.trajectory import Trajectory
from ase.md.nose_hoover_chain import NoseHooverChainNVT
from ase.md.velocitydistribution import Stationary, thermalize_momenta
from ase.neighborlist import neighbor_list
from tqdm.auto import tqdm

from ..errors import InputError, MDError
from ..units import AMU_PER_A3_IN_G_PER_CM3

log = logging.getLogger(__name__)

#: eV/Å³ → kbar
EV_A3_TO_KBAR = 10.0 / units.GPa
#: columns of the per-step observables array
_OBS = ("energy", "temperature", "pressure_virial", "pressure_total")
_TRAJ_PROPERTIES = ["energy", "forces", "stress"]


@dataclass
class MDResult:
    """Summary of one finished NVT run; means are over the second half of the run (the first is discarded).

    Energies in eV/atom, pressures in kbar (``pressure_virial`` leaves out the kinetic term,
    ``pressure_total`` includes it), volume Å³, density g/cm³, temperatures K, timestep fs.
    """

    stage: str
    temperature: float
    n_atoms: int
    n_steps: int
    timestep: float
    volume: float
    density: float
    energy: float
    energy_first_half: float
    pressure_virial: float
    pressure_total: float
    temperature_mean: float
    n_frames: int
    path: str
    sha256: str

    def pressure(self, convention: str = "virial") -> float:
        """Mean pressure (kbar) in the given convention: ``virial`` (the paper's) or ``total``."""
        if convention == "virial":
            return self.pressure_virial
        if convention == "total":
            return self.pressure_total
        raise InputError(f"unknown pressure convention {convention!r} (use 'virial' or 'total')")

    @property
    def energy_drift(self) -> float:
        """|mean energy of the second half − mean of the first half| / |mean|: the convergence measure."""
        return abs(self.energy - self.energy_first_half) / max(abs(self.energy), 1e-12)


def sha256_file(path: str | Path) -> str:
    """SHA-256 hex digest of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def run_files(path: str | Path) -> tuple[Path, Path, Path]:
    """The trajectory, checkpoint and result files of the run whose trajectory is ``path``."""
    traj = Path(path)
    return traj, traj.with_suffix(".ckpt.npz"), traj.with_suffix(".result.json")


def load_result(path: str | Path) -> MDResult | None:
    """The :class:`MDResult` of a finished run at ``path``, or ``None`` when it is not finished (or altered)."""
    traj, _, result_file = run_files(path)
    if not (result_file.exists() and traj.exists()):
        return None
    result = MDResult(**json.loads(result_file.read_text()))
    return result if result.sha256 == sha256_file(traj) else None


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Make ``path`` by ``write(tmp)`` then a rename: a kill never leaves half a file at ``path``."""
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


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
) -> MDResult:
    """NVT run of ``n_steps`` steps of ``timestep`` fs at ``temperature`` K from ``atoms`` (not modified).

    Velocities are drawn from Maxwell–Boltzmann at ``temperature`` (``seed``) with the centre-of-mass drift
    removed; the Nosé–Hoover chain has damping time ``tdamp`` fs (default 100 × timestep). Frames every
    ``frame_interval`` steps go to ``path`` (ASE trajectory, unwrapped positions); a checkpoint every
    ``checkpoint_interval`` steps (rounded up to a multiple of ``frame_interval``) lets a killed run resume.
    A finished run (``X.result.json`` present, checksum matching) is returned without running again.

    Raises :class:`MDError` naming ``stage`` when energy or forces are not finite, when the mean temperature
    over ``temperature_window`` steps exceeds ``max_temperature_factor`` × the target (or × the
    ``start_temperature`` the structure comes from, when higher: a quench heats up at first), or when two
    atoms come closer than ``min_distance`` Å (checked at the start and every ``distance_check_interval``
    steps; 0 turns the check off).
    """
    if not temperature > 0 or not math.isfinite(temperature):
        raise InputError(f"temperature must be positive, got {temperature} K")
    if n_steps < 2 or not 0 < timestep < math.inf or frame_interval < 1:
        raise InputError(f"need at least 2 steps, a positive timestep and frame interval "
                         f"(got {n_steps}, {timestep} fs, {frame_interval})")
    traj_path, ckpt_path, result_path = run_files(path)
    traj_path.parent.mkdir(parents=True, exist_ok=True)
    done = load_result(traj_path)
    if done is not None:
        log.debug("%s: finished run found at %s", stage, traj_path)
        return done
    t_bound = max_temperature_factor * max(temperature, start_temperature or 0.0)
    checkpoint_interval = max(frame_interval, -(-checkpoint_interval // frame_interval) * frame_interval)
    params = np.array([temperature, n_steps, timestep, frame_interval, seed], dtype=float)

    atoms = atoms.copy()
    atoms.calc = calculator
    n_atoms = len(atoms)
    obs = np.full((n_steps + 1, len(_OBS)), np.nan)
    state = _load_checkpoint(ckpt_path, atoms, params, traj_path, stage)
    if state is None:
        start, n_frames = 0, 0
        thermalize_momenta(atoms, temperature, exact_temperature=True, rng=np.random.default_rng(seed))
        Stationary(atoms)
        traj_path.unlink(missing_ok=True)
    else:
        start, n_frames, obs = state["step"], state["n_frames"], state["obs"]
        log.info("%s: resuming at step %d of %d", stage, start, n_steps)

    dyn = NoseHooverChainNVT(atoms, timestep=timestep * units.fs, temperature_K=temperature,
                             tdamp=(tdamp or 100 * timestep) * units.fs)
    if state is not None:
        dyn._thermostat._eta[:] = state["eta"]
        dyn._thermostat._p_eta[:] = state["p_eta"]
    volume = atoms.get_volume()
    traj = Trajectory(str(traj_path), "a", properties=_TRAJ_PROPERTIES)
    try:
        with tqdm(total=n_steps, initial=start, desc=stage, unit="step",
                  disable=not progress, leave=False, mininterval=1.0) as bar:
            if start == 0:
                _check_distances(atoms, min_distance, stage, 0)
                obs[0] = _observables(atoms, volume, stage, 0)
                atoms.info["time_ps"] = 0.0
                traj.write(atoms)
                n_frames = 1
            for step in range(start + 1, n_steps + 1):
                try:
                    dyn.step()
                except (ValueError, RuntimeError, FloatingPointError, IndexError) as exc:
                    # the calculator choking on a broken configuration (e.g. NaN positions)
                    raise MDError(f"{stage}: MD blew up at step {step}: the calculator failed ({exc})") from exc
                obs[step] = _observables(atoms, volume, stage, step)
                if step >= temperature_window:
                    mean_t = float(obs[step - temperature_window + 1: step + 1, 1].mean())
                    if not mean_t <= t_bound:  # NaN counts as a blow-up
                        raise MDError(f"{stage}: MD blew up at step {step}: mean temperature {mean_t:.0f} K over "
                                      f"{temperature_window} steps is above {t_bound:g} K")
                if step % distance_check_interval == 0:
                    _check_distances(atoms, min_distance, stage, step)
                if step % frame_interval == 0:
                    atoms.info["time_ps"] = step * timestep / 1000.0  # read back by amorphdb.diffusion
                    traj.write(atoms)
                    n_frames += 1
                if step % checkpoint_interval == 0 and step < n_steps:
                    _save_checkpoint(ckpt_path, atoms, dyn, step, n_frames, obs, params)
                bar.update(1)
    finally:
        traj.close()

    half = n_steps // 2
    first, second = obs[1: half + 1], obs[half + 1:]
    result = MDResult(
        stage=stage, temperature=float(temperature), n_atoms=n_atoms, n_steps=int(n_steps),
        timestep=float(timestep), volume=float(volume),
        density=float(atoms.get_masses().sum() / volume * AMU_PER_A3_IN_G_PER_CM3),
        energy=float(second[:, 0].mean()), energy_first_half=float(first[:, 0].mean()),
        pressure_virial=float(second[:, 2].mean()), pressure_total=float(second[:, 3].mean()),
        temperature_mean=float(second[:, 1].mean()), n_frames=int(n_frames),
        path=str(traj_path), sha256=sha256_file(traj_path),
    )
    atomic_write(result_path, lambda p: p.write_text(json.dumps(asdict(result), indent=1)))
    ckpt_path.unlink(missing_ok=True)
    log.debug("%s: done, E=%.4f eV/atom, P=%.1f kbar", stage, result.energy, result.pressure_virial)
    return result


def _observables(atoms: Atoms, volume: float, stage: str, step: int) -> tuple[float, float, float, float]:
    """(potential energy eV/atom, temperature K, virial pressure kbar, total pressure kbar) of this step."""
    energy = atoms.get_potential_energy()
    forces = atoms.get_forces()
    if not math.isfinite(energy) or not np.isfinite(forces).all():
        raise MDError(f"{stage}: MD blew up at step {step}: non-finite energy or forces")
    stress = atoms.get_stress(voigt=True)
    if not np.isfinite(stress).all():
        raise MDError(f"{stage}: MD blew up at step {step}: non-finite stress")
    ekin = atoms.get_kinetic_energy()
    if not math.isfinite(ekin) or not np.isfinite(atoms.positions).all():
        raise MDError(f"{stage}: MD blew up at step {step}: non-finite velocities or positions")
    p_virial = -float(stress[:3].mean())
    p_total = p_virial + 2.0 * ekin / (3.0 * volume)
    n = len(atoms)
    return energy / n, 2.0 * ekin / (3.0 * n * units.kB), p_virial * EV_A3_TO_KBAR, p_total * EV_A3_TO_KBAR


def _check_distances(atoms: Atoms, bound: float, stage: str, step: int) -> None:
    if bound <= 0:  # check switched off
        return
    i, d = neighbor_list("id", atoms, bound)
    if len(i):
        raise MDError(f"{stage}: MD blew up at step {step}: two atoms are {d.min():.2f} Å apart (bound {bound} Å)")


def _save_checkpoint(path: Path, atoms: Atoms, dyn: NoseHooverChainNVT, step: int, n_frames: int,
                     obs: np.ndarray, params: np.ndarray) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, positions=atoms.get_positions(), momenta=atoms.get_momenta(), cell=atoms.cell[:],
                     numbers=atoms.numbers, step=step, n_frames=n_frames, obs=obs, params=params,
                     eta=dyn._thermostat._eta, p_eta=dyn._thermostat._p_eta)

    atomic_write(path, write)


def _load_checkpoint(path: Path, atoms: Atoms, params: np.ndarray, traj_path: Path, stage: str) -> dict | None:
    """Restore ``atoms`` from the checkpoint and cut the trajectory back to it; ``None`` when there is none."""
    if not path.exists():
        return None
    with np.load(path) as data:
        state = {k: data[k] for k in data.files}
    if (not np.allclose(state["params"], params) or not np.array_equal(state["numbers"], atoms.numbers)
            or state["obs"].shape[0] != int(params[1]) + 1):
        log.warning("%s: checkpoint %s belongs to other settings; starting over", stage, path)
        return None
    n_frames = int(state["n_frames"])
    try:
        frames = [f for _, f in zip(range(n_frames), Trajectory(str(traj_path)))]
    except Exception:  # a trajectory cut mid-write by a kill: start the run over
        frames = []
    if len(frames) < n_frames:
        log.warning("%s: trajectory %s is shorter than its checkpoint; starting over", stage, traj_path)
        return None
    atomic_write(traj_path, lambda tmp: _write_frames(tmp, frames))
    atoms.set_cell(state["cell"])
    atoms.set_positions(state["positions"])
    atoms.set_momenta(state["momenta"])
    return {"step": int(state["step"]), "n_frames": n_frames, "obs": state["obs"],
            "eta": state["eta"], "p_eta": state["p_eta"]}


def _write_frames(path: Path, frames: list[Atoms]) -> None:
    with Trajectory(str(path), "w", properties=_TRAJ_PROPERTIES) as out:
        for frame in frames:
            out.write(frame)
