"""The equation of state of the volume search: third-order Birch–Murnaghan P(V), the zero-pressure volume and
bulk modulus, and the rescale of a check run's volume (the reference's β step, or a secant step)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit

from ..errors import ConvergenceError


def birch_murnaghan_pressure(volume: np.ndarray, v0: float, b0: float, b0_prime: float) -> np.ndarray:
    """Third-order Birch–Murnaghan P(V) (units of ``b0``; volumes in any common unit)."""
    eta = (v0 / np.asarray(volume, dtype=float)) ** (1.0 / 3.0)
    return 1.5 * b0 * (eta**7 - eta**5) * (1.0 + 0.75 * (b0_prime - 4.0) * (eta**2 - 1.0))


@dataclass(frozen=True)
class ZeroPressure:
    """Where a P(V) fit crosses zero: the volume (Å³), the bulk modulus there (−V dP/dV, in the pressures'
    unit, kbar in the protocol) and the fit that gave them (``birch-murnaghan`` or ``linear``)."""

    volume: float
    bulk_modulus: float
    method: str


def fit_zero_pressure_volume(volumes: Sequence[float], pressures: Sequence[float]) -> ZeroPressure:
    """The zero of P(V) from a Birch–Murnaghan fit, else a linear one.

    Pressures in kbar. The BM fit starts from V0 = mean V, B0 from a quadratic fit and B0' = 4; it is kept when
    it converges with B0 > 0 and V0 within [0.5 min V, 2 max V]. The linear fit must have a negative slope
    (else :class:`ConvergenceError`). The volume is kept within [0.5 min V, 2 max V].
    The bulk modulus is the BM B0 when it agrees within a factor 2 with the local secant, else the secant: −ΔP/Δln V
    of the two runs next to each other in volume whose pressures bracket zero (without a bracket, −V dP/dV of the
    straight line). Three noisy points fit BM's three parameters exactly, and such a curve can put B0 at a
    hundredth of the data's slope; the line through all runs, over a wide range, is set by the stiff compressed
    ones (Li3P at 5000 K: 192 kbar from the line, 57 kbar between the runs around the zero).
    """
    v = np.asarray(volumes, dtype=float)
    p = np.asarray(pressures, dtype=float)
    lo, hi = 0.5 * v.min(), 2.0 * v.max()
    slope, intercept = np.polyfit(v, p, 1)
    if len(v) >= 3:
        vm = float(v.mean())
        q2, q1, _ = np.polyfit(v, p, 2)
        b0 = max(-vm * (2 * q2 * vm + q1), 1e-3 * max(np.abs(p).max(), 1.0))
        try:
            # three points, three parameters: no covariance, which is fine; trial V0 < 0 give NaN, which it rejects
            with warnings.catch_warnings(), np.errstate(invalid="ignore"):
                warnings.simplefilter("ignore", OptimizeWarning)
                (v0, b0_fit, _), _ = curve_fit(birch_murnaghan_pressure, v, p, p0=[vm, b0, 4.0], maxfev=20000)
            if math.isfinite(v0) and b0_fit > 0 and lo < v0 < hi:
                local = _local_modulus(v, p, float(-slope * v0))
                agrees = local > 0 and 0.5 <= b0_fit / local <= 2.0
                return ZeroPressure(float(v0), float(b0_fit) if agrees else local, "birch-murnaghan")
        except (RuntimeError, ValueError):
            pass
    if not slope < 0:
        raise ConvergenceError(f"pressure does not fall with volume (slope {slope:.3g} kbar/Å3): "
                               "no zero-pressure volume")
    v0 = float(np.clip(-intercept / slope, lo, hi))
    return ZeroPressure(v0, _local_modulus(v, p, float(-slope * v0)), "linear")


def _local_modulus(volumes: np.ndarray, pressures: np.ndarray, fallback: float) -> float:
    """−ΔP/Δln V (kbar) between the runs adjacent in volume whose pressures bracket zero (the pair with the
    smallest pressures when several do, as a noisy P(V) may cross more than once); ``fallback`` when none does
    or that secant does not fall with V."""
    order = np.argsort(volumes)
    v, p = volumes[order], pressures[order]
    pairs = [(abs(p[i]) + abs(p[i + 1]), i) for i in range(len(v) - 1) if p[i] * p[i + 1] <= 0 and v[i] < v[i + 1]]
    if not pairs:
        return fallback
    i = min(pairs)[1]
    modulus = secant_bulk_modulus((v[i], v[i + 1]), (p[i], p[i + 1]), (0.0, 0.0))  # the fit's runs: no noise test
    return float(modulus) if modulus is not None else fallback


def secant_bulk_modulus(volumes: tuple[float, float], pressures: tuple[float, float],
                        errors: tuple[float, float], sigmas: float = 2.0) -> float | None:
    """The bulk modulus −ΔP/Δln V (kbar) of two runs at different volumes (Å³; pressures and their standard
    errors in kbar), or None when it cannot be trusted: P does not fall with V, or the pressure difference is
    within ``sigmas`` of its standard error (a secant through noise would send the next volume anywhere)."""
    dlnv = math.log(volumes[1] / volumes[0])
    dp = pressures[1] - pressures[0]
    noise = math.hypot(*errors)
    if abs(dlnv) < 1e-9 or not math.isfinite(noise) or abs(dp) <= sigmas * noise or -dp / dlnv <= 0:
        return None
    return -dp / dlnv


def fitted_bulk_modulus(points: Sequence[tuple[float, float, float]]) -> tuple[float, float] | None:
    """The bulk modulus −dP/d ln V (kbar) of a straight line through ``points`` (volume Å³, P kbar, SE(P) kbar),
    weighted by 1/SE², and its standard error (from the SEs, scaled up by the reduced χ² when the points scatter
    more than their errors say); None without two volumes of known SE, or when P does not fall with V."""
    known = [(v, p, e) for v, p, e in points if math.isfinite(e) and e > 0]
    if len({v for v, _, _ in known}) < 2:
        return None
    x, y, err = (np.array(column, dtype=float) for column in zip(*known))
    (slope, intercept), cov = np.polyfit(np.log(x), y, 1, w=1.0 / err, cov="unscaled")
    dof = len(known) - 2
    chi2 = float(np.sum(((y - slope * np.log(x) - intercept) / err) ** 2)) / dof if dof > 0 else 1.0
    if not slope < 0:
        return None
    return float(-slope), float(math.sqrt(cov[0, 0] * max(1.0, chi2)))


def secant_partner(points: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    """The check the last of ``points`` (volume Å³, P kbar, SE kbar; oldest first, at least two) takes its
    secant with: the latest one on the other side of zero pressure at another volume (regula falsi: the zero
    stays bracketed), else the latest at another volume, else the one before it."""
    volume, pressure, _ = points[-1]
    others = [p for p in points[:-1] if p[0] != volume] or points[:-1]
    return next((p for p in reversed(others) if p[1] * pressure < 0), others[-1])


def same_side_rescales(count: int, pressure: float, last_pressure: float, secant: float | None) -> int:
    """The rescale growth's n for a rescale at ``pressure`` (kbar): ``count`` + 1 when the rescale before it (its n
    ``count``, its pressure ``last_pressure``; 0 for none) found P on the same side of zero and no secant was
    resolved since (``secant`` None: B not measured again), else 0."""
    return count + 1 if secant is None and pressure * last_pressure > 0 else 0


def rescaled_volume(volume: float, pressure: float, bulk_modulus: float, max_log_step: float = 0.15) -> float:
    """The volume (Å³) where P would vanish if P(V) fell with the bulk modulus ``bulk_modulus`` (kbar):
    V exp(P/B), the step |ln(V'/V)| at most ``max_log_step``. The reference's rescale V exp(βP) is this step
    with B = 1/β: β = 5×10⁻⁷ bar⁻¹ is B = 2000 kbar, so it moves 1/30 of the way for a liquid with B = 67 kbar
    (the median of CHGNet's melts at 5000 K, docs/protocol.md)."""
    step = pressure / bulk_modulus
    return volume * math.exp(max(-max_log_step, min(max_log_step, step)))
