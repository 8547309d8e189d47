"""The files of one MD run and how they are written so that a kill never corrupts them.

A run whose trajectory is ``X.traj`` has: ``X.traj`` (ASE trajectory, one frame per ``frame_interval``
steps), ``X.ckpt.npz`` (the checkpoint: the :class:`~amorphdb.md.state.MDState` plus the runner's
bookkeeping; removed at the end) and ``X.result.json`` (the :class:`MDResult`, written last: a run with it,
checksum matching, is finished), and ``X.lock`` while a process runs it (:func:`amorphdb.md.runner.run_nvt`
holds an exclusive ``flock`` on it, so that two processes never write one run). Every file is written to a
temporary name and renamed into place.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np

from ..errors import InputError
from .state import MDState

#: per-frame calculator results stored in the trajectory
TRAJ_PROPERTIES = ["energy", "forces", "stress"]
#: checkpoint layout; a checkpoint of another version is not resumed
CHECKPOINT_VERSION = 3
#: older layouts still resumed: 2 has the run's parameters instead of its start key (checked the old way)
READABLE_CHECKPOINTS = (2, 3)


@dataclass
class MDResult:
    """Summary of one finished NVT run (the ``X.result.json``); means are over the second half of the run
    (the first is discarded).

    Energies in eV/atom, pressures in kbar (``pressure_virial`` leaves out the kinetic term,
    ``pressure_total`` includes it: 2 E_kin / 3V), volume Å³, density g/cm³, temperatures K (2 E_kin over
    k_B per degree of freedom, 3N − 3 of them), timestep fs.
    ``conserved_drift``: slope of the Nosé–Hoover conserved energy over the whole run, eV/atom/ps (NaN in
    results written before it was recorded).
    ``*_err``: standard errors of those means (:func:`amorphdb.md.statistics.mean_error`; the energies' from
    the fluctuations about a straight line through each half, so that a drift shows as one; None in older
    results). ``energy_*err_floor``: a floor of the error of each energy mean, for when that error is unknown
    (infinite: a half shorter than ~20 correlation times; :func:`amorphdb.md.statistics.error_floor`; None in
    older results).
    A run with a stop rule (:class:`amorphdb.md.runner.StopDecision`) may end before ``max_steps``:
    ``n_steps`` is the number run; ``converged`` says whether the rule's target was reached (None: no rule),
    ``stop_message`` what was reached. ``start_key``: :func:`amorphdb.md.runner.start_key` of the run's start
    (settings and structure; "" in results written before it was recorded). ``wall_s``: wall time (s) of the
    steps run, summed over the calls that resumed it; steps lost to a kill and redone count once (NaN in
    results written before it was recorded, and when it was resumed from such a checkpoint).
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
    conserved_drift: float = math.nan
    energy_err: float | None = None
    energy_first_half_err: float | None = None
    pressure_virial_err: float | None = None
    pressure_total_err: float | None = None
    energy_err_floor: float | None = None
    energy_first_half_err_floor: float | None = None
    max_steps: int | None = None
    converged: bool | None = None
    stop_message: str = ""
    start_key: str = ""
    wall_s: float = math.nan

    def pressure(self, convention: str = "virial") -> float:
        """Mean pressure (kbar) in the given convention: ``virial`` (the paper's) or ``total``."""
        if convention == "virial":
            return self.pressure_virial
        if convention == "total":
            return self.pressure_total
        raise InputError(f"unknown pressure convention {convention!r} (use 'virial' or 'total')")

    def pressure_err(self, convention: str = "virial") -> float | None:
        """Standard error (kbar) of :meth:`pressure` in the given convention (None in older results)."""
        self.pressure(convention)  # an unknown convention is an InputError
        return self.pressure_virial_err if convention == "virial" else self.pressure_total_err

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


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Make ``path`` by ``write(tmp)`` then a rename: a kill never leaves half a file at ``path``."""
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def write_result(result: MDResult) -> None:
    """Write ``result`` next to its trajectory (``X.result.json``)."""
    _, _, result_file = run_files(result.path)
    atomic_write(result_file, lambda p: p.write_text(json.dumps(asdict(result), indent=1)))


def load_result(path: str | Path) -> MDResult | None:
    """The :class:`MDResult` of a finished run at ``path``, or ``None`` when it is not finished (or altered).
    Its ``path`` is where the trajectory is now (a work directory may have been moved since the run)."""
    traj, _, result_file = run_files(path)
    if not (result_file.exists() and traj.exists()):
        return None
    result = MDResult(**json.loads(result_file.read_text()))
    return replace(result, path=str(traj)) if result.sha256 == sha256_file(traj) else None


def save_checkpoint(path: Path, state: MDState, **bookkeeping: np.ndarray | int) -> None:
    """Save ``state`` and the runner's ``bookkeeping`` arrays to ``path`` (npz, bit-exact)."""
    arrays = state.to_arrays()
    if clash := set(arrays) & set(bookkeeping):
        raise ValueError(f"bookkeeping names {sorted(clash)} clash with state fields")

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, version=CHECKPOINT_VERSION, **arrays, **bookkeeping)

    atomic_write(path, write)


def load_checkpoint(path: Path) -> tuple[MDState, dict[str, np.ndarray]] | None:
    """(state, bookkeeping arrays) saved by :func:`save_checkpoint` (or a version of
    :data:`READABLE_CHECKPOINTS`); ``None`` when ``path`` is absent or holds another checkpoint version (e.g. one
    written before the state existed)."""
    if not path.exists():
        return None
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    if int(arrays.pop("version", -1)) not in READABLE_CHECKPOINTS:
        return None
    try:
        state = MDState.from_arrays(arrays)
    except KeyError:
        return None
    state_fields = {f.name for f in fields(MDState)}
    return state, {k: v for k, v in arrays.items() if k not in state_fields}


def truncate_trajectory(path: Path, n_frames: int) -> bool:
    """Keep the first ``n_frames`` frames of the trajectory ``path`` (atomically); ``False`` when it has fewer
    (or is unreadable, e.g. cut mid-write by a kill) and is left as it is."""
    from ase.io.trajectory import Trajectory

    try:
        with Trajectory(str(path)) as traj:
            frames = [f for _, f in zip(range(n_frames), traj)]
    except Exception:  # a trajectory cut mid-write by a kill
        return False
    if len(frames) < n_frames:
        return False

    def write(tmp: Path) -> None:
        with Trajectory(str(tmp), "w", properties=TRAJ_PROPERTIES) as out:
            for frame in frames:
                out.write(frame)

    atomic_write(path, write)
    return True
