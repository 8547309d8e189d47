"""The equation of state of the volume search."""

from __future__ import annotations

import numpy as np
import pytest

from amorphdb.errors import ConvergenceError
from amorphdb.protocol.eos import birch_murnaghan_pressure, fit_zero_pressure_volume


def test_birch_murnaghan_fit_recovers_v0():
    v = np.array([80.0, 100.0, 120.0])
    p = birch_murnaghan_pressure(v, 104.0, 900.0, 4.5)
    v0, how = fit_zero_pressure_volume(v, p)
    assert how == "birch-murnaghan" and v0 == pytest.approx(104.0, rel=1e-6)


def test_linear_fallback_and_its_failure():
    v0, how = fit_zero_pressure_volume([90.0, 110.0], [10.0, -10.0])  # two points: no BM fit
    assert how == "linear" and v0 == pytest.approx(100.0)
    with pytest.raises(ConvergenceError, match="does not fall with volume"):
        fit_zero_pressure_volume([90.0, 110.0], [-10.0, 10.0])
