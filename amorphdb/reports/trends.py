"""Trends of Li diffusivity across compositions: the paper's Fig. 2, Fig. 3 and Table 1 analogues.

From a training table (the columns of ``ml_features.csv``; from a CSV file or ``Database.training_table``):

- per composition: the Arrhenius fit of D over its temperatures (``amorphdb.analysis.arrhenius.fit_points``), its
  anion (the most electronegative non-Li element, the physical choice; the paper's table calls "anion" the
  alphabetically last symbol, see docs/features.md) and the anion's family (halogen, chalcogen, pnictogen,
  tetrel, other);
- Fig. 2 analogue: D at one temperature and Ea grouped by anion, ordered by family and electronegativity;
- Fig. 3 analogue: in binary Li–X compositions, Ea against the Li fraction, the atomic radius of X (Å,
  pymatgen), Li fraction × radius and the group of X;
- Table 1 analogue: the Pearson r of every feature with D, per temperature and over all rows (and with ln D).

:func:`trend_tables` computes them (:class:`Trends`); :func:`report` writes them as CSV files and PNGs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from pymatgen.core import Composition, Element

from ..composition import parse_formula
from ..errors import InputError
from ..analysis.arrhenius import fit_points
from ..learning.table import D_UNIT, check_table, d_convention, feature_columns, target_d
from ..units import einstein_d
from .plots import plot_groups, plot_scatter_panels, save_figure

log = logging.getLogger(__name__)

FAMILIES = {17: "halogen", 16: "chalcogen", 15: "pnictogen", 14: "tetrel"}


def anion_of(formula: str | Composition) -> str:
    """The most electronegative element of ``formula`` (text or parsed) other than Li (Pauling X; ties: the heavier)."""
    comp = parse_formula(formula) if isinstance(formula, str) else formula
    elements = [el for el in comp.elements if el.symbol != "Li"]
    if not elements:
        raise InputError(f"{comp.reduced_formula} has no element besides Li")
    return max(elements, key=lambda el: (el.X if not np.isnan(el.X) else -1.0, el.Z)).symbol


def family_of(symbol: str) -> str:
    """The family of an anion element: halogen, chalcogen, pnictogen, tetrel or other."""
    return FAMILIES.get(Element(symbol).group, "other")


def composition_table(table: pd.DataFrame) -> pd.DataFrame:
    """One row per composition: anion, family, Li fraction, binary flag with radius and group of X,
    Ea ± err (eV) and D0 (cm²/s) of the Arrhenius fit (NaN where the package's rule finds too few temperatures:
    the table has no error bars, so three), D (cm²/s) per T. D and D0 are Einstein tracer D whatever the
    table's convention (:func:`~amorphdb.learning.table.d_convention`; the published ones are 3 × Einstein)."""
    convention = d_convention(table)
    rows = []
    for formula, sub in table.groupby("formula", sort=True):
        comp = parse_formula(formula)
        anion = anion_of(comp)
        others = [el for el in comp.elements if el.symbol != "Li"]
        row = {"formula": formula, "anion": anion, "family": family_of(anion),
               "li_fraction": comp.get_atomic_fraction(Element("Li")), "binary": len(comp.elements) == 2
               and Element("Li") in comp.elements, "x_radius": np.nan, "x_group": np.nan,
               "Ea": np.nan, "Ea_err": np.nan, "D0": np.nan, "n_temperatures": int(sub["temperature"].nunique())}
        if row["binary"]:
            row["x_radius"] = float(others[0].atomic_radius)
            row["x_group"] = int(others[0].group)
        t = sub["temperature"].to_numpy(dtype=float)
        d = einstein_d(target_d(sub) * D_UNIT, convention)
        fit = fit_points(t, d)
        if fit is not None:
            row.update(Ea=fit.Ea, Ea_err=fit.Ea_err, D0=fit.prefactor)
        for ti, di in zip(t, d):
            row[f"D_{ti:g}K"] = di
        rows.append(row)
    return pd.DataFrame(rows)


def pearson_table(table: pd.DataFrame) -> pd.DataFrame:
    """Pearson r of every feature with D: per temperature (``r_D_<T>K``), over all rows (``r_D_all``) and with
    ln D over all rows (``r_lnD_all``); sorted by r at the highest temperature, as the paper's Table 1 (5000 K)."""
    feats = [f for f in feature_columns(table) if f != "temperature"]
    d = pd.Series(target_d(table) * D_UNIT, index=table.index)
    out = pd.DataFrame(index=feats)
    temps = sorted(table["temperature"].unique())
    for t in temps:
        at = table["temperature"] == t
        out[f"r_D_{t:g}K"] = table.loc[at, feats].corrwith(d[at])
    out["r_D_all"] = table[feats].corrwith(d)
    out["r_lnD_all"] = table[feats].corrwith(np.log(d))
    out.index.name = "feature"
    return out.sort_values(f"r_D_{temps[-1]:g}K").reset_index()


def _by_anion(comps: pd.DataFrame, column: str, min_count: int) -> dict[str, list[float]]:
    """Values of ``column`` per anion with at least ``min_count`` values, by family then electronegativity."""
    groups = {}
    order = sorted(comps["anion"].unique(), key=lambda s: (list(FAMILIES.values()) + ["other"]).index(
        family_of(s)) * 100 + Element(s).X)
    for anion in order:
        vals = comps.loc[comps["anion"] == anion, column].dropna().to_list()
        if len(vals) >= min_count:
            groups[f"{anion} ({family_of(anion)})"] = vals
    return groups


