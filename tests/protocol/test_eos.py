"""The equation of state of the volume search."""

from __future__ import annotations

import numpy as np
import pytest

from amorphdb.errors import ConvergenceError
from amorphdb.protocol.eos import birch_murnaghan_pressure, fit_zero_pressure_volume


def test_birch_murnaghan_fit_recovers_v0():
    v = np.array([80.0, 100.0, 120.0])
    p = birch_murnaghan_pressure(v, 104.0, 900.0, 4.5)
    fit = fit_zero_pressure_volume(v, p)
    assert fit.method == "birch-murnaghan" and fit.volume == pytest.approx(104.0, rel=1e-6)
    assert fit.bulk_modulus == pytest.approx(900.0, rel=1e-5)  # B0: within a factor 2 of the local secant (724)


def test_linear_fallback_and_its_failure():
    fit = fit_zero_pressure_volume([90.0, 110.0], [10.0, -10.0])  # two points: no BM fit
    assert fit.method == "linear" and fit.volume == pytest.approx(100.0)
    assert fit.bulk_modulus == pytest.approx(20.0 / np.log(110 / 90))  # the secant: -dP/dln V
    with pytest.raises(ConvergenceError, match="does not fall with volume"):
        fit_zero_pressure_volume([90.0, 110.0], [-10.0, 10.0])


def test_secant_bulk_modulus_only_from_a_resolved_pressure_difference():
    from amorphdb.protocol.eos import secant_bulk_modulus

    v = (100.0, 95.0)
    b = secant_bulk_modulus(v, (-10.0, 5.0), (1.0, 1.0))
    assert b == pytest.approx(15.0 / np.log(100 / 95))  # -dP/dln V
    assert secant_bulk_modulus(v, (-10.0, -8.0), (1.0, 1.0)) is None  # 2 kbar apart, noise 1.4: within 2 sigma
    assert secant_bulk_modulus(v, (5.0, -10.0), (1.0, 1.0)) is None  # P rising with V: no modulus
    assert secant_bulk_modulus(v, (-10.0, 5.0), (np.inf, 1.0)) is None  # unknown error
    assert secant_bulk_modulus((100.0, 100.0), (-10.0, 5.0), (1.0, 1.0)) is None  # same volume (energy rerun)


def test_the_fitted_bulk_modulus_carries_the_error_of_its_pressures():
    from amorphdb.protocol.eos import fitted_bulk_modulus

    # two checks 2 % apart at SE(P) = 1 kbar: B = 50 kbar with an error of sqrt(2) / ln(1.02), ~70 kbar
    b, err = fitted_bulk_modulus([(100.0, 0.5, 1.0), (102.0, 0.5 - 50 * np.log(1.02), 1.0)])
    assert b == pytest.approx(50.0) and err == pytest.approx(np.sqrt(2) / np.log(1.02))
    # four checks over 20 % on an exact line: the same B, known to ~3.3 kbar; noise beyond the SEs widens it
    volumes = np.array([90.0, 96.0, 104.0, 110.0])
    exact = [(v, -50 * np.log(v / 100), 0.5) for v in volumes]
    b, err = fitted_bulk_modulus(exact)
    assert b == pytest.approx(50.0) and 3.0 < err < 3.6
    scattered = [(v, p + d, e) for (v, p, e), d in zip(exact, (3.0, -3.0, 3.0, -3.0))]
    assert fitted_bulk_modulus(scattered)[1] > 3 * err
    assert fitted_bulk_modulus([(100.0, 1.0, 1.0), (100.0, -1.0, 1.0)]) is None  # one volume (energy reruns)
    assert fitted_bulk_modulus([(100.0, 1.0, np.inf), (104.0, -1.0, 1.0)]) is None  # an unknown error
    assert fitted_bulk_modulus([(100.0, -1.0, 1.0), (104.0, 1.0, 1.0)]) is None  # P rising with V


def test_rescaled_volume_lands_on_zero_pressure_of_a_linear_eos_and_caps_its_step():
    from amorphdb.protocol.eos import rescaled_volume

    # P = -B ln(V/V0): one step with the right B lands on V0 from either side
    b, v0 = 150.0, 100.0
    for v in (95.0, 104.0):
        assert rescaled_volume(v, -b * np.log(v / v0), b) == pytest.approx(v0)
    assert rescaled_volume(100.0, -200.0, 150.0) == pytest.approx(100.0 * np.exp(-0.15))  # capped at 15 % in ln V
    # the reference's beta step is the same with B = 1/beta: 5e-7 / bar is 2000 kbar
    assert rescaled_volume(100.0, 20.0, 2000.0, np.inf) == pytest.approx(100.0 * np.exp(5e-7 * 20e3))


def test_the_bulk_modulus_is_checked_against_the_secant_of_the_runs_around_the_zero():
    # Li3P's 5000 K EOS runs with CHGNet (densities 1.83 ... 0.78 g/cm3): the line through all of them is set by
    # the stiff compressed runs; the modulus where P crosses zero is near the secant of the two runs around it
    v = [1175.7, 1469.6, 1763.5, 2204.4, 2755.5]
    p = [131.7, 61.2, 32.6, 7.5, -5.2]
    secant = 12.7 / np.log(2755.5 / 2204.4)  # 57 kbar
    fit = fit_zero_pressure_volume(v, p)
    assert 2204.4 < fit.volume < 2755.5 and 0.5 <= fit.bulk_modulus / secant <= 2.0
    assert -np.polyfit(v, p, 1)[0] * fit.volume > 3 * secant  # the line's: far stiffer
    # a BM curve bent hard through noisy points: its zero is kept, its B0 gives way to the secant
    v, p = [360.0, 370.0, 380.0], [6.5, -3.4, -39.8]  # B = 1000 kbar and 15 kbar of noise
    fit = fit_zero_pressure_volume(v, p)
    assert fit.method == "birch-murnaghan" and fit.bulk_modulus == pytest.approx(9.9 / np.log(370 / 360))
    # not bracketed (the linear extrapolation of two runs): the line's modulus
    fit = fit_zero_pressure_volume([90.0, 100.0], [20.0, 10.0])
    assert fit.volume == pytest.approx(110.0) and fit.bulk_modulus == pytest.approx(110.0)


def test_the_secant_keeps_the_zero_bracketed():
    from amorphdb.protocol.eos import secant_partner

    # densities as in Li3P's 1000 K search: 1.205 at -8.1, 1.400 at +13.4, then (say) 1.275 at +4.8: the partner
    # of the last is the latest check on the other side of zero pressure, not the one before it
    v = {rho: 100.0 / rho for rho in (0.893, 1.037, 1.205, 1.400, 1.275)}
    points = [(v[0.893], -14.3, 1.1), (v[1.037], -11.1, 1.0), (v[1.205], -8.1, 1.4), (v[1.400], 13.4, 1.2),
              (v[1.275], 4.8, 0.5)]
    assert secant_partner(points) == points[2]
    assert secant_partner(points[:3]) == points[1]  # all on one side: the previous check
    rerun = [*points[:3], (v[1.205], -7.9, 1.3)]  # an energy rerun at the same volume: the check before it
    assert secant_partner(rerun) == points[1]
