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
    assert fit.bulk_modulus == pytest.approx(900.0, rel=1e-5)


def test_linear_fallback_and_its_failure():
    fit = fit_zero_pressure_volume([90.0, 110.0], [10.0, -10.0])  # two points: no BM fit
    assert fit.method == "linear" and fit.volume == pytest.approx(100.0)
    assert fit.bulk_modulus == pytest.approx(100.0)  # -V dP/dV = 100 x 1 kbar/Å3
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


def test_rescaled_volume_lands_on_zero_pressure_of_a_linear_eos_and_caps_its_step():
    from amorphdb.protocol.eos import rescaled_volume

    # P = -B ln(V/V0): one step with the right B lands on V0 from either side
    b, v0 = 150.0, 100.0
    for v in (95.0, 104.0):
        assert rescaled_volume(v, -b * np.log(v / v0), b) == pytest.approx(v0)
    assert rescaled_volume(100.0, -200.0, 150.0) == pytest.approx(100.0 * np.exp(-0.15))  # capped at 15 % in ln V
    # the reference's beta step is the same with B = 1/beta: 5e-7 / bar is 2000 kbar
    assert rescaled_volume(100.0, 20.0, 2000.0, np.inf) == pytest.approx(100.0 * np.exp(5e-7 * 20e3))


def test_a_birch_murnaghan_modulus_far_from_the_datas_slope_gives_way_to_the_line():
    def line(v, p, v0):  # -V dP/dV of the least-squares line at v0
        return -np.polyfit(v, p, 1)[0] * v0

    # a BM curve bent hard through noisy points: its zero is kept, its modulus is not
    v, p = [360.0, 370.0, 383.0], [12.0, -30.0, -31.0]
    fit = fit_zero_pressure_volume(v, p)
    assert fit.method == "birch-murnaghan" and fit.bulk_modulus == pytest.approx(line(v, p, fit.volume))
    # a curvature the data support: BM's own modulus, within a factor 2 of the line's
    v, p = [360.0, 370.0, 380.0], [5.0, 4.0, -30.0]
    fit = fit_zero_pressure_volume(v, p)
    assert fit.bulk_modulus != pytest.approx(line(v, p, fit.volume))
    assert 1.0 < fit.bulk_modulus / line(v, p, fit.volume) <= 2.0
