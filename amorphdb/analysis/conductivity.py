"""Nernst–Einstein ionic conductivity from tracer diffusivities: of a trajectory's species
(:func:`transport_from_trajectory`: D and σ of a trajectory file in one call), or extrapolated from an Arrhenius
fit; and the ionic charges it needs (``"Li=1"``)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import constants

from ._records import finite_or_none
from ..errors import InputError

if TYPE_CHECKING:
    from .arrhenius import ArrheniusResult
    from .diffusion import DiffusionResult
    from .trajectory import Trajectory


def conductivity(D: float | np.ndarray, temperature: float, n_carriers: float, volume: float,
                 charge: float = 1.0) -> float | np.ndarray:
    """Nernst–Einstein ionic conductivity σ = (n/V) (z e)² D / (kB T) in S/cm.

    ``D`` cm²/s (tracer, so no Haven ratio), ``temperature`` K, ``n_carriers`` mobile ions in ``volume`` Å³,
    ``charge`` z in units of e. Linear in D: pass D_err to get the error of σ.
    """
    if temperature <= 0 or volume <= 0 or n_carriers <= 0:
        raise InputError("conductivity needs positive temperature, volume and number of carriers")
    density = n_carriers / (volume * 1e-24)  # carriers per cm³
    sigma = density * (charge * constants.e) ** 2 * np.asarray(D, dtype=float) / (constants.k * temperature)
    return float(sigma) if sigma.ndim == 0 else sigma


def conductivities(results: Mapping[str, DiffusionResult], charges: Mapping[str, float], temperature: float,
                   volume: float) -> dict[str, tuple[float, float]]:
    """Nernst–Einstein σ ± error (S/cm) of each species in ``charges`` (species → z in units of e) from its
    tracer D in ``results``, at ``temperature`` (K) in a cell of ``volume`` (Å³); key ``"total"`` is the sum
    over the diffusive ones (errors added in quadrature; no cross-correlations, Haven ratio 1; NaN when none
    diffuses). A non-diffusive species' σ is an upper bound, often pure noise, so it stays out of the total
    (:func:`excluded_from_total` lists them)."""
    missing = [s for s in charges if s not in results]
    if missing:
        raise InputError(f"no diffusivity for {', '.join(missing)} (have {', '.join(results)})")
    out = {}
    for s, z in charges.items():
        r = results[s]
        out[s] = (conductivity(r.D, temperature, r.n_atoms, volume, z),
                  conductivity(r.D_err, temperature, r.n_atoms, volume, z))
    excluded = excluded_from_total(results, charges)
    summed = [v for s, v in out.items() if s not in excluded]
    out["total"] = ((sum(v[0] for v in summed), float(np.sqrt(sum(v[1] ** 2 for v in summed)))) if summed
                    else (math.nan, math.nan))
    return out


def excluded_from_total(results: Mapping[str, DiffusionResult], species: Iterable[str]) -> list[str]:
    """The ``species`` left out of the total conductivity: those whose D in ``results`` is not diffusive."""
    return [s for s in species if not results[s].diffusive]


@dataclass(frozen=True)
class Transport:
    """Tracer diffusion and Nernst–Einstein conductivity of a trajectory (:func:`transport_from_trajectory`).

    ``diffusion``: species → :class:`~amorphdb.analysis.diffusion.DiffusionResult` (D in cm²/s);
    ``conductivity``: each charged species and ``"total"`` (over the diffusive ones) → (σ, σ error) in S/cm
    (empty without charges); ``temperature`` (K; None when neither given nor stored) and ``volume`` (mean cell
    volume, Å³) used for σ; :attr:`excluded` the charged species left out of the total.
    """

    diffusion: dict[str, DiffusionResult]
    conductivity: dict[str, tuple[float, float]]
    temperature: float | None
    volume: float

    @property
    def excluded(self) -> list[str]:
        """The charged species left out of the total conductivity (not diffusive)."""
        return excluded_from_total(self.diffusion, [s for s in self.conductivity if s != "total"])

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Species → its D record (``DiffusionResult.to_dict()``) plus ``sigma_S_cm`` and ``sigma_err_S_cm`` when
        charged; with charges also ``"total"``: the summed σ and its error (None when no charged species
        diffuses), ``temperature`` (K), ``volume`` (Å³) and ``excluded``, the species left out of the sum."""
        out = {s: r.to_dict() for s, r in self.diffusion.items()}
        for s, (value, err) in self.conductivity.items():
            out.setdefault(s, {}).update(finite_or_none({"sigma_S_cm": value, "sigma_err_S_cm": err}))
        if self.conductivity:
            out["total"].update(temperature=self.temperature, volume=self.volume, excluded=self.excluded)
        return out


