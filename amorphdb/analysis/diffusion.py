"""Diffusion from MD trajectories: MSD per species, D with an honest error bar, Arrhenius fits, Nernst–Einstein.

What is here
------------
- :func:`read_trajectory` turns any ASE-readable file (``.traj``, extended XYZ, VASP ``XDATCAR``, LAMMPS dump)
  or a list of ASE ``Atoms`` / pymatgen ``Structure`` into arrays (:class:`Trajectory`); positions are unwrapped
  by the minimum-image displacement between consecutive frames, so wrapped and unwrapped files both work as
  long as no atom moves more than half a cell between two frames.
- :func:`msd_fft` is the mean squared displacement of every atom averaged over all time origins, computed with
  FFTs (O(T log T), the algorithm of Calandrini et al., nMoldyn, 2011) instead of a double loop.
- :func:`diffusivity` gives D per species (cm²/s) from drift-corrected positions;
  :func:`diffusion_from_trajectory` does the same for a file or a list of frames.
- :func:`arrhenius_fit` fits ln D = ln D0 − Ea / (kB T) weighted by the uncertainties; :class:`ArrheniusResult`
  predicts D(T) with its error (:func:`extrapolate` to 300 K); :func:`conductivity` is Nernst–Einstein,
  :func:`conductivities` applies it to the species of a trajectory with given charges.

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
within 2σ, with a slight low bias of about 0.2σ (tests/test_diffusion.py checks 50 seeds). The model
treats atoms as independent, so collective motion in a real liquid makes the error somewhat too small.

The fit window excludes the ballistic and caging start: by default it runs from 10 % to 50 % of the
trajectory length (the longest lags are few and noisy). Drift: the displacement of the centre of mass of
the whole system (mass-weighted) is subtracted from every atom.

A species is flagged ``diffusive=False`` when its MSD has not reached the diffusive regime: the MSD at the
end of the window is below ``min_msd`` (4 Å², about one Li hop) or the log-log slope of MSD(t) over the
window is outside [0.7, 1.3] (a glass or a solid gives ≪ 1). Its D is still the fitted slope, but it is an
upper bound, not a diffusion coefficient, and :func:`arrhenius_fit` callers should leave it out.

Library choice: kinisi 2.1 (an optional test dependency, compared in the tests) brings scipp, emcee and an
MCMC per species, seconds per call; pymatgen-analysis-diffusion's error bar ignores the correlations. The
GLS above is a few lines of numpy, fast enough for the 10 000-frame benchmark (benchmarks/bench_analysis.py).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ase import Atoms
from pymatgen.core import IStructure
from scipy import constants
from scipy.optimize import curve_fit

from ..errors import InputError, first_line
from ..units import A2_PER_PS_IN_CM2_PER_S, KB_EV

log = logging.getLogger(__name__)

METHOD = "GLS, kinisi-type MSD covariance"
MIN_FRAMES = 20  # shortest trajectory (frames) that diffusivity() accepts


@dataclass
class Trajectory:
    """Frames as arrays: ``positions`` (n_frames, n_atoms, 3) Å as read, ``cells`` (n_frames, 3, 3) Å,
    element ``symbols``, ``dt_ps`` the time between frames (ps) and ``temperature`` the target temperature
    of the run (K; both None when the source does not say)."""

    positions: np.ndarray
    cells: np.ndarray
    symbols: list[str]
    dt_ps: float | None = None
    temperature: float | None = None

    @property
    def n_frames(self) -> int:
        return self.positions.shape[0]

    @property
    def volume(self) -> float:
        """Mean cell volume over the frames, Å³."""
        return float(np.mean(np.abs(np.linalg.det(self.cells))))

    def unwrapped(self) -> np.ndarray:
        """Positions (Å) unwrapped by the minimum-image displacement between consecutive frames."""
        frac = np.einsum("fai,fij->faj", self.positions, np.linalg.inv(self.cells))
        step = np.diff(frac, axis=0)
        step -= np.round(step)
        frac = np.concatenate([frac[:1], frac[:1] + np.cumsum(step, axis=0)])
        return np.einsum("fai,fij->faj", frac, self.cells)


def read_trajectory(path_or_frames: str | Path | Iterable | Trajectory, index: str = ":",
                    format: str | None = None) -> Trajectory:
    """Read a trajectory file (any format ASE reads; ``format`` names it when ASE cannot guess it from the
    file, e.g. ``"lammps-dump-text"``) or convert ASE ``Atoms`` / pymatgen ``Structure`` frames (a single
    structure is a one-frame trajectory); a :class:`Trajectory` is returned as it is.

    The time per frame is taken from ``atoms.info["time_ps"]`` when every frame has it, else, for the
    ``.traj`` of a finished amorphdb MD run, from its ``.result.json`` (time step × steps per frame), which
    also gives the run's target temperature.
    """
    if isinstance(path_or_frames, Trajectory):
        return path_or_frames
    if isinstance(path_or_frames, (str, Path)):
        import ase.io
        from ase.io.formats import UnknownFileTypeError

        path = Path(path_or_frames)
        if not path.is_file():
            raise InputError(f"trajectory file not found: {path}")
        if path.stat().st_size == 0:
            raise InputError(f"trajectory file {path} is empty")
        hint = "name the format with --format / format=, e.g. extxyz, vasp-xdatcar, lammps-dump-text"
        try:
            frames = ase.io.read(path, index=index, format=format)
        except UnknownFileTypeError as exc:
            raise InputError(f"cannot read trajectory {path}: ASE does not know the file type {exc.args[0]!r} "
                             f"({hint})") from None
        except Exception as exc:  # ASE raises many types for unreadable files
            first = first_line(exc)
            if format is None:
                first = f"read as {_guessed_format(path)!r}: {first} ({hint})"
            raise InputError(f"cannot read trajectory {path}: {first}") from None
        if not isinstance(frames, list):
            frames = [frames]
    elif isinstance(path_or_frames, (Atoms, IStructure)):
        frames = [path_or_frames]
    else:
        try:
            frames = list(path_or_frames)
        except TypeError:
            raise InputError(f"not a trajectory: {type(path_or_frames).__name__}") from None
    if not frames:
        raise InputError("the trajectory has no frames")
    positions, cells, times = [], [], []
    symbols = _symbols(frames[0])
    for k, frame in enumerate(frames):
        if _symbols(frame) != symbols:
            raise InputError(f"frame {k} has other atoms than the first frame")
        if isinstance(frame, Atoms):
            positions.append(frame.get_positions())
            cells.append(np.asarray(frame.cell[:], dtype=float))
            times.append(frame.info.get("time_ps"))
        else:
            positions.append(frame.cart_coords)
            cells.append(frame.lattice.matrix)
            times.append(frame.properties.get("time_ps"))
    cells_arr = np.array(cells)
    if np.any(np.abs(np.linalg.det(cells_arr)) < 1e-6):
        raise InputError("the trajectory has no periodic cell (zero cell volume): diffusion and RDF need one")
    dt, temperature = None, None
    if isinstance(path_or_frames, (str, Path)) and index == ":" and len(frames) > 1:
        dt, temperature = _md_run_info(path_or_frames, len(frames))
    if all(t is not None for t in times) and len(times) > 1:
        steps = np.diff(np.asarray(times, dtype=float))
        dt = float(steps[0]) if np.all(steps > 0) and np.allclose(steps, steps[0], rtol=1e-6) else None
    return Trajectory(np.array(positions, dtype=float), cells_arr, symbols, dt, temperature)


def _guessed_format(path: Path) -> str:
    """The format ASE guesses for ``path`` (from its name and first bytes), or "unknown"."""
    from ase.io.formats import filetype

    try:
        return str(filetype(str(path), guess=True))
    except Exception:  # an empty or unreadable file
        return "unknown"


def _md_run_info(path: str | Path, n_frames: int) -> tuple[float | None, float | None]:
    """(time between frames ps, target temperature K) of a finished amorphdb MD run, from its result file
    next to the trajectory; (None, None) for any other file."""
    from ..md import load_result

    result = load_result(path)
    if result is None or result.n_frames != n_frames:
        return None, None
    return result.timestep * result.n_steps / (n_frames - 1) / 1000.0, float(result.temperature)


def _symbols(frame) -> list[str]:
    if isinstance(frame, Atoms):
        return list(frame.get_chemical_symbols())
    if isinstance(frame, IStructure):
        return [site.specie.symbol for site in frame]
    raise InputError(f"a frame must be an ASE Atoms or a pymatgen Structure, got {type(frame).__name__}")


def evenly_spaced(first: int, last: int, n: int) -> np.ndarray:
    """At most ``n`` evenly spaced integers from ``first`` to ``last`` (both included, no repeats): the frames
    or lags to use when there are more than ``n``."""
    return np.unique(np.linspace(first, last, min(n, last - first + 1)).round().astype(int))


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
    ``loglog_slope`` of MSD(t) over the window; ``reason`` says why ``diffusive`` is False.
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
        return _finite({"species": self.species, "D": self.D, "D_err": self.D_err, "diffusive": self.diffusive,
                        "n_atoms": self.n_atoms, "t_fit": list(self.t_fit), "method": self.method,
                        "intercept": self.intercept, "loglog_slope": self.loglog_slope, "reason": self.reason})


def _finite(record: dict) -> dict:
    """``record`` with every non-finite float replaced by None (strict JSON has no NaN)."""
    return {k: None if isinstance(v, float) and not np.isfinite(v) else v for k, v in record.items()}


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
    50 % of the run) at ``n_lags`` evenly spaced lags. ``masses`` (amu) weight the drift correction (default:
    from the element symbols). ``min_msd`` (Å²): below this MSD at ``t_end`` the species is not diffusive.
    """
    x = np.asarray(positions, dtype=float)
    symbols = list(symbols)
    if x.ndim != 3 or x.shape[2] != 3:
        raise InputError(f"positions must have shape (n_frames, n_atoms, 3), got {x.shape}")
    if x.shape[1] != len(symbols):
        raise InputError(f"{x.shape[1]} atoms in positions but {len(symbols)} symbols")
    if not dt_ps or dt_ps <= 0:
        raise InputError(f"time between frames must be positive, got {dt_ps} ps")
    n_frames = x.shape[0]
    if n_frames < MIN_FRAMES:
        raise InputError(f"a trajectory of {n_frames} frames is too short for diffusion (need at least {MIN_FRAMES})")
    length = (n_frames - 1) * dt_ps
    t0 = 0.1 * length if t_start is None else t_start
    t1 = 0.5 * length if t_end is None else t_end
    i0, i1 = max(1, int(round(t0 / dt_ps))), int(round(t1 / dt_ps))
    if not 1 <= i0 < i1 <= n_frames - 1:
        raise InputError(f"fit window {t0:g}–{t1:g} ps does not fit in a {length:g} ps trajectory")
    lags = evenly_spaced(i0, i1, n_lags)
    if len(lags) < 3:
        raise InputError(f"fit window {t0:g}–{t1:g} ps holds fewer than 3 frames")

    if masses is None:
        from ase.data import atomic_masses, atomic_numbers

        try:
            masses = [atomic_masses[atomic_numbers[s]] for s in symbols]
        except KeyError as exc:
            raise InputError(f"unknown element {exc.args[0]!r}") from None
    m = np.asarray(masses, dtype=float)
    com = np.einsum("a,fai->fi", m, x - x[0]) / m.sum()
    x = x - com[:, None, :]

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


