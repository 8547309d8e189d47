"""SISSO: the ℓ0 search against brute force, recovery of planted formulas, persistence, the paper's equation."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest

from amorphdb.errors import InputError
from amorphdb.learning.sisso import (INV_KBT, PAPER_EQUATION, Expr, SISSORegressor, _l0_search, _standardise,
                            paper_sisso_model, paper_sisso_predict)
from amorphdb.units import KB_EV


def _planted(n: int = 120, seed: int = 7) -> tuple[pd.DataFrame, pd.Series]:
    """y = 2.0·x1/x2 − 0.5·exp(−x3) + 1 + N(0, 0.01²), with two distractor columns."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({f"x{i}": rng.uniform(0.5, 3.0, n) for i in range(1, 6)})
    y = 2.0 * X.x1 / X.x2 - 0.5 * np.exp(-X.x3) + 1.0 + rng.normal(0.0, 0.01, n)
    return X, y.rename("y")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_l0_search_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(30, 11))
    X[:, 4] = X[:, 2] + 1e-14 * rng.normal(size=30)  # a collinear pair must not win or crash the search
    y = rng.normal(size=30) + X[:, 0]
    Z, yc = _standardise(X), y - y.mean()
    for d in (1, 2, 3, 4):
        rss = {c: float(np.sum((yc - Z[:, c] @ np.linalg.lstsq(Z[:, c], yc, rcond=None)[0]) ** 2))
               for c in itertools.combinations(range(11), d) if not {2, 4} <= set(c)}
        expected = min(rss, key=rss.get)
        got, got_rss = _l0_search(Z.T @ Z, Z.T @ yc, float(yc @ yc), d)
        assert got == expected
        assert got_rss == pytest.approx(rss[expected], rel=1e-9)


def test_recovers_planted_formula():
    X, y = _planted()
    model = SISSORegressor(max_dim=3, n_sis=20).fit(X, y)
    two = model.equation(2)
    assert set(two.features) == {"x1/x2", "exp(-x3)"}
    coef = dict(zip(two.features, two.coefficients))
    assert coef["x1/x2"] == pytest.approx(2.0, abs=0.02)
    assert coef["exp(-x3)"] == pytest.approx(-0.5, abs=0.03)
    assert two.intercept == pytest.approx(1.0, abs=0.02)
    assert two.rmse < 0.012  # the noise level
    assert model.equation(1).rmse > 5 * two.rmse  # one term cannot explain it
    assert [e.dimension for e in model.equations_] == [1, 2, 3]
    # a third term only fits the noise: a 10 % tolerance on the RMSE selects the true dimension
    assert SISSORegressor(max_dim=3, n_sis=20, rmse_tolerance=0.1).fit(X, y).best_dim_ == 2


def test_rung2_keeps_the_simplest_equivalent_feature():
    X, y = _planted(n=60)
    eq = SISSORegressor(max_dim=2, n_sis=10, rung=2, rung2_pool=20).fit(X, y).equation(2)
    assert set(eq.features) == {"x1/x2", "exp(-x3)"}


def test_temperature_becomes_inverse_kbt():
    rng = np.random.default_rng(3)
    X = pd.DataFrame({"temperature": rng.choice([1000.0, 1500.0, 2000.0, 2500.0], 80), "a": rng.uniform(1, 2, 80)})
    y = 3.0 - 0.4 / (KB_EV * X.temperature) + 0.7 * X.a + rng.normal(0, 0.01, 80)
    model = SISSORegressor(max_dim=2, n_sis=10, target_name="ln D").fit(X, y)
    eq = model.equation(2)
    assert model.primary_ == [INV_KBT, "a"]
    # {1/kBT, a} and {1/kBT + a, a} fit equally well: ties go to the simpler descriptor
    assert dict(zip(eq.features, eq.coefficients)) == {"(1/kBT)": pytest.approx(-0.4, abs=0.01),
                                                       "a": pytest.approx(0.7, abs=0.02)}
    assert eq.equation.startswith("ln D = ")


def test_fit_is_deterministic():
    X, y = _planted()
    a = SISSORegressor(max_dim=3, n_sis=15).fit(X, y).to_dict()
    b = SISSORegressor(max_dim=3, n_sis=15).fit(X, y).to_dict()
    assert json.dumps(a) == json.dumps(b)


def test_to_dict_round_trip_reevaluates_on_new_data():
    X, y = _planted()
    model = SISSORegressor(max_dim=2, n_sis=20).fit(X, y)
    loaded = SISSORegressor.from_dict(json.loads(json.dumps(model.to_dict())))
    assert [e.equation for e in loaded.equations_] == [e.equation for e in model.equations_]
    assert loaded.best_dim_ == model.best_dim_
    new, _ = _planted(n=10, seed=99)
    eq = model.equation(2)
    coef = dict(zip(eq.features, eq.coefficients))
    by_hand = eq.intercept + coef["x1/x2"] * new.x1 / new.x2 + coef["exp(-x3)"] * np.exp(-new.x3)
    np.testing.assert_allclose(loaded.predict(new[["x3", "x2", "x1"]]), by_hand, rtol=1e-12)
    np.testing.assert_allclose(loaded.predict(new, dim=1), model.predict(new, dim=1), rtol=0)


