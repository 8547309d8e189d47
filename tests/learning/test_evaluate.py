"""Folds and evaluation protocols: every model on the same folds, grouped CV without leaks, held-out curves."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import amorphdb.learning.evaluate as evaluate_module
from amorphdb.errors import InputError
from amorphdb.learning.evaluate import cross_val_predict, evaluate, holdout_curve, metrics, scores_markdown
from amorphdb.learning.folds import composition_groups, grouped_folds, random_folds, temperature_folds
from amorphdb.learning.models.paper import PaperSISSO
from amorphdb.learning.table import TARGET, feature_columns, ln_d


def test_grouped_folds_never_put_a_formula_on_both_sides(any_table):
    table = any_table
    folds = grouped_folds(table)
    assert len(folds) == 5
    seen = np.concatenate([te for _, te in folds])
    assert sorted(seen) == list(range(len(table)))  # every row tested exactly once
    formulas = table["formula"].to_numpy()
    for tr, te in folds:
        assert not set(formulas[tr]) & set(formulas[te])
    # the paper's random folds do share compositions: the leak the grouped protocol removes
    assert any(set(formulas[tr]) & set(formulas[te]) for tr, te in random_folds(table))
    with pytest.raises(InputError, match="at least two compositions"):
        grouped_folds(table[table["formula"] == formulas[0]])


def test_temperature_folds_leave_one_temperature_out(synth):
    folds = temperature_folds(synth)
    assert [t for t, _, _ in folds] == [1000.0, 1500.0, 2000.0, 2500.0]
    for t, tr, te in folds:
        assert (synth["temperature"].iloc[te] == t).all() and (synth["temperature"].iloc[tr] != t).all()


@pytest.mark.parametrize("which", ["synth", pytest.param("table", marks=pytest.mark.slow)])
def test_best_beats_the_paper_rf_on_grouped_cv(request, which):
    table = request.getfixturevalue(which)  # the generated table, then the paper's
    features = feature_columns(table)
    folds = grouped_folds(table)
    rf = metrics(table, cross_val_predict("rf", table, features, folds))
    best = metrics(table, cross_val_predict("best", table, features, folds, n_members=0))
    assert best["rmse_lnD"] < 0.95 * rf["rmse_lnD"], (best["rmse_lnD"], rf["rmse_lnD"])


def test_evaluate_scores_every_model_on_the_same_folds(synth):
    ev = evaluate(synth, ["rf", "sisso-paper"], n_bootstrap=0, n_members=0, params={"rf": {"n_estimators": 20}})
    protocols = {"paper-cv", "paper-train", "paper-test", "grouped-cv", "loto", "loto-1000", "loto-2500"}
    assert protocols <= set(ev.scores["protocol"])
    pr = ev.predictions
    # the fold that held out each row, as the models' out-of-fold predictions record it: the same map for every
    # model, every row once, whole compositions per fold, and the folds of the protocol
    for protocol in ("grouped-cv", "paper-cv", "loto"):
        folds = {m: dict(zip(g["row"], g["fold"])) for m, g in pr[pr["protocol"] == protocol].groupby("model")}
        assert folds["rf"] == folds["sisso-paper"], protocol
    grouped = pr[(pr["protocol"] == "grouped-cv") & (pr["model"] == "rf")]
    assert sorted(grouped["row"]) == list(range(len(synth)))
    assert (grouped.groupby("formula")["fold"].nunique() == 1).all()
    expected = {int(r): i for i, (_, te) in enumerate(grouped_folds(synth)) for r in te}
    assert dict(zip(grouped["row"], grouped["fold"])) == expected
    assert set(pr.loc[pr["protocol"].isin(["paper-train", "paper-test"]), "fold"]) == {-1}  # one fit, no folds
    assert set(pr["D_convention"]) == set(ev.scores["D_convention"]) == {"paper"}
    scores = ev.scores.set_index(["model", "protocol"])
    # the planted law is learnt: on unseen compositions RF's ln D error is well below the spread of ln D
    assert scores.loc[("rf", "grouped-cv"), "rmse_lnD"] < 0.5 * np.std(ln_d(synth))
    # the paper's equation is fixed: its grouped-CV error equals its error on all rows
    paper = scores.loc[("sisso-paper", "grouped-cv")]
    rmse_all = np.sqrt(np.mean((PaperSISSO().fit(synth, []).predict(synth).ln_d - ln_d(synth)) ** 2))
    assert paper["rmse_lnD"] == pytest.approx(rmse_all)
    md = scores_markdown(ev.scores)
    assert "| rf |" in md and "1000 K" in md
    with pytest.raises(InputError, match="unknown model.*foo"):
        evaluate(synth, ["rf", "foo"])


def test_holdout_curve_predicts_a_composition_the_model_never_saw(synth, monkeypatch):
    # Li2O with two of its rows spelt Li4O2: one composition, held out whole
    table = synth.copy()
    li2o = np.flatnonzero(table["formula"].to_numpy() == "Li2O")
    table.loc[li2o[:2], "formula"] = "Li4O2"
    mine = table["formula"].isin(["Li2O", "Li4O2"]).to_numpy()
    fit, fitted = evaluate_module.fit_model, []

    def recording_fit(kind, rows, features, **kw):  # the fit holdout_curve calls; records what it was given
        fitted.append((rows, fit(kind, rows, features, **kw)))
        return fitted[-1][1]

    monkeypatch.setattr(evaluate_module, "fit_model", recording_fit)
    grid = np.linspace(800.0, 2700.0, 5)
    curve = holdout_curve(table, "arrhenius", "Li2O", grid, n_members=0)
    ((rows, model),) = fitted
    assert len(rows) == (~mine).sum() and not composition_groups(rows["formula"]).eq("Li2O").any()
    assert len(model.model.x_train) == len(rows)  # the kernel model holds one point per row it learnt from
    assert list(curve.columns) == ["temperature", "D", "ln_D", "ln_D_err"]
    np.testing.assert_array_equal(curve["temperature"], grid)
    assert np.all(np.diff(curve["D"]) > 0)  # Arrhenius: D rises with T
    # the held-out composition's D never reach the model: absurd ones leave the curve as it was
    absurd = table.copy()
    absurd.loc[mine, TARGET] *= 1e3
    pd.testing.assert_frame_equal(holdout_curve(absurd, "arrhenius", "Li4O2", grid, n_members=0), curve)
    at_data = holdout_curve(table, "arrhenius", "Li2O", table.loc[mine, "temperature"], n_members=0)
    assert np.abs(at_data["ln_D"].to_numpy() - ln_d(table[mine])).max() < 1.0  # close to the planted law
    with pytest.raises(InputError, match="LiXx is not in the table"):
        holdout_curve(synth, "arrhenius", "LiXx", grid)


def test_fixed_paper_equation_is_scored_in_the_tables_d_convention(synth):
    """The paper's SISSO equation predicts the published D (3 × Einstein) on any table: on an Einstein table
    (a database's) its out-of-fold D must be divided by 3 before it is scored against the table's D."""
    einstein = synth.copy()
    einstein.attrs["D_convention"] = "einstein"
    features = feature_columns(synth)
    folds = grouped_folds(synth)
    on_paper = cross_val_predict("sisso-paper", synth, features, folds)
    on_einstein = cross_val_predict("sisso-paper", einstein, features, folds)
    np.testing.assert_allclose(on_einstein.d, on_paper.d / 3.0)
    np.testing.assert_allclose(on_einstein.ln_d, on_paper.ln_d - np.log(3.0))
    np.testing.assert_allclose(on_einstein.ln_d_err, on_paper.ln_d_err)
    grid = np.array([1000.0, 2000.0])
    formula = synth["formula"].iloc[0]
    np.testing.assert_allclose(holdout_curve(einstein, "sisso-paper", formula, grid)["D"],
                               holdout_curve(synth, "sisso-paper", formula, grid)["D"] / 3.0)
    # a model fitted to the table's own D is not converted
    rf_paper = cross_val_predict("rf", synth, features, folds, n_estimators=5)
    rf_einstein = cross_val_predict("rf", einstein, features, folds, n_estimators=5)
    np.testing.assert_allclose(rf_einstein.d, rf_paper.d)


def test_grouped_folds_group_by_composition_not_by_spelling(synth):
    # Li4O2 is Li2O written per two formula units: one composition, so never on both sides of a fold
    table = synth.copy()
    rows = np.flatnonzero(table["formula"].to_numpy() == "Li2O")
    table.loc[rows[:2], "formula"] = "Li4O2"
    same = table["formula"].isin(["Li2O", "Li4O2"]).to_numpy()
    for tr, te in grouped_folds(table):
        assert not (same[tr].any() and same[te].any())