def _fit_msd(species: str, x: np.ndarray, time: np.ndarray, msd: np.ndarray, lags: np.ndarray,
             min_msd: float) -> DiffusionResult:
    """GLS line through MSD(lags) with the covariance model of the module docstring."""
    n_frames, n_atoms = x.shape[:2]
    t, y = time[lags], msd[lags]
    var_sq = np.array([np.einsum("fai,fai->fa", d, d).var(ddof=1) for d in (x[k:] - x[:-k] for k in lags)])
    pos = y > 0
    kappa = float(np.mean(var_sq[pos] / y[pos] ** 2)) if pos.any() else 2 / 3
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
    loglog = float(np.polyfit(np.log(t[pos]), np.log(y[pos]), 1)[0]) if pos.sum() >= 3 else float("nan")
    reason = ""
    if y[-1] < min_msd:
        reason = f"MSD reaches only {y[-1]:.2g} Å² at {t[-1]:.3g} ps (< {min_msd:g} Å²)"
    elif not 0.7 <= loglog <= 1.3:
        reason = f"log-log slope of the MSD is {loglog:.2f}, not ≈ 1"
    elif slope <= 0:
        reason = "MSD does not grow"
    return DiffusionResult(species, float(D), D_err, not reason, n_atoms, (float(t[0]), float(t[-1])),
                           time, msd, METHOD, float(intercept), loglog, reason)