def test_saved_expressions_are_checked_not_evaluated():
    with pytest.raises(InputError, match="invalid SISSO expression"):
        Expr.from_dict({"op": "__import__", "args": [{"var": "os"}]})
    with pytest.raises(InputError, match="invalid SISSO expression"):
        Expr.from_dict({"op": "exp", "args": [{"var": "a"}, {"var": "b"}]})
    with pytest.raises(InputError, match="not a saved SISSO model"):
        SISSORegressor.from_dict({"equations": []})


def test_paper_equation_on_a_hand_made_row():
    row = pd.DataFrame({"temperature": [1000.0], "LNC": [10.0], "LLB": [5.0], "PF": [0.5], "AAV": [12.0]})
    expected = -0.33 / (8.617333262e-5 * 1000.0) - 0.11 * 10.0 + 0.11 * 5.0 - 1.95 * 0.5 - 3.55
    assert paper_sisso_predict(row)[0] == pytest.approx(expected, rel=1e-9)
    assert paper_sisso_model().equation().equation == \
        "ln D = -0.33 * (1/kBT) - 0.11 * LNC + 0.11 * LLB - 1.95 * PF - 3.55"
    assert "-0.33/(kB T)" in PAPER_EQUATION
    with pytest.raises(InputError, match="'LLB'"):
        paper_sisso_predict(row.drop(columns="LLB"))


def test_bad_input_names_the_column_and_row():
    X, y = _planted(n=20)
    X.loc[7, "x2"] = np.nan
    with pytest.raises(InputError, match=r"column 'x2'.*row 7"):
        SISSORegressor(max_dim=1, n_sis=5).fit(X, y)
    X["x2"] = X["x2"].astype(object)
    X.loc[7, "x2"] = "abc"
    with pytest.raises(InputError, match=r"column 'x2'.*'abc'"):
        SISSORegressor(max_dim=1, n_sis=5).fit(X, y)
    with pytest.raises(InputError, match="unknown SISSO operator"):
        SISSORegressor(operators=("+", "sin")).fit(*_planted(n=20))
    with pytest.raises(InputError, match="target has a missing"):
        SISSORegressor(max_dim=1).fit(_planted(n=20)[0], [np.nan] * 20)


def test_undefined_descriptor_on_new_rows_is_an_error():
    X, y = _planted()
    y = np.log(X.x4) + 0.001 * X.x1
    model = SISSORegressor(max_dim=1, n_sis=5).fit(X, y)
    assert model.equation(1).features == ("log(x4)",)
    new = X.head(3).copy()
    new.loc[1, "x4"] = -1.0
    with pytest.raises(InputError, match=r"log\(x4\).*row 1"):
        model.predict(new)


def test_paper_data(paper_dir):
    df = pd.read_csv(paper_dir / "ml_features.csv")
    y = np.log(df.diff_coeff_mul_thousand / 1000.0)
    paper_rmse = float(np.sqrt(np.mean((paper_sisso_predict(df) - y) ** 2)))
    assert 0.3 < paper_rmse < 0.45  # the paper reports 0.365 on its 792 rows; these are 629 of them
    X = df.drop(columns=["formula", "diff_coeff_mul_thousand"])
    # on the primary features alone (4·11 ≥ 43: the 4-D search is exhaustive) SISSO finds the paper's equation
    paper = SISSORegressor(max_dim=4, n_sis=11, rung=0).fit(X, y).equation(4)
    found = dict(zip(paper.features, paper.coefficients))
    assert found == {"(1/kBT)": pytest.approx(-0.33, abs=0.01), "LNC": pytest.approx(-0.11, abs=0.01),
                     "LLB": pytest.approx(0.11, abs=0.01), "PF": pytest.approx(-1.95, abs=0.01)}
    assert paper.intercept == pytest.approx(-3.55, abs=0.02)
    assert paper.rmse < paper_rmse
    model = SISSORegressor(max_dim=4, n_sis=30).fit(X, y)
    rmses = [e.rmse for e in model.equations_]
    assert rmses == sorted(rmses, reverse=True)
    assert rmses[3] < paper_rmse  # a fitted search beats the paper's fixed coefficients on these rows
    assert any("1/kBT" in f for f in model.equation(1).features)  # temperature dominates ln D


def test_a_fixed_dimension_sisso_did_not_reach_is_an_input_error():
    """SISSO stops below max_dim when the screened features run out; a fixed ``dim`` above that is bad input
    (one line), not a ValueError from a list lookup."""
    from amorphdb.learning.models.sisso_model import SISSOModel

    rng = np.random.default_rng(0)
    t = pd.DataFrame({"formula": [f"Li{i}O" for i in range(2, 12) for _ in range(2)],
                      "PF": rng.uniform(0.3, 0.6, 20), "temperature": [1000.0, 2000.0] * 10})
    t["diff_coeff_mul_thousand"] = np.exp(rng.normal(size=20))
    with pytest.raises(InputError, match="SISSO dimension 4 is not available.*dimension 1, 2 only"):
        SISSOModel(max_dim=4, dim=4, rung=0, n_sis=1).fit(t, ["PF", "temperature"])
