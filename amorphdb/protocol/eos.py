"""The equation of state of the volume search: third-order Birch–Murnaghan P(V) and the zero-pressure volume."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit

from ..errors import ConvergenceError


def birch_murnaghan_pressure(volume: np.ndarray, v0: float, b0: float, b0_prime: float) -> np.ndarray:
    """Third-order Birch–Murnaghan P(V) (units of ``b0``; volumes in any common unit)."""
    eta = (v0 / np.asarray(volume, dtype=float)) ** (1.0 / 3.0)
    return 1.5 * b0 * (eta**7 - eta**5) * (1.0 + 0.75 * (b0_prime - 4.0) * (eta**2 - 1.0))


def fit_zero_pressure_volume(volumes: Sequence[float], pressures: Sequence[float]) -> tuple[float, str]:
    """Volume (Å³) where P(V) = 0 from a Birch–Murnaghan fit, else a linear one; and which fit was used.

    Pressures in kbar. The BM fit starts from V0 = mean V, B0 from a quadratic fit and B0' = 4; it is kept when
    it converges with B0 > 0 and V0 within [0.5 min V, 2 max V]. The linear fit must have a negative slope
    (else :class:`ConvergenceError`). The result is kept within [0.5 min V, 2 max V].
    """
    v = np.asarray(volumes, dtype=float)
    p = np.asarray(pressures, dtype=float)
    lo, hi = 0.5 * v.min(), 2.0 * v.max()
    if len(v) >= 3:
        vm = float(v.mean())
        q2, q1, _ = np.polyfit(v, p, 2)
        b0 = max(-vm * (2 * q2 * vm + q1), 1e-3 * max(np.abs(p).max(), 1.0))
        try:
            with warnings.catch_warnings():  # three points, three parameters: no covariance, which is fine
                warnings.simplefilter("ignore", OptimizeWarning)
                (v0, b0_fit, _), _ = curve_fit(birch_murnaghan_pressure, v, p, p0=[vm, b0, 4.0], maxfev=20000)
            if math.isfinite(v0) and b0_fit > 0 and lo < v0 < hi:
                return float(v0), "birch-murnaghan"
        except (RuntimeError, ValueError):
            pass
    slope, intercept = np.polyfit(v, p, 1)
    if not slope < 0:
        raise ConvergenceError(f"pressure does not fall with volume (slope {slope:.3g} kbar/Å3): "
                               "no zero-pressure volume")
    return float(np.clip(-intercept / slope, lo, hi)), "linear"
