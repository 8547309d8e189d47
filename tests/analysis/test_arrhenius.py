"""Arrhenius fits on synthetic data, the one rule choosing their points, and the ``arrhenius`` command."""

from __future__ import annotations

import json

import numpy as np
import pytest

from amorphdb.analysis.arrhenius import arrhenius_fit, arrhenius_points, extrapolate, fit_points
from amorphdb.cli import main
from amorphdb.errors import InputError
from amorphdb.units import KB_EV


def test_arrhenius_recovers_ea_and_prefactor_from_exact_data():
    T = np.array([1000.0, 1500.0, 2000.0, 2500.0])
    D = 2e-3 * np.exp(-0.35 / (KB_EV * T))
    fit = arrhenius_fit(T, D, 0.1 * D)
    assert fit.Ea == pytest.approx(0.35, rel=1e-8)
    assert fit.prefactor == pytest.approx(2e-3, rel=1e-8)
    assert (fit.t_min, fit.t_max) == (1000.0, 2500.0)
    # σ(ln D) = 0.1 at 4 points: σ(Ea) from the normal equations
    x = 1 / (KB_EV * T)
    expected = 0.1 / np.sqrt(np.sum((x - x.mean()) ** 2))
    assert fit.Ea_err == pytest.approx(expected, rel=1e-6)
    d300, e300 = extrapolate(fit)
    assert d300 == pytest.approx(2e-3 * np.exp(-0.35 / (KB_EV * 300)), rel=1e-8)
    assert e300 / d300 > 3 * fit.predict(1500.0)[1] / fit.predict(1500.0)[0]  # extrapolation is less certain


def test_arrhenius_error_bars_are_calibrated_on_noisy_data():
    rng = np.random.default_rng(7)
    T = np.array([1000.0, 1500.0, 2000.0, 2500.0])
    hits, ea = [], []
    for _ in range(200):
        rel = rng.uniform(0.05, 0.3, 4)  # known, different error per point
        D = 1e-3 * np.exp(-0.25 / (KB_EV * T)) * np.exp(rng.normal(0, rel))
        fit = arrhenius_fit(T, D, rel * D)
        hits.append(abs(fit.Ea - 0.25) < fit.Ea_err)
        ea.append(fit.Ea)
    assert 0.6 < np.mean(hits) <= 0.9  # ≥ 68 %: the χ² inflation only widens
    assert np.mean(ea) == pytest.approx(0.25, abs=0.01)


def test_arrhenius_without_errors_and_bad_input():
    T = [1000.0, 1500.0, 2000.0, 2500.0]
    D = [1e-6, 1e-5, 3e-5, 7e-5]
    fit = arrhenius_fit(T, D)
    assert fit.Ea > 0 and fit.Ea_err > 0 and "unweighted" in fit.method
    with pytest.raises(InputError, match="at least 3"):
        arrhenius_fit(T[:2], D[:2])
    with pytest.raises(InputError, match="positive"):
        arrhenius_fit(T, [1e-6, -1e-5, 3e-5, 7e-5])
    # non-finite temperatures and error bars are bad input, not a LinAlgError or a fit reaching T = inf
    for bad_T in ([1000.0, np.nan, 2000.0, 2500.0], [1000.0, np.inf, 2000.0, 2500.0]):
        with pytest.raises(InputError, match="finite temperatures"):
            arrhenius_fit(bad_T, D)
    with pytest.raises(InputError, match="D_err"):
        arrhenius_fit(T, D, [1e-7, np.inf, 1e-6, 1e-6])
    points = arrhenius_points([1000.0, np.inf, 2000.0, 2500.0, 3000.0], D + [1e-4])
    assert points.excluded == (1,) and np.all(np.isfinite(points.temperature))


def test_arrhenius_one_sigma_range_stays_positive_far_from_the_data():
    T = np.array([1000.0, 1500.0, 2000.0, 2500.0])
    D = 1e-2 * np.exp(-0.45 / (KB_EV * T))
    fit = arrhenius_fit(T, D, 0.3 * D)
    d300, e300 = fit.predict(300.0)
    low, high = fit.interval(300.0)
    assert e300 > d300  # first-order D ± σ would reach below zero at 300 K
    assert 0 < low < d300 < high and np.sqrt(low * high) == pytest.approx(d300)  # symmetric in ln D
    assert np.log(high / d300) == pytest.approx(e300 / d300)
    record = fit.to_dict()
    assert record["D_300K_1sigma"] == pytest.approx([low, high]) and record["chi2_red"] is not None
    assert arrhenius_fit(T, D).to_dict()["chi2_red"] is None  # NaN is not valid JSON


