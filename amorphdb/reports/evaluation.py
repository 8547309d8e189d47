"""The files of a model evaluation: tables, Markdown and plots of :func:`amorphdb.learning.evaluate.evaluate`;
:func:`evaluate_and_write` does both (``amorphdb evaluate``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..learning.evaluate import Evaluation, evaluate, holdout_curve, scores_markdown
from ..learning.explain import tree_explanations
from ..learning.folds import SEED, composition_rows
from ..learning.table import D_UNIT, target_d
from ..learning.train import train
from .plots import plot_arrhenius_model, plot_feature_importance, plot_parity, plot_shap_summary, save_figure


def check_curves(table: pd.DataFrame, curves: Sequence[str]) -> None:
    """Raise :class:`InputError` naming the formulas of ``curves`` whose composition is not in ``table``."""
    absent = sorted(f for f in set(curves) if not composition_rows(table, f).any())
    if absent:
        raise InputError(f"curves (--curves): {', '.join(absent)} not in the training table")


def evaluate_and_write(table: pd.DataFrame, kinds: Sequence[str], out_dir: str | Path, seed: int = SEED,
                       curves: Sequence[str] = (), n_members: int = 20, n_bootstrap: int = 100) -> dict[str, Path]:
    """:func:`~amorphdb.learning.evaluate.evaluate` the model ``kinds`` on ``table`` and :func:`write_evaluation`
    into ``out_dir``, the ``curves`` formulas checked first. Returns ``{name: path}``."""
    check_curves(table, curves)
    ev = evaluate(table, kinds, seed=seed, n_members=n_members, n_bootstrap=n_bootstrap)
    return write_evaluation(ev, table, out_dir, seed=seed, curves=curves, n_members=n_members,
                            n_bootstrap=n_bootstrap)


def write_evaluation(ev: Evaluation, table: pd.DataFrame, out_dir: str | Path, seed: int = SEED,
                     curves: Sequence[str] = (), curve_kinds: Sequence[str] = ("rf", "best"),
                     n_members: int = 20, n_bootstrap: int = 100) -> dict[str, Path]:
    """Write ``scores.csv``, ``predictions.csv``, ``scores.md`` and the PNGs into ``out_dir``: parity plots
    (paper split train/test, grouped CV) per model, importances and SHAP of ``rf``/``xgb`` (fitted on all
    rows), and for each formula of ``curves`` its held-out Arrhenius curve (800–2700 K) by each of
    ``curve_kinds``. Returns ``{name: path}``."""
    check_curves(table, curves)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"scores": out / "scores.csv", "predictions": out / "predictions.csv", "markdown": out / "scores.md"}
    ev.scores.to_csv(paths["scores"], index=False)
    ev.predictions.to_csv(paths["predictions"], index=False)
    paths["markdown"].write_text(scores_markdown(ev.scores))
    pr = ev.predictions

    def triple(model: str, protocol: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        sub = pr[(pr["model"] == model) & (pr["protocol"] == protocol)]
        return sub["D_true"].to_numpy(), sub["D"].to_numpy(), sub["D_err"].to_numpy()

    empty = (np.array([]), np.array([]), np.array([]))
    for model in dict.fromkeys(pr["model"]):
        paths[f"parity_{model}_paper"] = save_figure(plot_parity(
            triple(model, "paper-train"), triple(model, "paper-test"), f"{model}: paper 85/15 split"),
            out / f"parity_{model}_paper.png")
        paths[f"parity_{model}_grouped"] = save_figure(plot_parity(
            empty, triple(model, "grouped-cv"), f"{model}: composition-grouped 5-fold CV (out of fold)"),
            out / f"parity_{model}_grouped.png")
    for kind in [k for k in ("rf", "xgb") if k in set(pr["model"])]:
        trained = train(table, kind, seed=seed, cv=False, n_bootstrap=0)
        imp, shap_values, x = tree_explanations(trained, table)
        paths[f"importance_{kind}"] = save_figure(plot_feature_importance(
            list(imp.index), imp.to_numpy(), f"{kind}: feature importance"), out / f"importance_{kind}.png")
        paths[f"shap_{kind}"] = save_figure(plot_shap_summary(
            shap_values, x, f"{kind}: SHAP values (D in 1e-3 cm²/s)"), out / f"shap_{kind}.png")
        imp.rename("importance").to_csv(out / f"importance_{kind}.csv", index_label="feature")
    grid = np.linspace(800.0, 2700.0, 20)
    for formula in curves:
        rows = table[composition_rows(table, formula)]
        for kind in curve_kinds:
            c = holdout_curve(table, kind, formula, grid, seed=seed, n_members=n_members, n_bootstrap=n_bootstrap)
            paths[f"arrhenius_{formula}_{kind}"] = save_figure(plot_arrhenius_model(
                f"{formula}: {kind}, trained without it", rows["temperature"], target_d(rows) * D_UNIT, None,
                c["temperature"], c["D"], c["ln_D_err"]), out / f"arrhenius_{formula}_{kind}.png")
    return paths
