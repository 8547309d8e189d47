"""The standard error of a correlated mean on AR(1) series, whose statistical inefficiency is known exactly:
g = (1 + φ) / (1 − φ)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from amorphdb.md.statistics import error_floor, mean_error, statistical_inefficiency


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


@pytest.mark.parametrize("g", [30.0, 100.0])
def test_the_floor_of_an_unknown_error_is_at_most_about_the_true_error(ar1, g):
    # 500 samples of series whose error the estimate cannot tell: the floor √(var/20) is the true standard error
    # √(g/n) (unit variance) or less: about it near the border (g = 30 ≈ n/17: median 0.93, noisy var lifts 20 %
    # above it), far below beyond (g = 100: median 0.43, all below)
    series = ar1(g, 500, 1000, seed=4)
    unknown = [x for x in series if mean_error(x, detrend=True) == math.inf]
    assert len(unknown) > 50
    ratios = np.array([error_floor(x, detrend=True) for x in unknown]) / math.sqrt(g / 500)
    assert np.all(ratios > 0) and np.median(ratios) < 1.0
    assert np.mean(ratios > 1) < (0.3 if g < 50 else 0.01)
    assert error_floor(np.arange(5.0)) == 0.0  # fewer than MIN_SAMPLES: no floor