def test_one_rule_two_temperatures_with_error_bars_else_three():
    T = [1000.0, 1500.0, 2000.0, 2500.0]
    D = [1e-6, 1e-5, 3e-5, 7e-5]
    err = [1e-7, 1e-6, 3e-6, 7e-6]
    both = arrhenius_points(T[:2], D[:2], err[:2])
    assert both.weighted and both.temperature.tolist() == T[:2] and both.excluded == ()
    assert arrhenius_points(T[:2], D[:2]) is None  # two points without error bars: no covariance
    assert arrhenius_points(T[:2], D[:2], [1e-7, None]) is None  # one missing error makes the fit unweighted
    three = arrhenius_points(T[:3], D[:3], [1e-7, float("nan"), 3e-6])
    assert not three.weighted and three.D_err is None and len(three.D) == 3
    # non-diffusive and non-positive D leave; None counts as diffusive (imported data without a flag)
    kept = arrhenius_points(T, [1e-6, 1e-5, -1.0, 7e-5], err, [True, None, True, False])
    assert kept.temperature.tolist() == [1000.0, 1500.0] and kept.excluded == (2, 3)
    assert arrhenius_points(T, D, err, [False, False, False, True]) is None
    assert arrhenius_points(T, D, err, np.array([True, True, False, True])).excluded == (2,)  # numpy flags too
    assert arrhenius_points([1000.0, 1000.0, 1000.0], D[:3]) is None  # distinct temperatures count
    fit = fit_points(T, D, err, species="Na")
    assert fit.species == "Na" and fit.Ea == pytest.approx(arrhenius_fit(T, D, err).Ea)
    assert fit_points(T[:2], D[:2]) is None
    with pytest.raises(InputError, match="same length"):
        arrhenius_points(T, D[:3])


def test_cli_arrhenius_reads_the_database_fits_stores_and_plots(tmp_path, capsys):
    from amorphdb.database import Database

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    db = Database(url)
    for T, rel in [(1000, 0.2), (1500, 0.1), (2000, 0.08), (2500, 0.05)]:
        run = db.add_run("Li3PS4", source="mlip-chgnet", temperature=T, stage="production", key=f"prod-{T}",
                         density=1.9 - T / 1e4)
        D = 1e-3 * np.exp(-0.3 / (KB_EV * T))
        db.add_diffusivity(run, "Li", D, rel * D, "GLS", diffusive=True)
    cold = db.add_run("Li3PS4", source="mlip-chgnet", temperature=600, stage="production", key="prod-600")
    db.add_diffusivity(cold, "Li", 1e-9, 1e-9, "GLS", diffusive=False)
    png = tmp_path / "arr.png"
    assert main(["arrhenius", "Li3PS4", "--db", url, "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "Ea = 0.300 ±" in out and "D(300 K)" in out and "1σ range" in out
    assert "600 K" in out  # the glass point is left out
    assert png.stat().st_size > 10_000
    stored = Database(url).arrhenius("Li3PS4", "mlip-chgnet")
    assert len(stored) == 1 and stored["Ea"][0] == pytest.approx(0.3, rel=1e-6)
    assert stored["t_min"][0] == 1000 and stored["t_max"][0] == 2500
    assert main(["arrhenius", "Li3PS4", "--db", url, "--source", "paper-aimd"]) == 2
    capsys.readouterr()
    assert main(["arrhenius", "Li3PS4", "--db", url, "--charge", "1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    # 3 Li per Li3PS4 (215.3 g/mol) at the 1000 K run's 1.8 g/cm³, constants typed by hand
    n_li = 1.8 / (3 * 6.941 + 30.973762 + 4 * 32.065) * 6.02214076e23 * 3  # per cm³
    expected = n_li * 1.602176634e-19**2 * data["D_300K"] / (1.380649e-23 * 300)
    assert data["sigma_300K"] == pytest.approx(expected, rel=1e-3) and data["sigma_density"] == pytest.approx(1.8)
    assert data["sigma_300K_1sigma"][0] < data["sigma_300K"] < data["sigma_300K_1sigma"][1]
    assert main(["arrhenius", "Li3PS4", "--db", url, "--charge", "1"]) == 0
    assert "sigma(300 K) = " in capsys.readouterr().out