def diffusion_from_trajectory(
    path_or_frames: str | Path | Iterable,
    dt_ps: float | None = None,
    species: Sequence[str] | None = None,
    **kwargs,
) -> dict[str, DiffusionResult]:
    """D per species (cm²/s) from a trajectory file or frames; see :func:`diffusivity` for ``kwargs``.

    ``dt_ps`` (time between frames, ps) overrides the time stored in the frames (``atoms.info["time_ps"]``);
    a file without times (XDATCAR, extended XYZ from other codes) needs it.
    """
    traj = read_trajectory(path_or_frames)
    dt = dt_ps if dt_ps is not None else traj.dt_ps
    if dt is None:
        raise InputError("the trajectory does not store the time between frames: give dt_ps (--dt-ps)")
    log.info("diffusion: %d frames of %d atoms, %.4g ps per frame", traj.n_frames, len(traj.symbols), dt)
    return diffusivity(traj.unwrapped(), traj.symbols, dt, species=species, **kwargs)


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
        return _finite({"species": self.species, "Ea": self.Ea, "Ea_err": self.Ea_err, "prefactor": self.prefactor,
                        "prefactor_err": self.prefactor_err, "t_min": self.t_min, "t_max": self.t_max,
                        "chi2_red": self.chi2_red, "method": self.method, "D_300K": D300, "D_300K_err": D300_err,
                        "D_300K_1sigma": list(self.interval(300.0))})


