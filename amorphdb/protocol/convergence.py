"""When a check run is converged, and when an EOS or check run has run long enough.

Two tests of a check run (``--convergence``):

- ``paper``, the reference's rules: |P| < ``pressure_tolerance`` (mean of the second half) and
  |E₂ − E₁| / |E| < ``energy_tolerance`` (mean energy per atom of the two halves).
- ``statistical``: the same two questions asked against the run's own noise, with the standard errors of the
  means that the MD runner stores (:func:`amorphdb.md.statistics.mean_error`, integrated autocorrelation time
  of the per-step series). Pressure: the one-sided upper bound |P| + z·SE(P) is below the tolerance, z the
  normal quantile of ``pressure_confidence`` (0.95: z = 1.645). Energy: the half-means agree within
  ``energy_sigmas`` (k) standard errors of their difference, |E₂ − E₁| ≤ k·√(SE₁² + SE₂²), or within the
  paper's fraction anyway (a drift below the reference's tolerance is no reason to rerun, however well it is
  resolved). On stationary series the energy test fails with probability 2(1 − Φ(k)) (0.27 % at k = 3) when
  the errors are right; ``tests/protocol/test_convergence.py`` measures it on AR(1) series and its power
  on drifting ones (numbers in docs/protocol.md).

Adaptive lengths: :func:`pressure_error_rule` is a stop rule for :func:`amorphdb.md.runner.run_nvt` that ends
an EOS or check run once SE(P) of its second half is below ``pressure_error_fraction`` × the tolerance (not
before ``min_volume_steps``). Pressures in kbar, energies in eV/atom.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

from ..md.files import MDResult
from ..md.runner import RunSnapshot, StopDecision, StopRule
from ..md.statistics import mean_error
from .settings import ProtocolSettings


@dataclass(frozen=True)
class CheckVerdict:
    """Whether a check run's pressure and energy drift pass, each with its numbers (``|P| = 3.1 kbar``,
    ``energy drift 0.0012`` for the paper's test; with standard errors for the statistical one).
    ``pressure_judged``: False when the statistical test could not judge |P| (its standard error is unknown)."""

    pressure_ok: bool
    energy_ok: bool
    pressure_text: str
    energy_text: str
    pressure_judged: bool = True

    @property
    def converged(self) -> bool:
        return self.pressure_ok and self.energy_ok

    @property
    def message(self) -> str:
        return f"{self.pressure_text}, {self.energy_text}"


def judge_check(result: MDResult, settings: ProtocolSettings) -> CheckVerdict:
    """The ``settings.convergence`` test of a check run (see the module docstring)."""
    s = settings
    pressure, drift = result.pressure(s.pressure_convention), result.energy_drift
    if s.convergence == "paper":
        return CheckVerdict(abs(pressure) < s.pressure_tolerance, drift < s.energy_tolerance,
                            f"|P| = {abs(pressure):.1f} kbar", f"energy drift {drift:.2g}")
    p_err = _finite(result.pressure_err(s.pressure_convention))
    bound = abs(pressure) + NormalDist().inv_cdf(s.pressure_confidence) * p_err
    difference = result.energy - result.energy_first_half
    e_err = math.hypot(_finite(result.energy_err), _finite(result.energy_first_half_err))
    sigmas = abs(difference) / e_err if 0 < e_err < math.inf else math.inf  # an unknown error proves nothing
    unknown = "error unknown: the run is shorter than ~20 correlation times"
    return CheckVerdict(
        bound < s.pressure_tolerance, sigmas <= s.energy_sigmas or drift < s.energy_tolerance,
        f"|P| = {abs(pressure):.1f} ± {p_err:.2f} kbar "
        f"(below {bound:.1f} kbar at confidence {s.pressure_confidence:g})"
        if math.isfinite(p_err) else f"|P| = {abs(pressure):.1f} kbar ({unknown})",
        f"E2 - E1 = {1000 * difference:.2f} ± {1000 * e_err:.2f} meV/atom ({sigmas:.1f} sigma, drift {drift:.2g})"
        if math.isfinite(e_err) else f"E2 - E1 = {1000 * difference:.2f} meV/atom (drift {drift:.2g}, {unknown})",
        math.isfinite(p_err))


def _finite(error: float | None) -> float:
    """A standard error that tests can use: a missing one (older result) or NaN counts as infinite."""
    return math.inf if error is None or math.isnan(error) else error


def pressure_error_rule(settings: ProtocolSettings) -> StopRule | None:
    """The stop rule of EOS and check runs: SE of the mean pressure over the second half below
    ``pressure_error_fraction`` × ``pressure_tolerance``, after at least ``min_volume_steps`` steps;
    None when the lengths are fixed."""
    if settings.pressure_error_fraction is None:
        return None
    target = settings.pressure_error_fraction * settings.pressure_tolerance
    name, min_steps = f"pressure_{settings.pressure_convention}", settings.min_volume_steps

    def rule(run: RunSnapshot) -> StopDecision:
        series = run.second_half(name)
        error = mean_error(series)
        ok = error < target
        return StopDecision(ok and run.step >= min_steps, ok,
                            f"SE(P) = {error:.2f} kbar {'<' if ok else '>='} {target:.2f} kbar "
                            f"(P = {series.mean():.1f} kbar)")

    return rule