def transport_from_trajectory(trajectory: str | Path | Iterable | Trajectory, *,
                              species: Sequence[str] | None = None, charges: Mapping[str, float] | None = None,
                              temperature: float | None = None, dt_ps: float | None = None,
                              t_start: float | None = None, t_end: float | None = None,
                              format: str | None = None) -> Transport:
    """D ± error (cm²/s) per species of a trajectory and, for the species in ``charges`` (species → z in units
    of e, e.g. :func:`parse_charges` of ``["Li=1"]``), their Nernst–Einstein σ (S/cm) and the total over the
    diffusive ones (:func:`conductivities`).

    ``trajectory``: a file ASE reads (``format`` names its ASE format when the name does not tell) or frames.
    ``species`` limits the diffusion to those (the charged ones are always added); ``temperature`` (K) defaults
    to the target temperature the frames store, and σ needs one. ``dt_ps``, ``t_start``, ``t_end`` (ps): see
    :func:`~amorphdb.analysis.diffusion.diffusion_from_trajectory`.
    """
    from .diffusion import diffusion_from_trajectory
    from .trajectory import read_trajectory

    charges = dict(charges or {})
    traj = read_trajectory(trajectory, format=format)
    temperature = temperature if temperature is not None else traj.temperature
    if charges and temperature is None:
        raise InputError("the conductivity needs the temperature of the run: give temperature (--temperature K)")
    if species is not None:
        species = list(dict.fromkeys([*species, *charges]))
    results = diffusion_from_trajectory(traj, dt_ps=dt_ps, species=species, t_start=t_start, t_end=t_end)
    sigma = conductivities(results, charges, temperature, traj.volume) if charges else {}
    return Transport(results, sigma, temperature, traj.volume)


@dataclass(frozen=True)
class ConductivityEstimate:
    """σ (S/cm) at ``temperature`` (K) from an Arrhenius fit: the value, its first-order error and the 1σ range
    (``low``, ``high``) of D mapped through Nernst–Einstein; ``density`` (g/cm³) the one used."""

    sigma: float
    sigma_err: float
    low: float
    high: float
    temperature: float
    density: float


def extrapolated_conductivity(fit: ArrheniusResult, formula: str, density: float, charge: float,
                              temperature: float = 300.0) -> ConductivityEstimate:
    """Nernst–Einstein σ of ``fit.species`` at ``temperature`` (K, default 300) from the Arrhenius D(T).

    ``formula`` gives the carriers per formula unit, ``density`` (g/cm³) the volume, ``charge`` z (e).
    """
    from ..composition import parse_formula
    from ..structure import volume_for_density

    comp = parse_formula(formula)
    if comp[fit.species] <= 0:
        raise InputError(f"{formula} has no {fit.species}: no conductivity")
    volume = volume_for_density(comp, density)  # Å³ per formula unit as written
    D, D_err = fit.predict(temperature)
    low, high = fit.interval(temperature)
    sigma = [float(conductivity(v, temperature, comp[fit.species], volume, charge)) for v in (D, D_err, low, high)]
    return ConductivityEstimate(*sigma, temperature=float(temperature), density=float(density))


def parse_charges(items: Iterable[str]) -> dict[str, float]:
    """``["Li=1", "S=-2"]`` → {"Li": 1.0, "S": -2.0}: ionic charges (units of e) as given on the command line."""
    charges = {}
    for item in items:
        species, sep, value = item.partition("=")
        try:
            charges[species.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not species.strip():
            raise InputError(f"charge {item!r} is not SPECIES=Z (e.g. Li=1)")
    return charges
