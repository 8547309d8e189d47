"""Diffusion from MD trajectories: MSD per species and D with an honest error bar.

What is here
------------
- :func:`msd_fft` is the mean squared displacement of every atom averaged over all time origins, computed with
  FFTs (O(T log T), the algorithm of Calandrini et al., nMoldyn, 2011) instead of a double loop.
- :func:`diffusivity` gives D per species (cm²/s) from drift-corrected positions;
  :func:`diffusion_from_trajectory` does the same for a file or a list of frames (read by
  :mod:`amorphdb.analysis.trajectory`).
- Arrhenius fits are in :mod:`amorphdb.analysis.arrhenius`, Nernst–Einstein conductivities in
  :mod:`amorphdb.analysis.conductivity`.

How D and its uncertainty are estimated
---------------------------------------
The MSD averaged over all time origins uses overlapping windows, so the MSD values at different lags are
strongly correlated and an ordinary least-squares fit gives a far too small error (pymatgen's
``DiffusionAnalyzer`` and mpmorph's block fit both do this). We follow kinisi (McCluskey et al.,
J. Chem. Theory Comput. 2024, doi 10.1021/acs.jctc.4c01249) and fit a straight line by *generalised*
least squares with a model covariance of the MSD points:

    Var[MSD(t_i)] = v_i / n_i,   n_i = N · T / t_i  (independent, non-overlapping windows of N atoms)
    Cov[MSD(t_i), MSD(t_j)] = sqrt(v_i v_j) · min(t_i, t_j) / (N · T)

where T is the trajectory length, N the number of atoms of the species and v_i the variance of the
squared single-atom displacement at lag t_i. For a random walk v ∝ t², and the off-diagonal form equals
kinisi's ``v_i n_i / n_j``; written as above it is positive definite for any v (kinisi has to repair its
matrix numerically). We set v_i = κ · MSD_model(t_i)², with the non-Gaussian factor κ = ⟨v_i / MSD(t_i)²⟩
measured on the data (κ = 2/3 for Gaussian displacements in 3D) and MSD_model the current fit, iterated
three times: using the raw noisy v_i as weights biases D low for species with few atoms. The result is the
maximum-likelihood line under this covariance (kinisi samples a likelihood of the same form by MCMC); the
standard error of D comes from the GLS parameter covariance. Over 200 seeds of a 3D random walk
(5, 20 or 50 walkers, 1000 frames) the error bars are
calibrated: the spread of (D − D_true)/σ is 0.96–1.00, 70–78 % of the estimates lie within 1σ and 94–97 %
within 2σ, with a slight low bias of about 0.2σ (tests/analysis/test_diffusion.py checks 50 seeds). The model
treats atoms as independent, so collective motion in a real liquid makes the error somewhat too small.

The fit window excludes the ballistic and caging start: by default it runs from 10 % to 50 % of the
trajectory length (the longest lags are few and noisy). Drift: the displacement of the centre of mass of
the whole system (mass-weighted) is subtracted from every atom.

A species is flagged ``diffusive=False`` when its MSD has not reached the diffusive regime. In a liquid or
glass the MSD first rises to a vibrational plateau P (the cage, reached within ~0.1 ps for Li) and only then
grows as P + 6Dt, so the log-log slope of the raw MSD is < 1 even when the motion is diffusive (a 1.5 Å²
plateau and D = 1e-5 cm²/s give 0.7 over 2–10 ps). The test therefore looks at the MSD *above the plateau*:
P = MSD(t_c) with t_c = min(t_start / 2, 0.5 ps), and the log-log slope of MSD(t) − P against t − t_c over
the window must lie in [0.7, 1.3] (exactly 1 for cage + diffusion, ≈ 0.67 for MSD ∝ √t sub-diffusion, > 1.5
for ballistic flight). Also: the MSD at the end of the window must reach ``min_msd`` (4 Å², about one Li hop;
a solid's vibrations stay far below), the fitted slope must be positive and at least 3 standard errors (a
crystal's MSD is flat within its noise). A flagged D is still the fitted slope, but it is an upper bound, not
a diffusion coefficient, and Arrhenius fits leave it out (:func:`amorphdb.analysis.arrhenius.arrhenius_points`).
kinisi leaves the start of the diffusive regime to the user (its ``start_dt``) and has no such flag;
``tests/analysis/test_diffusion.py`` checks the test on a caged-then-diffusive signal, on sub-diffusion and
on a vibrating crystal.

Library choice: kinisi 2.1 (an optional test dependency, compared in the tests) brings scipp, emcee and an
MCMC per species, seconds per call; pymatgen-analysis-diffusion's error bar ignores the correlations. The
GLS above is a few lines of numpy, fast enough for the 10 000-frame benchmark (benchmarks/bench_analysis.py).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._records import finite_or_none
from .trajectory import Trajectory, check_finite, evenly_spaced, read_trajectory
from ..errors import InputError
from ..units import A2_PER_PS_IN_CM2_PER_S

log = logging.getLogger(__name__)

METHOD = "GLS, kinisi-type MSD covariance"
MIN_FRAMES = 20  # shortest trajectory (frames) that diffusivity() accepts
CAGE_TIME_PS = 0.5  # latest lag (ps) at which the vibrational plateau is read (see the module docstring)
MIN_SIGNIFICANCE = 3.0  # a diffusive D is at least this many standard errors above zero
GAUSSIAN_KAPPA = 2 / 3  # non-Gaussian factor κ of Gaussian displacements in 3D, used when the data give none


def msd_fft(positions: np.ndarray) -> np.ndarray:
    """MSD (Å²) of every atom at every lag 0 … n_frames−1, averaged over all time origins (FFT algorithm).

    ``positions``: unwrapped, (n_frames, n_atoms, 3) Å. Returns (n_frames, n_atoms).
    """
    x = np.asarray(positions, dtype=float)
    x = x - x.mean(axis=0)  # MSD is shift-invariant; this keeps the FFT sums small
    n = x.shape[0]
    sq = np.einsum("fai,fai->fa", x, x)
    # S2(m) = sum_k x(k)·x(k+m): autocorrelation by zero-padded FFT
    spec = np.fft.rfft(x, 2 * n, axis=0)
    s2 = np.fft.irfft((spec * spec.conj()).real, 2 * n, axis=0)[:n].sum(axis=2)
    # S1(m) = sum_{k=0}^{n-m-1} [x(k)² + x(k+m)²] = 2·Σx² − (first m terms) − (last m terms)
    zero = np.zeros((1, x.shape[1]))
    head = np.concatenate([zero, np.cumsum(sq, axis=0)[:-1]])
    tail = np.concatenate([zero, np.cumsum(sq[::-1], axis=0)[:-1]])
    s1 = 2 * sq.sum(axis=0) - head - tail
    return (s1 - 2 * s2) / (n - np.arange(n))[:, None]


@dataclass
class DiffusionResult:
    """Tracer diffusion of one species.

    ``D``, ``D_err`` in cm²/s; ``t_fit`` the fitted lag range (ps); ``time`` (ps) and ``msd`` (Å²) the
    drift-corrected MSD curve averaged over the species' atoms; ``intercept`` (Å²) of the fitted line;
    ``loglog_slope`` of the MSD above its vibrational plateau over the window (1 when diffusive, see the module
    docstring); ``reason`` says why ``diffusive`` is False.
    """

    species: str
    D: float
    D_err: float
    diffusive: bool
    n_atoms: int
    t_fit: tuple[float, float]
    time: np.ndarray = field(repr=False)
    msd: np.ndarray = field(repr=False)
    method: str = METHOD
    intercept: float = 0.0
    loglog_slope: float = float("nan")
    reason: str = ""

    def to_dict(self) -> dict:
        """The scalar fields, JSON-ready (no MSD arrays; NaN becomes None)."""
        return finite_or_none({"species": self.species, "D": self.D, "D_err": self.D_err, "diffusive": self.diffusive,
                        "n_atoms": self.n_atoms, "t_fit": list(self.t_fit), "method": self.method,
                        "intercept": self.intercept, "loglog_slope": self.loglog_slope, "reason": self.reason})


def diffusivity(
    positions: np.ndarray,
    symbols: Sequence[str],
    dt_ps: float,
    *,
    species: Sequence[str] | None = None,
    t_start: float | None = None,
    t_end: float | None = None,
    n_lags: int = 50,
    min_msd: float = 4.0,
    masses: Sequence[float] | None = None,
) -> dict[str, DiffusionResult]:
    """Tracer D (cm²/s) ± error per species from unwrapped positions (n_frames, n_atoms, 3) in Å.

    ``dt_ps``: time between frames (ps). The fit runs over lags ``t_start`` … ``t_end`` (ps; default 10 % and
    50 % of the run; the end may be the whole run) at ``n_lags`` evenly spaced lags. ``masses`` (amu) weight the
    drift correction (default: from the element symbols). ``min_msd`` (Å²): below this MSD at ``t_end`` the
    species is not diffusive. Positions must be finite (InputError naming the frame and atom).
    """
    x = np.asarray(positions, dtype=float)
    symbols = list(symbols)
    if x.ndim != 3 or x.shape[2] != 3:
        raise InputError(f"positions must have shape (n_frames, n_atoms, 3), got {x.shape}")
    if x.shape[1] != len(symbols):
        raise InputError(f"{x.shape[1]} atoms in positions but {len(symbols)} symbols")
    n_frames = x.shape[0]
    _require_frames(n_frames)
    if dt_ps is None or not 0 < dt_ps < np.inf:
        raise InputError(f"time between frames must be positive and finite, got {dt_ps} ps")
    check_finite(x, symbols)
    lags = _fit_lags(n_frames, dt_ps, t_start, t_end, n_lags)
    if masses is None:
        from ase.data import atomic_masses, atomic_numbers

        try:
            masses = [atomic_masses[atomic_numbers[s]] for s in symbols]
        except KeyError as exc:
            raise InputError(f"unknown element {exc.args[0]!r}") from None
    m = np.asarray(masses, dtype=float)
    if m.shape != (len(symbols),) or not np.all(m > 0) or not np.all(np.isfinite(m)):
        raise InputError(f"masses must be {len(symbols)} positive numbers (one per atom), got shape {m.shape}")
    com = np.einsum("a,fai->fi", m, x - x[0]) / m.sum()
    x = x - com[:, None, :]

    if isinstance(species, str):  # one species: "Li", not the characters "L", "i"
        species = [species]
    wanted = list(dict.fromkeys(symbols)) if species is None else list(species)
    missing = [s for s in wanted if s not in symbols]
    if missing:
        have = ", ".join(dict.fromkeys(symbols))
        raise InputError(f"species {', '.join(missing)} not in the trajectory (it has {have})")
    time = np.arange(n_frames) * dt_ps
    sym = np.array(symbols)
    results = {}
    for s in wanted:
        xs = x[:, sym == s]
        msd = msd_fft(xs).mean(axis=1)
        results[s] = _fit_msd(s, xs, time, msd, lags, min_msd)
        log.debug("%s: D = %.3g ± %.2g cm²/s", s, results[s].D, results[s].D_err)
    return results


def _require_frames(n_frames: int) -> None:
    """InputError when ``n_frames`` is below :data:`MIN_FRAMES`."""
    if n_frames < MIN_FRAMES:
        raise InputError(f"a trajectory of {n_frames} frames is too short for diffusion (need at least {MIN_FRAMES})")


def _fit_lags(n_frames: int, dt_ps: float, t_start: float | None, t_end: float | None, n_lags: int) -> np.ndarray:
    """At most ``n_lags`` evenly spaced lags (frames) from ``t_start`` to ``t_end`` (ps; default 10 % and 50 % of
    the run); InputError naming the problem when the window is empty, collapsed or outside the run."""
    length = (n_frames - 1) * dt_ps
    t0 = 0.1 * length if t_start is None else t_start
    t1 = 0.5 * length if t_end is None else t_end
    window = f"fit window {t0:g}–{t1:g} ps"
    if not (0 <= t0 < t1 < math.inf):
        note = ""
        if t_end is None and 0 <= t0 < math.inf:  # a start beyond the default end
            note = f" (the end is the default, 50 % of the {length:g} ps run: give t_end)"
        raise InputError(f"{window}: the start must be at least 0 and below the end{note}")
    i0, i1 = max(1, int(round(t0 / dt_ps))), int(round(t1 / dt_ps))
    if i1 > n_frames - 1:
        raise InputError(f"{window} does not fit in a {length:g} ps trajectory")
    if i0 >= i1:
        raise InputError(f"{window} collapses to a single lag when rounded to whole frames ({dt_ps:g} ps each): "
                         "widen it")
    lags = evenly_spaced(i0, i1, n_lags)
    if len(lags) < 3:
        raise InputError(f"{window} holds fewer than 3 frames")
    return lags


def _fit_msd(species: str, x: np.ndarray, time: np.ndarray, msd: np.ndarray, lags: np.ndarray,
             min_msd: float) -> DiffusionResult:
    """GLS line through MSD(lags) with the covariance model of the module docstring."""
    n_frames, n_atoms = x.shape[:2]
    t, y = time[lags], msd[lags]
    kappa = _kappa(x, lags, y)
    design = np.column_stack([t, np.ones_like(t)])
    kernel = np.minimum.outer(lags, lags) / (n_atoms * (n_frames - 1))
    model = np.clip(y, 1e-12, None)
    for _ in range(3):
        sd = np.sqrt(max(kappa, 1e-12)) * model
        cov = sd[:, None] * sd[None, :] * kernel
        chol = np.linalg.cholesky(cov + np.eye(len(t)) * 1e-12 * np.trace(cov) / len(t))
        a, b = np.linalg.solve(chol, design), np.linalg.solve(chol, y)
        beta = np.linalg.lstsq(a, b, rcond=None)[0]
        model = np.clip(design @ beta, max(1e-12, 1e-3 * y.max()), None)
    beta_cov = np.linalg.inv(a.T @ a)
    slope, intercept = beta
    D = slope / 6 * A2_PER_PS_IN_CM2_PER_S
    D_err = float(np.sqrt(beta_cov[0, 0])) / 6 * A2_PER_PS_IN_CM2_PER_S
    loglog, plateau = _slope_above_plateau(time, msd, lags)
    reason = ""
    if y[-1] < min_msd:
        reason = f"MSD reaches only {y[-1]:.2g} Å² at {t[-1]:.3g} ps (< {min_msd:g} Å²)"
    elif slope <= 0 or not D >= MIN_SIGNIFICANCE * D_err:
        reason = f"MSD does not grow significantly (D = {D:.2g} ± {D_err:.1g} cm²/s)"
    elif not 0.7 <= loglog <= 1.3:
        reason = f"log-log slope of the MSD above its {plateau:.2g} Å² plateau is {loglog:.2f}, not ≈ 1"
    return DiffusionResult(species, float(D), D_err, not reason, n_atoms, (float(t[0]), float(t[-1])),
                           time, msd, METHOD, float(intercept), loglog, reason)


def _kappa(x: np.ndarray, lags: np.ndarray, msd: np.ndarray) -> float:
    """Non-Gaussian factor κ = mean over ``lags`` of Var[squared displacement] / MSD² (module docstring), over
    the lags with a positive MSD and at least 2 displacements (atoms × origins); :data:`GAUSSIAN_KAPPA` if none."""
    n_frames, n_atoms = x.shape[:2]
    ratios = []
    for k, m in zip(lags, msd):
        if m > 0 and n_atoms * (n_frames - k) >= 2:
            d = x[k:] - x[:-k]
            ratios.append(np.einsum("fai,fai->fa", d, d).var(ddof=1) / m**2)
    return float(np.mean(ratios)) if ratios else GAUSSIAN_KAPPA


def _slope_above_plateau(time: np.ndarray, msd: np.ndarray, lags: np.ndarray) -> tuple[float, float]:
    """Log-log slope of MSD(t) − P against t − t_c over ``lags``, and the plateau P = MSD(t_c) (Å²),
    t_c = min(t_start / 2, :data:`CAGE_TIME_PS`) (NaN slope when fewer than 3 lags lie above the plateau)."""
    dt = time[1] - time[0]
    i_c = min(max(1, int(round(min(0.5 * time[lags[0]], CAGE_TIME_PS) / dt))), int(lags[0]) - 1)
    excess, lag = msd[lags] - msd[i_c], time[lags] - time[i_c]
    up = (excess > 0) & (lag > 0)
    if up.sum() < 3:
        return float("nan"), float(msd[i_c])
    return float(np.polyfit(np.log(lag[up]), np.log(excess[up]), 1)[0]), float(msd[i_c])


def diffusion_from_trajectory(
    path_or_frames: str | Path | Iterable | Trajectory,
    dt_ps: float | None = None,
    species: Sequence[str] | None = None,
    format: str | None = None,
    **kwargs,
) -> dict[str, DiffusionResult]:
    """D per species (cm²/s) from a trajectory file or frames; see :func:`diffusivity` for ``kwargs``.

    ``dt_ps`` (time between frames, ps) overrides the time stored in the frames (``atoms.info["time_ps"]``);
    a file without times (XDATCAR, extended XYZ from other codes) needs it. ``format``: the ASE format of the
    file when its name does not tell (:func:`~amorphdb.analysis.trajectory.read_trajectory`).
    """
    traj = read_trajectory(path_or_frames, format=format)
    _require_frames(traj.n_frames)
    dt = dt_ps if dt_ps is not None else traj.dt_ps
    if dt is None:
        raise InputError("the trajectory does not store the time between frames: give dt_ps (--dt-ps)")
    log.info("diffusion: %d frames of %d atoms, %.4g ps per frame", traj.n_frames, len(traj.symbols), dt)
    return diffusivity(traj.unwrapped(), traj.symbols, dt, species=species, **kwargs)
