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

A check run too correlated for its length (SE unknown: fewer than ~20 correlation times) cannot be judged
statistically. A stop rule never ends such a run early, so it has run its full length: its pressure is judged
as the reference does, |P| below the tolerance, and the verdict says so. Its energy difference passes below the
paper's fraction, and with ``unresolved_energy = "floor"`` also within k × the floor of its error: such a half's
g exceeds about n/20, so its SE exceeds about √(var/20) (:func:`amorphdb.md.statistics.error_floor`), and a
difference within k floors is within about k true errors (near n/20 the floor is about the true error; beyond,
well below it, and the test fails, a rerun, some stationary runs).

A pressure target (``pressure_target``): a check's mean |P| must also be below it, read as the paper's test reads
the tolerance (the point estimate). The statistical test certifies |P| below the tolerance; without a target a
search stops at the first check inside it, often near its edge (a liquid's P(V) is convex, so secant steps from
the tension side fall short, and an overshoot may land just inside the other edge), where `paper`'s long EOS
runs put its checks near zero. Such `fast` searches ended 2–6 % away from `paper`'s density (docs/protocol.md).
A pressure is a density only through the bulk modulus B: a volume off by a fraction f reads |P| ≈ f·B, so a fixed
target in kbar is a tight density target for a stiff liquid and a loose one for a soft one (RbLi2, B ≈ 11–45
kbar: 2.5 kbar is 5–23 % of its volume). A density target (``density_target`` f) bounds |P| by f·B, B the
search's present bulk modulus; with both targets the lower one counts.

