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


@pytest.mark.parametrize("g, n", [(1.0, 200), (5.0, 100), (8.0, 160), (5.0, 500), (20.0, 1000), (20.0, 4000)])
def test_errors_are_calibrated(ar1, g, n):
    # (mean − 0) / error over the series with a finite error: spread ~1 from n = 20 g on (without the t factor
    # √(ν/(ν − 2)) it was 1.35 at 20 g and 1.10 at 50 g), and the one-sided 95 % bound misses ~5 %
    series = ar1(g, n, 1000, seed=2)
    errors = np.array([mean_error(x) for x in series])
    known = np.isfinite(errors)
    assert known.mean() > 0.75
    z = series.mean(axis=1)[known] / errors[known]
    assert 0.9 < z.std() < 1.2
    assert np.mean(z > 1.645) < 0.075
    assert np.mean(np.abs(z) > 3) < 0.03  # heavier tails than normal at 20 g, as t with ν ≈ 4


def test_too_short_series_have_no_error(ar1):
    assert statistical_inefficiency(np.arange(5.0)) == math.inf  # fewer than MIN_SAMPLES
    assert mean_error(ar1(50.0, 150, 1, seed=3)[0]) == math.inf  # 150 samples cannot tell a g of 50
    assert statistical_inefficiency(np.ones(100)) == 1.0
