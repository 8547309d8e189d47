"""Scoring models on held-out rows: the metrics, out-of-fold predictions, every kind on the same folds
(:func:`evaluate`), the Markdown summary, and the curve a new composition gets (:func:`holdout_curve`).

The files and plots of an evaluation are written by :func:`amorphdb.reports.evaluation.write_evaluation`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from ..units import D_CONVENTIONS
from .folds import SEED, composition_rows, grouped_folds, paper_split, random_folds, temperature_folds
from .models import MODEL_KINDS, check_kinds, fit_model
from .models.base import Prediction
from .table import D_UNIT, check_table, d_convention, feature_columns, target_d

log = logging.getLogger(__name__)


def metrics(table: pd.DataFrame, pred: Prediction, rows: np.ndarray | None = None) -> dict[str, float]:
    """RMSE, MAE, R² in D (cm²/s) and in ln D, and the coverage of the ±1σ and ±2σ intervals of ln D."""
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    rows = np.arange(len(table)) if rows is None else rows
    d_true = target_d(table)[rows] * D_UNIT
    ln_true = np.log(d_true)
    d, ln, err = pred.d[rows], pred.ln_d[rows], pred.ln_d_err[rows]
    z = np.abs(ln - ln_true) / err
    return {
        "n": len(rows),
        "rmse_D": float(np.sqrt(mean_squared_error(d_true, d))), "mae_D": float(mean_absolute_error(d_true, d)),
        "r2_D": float(r2_score(d_true, d)),
        "rmse_lnD": float(np.sqrt(mean_squared_error(ln_true, ln))),
        "mae_lnD": float(mean_absolute_error(ln_true, ln)), "r2_lnD": float(r2_score(ln_true, ln)),
        "cover_1sigma": float(np.mean(z <= 1)) if np.isfinite(err).all() else float("nan"),
        "cover_2sigma": float(np.mean(z <= 2)) if np.isfinite(err).all() else float("nan"),
    }


def predict_in_table_convention(model: Any, table: pd.DataFrame) -> Prediction:
    """``model.predict(table)`` with D in ``table``'s convention (:func:`~amorphdb.learning.table.d_convention`),
    the one its target column and the metrics use: a model with its own ``d_convention`` (the paper's fixed
    SISSO equation predicts the published D on any table) is converted."""
    pred = model.predict(table)
    own, wanted = getattr(model, "d_convention", None), d_convention(table)
    if own is None or own == wanted:
        return pred
    factor = D_CONVENTIONS[wanted] / D_CONVENTIONS[own]
    return Prediction(pred.ln_d + np.log(factor), pred.ln_d_err, pred.d * factor, pred.d_err * factor)


def cross_val_predict(kind: str, table: pd.DataFrame, features: list[str], folds: Iterable[tuple],
                      **kw: Any) -> Prediction:
    """Out-of-fold predictions of ``kind`` (:func:`~amorphdb.learning.models.make_model` with ``kw``) over
    ``folds`` (train rows, test rows), D in ``table``'s convention; ``fold`` the index of the fold that held
    each row out."""
    out = Prediction.empty(len(table))
    for i, (tr, te) in enumerate(folds):
        model = fit_model(kind, table.iloc[tr].reset_index(drop=True), features, **kw)
        out.put(te, predict_in_table_convention(model, table.iloc[te]), fold=i)
    return out


@dataclass
class Evaluation:
    """The metrics table (one row per model and protocol) and the predictions behind it (per model, protocol
    and row: ``fold``, the index of the CV fold that held the row out, -1 for the single fit of ``paper-train``
    and ``paper-test``); D in cm²/s in the table's convention, named in the column ``D_convention``."""

    scores: pd.DataFrame
    predictions: pd.DataFrame


def evaluate(table: pd.DataFrame, kinds: Sequence[str] = MODEL_KINDS, seed: int = SEED, n_splits: int = 5,
             n_members: int = 20, n_bootstrap: int = 100, params: dict[str, dict] | None = None) -> Evaluation:
    """Every model of ``kinds`` on the same folds, with these protocols (``protocol`` column):

    - ``paper-cv``: 5-fold random CV on the 85 % training part of the paper's 85/15 split (seed 62);
    - ``paper-test``: fit on that 85 %, score the 15 % (and ``paper-train``: the fit on its own rows);
    - ``grouped-cv``: composition-grouped 5-fold CV on all rows (no formula on both sides);
    - ``loto-<T>`` and ``loto``: leave one temperature out, train on the others, per T and pooled.

    ``params`` maps a kind to the settings of its model.
    """
    check_kinds(kinds)
    features = feature_columns(table)
    data = check_table(table, features, target=True)
    kw = dict(seed=seed, n_members=n_members, n_bootstrap=n_bootstrap)
    convention = d_convention(data)
    train_rows, test_rows = paper_split(data, seed)
    part = data.iloc[train_rows].reset_index(drop=True)
    paper_cv = [(train_rows[a], train_rows[b]) for a, b in random_folds(part, n_splits, seed)]
    gfolds = grouped_folds(data, n_splits, seed)
    tfolds = temperature_folds(data)
    rows, preds = [], []

    def record(kind: str, protocol: str, pred: Prediction, idx: np.ndarray) -> None:
        rows.append({"model": kind, "protocol": protocol, **metrics(data, pred, idx), "D_convention": convention})
        preds.append(pd.DataFrame({"model": kind, "protocol": protocol, "row": idx, "fold": pred.fold[idx],
                                   "formula": data["formula"].to_numpy()[idx],
                                   "temperature": data["temperature"].to_numpy()[idx],
                                   "D_true": target_d(data)[idx] * D_UNIT, "D": pred.d[idx],
                                   "D_err": pred.d_err[idx], "ln_D": pred.ln_d[idx],
                                   "ln_D_err": pred.ln_d_err[idx], "D_convention": convention}))

    for kind in kinds:
        extra = (params or {}).get(kind, {})
        log.info("evaluate %s: paper protocol", kind)
        record(kind, "paper-cv", cross_val_predict(kind, data, features, paper_cv, **kw, **extra), train_rows)
        fitted = fit_model(kind, part, features, **kw, **extra)
        full = Prediction.empty(len(data))
        for idx in (train_rows, test_rows):
            full.put(idx, predict_in_table_convention(fitted, data.iloc[idx]))
        record(kind, "paper-train", full, train_rows)
        record(kind, "paper-test", full, test_rows)
        log.info("evaluate %s: composition-grouped CV", kind)
        record(kind, "grouped-cv", cross_val_predict(kind, data, features, gfolds, **kw, **extra),
               np.arange(len(data)))
        log.info("evaluate %s: leave one temperature out", kind)
        loto = cross_val_predict(kind, data, features, [(tr, te) for _, tr, te in tfolds], **kw, **extra)
        for t, _, te in tfolds:
            record(kind, f"loto-{t:g}", loto, te)
        record(kind, "loto", loto, np.arange(len(data)))
    return Evaluation(pd.DataFrame(rows), pd.concat(preds, ignore_index=True))