def arrhenius_fit(temperature: Sequence[float], D: Sequence[float], D_err: Sequence[float] | None = None,
                  species: str = "Li") -> ArrheniusResult:
    """Fit ln D = ln D0 − Ea/(kB T) (T in K, D and D_err in cm²/s) with scipy's ``curve_fit``.

    With ``D_err`` the points are weighted by σ(ln D) = D_err / D and the parameter covariance is absolute,
    scaled up by the reduced χ² when it exceeds 1 (scatter beyond the error bars, e.g. non-Arrhenius data).
    Without errors the fit is unweighted and the covariance comes from the residuals (needs 3 points).
    """
    T, d = np.asarray(temperature, dtype=float), np.asarray(D, dtype=float)
    if T.shape != d.shape or T.ndim != 1:
        raise InputError("temperature and D must be 1-D sequences of the same length")
    if np.any(T <= 0) or np.any(d <= 0) or not np.all(np.isfinite(d)):
        raise InputError("Arrhenius fit needs positive temperatures and positive, finite D")
    need = 2 if D_err is not None else 3
    if len(np.unique(T)) < need:
        raise InputError(f"Arrhenius fit needs at least {need} temperatures, got {len(np.unique(T))}")
    x = 1 / (KB_EV * T)
    sigma = None
    if D_err is not None:
        e = np.asarray(D_err, dtype=float)
        if e.shape != d.shape or np.any(~(e > 0)):
            raise InputError("D_err must be positive and match D")
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


def conductivity(D: float | np.ndarray, temperature: float, n_carriers: int, volume: float,
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
    over those species (errors added in quadrature; no cross-correlations, Haven ratio 1)."""
    missing = [s for s in charges if s not in results]
    if missing:
        raise InputError(f"no diffusivity for {', '.join(missing)} (have {', '.join(results)})")
    out = {}
    for s, z in charges.items():
        r = results[s]
        out[s] = (conductivity(r.D, temperature, r.n_atoms, volume, z),
                  conductivity(r.D_err, temperature, r.n_atoms, volume, z))
    out["total"] = (sum(v[0] for v in out.values()), float(np.sqrt(sum(v[1] ** 2 for v in out.values()))))
    return out


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