@dataclass
class Trends:
    """The trends of one training table (D in cm²/s, Ea in eV, T in K)."""

    temperature: float  # of the D distributions
    compositions: pd.DataFrame  # :func:`composition_table`
    anions: pd.DataFrame  # per anion: family, n, D_median (at ``temperature``), Ea_median, Ea_mean
    binary: pd.DataFrame  # the binary Li–X rows of ``compositions`` with an Ea, plus li_fraction_x_radius
    pearson: pd.DataFrame  # :func:`pearson_table`
    D_by_anion: dict[str, list[float]]  # D at ``temperature`` per anion with enough compositions
    Ea_by_anion: dict[str, list[float]]

    @property
    def binary_r(self) -> dict[str, float]:
        """:func:`binary_correlations` of the binary compositions (empty below three)."""
        return binary_correlations(self.binary) if len(self.binary) >= 3 else {}


def trend_tables(table: pd.DataFrame, temperature: float | None = None, min_count: int = 3) -> Trends:
    """The trends of ``table`` (the columns of ``ml_features.csv``).

    ``temperature`` (K) is the one of the D distributions (default: the temperature most compositions have,
    the highest on a tie); anions with fewer than ``min_count`` compositions are left out of the per-anion
    values. A missing or non-numeric D, temperature or feature raises :class:`InputError` naming the row and
    column; so does a ``temperature`` no composition has.
    """
    if len(table) == 0:
        raise InputError("the table is empty: nothing to report")
    table = check_table(table, feature_columns(table), target=True)  # one-line errors naming row and column
    pure = [f for f in table["formula"].unique() if {el.symbol for el in parse_formula(f).elements} == {"Li"}]
    if pure:  # no anion to group by: lithium metal is not a trend point
        log.warning("trends leave out %s: no element besides Li", ", ".join(pure))
        table = table[~table["formula"].isin(pure)]
        if len(table) == 0:
            raise InputError("the table holds only lithium metal: nothing to report")
    if temperature is None:
        counts = table.groupby("temperature")["formula"].nunique()
        temperature = float(counts[counts == counts.max()].index.max())
    d_at = f"D_{temperature:g}K"
    if d_at not in (comps := composition_table(table)).columns:
        raise InputError(f"no composition has data at {temperature:g} K")
    log.info("trends over %d compositions, D at %g K", len(comps), temperature)
    anions = comps.groupby("anion").agg(family=("family", "first"), n=("formula", "size"),
                                        D_median=(d_at, "median"), Ea_median=("Ea", "median"),
                                        Ea_mean=("Ea", "mean")).reset_index()
    binary = comps[comps["binary"]].dropna(subset=["Ea"]).copy()
    binary["li_fraction_x_radius"] = binary["li_fraction"] * binary["x_radius"]
    return Trends(float(temperature), comps, anions, binary, pearson_table(table),
                  _by_anion(comps, d_at, min_count), _by_anion(comps, "Ea", min_count))


def report(table: pd.DataFrame, out_dir: str | Path, temperature: float | None = None,
           min_count: int = 3) -> dict[str, Path]:
    """Write the trends of ``table`` (:func:`trend_tables`, same arguments) into ``out_dir`` as CSV files and
    PNGs; returns ``{name: path}``."""
    trends = trend_tables(table, temperature, min_count)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"compositions": out / "compositions.csv", "anions": out / "anion_groups.csv",
             "binary": out / "binary_LiX.csv", "pearson": out / "pearson_features_D.csv"}
    trends.compositions.to_csv(paths["compositions"], index=False)
    trends.anions.to_csv(paths["anions"], index=False)
    trends.binary.to_csv(paths["binary"], index=False)
    trends.pearson.to_csv(paths["pearson"], index=False)
    paths["D_by_anion"] = save_figure(plot_groups(
        trends.D_by_anion, f"D at {trends.temperature:g} K (cm²/s)", "Li diffusivity by anion", log=True),
        out / "fig2_D_by_anion.png")
    paths["Ea_by_anion"] = save_figure(plot_groups(trends.Ea_by_anion, "Ea (eV)", "Activation energy by anion"),
                                       out / "fig2_Ea_by_anion.png")
    if trends.binary_r:
        paths["binary_r"] = out / "binary_LiX_correlations.csv"
        pd.DataFrame([trends.binary_r]).to_csv(paths["binary_r"], index=False)
        binary = trends.binary
        panels = [(binary["li_fraction"], "Li fraction"), (binary["x_radius"], "radius of X (Å)"),
                  (binary["li_fraction_x_radius"], "Li fraction × radius of X (Å)"),
                  (binary["x_group"], "group of X")]
        paths["binary_plot"] = save_figure(plot_scatter_panels(
            panels, binary["Ea"], "Ea (eV)", labels=binary["formula"].to_list(), title="Binary Li–X compositions"),
            out / "fig3_binary_LiX.png")
    return paths


def binary_correlations(binary: pd.DataFrame) -> dict[str, float]:
    """Pearson r of Ea with the Li fraction, radius of X, their product and the group of X (binary Li–X)."""
    cols = ("li_fraction", "x_radius", "li_fraction_x_radius", "x_group")
    return {c: float(np.corrcoef(binary[c].astype(float), binary["Ea"])[0, 1]) for c in cols}
