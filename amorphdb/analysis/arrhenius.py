"""Arrhenius fits of D(T): which points enter (one rule for every caller), the fit, and D at other temperatures.

:func:`arrhenius_points` is the package's one rule for which D(T) points an Arrhenius fit uses: the
diffusive points with a positive, finite D; weighted by their error bars when every one of them has one (then
:data:`MIN_TEMPERATURES_WEIGHTED` = 2 temperatures suffice), else unweighted (then the covariance comes from the
residuals and :data:`MIN_TEMPERATURES_UNWEIGHTED` = 3 are needed). The protocol's workflow, the fast route, the
importers and the ``arrhenius`` command all call it. :func:`arrhenius_fit` fits ln D = ln D0 − Ea / (kB T);
:class:`ArrheniusResult` predicts D(T) with its error (:func:`extrapolate` to 300 K).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import curve_fit

from ._records import finite_or_none
from ..errors import InputError
from ..units import KB_EV

MIN_TEMPERATURES_WEIGHTED = 2  # distinct temperatures a fit needs when every D has an error bar
MIN_TEMPERATURES_UNWEIGHTED = 3  # ... when some D has none (the covariance then comes from the residuals)
RULE = (f"at least {MIN_TEMPERATURES_WEIGHTED} temperatures with a diffusive D when every D has an error bar, "
        f"else {MIN_TEMPERATURES_UNWEIGHTED}")


@dataclass
class ArrheniusResult:
    """D(T) = D0 · exp(−Ea / kB T) fitted to D per temperature.

    ``Ea``, ``Ea_err`` in eV; ``prefactor`` D0 and ``prefactor_err`` in cm²/s; ``t_min``, ``t_max`` (K) the
    temperatures used; ``covariance`` the 2×2 covariance of (ln D0, Ea); ``chi2_red`` the reduced χ².
    """

    species: str
    Ea: float
    Ea_err: float
    prefactor: float
    prefactor_err: float
    t_min: float
    t_max: float
    covariance: np.ndarray = field(repr=False)
    method: str = "weighted least squares on ln D"
    chi2_red: float = float("nan")

    def predict(self, temperature: float | np.ndarray) -> tuple[np.ndarray | float, np.ndarray | float]:
        """D (cm²/s) at ``temperature`` (K) and its 1σ error (propagated through ln D, first order)."""
        T = np.asarray(temperature, dtype=float)
        ln_d = np.log(self.prefactor) - self.Ea / (KB_EV * T)
        jac = np.stack([np.ones_like(T), -1 / (KB_EV * T)], axis=-1)
        var = np.einsum("...i,ij,...j->...", jac, self.covariance, jac)
        D = np.exp(ln_d)
        return (float(D), float(D * np.sqrt(var))) if D.ndim == 0 else (D, D * np.sqrt(var))

    def interval(self, temperature: float | np.ndarray) -> tuple[np.ndarray | float, np.ndarray | float]:
        """The 1σ range (low, high) of D (cm²/s) at ``temperature`` (K): D·exp(∓σ(ln D)), always positive.

        Far from the data (300 K from 1000–2500 K) σ(ln D) exceeds 1 and D ± D_err would reach below zero.
        """
        D, D_err = self.predict(temperature)
        width = np.asarray(D_err) / np.asarray(D)
        low, high = D * np.exp(-width), D * np.exp(width)
        return (float(low), float(high)) if np.ndim(low) == 0 else (low, high)

    def to_dict(self) -> dict:
        """The fit and D(300 K) with its first-order error and 1σ range, JSON-ready (NaN becomes None)."""
        D300, D300_err = self.predict(300.0)
        return finite_or_none({"species": self.species, "Ea": self.Ea, "Ea_err": self.Ea_err,
                               "prefactor": self.prefactor, "prefactor_err": self.prefactor_err, "t_min": self.t_min,
                               "t_max": self.t_max, "chi2_red": self.chi2_red, "method": self.method,
                               "D_300K": D300, "D_300K_err": D300_err, "D_300K_1sigma": list(self.interval(300.0))})


def arrhenius_fit(temperature: Sequence[float], D: Sequence[float], D_err: Sequence[float] | None = None,
                  species: str = "Li") -> ArrheniusResult:
    """Fit ln D = ln D0 − Ea/(kB T) (T in K, D and D_err in cm²/s) with scipy's ``curve_fit``.

    With ``D_err`` the points are weighted by σ(ln D) = D_err / D and the parameter covariance is absolute,
    scaled up by the reduced χ² when it exceeds 1 (scatter beyond the error bars, e.g. non-Arrhenius data).
    Without errors the fit is unweighted and the covariance comes from the residuals (needs 3 points).
    :func:`arrhenius_points` chooses the points and the weighting by the same rule.
    """
    T, d = np.asarray(temperature, dtype=float), np.asarray(D, dtype=float)
    if T.shape != d.shape or T.ndim != 1:
        raise InputError("temperature and D must be 1-D sequences of the same length")
    if not np.all((T > 0) & np.isfinite(T)) or not np.all((d > 0) & np.isfinite(d)):
        raise InputError("Arrhenius fit needs positive, finite temperatures and positive, finite D")
    need = MIN_TEMPERATURES_WEIGHTED if D_err is not None else MIN_TEMPERATURES_UNWEIGHTED
    if len(np.unique(T)) < need:
        raise InputError(f"Arrhenius fit needs at least {need} temperatures, got {len(np.unique(T))}")
    x = 1 / (KB_EV * T)
    sigma = None
    if D_err is not None:
        e = np.asarray(D_err, dtype=float)
        if e.shape != d.shape or not np.all((e > 0) & np.isfinite(e)):
            raise InputError("D_err must be positive, finite and match D")
        sigma = e / d
    p0 = np.polyfit(x, np.log(d), 1)
    (ln_d0, neg_ea), cov = curve_fit(lambda x, a, b: a + b * x, x, np.log(d), p0=[p0[1], p0[0]],
                                     sigma=sigma, absolute_sigma=sigma is not None)
    dof = len(T) - 2
    resid = np.log(d) - (ln_d0 + neg_ea * x)
    chi2_red = float(np.sum((resid / sigma) ** 2) / dof) if sigma is not None and dof > 0 else float("nan")
    if sigma is not None and chi2_red > 1:
        cov = cov * chi2_red
    cov = np.array([[cov[0, 0], -cov[0, 1]], [-cov[1, 0], cov[1, 1]]])  # parameters (ln D0, Ea)
    D0 = float(np.exp(ln_d0))
    method = "weighted least squares on ln D (covariance × max(1, χ²_red))" if sigma is not None \
        else "unweighted least squares on ln D"
    return ArrheniusResult(species, float(-neg_ea), float(np.sqrt(cov[1, 1])), D0, D0 * float(np.sqrt(cov[0, 0])),
                           float(T.min()), float(T.max()), cov, method, chi2_red)


def extrapolate(result: ArrheniusResult, temperature: float = 300.0) -> tuple[float, float]:
    """D (cm²/s) ± 1σ at ``temperature`` (K, default 300) from an Arrhenius fit."""
    return result.predict(temperature)


@dataclass(frozen=True)
class ArrheniusPoints:
    """The D(T) points an Arrhenius fit uses, chosen by :func:`arrhenius_points`.

    ``temperature`` (K), ``D`` and ``D_err`` (cm²/s) of the points kept; ``D_err`` is None when the fit is
    unweighted (some kept point has no error bar); ``excluded`` the indices of the input points left out
    (not diffusive, or D not positive and finite).
    """

    temperature: np.ndarray
    D: np.ndarray
    D_err: np.ndarray | None
    excluded: tuple[int, ...]

    @property
    def weighted(self) -> bool:
        return self.D_err is not None

    def fit(self, species: str = "Li") -> ArrheniusResult:
        """:func:`arrhenius_fit` of these points."""
        return arrhenius_fit(self.temperature, self.D, self.D_err, species=species)


def arrhenius_points(temperatures: Sequence[float], D: Sequence[float],
                     D_err: Sequence[float | None] | None = None,
                     diffusive: Sequence[bool | None] | None = None) -> ArrheniusPoints | None:
    """The points of an Arrhenius fit by the package's one rule (:data:`RULE`), or None when too few remain.

    ``temperatures`` (K), ``D`` and ``D_err`` (cm²/s; None or NaN where a point has no error bar) and
    ``diffusive`` (False leaves a point out; None counts as diffusive, e.g. imported data without a flag)
    are per point. Kept: diffusive points with a positive, finite D and T. Weighted when every kept point has a
    positive, finite error; then 2 distinct temperatures suffice, else 3.
    """
    T = np.asarray(temperatures, dtype=float)
    d = np.asarray(D, dtype=float)
    n = len(T)
    err = np.full(n, np.nan) if D_err is None else np.array([np.nan if e is None else e for e in D_err], dtype=float)
    flags = [None] * n if diffusive is None else list(diffusive)
    if not (T.ndim == d.ndim == 1 and len(d) == len(err) == len(flags) == n):
        raise InputError("temperatures, D, D_err and diffusive must be 1-D sequences of the same length")
    diffusive_ok = np.array([f is None or bool(f) for f in flags], dtype=bool)
    keep = diffusive_ok & np.isfinite(d) & (d > 0) & np.isfinite(T) & (T > 0)
    weighted = bool(keep.any()) and bool(np.all(np.isfinite(err[keep]) & (err[keep] > 0)))
    need = MIN_TEMPERATURES_WEIGHTED if weighted else MIN_TEMPERATURES_UNWEIGHTED
    if len(np.unique(T[keep])) < need:
        return None
    return ArrheniusPoints(T[keep], d[keep], err[keep] if weighted else None,
                           tuple(int(k) for k in np.flatnonzero(~keep)))


def fit_points(temperatures: Sequence[float], D: Sequence[float], D_err: Sequence[float | None] | None = None,
               diffusive: Sequence[bool | None] | None = None, species: str = "Li") -> ArrheniusResult | None:
    """:func:`arrhenius_fit` of the points :func:`arrhenius_points` keeps; None when too few remain."""
    points = arrhenius_points(temperatures, D, D_err, diffusive)
    return None if points is None else points.fit(species)