def scores_markdown(scores: pd.DataFrame) -> str:
    """The evaluation as two Markdown tables: the main protocols, and leave-one-temperature-out per T."""
    def get(model: str, protocol: str, col: str) -> float:
        hit = scores[(scores["model"] == model) & (scores["protocol"] == protocol)]
        return float(hit[col].iloc[0]) if len(hit) else float("nan")

    models = list(dict.fromkeys(scores["model"]))
    cols = [("paper-cv", "rmse_D", "paper CV RMSE D", "{:.2e}"),
            ("paper-test", "rmse_D", "paper test RMSE D", "{:.2e}"),
            ("paper-test", "r2_D", "paper test R² D", "{:.3f}"),
            ("grouped-cv", "rmse_D", "grouped RMSE D", "{:.2e}"),
            ("grouped-cv", "mae_D", "grouped MAE D", "{:.2e}"),
            ("grouped-cv", "r2_D", "grouped R² D", "{:.3f}"),
            ("grouped-cv", "rmse_lnD", "grouped RMSE ln D", "{:.3f}"),
            ("grouped-cv", "mae_lnD", "grouped MAE ln D", "{:.3f}"),
            ("grouped-cv", "r2_lnD", "grouped R² ln D", "{:.3f}"),
            ("grouped-cv", "cover_1sigma", "grouped ±1σ cover", "{:.2f}"),
            ("grouped-cv", "cover_2sigma", "grouped ±2σ cover", "{:.2f}"),
            ("loto", "rmse_lnD", "LOTO RMSE ln D", "{:.3f}"),
            ("loto", "rmse_D", "LOTO RMSE D", "{:.2e}")]
    lines = ["| model | " + " | ".join(c[2] for c in cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for m in models:
        lines.append(f"| {m} | " + " | ".join(c[3].format(get(m, c[0], c[1])) for c in cols) + " |")
    temps = [p for p in dict.fromkeys(scores["protocol"]) if p.startswith("loto-")]
    lines += ["", "| model | " + " | ".join(f"{t[5:]} K: RMSE ln D" for t in temps) + " |",
              "|---" * (len(temps) + 1) + "|"]
    for m in models:
        lines.append(f"| {m} | " + " | ".join(f"{get(m, t, 'rmse_lnD'):.3f}" for t in temps) + " |")
    return "\n".join(lines) + "\n"


def interpolate_features(rows: pd.DataFrame, temperatures: Sequence[float]) -> pd.DataFrame:
    """Rows of one composition at ``temperatures`` (K): each numeric feature a straight line in T fitted to
    ``rows`` (constant when ``rows`` hold one temperature), so a model can be drawn between and beyond them."""
    feats = [f for f in feature_columns(rows) if f != "temperature"]
    t = rows["temperature"].to_numpy(dtype=float)
    new_t = np.asarray(temperatures, dtype=float)
    out = pd.DataFrame({"formula": rows["formula"].iloc[0], "temperature": new_t})
    for f in feats:
        v = rows[f].to_numpy(dtype=float)
        slope = np.polyfit(t, v, 1)[0] if len(np.unique(t)) > 1 else 0.0
        out[f] = v.mean() + slope * (new_t - t.mean())
    return out


def holdout_curve(table: pd.DataFrame, kind: str, formula: str, temperatures: Sequence[float],
                  seed: int = SEED, **kw: Any) -> pd.DataFrame:
    """Predictions for ``formula`` at ``temperatures`` (K) by a model of ``kind`` trained on the other
    compositions (every row of ``formula``'s composition, however spelt, held out: :func:`composition_rows`;
    features interpolated in T with :func:`interpolate_features`): what a new composition gets.
    Columns: ``temperature`` (K), ``D`` (cm²/s, in ``table``'s D convention), ``ln_D``, ``ln_D_err``."""
    features = feature_columns(table)
    data = check_table(table, features, target=True)
    mine = composition_rows(data, formula)
    if not mine.any():
        raise InputError(f"{formula} is not in the table")
    model = fit_model(kind, data[~mine].reset_index(drop=True), features, seed=seed, **kw)
    grid = interpolate_features(data[mine], temperatures)
    grid.attrs["D_convention"] = d_convention(data)
    p = predict_in_table_convention(model, grid)
    return pd.DataFrame({"temperature": grid["temperature"], "D": p.d, "ln_D": p.ln_d, "ln_D_err": p.ln_d_err})