Adaptive lengths: :func:`pressure_error_rule` is a stop rule for :func:`amorphdb.md.runner.run_nvt` that ends
an EOS run once SE(P) of its second half is below ``eos_error_fraction`` (default ``pressure_error_fraction``) ×
the tolerance, and a check run once it is below ``pressure_error_fraction`` × the tolerance or once its pressure
surely fails, |P| − z·SE(P) above the tolerance (not before ``min_volume_steps``; a check that passes not before
``min_check_steps``). Pressures in kbar, energies in eV/atom.
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
    ``pressure_test``: the test that judged |P|, ``paper`` or ``statistical`` (``paper`` also when the statistical
    test could not: its standard error is unknown). ``off_target``: |P| passed that test but not the
    ``pressure_target``."""

    pressure_ok: bool
    energy_ok: bool
    pressure_text: str
    energy_text: str
    pressure_test: str
    off_target: bool = False

    @property
    def converged(self) -> bool:
        return self.pressure_ok and self.energy_ok

    @property
    def message(self) -> str:
        return f"{self.pressure_text}, {self.energy_text}"


def judge_check(result: MDResult, settings: ProtocolSettings, bulk_modulus: float | None = None) -> CheckVerdict:
    """The ``settings.convergence`` test of a check run, and its ``pressure_target`` and ``density_target`` (with
    ``bulk_modulus``, kbar, the search's present one; see the module docstring)."""
    verdict = _judge(result, settings)
    pressure, target = result.pressure(settings.pressure_convention), pressure_target(settings, bulk_modulus)
    if target is None or not verdict.pressure_ok or abs(pressure) < target:
        return verdict
    return CheckVerdict(False, verdict.energy_ok, f"{verdict.pressure_text}; off the target: needs |P| < "
                        f"{target:.3g} kbar", verdict.energy_text, verdict.pressure_test, off_target=True)


def pressure_target(settings: ProtocolSettings, bulk_modulus: float | None) -> float | None:
    """The bound (kbar) on a check's mean |P|: the lower of ``pressure_target`` and ``density_target`` × the
    bulk modulus (kbar; the latter only while one is known); None without either."""
    targets = [settings.pressure_target]
    if settings.density_target is not None and bulk_modulus is not None and bulk_modulus > 0:
        targets.append(settings.density_target * bulk_modulus)
    return min((t for t in targets if t is not None), default=None)


def _judge(result: MDResult, settings: ProtocolSettings) -> CheckVerdict:
    s = settings
    pressure, drift = result.pressure(s.pressure_convention), result.energy_drift
    if s.convergence == "paper":
        return CheckVerdict(abs(pressure) < s.pressure_tolerance, drift < s.energy_tolerance,
                            f"|P| = {abs(pressure):.1f} kbar", f"energy drift {drift:.2g}", "paper")
    p_err = finite_error(result.pressure_err(s.pressure_convention))
    bound = abs(pressure) + NormalDist().inv_cdf(s.pressure_confidence) * p_err
    difference = result.energy - result.energy_first_half
    e_err = math.hypot(finite_error(result.energy_err), finite_error(result.energy_first_half_err))
    sigmas = abs(difference) / e_err if 0 < e_err < math.inf else math.inf  # an unknown error proves nothing
    unknown = "error unknown: the run is shorter than ~20 correlation times"
    floor = math.hypot(result.energy_err_floor or 0.0, result.energy_first_half_err_floor or 0.0)
    use_floor = s.unresolved_energy == "floor" and floor > 0 and not math.isfinite(e_err)
    within_floor = use_floor and abs(difference) <= s.energy_sigmas * floor  # about k of the true, larger, error
    if math.isfinite(p_err):
        p_ok, p_text = bound < s.pressure_tolerance, (f"|P| = {abs(pressure):.1f} ± {p_err:.2f} kbar (below "
                                                       f"{bound:.1f} kbar at confidence {s.pressure_confidence:g})")
    else:  # a stop rule ends a check only on a known error: this one ran its full length; judged as the reference does
        p_ok = abs(pressure) < s.pressure_tolerance
        p_text = f"|P| = {abs(pressure):.1f} kbar ({unknown}; the paper's test: below {s.pressure_tolerance:g})"
    e_text = f"E2 - E1 = {1000 * difference:.2f}"
    if math.isfinite(e_err):
        e_text += f" ± {1000 * e_err:.2f} meV/atom ({sigmas:.1f} sigma, drift {drift:.2g})"
    else:
        e_text += f" meV/atom (drift {drift:.2g}, {unknown}" + (
            f"; {abs(difference) / floor:.1f} x its floor {1000 * floor:.2f} meV/atom)" if use_floor else ")")
    return CheckVerdict(p_ok, sigmas <= s.energy_sigmas or within_floor or drift < s.energy_tolerance, p_text,
                        e_text, "statistical" if math.isfinite(p_err) else "paper")


def finite_error(error: float | None) -> float:
    """A standard error that tests can use: a missing one (older result) or NaN counts as infinite."""
    return math.inf if error is None or math.isnan(error) else error


def pressure_error_rule(settings: ProtocolSettings, stage: str = "check") -> StopRule | None:
    """The stop rule of an EOS (``stage="volume"``) or check run: SE of the mean pressure over the second half
    below its fraction (``eos_error_fraction`` for EOS runs, else ``pressure_error_fraction``) × the tolerance;
    a check also stops once |P| − z·SE(P) is above the tolerance (the rescale is certain). Not before
    ``min_volume_steps``, and a check that may pass not before ``min_check_steps`` (an SE(P) from a few hundred
    steps misses the pressure's slow fluctuations: a 500-step check of Li3P at 5000 K passed at P = 1.0 ± 1.1
    kbar and its production read 5.2); None when the lengths are fixed."""
    s = settings
    fraction = (s.eos_error_fraction if stage == "volume" and s.eos_error_fraction is not None
                else s.pressure_error_fraction)
    if fraction is None:
        return None
    target = fraction * s.pressure_tolerance
    z = NormalDist().inv_cdf(s.pressure_confidence)
    name, min_fail = f"pressure_{s.pressure_convention}", s.min_volume_steps
    min_pass = min_fail if stage == "volume" or s.min_check_steps is None else s.min_check_steps

    def rule(run: RunSnapshot) -> StopDecision:
        series = run.second_half(name)
        error, mean = mean_error(series), float(series.mean())
        if stage == "check" and abs(mean) - z * error > s.pressure_tolerance:  # the rule's target: a known verdict
            return StopDecision(run.step >= min_fail, True,
                                f"the check surely fails: |P| = {abs(mean):.1f} ± {error:.2f} kbar, above "
                                f"{s.pressure_tolerance:g} kbar at confidence {s.pressure_confidence:g}")
        ok = error < target
        return StopDecision(ok and run.step >= min_pass, ok,
                            f"SE(P) = {error:.2f} kbar {'<' if ok else '>='} {target:.2f} kbar (P = {mean:.1f} kbar)")

    return rule
