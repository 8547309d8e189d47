"""Plots of the results a person would rather see than read.

Every ``plot_*`` function returns a :class:`matplotlib.figure.Figure` (not attached to pyplot, so nothing is
shown or kept open); :func:`save_figure` writes one to a file. A figure carries its own resolution (dots per
inch), which :func:`save_figure` keeps.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.figure import Figure

from ..errors import InputError

if TYPE_CHECKING:
    import pandas as pd

    from ..analysis.arrhenius import ArrheniusResult
    from ..analysis.diffusion import DiffusionResult

DPI = 150  # dots per inch of the analysis plots
DPI_SMALL = 110  # ... of the model and trend plots, drawn in numbers


def _figure(figsize: tuple[float, float], dpi: int = DPI) -> Figure:
    return Figure(figsize=figsize, dpi=dpi, layout="tight")


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` to ``path`` (format from the suffix, e.g. PNG) at the figure's resolution; returns the path.
    InputError for a suffix matplotlib cannot write (:func:`plot_path`)."""
    path = plot_path(path)
    fig.savefig(path, dpi="figure")
    return path


def plot_path(path: str | Path) -> Path:
    """``path`` when matplotlib can write a plot there by its suffix (.png, .pdf, .svg, ...); InputError when
    the suffix is unknown or missing (matplotlib would add ``.png``, and the file would not be where asked)."""
    from matplotlib.backend_bases import FigureCanvasBase

    path = Path(path)
    formats = FigureCanvasBase.get_supported_filetypes()
    if path.suffix.lstrip(".").lower() not in formats:
        raise InputError(f"cannot write a plot to {path}: give it one of the suffixes "
                         f"{', '.join('.' + f for f in sorted(formats))}")
    return path


# --- sisso -----------------------------------------------------------------------------------------
def plot_sisso_rmse(train: Mapping[str, Sequence[float]], cv: Mapping[str, Sequence[float]], paper_train: float,
                    paper_cv: float) -> Figure:
    """RMSE of ln D against SISSO descriptor dimension: training (solid) and grouped CV (dashed) per model
    setting, with the paper's fixed 4-D equation as stars."""
    fig = _figure((5.5, 4))
    ax = fig.subplots()
    for i, (name, rmse) in enumerate(train.items()):
        color = f"C{i}"
        ax.plot(range(1, len(rmse) + 1), rmse, "o-", color=color, label=f"{name} train")
        if name in cv:
            ax.plot(range(1, len(cv[name]) + 1), cv[name], "s--", color=color, label=f"{name} grouped CV")
    ax.plot([4], [paper_train], "k*", ms=12, label="paper 4-D equation, all rows")
    ax.plot([4], [paper_cv], "*", ms=12, mfc="none", mec="k", label="paper 4-D equation, CV folds")
    ax.set_xlabel("descriptor dimension")
    ax.set_ylabel("RMSE of ln D (D in cm²/s)")
    ax.set_xticks(range(1, max(len(r) for r in train.values()) + 1))
    ax.legend(fontsize=7)
    return fig


# --- diffusion and RDF ------------------------------------------------------------------------------
def plot_msd(results: Mapping[str, DiffusionResult], title: str = "") -> Figure:
    """MSD (Å²) against lag time (ps) per species, the fitted line dashed and the fit window shaded;
    ``results`` maps a species to its :class:`~amorphdb.analysis.diffusion.DiffusionResult` of one trajectory."""
    from ..units import A2_PER_PS_IN_CM2_PER_S

    fig = _figure((5.5, 4))
    ax = fig.subplots()
    for i, (species, res) in enumerate(results.items()):
        color = f"C{i}"
        flag = "" if res.diffusive else ", not diffusive"
        ax.plot(res.time, res.msd, color=color, lw=1.2,
                label=f"{species}: D = {res.D:.2e} ± {res.D_err:.1e} cm²/s{flag}")
        t0, t1 = res.t_fit
        slope = 6 * res.D / A2_PER_PS_IN_CM2_PER_S  # Å²/ps
        ax.plot(res.time, res.intercept + slope * res.time, "--", color=color, lw=0.8)
        ax.axvspan(t0, t1, color=color, alpha=0.06)
    ax.set_xlabel("lag time (ps)")
    ax.set_ylabel("MSD (Å²)")
    ax.set_xlim(0, max(r.time[-1] for r in results.values()))
    ax.set_ylim(bottom=0)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    return fig


