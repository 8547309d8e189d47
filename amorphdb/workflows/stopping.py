"""The production stop rule of ``--target-d-error``: a production run ends once the relative error of D of one
species is below the target (between ``min_production_steps`` and ``production_steps``).

It lives here because it joins the MD runner's stop hook (:mod:`amorphdb.md.runner`) to the diffusion analysis
(:mod:`amorphdb.analysis.diffusion`), and only workflows may import both. At each checkpoint boundary the rule
reads the frames written since its last call and computes D exactly as the analysis of the finished run will
(:func:`~amorphdb.analysis.diffusion.diffusion_from_trajectory` on the same frames), so the stored D of a run
that stopped has σ(D)/D below the target. A run whose species is not diffusive yet (its D is an upper bound)
does not stop. The decision depends only on the frames, which a resumed run rewrites bit for bit: a run killed
and resumed stops at the same step.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from ase import Atoms
from ase.io.trajectory import Trajectory
from pymatgen.core import Composition

from ..analysis.diffusion import MIN_FRAMES, diffusion_from_trajectory
from ..errors import InputError
from ..md.runner import RunSnapshot, StopDecision, StopRule
from ..protocol.settings import ProtocolSettings


def d_error_rule(species: str, target: float, min_steps: int, t_start: float | None = None) -> StopRule:
    """Stop once σ(D)/D of ``species`` is below ``target`` and the species is diffusive, not before
    ``min_steps`` steps. ``t_start``: start of the MSD fit window (ps; None: 10 % of the run), as the run's
    analysis uses it. Keeps the frames it has read (positions and cell only) between calls."""
    frames: list[Atoms] = []

    def rule(run: RunSnapshot) -> StopDecision:
        with Trajectory(str(run.path)) as traj:
            for i in range(len(frames), run.n_frames):
                atoms = traj[i]
                frames.append(Atoms(atoms.numbers, atoms.positions, cell=atoms.cell, pbc=atoms.pbc))
        if len(frames) < MIN_FRAMES:
            return StopDecision(False, False, f"{len(frames)} frames, D needs {MIN_FRAMES}")
        dt_ps = run.timestep * run.frame_interval / 1000.0
        length = (run.n_frames - 1) * dt_ps
        if t_start is not None and length < 2.5 * t_start:  # the window would be too short to fit
            return StopDecision(False, False, f"{length:g} ps run, D needs {2.5 * t_start:g} ps from a "
                                              f"{t_start:g} ps fit start")
        try:
            d = diffusion_from_trajectory(frames[: run.n_frames], dt_ps=dt_ps, species=[species],
                                          t_start=t_start)[species]
        except InputError as exc:  # the fit window holds too few frames yet
            return StopDecision(False, False, f"{length:g} ps run, D cannot be fitted yet: {exc}")
        relative = d.D_err / d.D if d.D > 0 and math.isfinite(d.D_err) else math.inf
        ok = d.diffusive and relative < target
        text = (f"D({species}) = {d.D:.3g} ± {d.D_err:.2g} cm2/s, relative error {relative:.3f} "
                f"{'<' if relative < target else '>='} {target:g}")
        return StopDecision(ok and run.step >= min_steps, ok,
                            text if d.diffusive else f"{text}, not diffusive ({d.reason})")

    return rule


def production_stop(settings: ProtocolSettings, composition: Composition) -> Callable[[], StopRule] | None:
    """What makes each production run's :func:`d_error_rule` (None without ``target_d_error``). The species is
    ``target_d_species``, else Li when the composition has it, else its first element; one it lacks is an
    :class:`InputError`."""
    if settings.target_d_error is None:
        return None
    elements = [el.symbol for el in composition.elements]
    species = settings.target_d_species or ("Li" if "Li" in elements else elements[0])
    if species not in elements:
        raise InputError(f"target D species {species} is not in {composition.reduced_formula} "
                         f"(it has {', '.join(elements)})")
    return lambda: d_error_rule(species, settings.target_d_error, settings.min_production_steps,
                                settings.fit_start_ps)
