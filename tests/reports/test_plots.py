"""Plots: every function returns a figure that pyplot does not hold; save_figure writes it at its resolution.
The SHAP summary is drawn in test_evaluation (it needs shap, slow to import)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from amorphdb.analysis.arrhenius import arrhenius_fit
from amorphdb.reports import plots
from amorphdb.units import KB_EV


def _figures() -> dict[str, Figure]:
    rng = np.random.default_rng(0)
    t = np.array([1000.0, 1500.0, 2000.0, 2500.0])
    d = 1e-2 * np.exp(-0.4 / (KB_EV * t))  # cm2/s
    fit = arrhenius_fit(t, d, 0.1 * d)
    rdf = pd.DataFrame({"r": np.linspace(0.5, 6, 50), "Li-O": np.linspace(0, 1, 50), "O-O": np.ones(50)})
    true = 10 ** rng.uniform(-6, -3, 20)
    triple = (true, true * 1.1, true * 0.2)
    return {
        "sisso_rmse": plots.plot_sisso_rmse({"rung 1": [0.6, 0.4, 0.35]}, {"rung 1": [0.7, 0.5, 0.5]}, 0.365, 0.4),
        "arrhenius": plots.plot_arrhenius(t, d, 0.1 * d, fit, excluded=[(800.0, 1e-6)], title="Li2O"),
        "rdf": plots.plot_rdf({"DFT": rdf, "CHGNet": rdf.assign(**{"Li-O": rdf["Li-O"] * 1.1})}, title="Li2O"),
        "parity": plots.plot_parity(triple, triple, "rf"),
        "importance": plots.plot_feature_importance(["a", "b", "c"], [0.5, 0.3, 0.2], "rf"),
        "arrhenius_model": plots.plot_arrhenius_model("Li2O", t, d, None, t, d, np.full(4, 0.3)),
        "groups": plots.plot_groups({"O": [1.0, 2.0, 3.0], "S": [2.0, 4.0]}, "Ea (eV)", log=True),
        "scatter": plots.plot_scatter_panels([(t, "T"), (d, "D")], t, "y", labels=list("abcd")),
    }


def test_plots_return_figures_that_pyplot_does_not_hold(tmp_path):
    plt.close("all")
    figures = _figures()
    assert all(isinstance(f, Figure) for f in figures.values())
    assert plt.get_fignums() == []  # nothing left open: a caller that does not save leaks nothing
    for name, fig in figures.items():
        path = plots.save_figure(fig, tmp_path / f"{name}.png")
        assert path.stat().st_size > 1000
    # the figure's own resolution is kept: 150 dpi for the analysis plots, 110 for the model plots
    from matplotlib.image import imread

    assert imread(tmp_path / "arrhenius.png").shape[:2] == (600, 825)  # 4 × 5.5 inches at 150 dpi
    assert imread(tmp_path / "parity.png").shape[:2] == pytest.approx((484, 506), abs=1)  # 4.4 × 4.6 at 110


def test_plot_msd_draws_each_species(tmp_path):
    from amorphdb.analysis.diffusion import diffusivity

    rng = np.random.default_rng(1)
    steps = rng.normal(size=(400, 16, 3)) * np.repeat([0.5, 0.05], 8)[None, :, None]  # Å per frame
    results = diffusivity(np.cumsum(steps, axis=0), ["Li"] * 8 + ["O"] * 8, dt_ps=0.1)
    fig = plots.plot_msd(results, title="synthetic")
    assert len(fig.axes[0].get_legend().get_texts()) == 2
    assert plots.save_figure(fig, tmp_path / "msd.png").exists()