def plot_arrhenius(temperature: Sequence[float], D: Sequence[float], D_err: Sequence[float] | None,
                   fit: ArrheniusResult, excluded: Sequence[tuple[float, float]] | None = None,
                   title: str = "") -> Figure:
    """ln D against 1000/T with error bars and the Arrhenius fit ± 1σ band extended to 300 K.

    ``temperature`` K, ``D`` and ``D_err`` cm²/s (``D_err`` may be None), ``fit`` an
    :class:`~amorphdb.analysis.arrhenius.ArrheniusResult`; ``excluded`` (T, D) pairs left out of the fit.
    """
    fig = _figure((5.5, 4))
    ax = fig.subplots()
    T, d = np.asarray(temperature, float), np.asarray(D, float)
    err = None if D_err is None else np.asarray(D_err, float) / d / np.log(10)
    ax.errorbar(1000 / T, np.log10(d), yerr=err, fmt="o", color="C0", label="MD")
    if excluded:
        te, de = np.asarray(excluded, float).T
        ax.plot(1000 / te, np.log10(de), "x", color="C3", label="not diffusive (left out)")
    grid = np.linspace(min(T.min(), 300.0), T.max(), 200)
    pred = fit.predict(grid)[0]
    ax.plot(1000 / grid, np.log10(pred), color="C1",
            label=f"Ea = {fit.Ea:.3f} ± {fit.Ea_err:.3f} eV, D0 = {fit.prefactor:.2e} cm²/s")
    low, high = fit.interval(grid)
    ax.fill_between(1000 / grid, np.log10(low), np.log10(high), color="C1", alpha=0.2)
    d300, e300 = fit.predict(300.0)
    ax.errorbar([1000 / 300], [np.log10(d300)], yerr=[e300 / d300 / np.log(10)], fmt="s", color="C1",
                label=f"D(300 K) = {d300:.2e} cm²/s")
    ax.set_xlabel("1000 / T (1/K)")
    ax.set_ylabel("log10 D (cm²/s)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    return fig


def plot_rdf(rdfs: Mapping[str, pd.DataFrame], title: str = "") -> Figure:
    """Partial g(r) of one composition, one panel per element pair, one line per source
    (``rdfs``: label → DataFrame in the paper's layout, ``r`` in Å, e.g. {"DFT": ..., "CHGNet": ...})."""
    pairs = list(dict.fromkeys(c for df in rdfs.values() for c in df.columns if c != "r"))
    ncol = min(3, len(pairs))
    nrow = math.ceil(len(pairs) / ncol)
    fig = _figure((3.2 * ncol, 2.4 * nrow))
    axes = fig.subplots(nrow, ncol, squeeze=False, sharex=True)
    for ax, pair in zip(axes.flat, pairs):
        for i, (label, df) in enumerate(rdfs.items()):
            if pair in df.columns:
                ax.plot(df["r"], df[pair], color=f"C{i}", lw=1.2, label=label)
        ax.axhline(1.0, color="0.7", lw=0.5)
        ax.set_title(pair, fontsize=9)
    for ax in axes.flat[len(pairs):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("r (Å)")
    for ax in axes[:, 0]:
        ax.set_ylabel("g(r)")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    return fig


# --- learning and trends ---------------------------------------------------------------------------
def plot_parity(train: tuple, test: tuple, title: str = "", log: bool = True) -> Figure:
    """Predicted against true D (cm²/s) with one-sigma error bars; ``train`` and ``test`` are
    ``(D_true, D_pred, D_err)`` arrays (``D_err`` may hold NaN). Log axes by default, where the bars run from
    D·exp(−D_err/D) to D·exp(D_err/D) (the one-sigma range in ln D, which a symmetric bar would cut at zero)."""
    fig = _figure((4.6, 4.4), DPI_SMALL)
    ax = fig.subplots()
    for (true, pred, err), label, color in ((train, "train", "C0"), (test, "test", "C3")):
        true, pred = np.asarray(true, float), np.asarray(pred, float)
        yerr = None if err is None or not np.isfinite(err).any() else np.nan_to_num(np.asarray(err, float))
        if yerr is not None and log:
            rel = yerr / pred
            yerr = np.vstack([pred * (1 - np.exp(-rel)), pred * (np.exp(rel) - 1)])
        ax.errorbar(true, pred, yerr=yerr, fmt="o", ms=3, color=color, ecolor=color, elinewidth=0.6,
                    alpha=0.6, label=f"{label} ({len(true)})")
    values = np.concatenate([np.asarray(train[0], float), np.asarray(test[0], float)])
    lo, hi = values.min() / 2, values.max() * 2
    ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
    if log:
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel("D, data (cm²/s)")
    ax.set_ylabel("D, model (cm²/s)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    return fig


def plot_feature_importance(names: Sequence[str], importances: Sequence[float], title: str = "",
                            top: int = 20) -> Figure:
    """Horizontal bars of the ``top`` largest importances."""
    order = np.argsort(np.asarray(importances, float))[::-1][:top][::-1]
    fig = _figure((5, 0.25 * len(order) + 1), DPI_SMALL)
    ax = fig.subplots()
    ax.barh([names[i] for i in order], np.asarray(importances, float)[order], color="C0")
    ax.set_xlabel("importance")
    ax.set_title(title, fontsize=9)
    ax.tick_params(axis="y", labelsize=7)
    return fig


def plot_shap_summary(shap_values: np.ndarray, features: pd.DataFrame, title: str = "", top: int = 15) -> Figure:
    """SHAP beeswarm summary (``shap.summary_plot``) of a tree model; ``features`` is the input DataFrame."""
    import matplotlib.pyplot as plt
    import shap

    fig = plt.figure(dpi=DPI_SMALL)  # shap draws on pyplot's current figure
    shap.summary_plot(shap_values, features, max_display=top, show=False, plot_size=(6, 0.3 * top + 1.5))
    plt.close(fig)  # the caller owns it now: pyplot keeps no reference
    fig.axes[0].set_title(title, fontsize=9)
    fig.set_layout_engine("tight")
    return fig


def plot_arrhenius_model(title: str, temperature: Sequence[float], D: Sequence[float],
                         D_err: Sequence[float] | None, model_T: Sequence[float], model_D: Sequence[float],
                         model_err: Sequence[float], data_label: str = "data") -> Figure:
    """One composition: D (cm²/s) against 1000/T (K⁻¹), data with error bars and the model with its
    one-sigma band (``model_err`` in ln D)."""
    fig = _figure((4.4, 3.6), DPI_SMALL)
    ax = fig.subplots()
    t = np.asarray(temperature, float)
    yerr = None if D_err is None else np.nan_to_num(np.asarray(D_err, float))
    ax.errorbar(1000 / t, D, yerr=yerr, fmt="o", color="k", label=data_label)
    mt, md, me = (np.asarray(v, float) for v in (model_T, model_D, model_err))
    ax.plot(1000 / mt, md, "C3-", label="model")
    if np.isfinite(me).all():
        ax.fill_between(1000 / mt, md * np.exp(-me), md * np.exp(me), color="C3", alpha=0.2)
    ax.set_yscale("log")
    ax.set_xlabel("1000/T (1/K)")
    ax.set_ylabel("D (cm²/s)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    return fig


def plot_groups(values: Mapping[str, Sequence[float]], ylabel: str, title: str = "", log: bool = False) -> Figure:
    """Box plot with the points of each group (``values``: group name → list of numbers)."""
    names = list(values)
    fig = _figure((0.55 * len(names) + 2, 3.6), DPI_SMALL)
    ax = fig.subplots()
    ax.boxplot([values[n] for n in names], showfliers=False)
    ax.set_xticks(range(1, len(names) + 1), names)
    rng = np.random.default_rng(0)
    for i, n in enumerate(names, start=1):
        ax.plot(i + rng.uniform(-0.15, 0.15, len(values[n])), values[n], ".", color="C0", alpha=0.5, ms=4)
    if log:
        ax.set_yscale("log")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.tick_params(axis="x", labelsize=8, rotation=45)
    return fig


def plot_scatter_panels(panels: Sequence[tuple[Any, str]], y: Sequence[float], ylabel: str,
                        labels: Sequence[str] | None = None, title: str = "") -> Figure:
    """Side-by-side scatter plots of ``y`` against each ``(x values, x label)`` of ``panels``;
    ``labels`` (optional) annotate the points."""
    fig = _figure((3.3 * len(panels), 3.3), DPI_SMALL)
    axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
    for ax, (x, xlabel) in zip(axes, panels):
        ax.plot(x, y, "o", color="C0", ms=4)
        for xi, yi, text in zip(x, y, labels if labels is not None else []):
            ax.annotate(text, (xi, yi), fontsize=6, alpha=0.7)
        ax.set_xlabel(xlabel)
    axes[0].set_ylabel(ylabel)
    fig.suptitle(title, fontsize=9)
    return fig
