"""The standard error of a correlated mean on AR(1) series, whose statistical inefficiency is known exactly:
g = (1 + φ) / (1 − φ)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from amorphdb.md.statistics import mean_error, statistical_inefficiency


@pytest.mark.parametrize("g", [1.0, 5.0, 20.0])
def test_inefficiency_of_long_series_is_the_exact_one(ar1, g):
    estimates = [statistical_inefficiency(x) for x in ar1(g, 20000, 20, seed=1)]
    assert np.median(estimates) == pytest.approx(g, rel=0.1)


@pytest.mark.parametrize("g, n", [(1.0, 200), (5.0, 500), (20.0, 1000), (20.0, 4000)])
def test_errors_are_calibrated(ar1, g, n):
    # (mean − 0) / error over 400 series: spread ~1 (1.13 at n = 50 g, where g is estimated from the series)
    series = ar1(g, n, 400, seed=2)
    z = series.mean(axis=1) / np.array([mean_error(x) for x in series])
    assert 0.85 < z.std() < 1.2
    assert np.mean(np.abs(z) > 3) < 0.03


def test_too_short_series_have_no_error(ar1):
    assert statistical_inefficiency(np.arange(5.0)) == math.inf  # fewer than MIN_SAMPLES
    assert mean_error(ar1(50.0, 150, 1, seed=3)[0]) == math.inf  # 150 samples cannot tell a g of 50
    assert statistical_inefficiency(np.ones(100)) == 1.0
