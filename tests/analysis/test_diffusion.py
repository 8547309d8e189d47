"""Diffusion: FFT MSD, D of a random walk with calibrated error bars, drift, non-diffusive flags, agreement
with kinisi, and the ``diffusion`` command."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from amorphdb.analysis.diffusion import diffusivity, msd_fft
from amorphdb.cli import main
from amorphdb.errors import InputError


def test_msd_fft_equals_the_direct_average_over_time_origins(walks):
    x, _ = walks(0, n_frames=120, n_walkers=3, n_frozen=0)
    direct = np.array([[np.mean(np.sum((x[k:, a] - x[:len(x) - k, a]) ** 2, axis=1)) for a in range(3)]
                       for k in range(len(x))])
    np.testing.assert_allclose(msd_fft(x), direct, rtol=1e-9, atol=1e-10)


def test_random_walk_gives_its_D_within_the_error_bar(walks):
    x, symbols = walks(1, n_walkers=50, n_frozen=50)
    res = diffusivity(x, symbols, walks.dt)
    li = res["Li"]
    assert li.diffusive and li.n_atoms == 50 and li.t_fit == pytest.approx((2.0, 10.0), abs=walks.dt)
    assert abs(li.D - walks.d_true * 1e-4) < 2.5 * li.D_err
    assert 0.03 < li.D_err / li.D < 0.2  # 50 walkers over 20 ps: a few percent, not 0.1 % (OLS) nor 100 %
    assert abs(li.loglog_slope - 1) < 0.1
    assert not res["Pb"].diffusive and "MSD" in res["Pb"].reason


def test_error_bars_are_calibrated_over_50_seeds(walks):
    z = []
    for seed in range(50):
        x, symbols = walks(100 + seed)
        li = diffusivity(x, symbols, walks.dt, species=["Li"])["Li"]
        z.append((li.D - walks.d_true * 1e-4) / li.D_err)
    z = np.array(z)
    # ideal: 68 % within 1σ; 50 draws scatter by ±7 %, so this is a loose check of the error model
    assert 0.5 <= np.mean(np.abs(z) < 1) <= 0.86
    assert np.mean(np.abs(z) < 2) >= 0.85
    assert abs(np.mean(z)) < 0.45  # no bias beyond the scatter of 50 draws


def test_a_fixed_fit_start_makes_the_error_fall_with_the_run_length(walks):
    """With the window at 10-50 % of the run, sigma(D)/D is set by the number of atoms only; from a fixed start it
    falls as 1/sqrt(length) (docs/analysis.md), and the error bars stay calibrated."""
    rel = {}
    for n_frames in (250, 1000, 4000):  # 5, 20, 80 ps
        for start in (None, 0.5):
            z, r = [], []
            for seed in range(12):
                x, symbols = walks(500 + seed, n_frames=n_frames)
                li = diffusivity(x, symbols, walks.dt, species=["Li"], t_start=start)["Li"]
                z.append((li.D - walks.d_true * 1e-4) / li.D_err)
                r.append(li.D_err / li.D)
            rel[n_frames, start] = np.median(r)
            assert np.mean(np.abs(z) < 2) >= 0.75 and abs(np.mean(z)) < 0.8
    assert rel[4000, None] == pytest.approx(rel[250, None], rel=0.2)  # 16 x longer, no better
    assert rel[250, 0.5] == pytest.approx(rel[250, None], rel=0.2)  # 0.5 ps is 10 % of 5 ps
    assert rel[4000, 0.5] == pytest.approx(rel[250, 0.5] / 4, rel=0.25)  # 1/sqrt(16)


def test_drift_of_the_whole_system_is_removed(walks):
    x, symbols = walks(2)
    drift = np.arange(len(x))[:, None, None] * walks.dt * np.array([0.5, -0.3, 0.2])  # Å/ps, every atom
    still, moving = diffusivity(x, symbols, walks.dt)["Li"], diffusivity(x + drift, symbols, walks.dt)["Li"]
    assert moving.D == pytest.approx(still.D, rel=1e-9)
    assert moving.D_err == pytest.approx(still.D_err, rel=1e-6)


def test_the_drift_removed_is_that_of_the_mass_weighted_centre(walks):
    """Only the heavy Pb drift: the centre of mass, computed here by hand with the masses 6.94 (Li) and 207.2 (Pb),
    moves with 0.968 of their velocity (an unweighted centre: 0.5 of it), and that comes off every atom."""
    x, symbols = walks(2)
    heavy = np.array([s == "Pb" for s in symbols])
    moved = x + np.arange(len(x))[:, None, None] * walks.dt * np.array([0.5, -0.3, 0.2]) * heavy[:, None]  # Å/ps
    mass = np.where(heavy, 207.2, 6.94)
    centre = np.einsum("a,fai->fi", mass, moved - moved[0]) / mass.sum()
    expected = msd_fft(moved[:, ~heavy] - centre[:, None, :]).mean(axis=1)
    got = diffusivity(moved, symbols, walks.dt)["Li"]
    np.testing.assert_allclose(got.msd, expected, rtol=1e-9, atol=1e-9)
    unweighted = msd_fft(moved[:, ~heavy] - (moved - moved[0]).mean(axis=1)[:, None, :]).mean(axis=1)
    assert np.abs(unweighted - expected)[500] > 10.0  # Å² at 10 ps: the weighting matters here


def test_a_fit_window_to_the_last_frame_works_for_a_lone_atom(walks):
    """At the last lag a single atom gives one squared displacement, no variance: κ comes from the other lags,
    and both species get a D (the lone Na used to make every species fail)."""
    x, _ = walks(12, n_frames=200, n_walkers=11, n_frozen=0, d=1.0)
    symbols = ["Li"] * 10 + ["Na"]
    res = diffusivity(x, symbols, walks.dt, t_end=199 * walks.dt)
    assert res["Li"].t_fit[1] == pytest.approx(199 * walks.dt)
    assert abs(res["Li"].D - 1e-4) < 3 * res["Li"].D_err and res["Li"].diffusive
    assert np.isfinite(res["Na"].D) and 0 < res["Na"].D_err < np.inf


def test_vibrating_solid_is_flagged_not_diffusive(walks):
    rng = np.random.default_rng(3)
    crystal = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(3)  # 108 atoms about their lattice sites
    n_frames, n = 1000, len(crystal)
    u = np.zeros((n_frames, n, 3))
    for k in range(1, n_frames):  # Ornstein-Uhlenbeck vibration, rms 0.1 Å per direction
        u[k] = 0.9 * u[k - 1] + rng.normal(0, 0.1 * np.sqrt(1 - 0.81), (n, 3))
    res = diffusivity(crystal.positions + u, crystal.get_chemical_symbols(), walks.dt)["Cu"]
    assert not res.diffusive
    assert "MSD reaches only" in res.reason
    assert np.mean(res.msd[100:500]) == pytest.approx(2 * 3 * 0.01, rel=0.1)  # plateau 2·<u²> = 0.06 Å²


def test_ballistic_motion_is_flagged_by_the_log_log_slope(walks):
    rng = np.random.default_rng(4)
    v = rng.normal(0, 1.0, (1, 60, 3))  # Å/ps, free flight: MSD ∝ t²
    x = np.arange(400)[:, None, None] * walks.dt * v + rng.random((1, 60, 3)) * 10
    res = diffusivity(x, ["Ar"] * 60, walks.dt)["Ar"]
    assert not res.diffusive and "log-log slope" in res.reason
    assert res.loglog_slope > 1.5  # (t² − t_c²) against t − t_c over 0.8–4 ps


def _caged(seed: int, d: float, plateau: float, n_frames: int = 1000, n: int = 40, dt: float = 0.02,
           tau: float = 0.05) -> np.ndarray:
    """Atoms rattling in a cage (Ornstein–Uhlenbeck, correlation time ``tau`` ps, MSD plateau ``plateau`` Å²)
    whose centres random-walk with ``d`` Å²/ps: MSD(t) = plateau·(1 − e^(−t/tau)) + 6 d t. Positions in Å."""
    rng = np.random.default_rng(seed)
    a = np.exp(-dt / tau)
    sigma = np.sqrt(plateau / 6)  # per direction: MSD plateau = 2 · 3 σ²
    u = np.zeros((n_frames, n, 3))
    u[0] = rng.normal(0, sigma, (n, 3))
    for k in range(1, n_frames):
        u[k] = a * u[k - 1] + rng.normal(0, sigma * np.sqrt(1 - a * a), (n, 3))
    centres = np.cumsum(rng.normal(0, np.sqrt(2 * d * dt), (n_frames, n, 3)), axis=0) if d > 0 else 0.0
    return centres + u + rng.random((1, n, 3)) * 12


def test_caged_then_diffusive_is_diffusive_and_its_D_right():
    """D = 1e-5 cm²/s behind a 2.5 Å² vibrational plateau over 2–10 ps: the raw MSD's log-log slope is below
    0.7 (the old test flagged it), the slope above the plateau is 1."""
    dt, d = 0.02, 0.1  # ps, Å²/ps (1e-5 cm²/s)
    res = diffusivity(_caged(5, d, 2.5), ["Li"] * 40, dt)["Li"]
    t, y = res.time, res.msd
    window = (t >= res.t_fit[0]) & (t <= res.t_fit[1])
    raw = np.polyfit(np.log(t[window]), np.log(y[window]), 1)[0]
    assert raw < 0.7
    assert res.diffusive, res.reason
    assert abs(res.loglog_slope - 1) < 0.2
    assert abs(res.D - d * 1e-4) < 3 * res.D_err


def test_caged_solid_and_subdiffusion_stay_non_diffusive():
    dt = 0.02
    solid = diffusivity(_caged(6, 0.0, 1.5), ["Li"] * 40, dt)["Li"]  # a crystal with a large rattle, no hops
    assert not solid.diffusive and "MSD reaches only" in solid.reason
    # the same with a plateau above min_msd: flat within its noise, still not diffusive
    big = diffusivity(_caged(7, 0.0, 6.0), ["Li"] * 40, dt, min_msd=4.0)["Li"]
    assert not big.diffusive and ("does not grow" in big.reason or "log-log" in big.reason)
    # MSD ∝ √t (sub-diffusion, e.g. a slowly relaxing glass): each atom a fractional-like walk built from the
    # displacement field of a chain, scaled so that the MSD reaches 10 Å²
    rng = np.random.default_rng(8)
    n_frames, n = 1000, 40
    time = np.arange(n_frames) * dt
    target = 10.0 * np.sqrt(time / time[-1])  # MSD(t), Å²
    # Gaussian process with the increments' covariance of MSD(t) ∝ t^0.5 (fBm, Hurst 0.25), per direction
    h = 0.25
    tt = time[1:]
    cov = 0.5 * (tt[:, None] ** (2 * h) + tt[None, :] ** (2 * h) - np.abs(tt[:, None] - tt[None, :]) ** (2 * h))
    chol = np.linalg.cholesky(cov + 1e-10 * np.eye(len(tt)))
    path = np.concatenate([np.zeros((1, n, 3)), np.einsum("ij,jak->iak", chol, rng.normal(size=(len(tt), n, 3)))])
    x = path * np.sqrt(target[-1] / 3 / time[-1] ** (2 * h)) + rng.random((1, n, 3)) * 12
    sub = diffusivity(x, ["Li"] * n, dt)["Li"]
    assert not sub.diffusive and "log-log slope" in sub.reason and sub.loglog_slope < 0.7


def test_agrees_with_kinisi(walks):
    import scipp as sc
    from kinisi.analyze import DiffusionAnalyzer

    x, symbols = walks(6, n_frames=1000, n_walkers=40, n_frozen=40)
    ours = diffusivity(x, symbols, walks.dt, species=["Li"])["Li"]
    frames = [Atoms(symbols, positions=p, cell=[12.0] * 3, pbc=True) for p in x]
    lags = np.unique(np.linspace(100, 500, 50).round())  # our default window, 2-10 ps
    ana = DiffusionAnalyzer.from_ase(frames, specie="Li", time_step=sc.scalar(walks.dt, unit="ps"),
                                     step_skip=sc.scalar(1), dt=sc.array(dims=["time interval"], values=lags * walks.dt,
                                                                         unit="ps"), progress=False)
    ana.diffusion(sc.scalar(2.0, unit="ps"), n_samples=400, n_burn=200, progress=False,
                  random_state=np.random.RandomState(0))
    samples = sc.to_unit(ana.D, "cm^2/s").values
    k_mean, k_err = float(np.mean(samples)), float(np.std(samples))
    assert abs(ours.D - k_mean) < 0.5 * np.hypot(ours.D_err, k_err)  # same data: far closer than the errors
    assert 0.5 < ours.D_err / k_err < 2.0  # the same covariance model, solved differently


def test_cli_diffusion_prints_and_plots(tmp_path, capsys, walks):
    import ase.io

    x, symbols = walks(8, n_frames=300, d=1.0)
    frames = [Atoms(symbols, positions=p, cell=[12.0] * 3, pbc=True) for p in x]
    ase.io.write(tmp_path / "run.extxyz", frames)
    assert main(["diffusion", str(tmp_path / "run.extxyz"), "--dt-ps", str(walks.dt), "--species", "Li",
                 "--plot", str(tmp_path / "msd.png")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Li  D = ") and "cm²/s" in out and "Pb" not in out
    assert (tmp_path / "msd.png").stat().st_size > 10_000
    assert main(["diffusion", str(tmp_path / "run.extxyz"), "--dt-ps", str(walks.dt), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["Li"]["diffusive"] is True and data["Pb"]["diffusive"] is False
    assert main(["diffusion", str(tmp_path / "run.extxyz")]) == 2  # no time per frame in the file
    assert "dt_ps" in capsys.readouterr().err


def test_bad_time_step_masses_and_a_species_string(walks):
    x, symbols = walks(3, n_frames=100, n_walkers=5, n_frozen=5)
    for dt in (float("nan"), float("inf"), 0.0, None):
        with pytest.raises(InputError, match="time between frames"):
            diffusivity(x, symbols, dt)
    for masses in ([1.0] * 3, [1.0] * (len(symbols) - 1) + [0.0]):
        with pytest.raises(InputError, match="masses"):
            diffusivity(x, symbols, 0.02, masses=masses)
    one = list(dict.fromkeys(symbols))[0]
    assert list(diffusivity(x, symbols, 0.02, species=one)) == [one]  # "Li", not "L" and "i"
    for window in ({"t_start": -1.0}, {"t_start": 1.0, "t_end": 0.5}, {"t_start": float("nan")}):
        with pytest.raises(InputError, match="the start must be at least 0 and below the end"):
            diffusivity(x, symbols, 0.02, **window)  # once clamped to the first lag without a word
