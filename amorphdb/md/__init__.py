"""Molecular dynamics: one NVT run with a Nosé–Hoover chain, resumable after a kill.

- :mod:`.state`: :class:`MDState`, positions, momenta, forces and thermostat chain of one system;
- :mod:`.integrator`: :func:`nvt_init` / :func:`nvt_step` (and its two halves around the force call),
  :func:`conserved_energy`;
- :mod:`.files`: the run's files: :class:`MDResult` and its JSON, the checkpoint of the state,
  :func:`atomic_write`, :func:`sha256_file`, :func:`run_files`, :func:`load_result`;
- :mod:`.runner`: :func:`run_nvt`, trajectory, checkpoints, blow-up checks and progress, and the stop hook
  (:class:`RunSnapshot`, :class:`StopDecision`);
- :mod:`.statistics`: :func:`mean_error`, the standard error of a correlated mean.

Other packages import from the submodules; the names are re-exported here for interactive use.
"""

from .files import MDResult, atomic_write, load_result, run_files, sha256_file
from .integrator import conserved_energy, nvt_advance, nvt_finish, nvt_init, nvt_step
from .runner import RunSnapshot, StopDecision, run_nvt
from .state import MDState
from .statistics import mean_error

__all__ = ["MDResult", "MDState", "RunSnapshot", "StopDecision", "atomic_write", "conserved_energy", "load_result",
           "mean_error", "nvt_advance", "nvt_finish", "nvt_init", "nvt_step", "run_files", "run_nvt", "sha256_file"]
