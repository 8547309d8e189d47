"""Trends of Li diffusivity across compositions: the paper's Fig. 2, Fig. 3 and Table 1 analogues.

From a training table (the columns of ``ml_features.csv``; from a CSV file or ``Database.training_table``):

- per composition: the Arrhenius fit of D over its temperatures (``amorphdb.diffusion.arrhenius_fit``), its
  anion (the most electronegative non-Li element, the physical choice; the paper's table calls "anion" the
  alphabetically last symbol, see docs/features.md) and the anion's family (halogen, chalcogen, pnictogen,
  tetrel, other);
- Fig. 2 analogue: D at one temperature and Ea grouped by anion, ordered by family and electronegativity;
- Fig. 3 analogue: in binary Li–X compositions, Ea against the Li fraction, the atomic radius of X (Å,
  pymatgen), Li fraction × radius and the group of X;
- Table 1 analogue: the Pearson r of every feature with D, per temperature and over all rows (and with ln D).

:func:`report` writes the numbers as CSV files and the plots as PNGs and returns their paths.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
from pymatgen.core import Composition, Element

from ..composition import parse_formula
from ..errors import InputError
from ..learning import D_UNIT, TARGET, check_table, feature_columns

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
    Ea ± err (eV) and D0 (cm²/s) of the Arrhenius fit (NaN below three temperatures), D (cm²/s) per T."""
    from ..analysis.diffusion import arrhenius_fit

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
        d = sub[TARGET].to_numpy(dtype=float) * D_UNIT
        if len(np.unique(t)) >= 3:
            fit = arrhenius_fit(t, d)
            row.update(Ea=fit.Ea, Ea_err=fit.Ea_err, D0=fit.prefactor)
        for ti, di in zip(t, d):
            row[f"D_{ti:g}K"] = di
        rows.append(row)
    return pd.DataFrame(rows)


def pearson_table(table: pd.DataFrame) -> pd.DataFrame:
    """Pearson r of every feature with D: per temperature (``r_D_<T>K``), over all rows (``r_D_all``) and with
    ln D over all rows (``r_lnD_all``); sorted by r at the highest temperature, as the paper's Table 1 (5000 K)."""
    feats = [f for f in feature_columns(table) if f != "temperature"]
    d = table[TARGET] * D_UNIT
    out = pd.DataFrame(index=feats)
    temps = sorted(table["temperature"].unique())
    for t in temps:
        sub = table[table["temperature"] == t]
        out[f"r_D_{t:g}K"] = sub[feats].corrwith(sub[TARGET])
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


def report(table: pd.DataFrame, out_dir: str | Path, temperature: float | None = None,
           min_count: int = 3) -> dict[str, Path]:
    """Write the trend CSVs and PNGs into ``out_dir``; returns ``{name: path}``.

    ``temperature`` (K) is the one of the D distributions (default: the temperature most compositions have,
    the highest on a tie); anions with fewer than ``min_count`` compositions are left out of the box plots.
    A missing or non-numeric D, temperature or feature raises :class:`InputError` naming the row and column.
    """
    from . import plots

    if len(table) == 0:
        raise InputError("the table is empty: nothing to report")
    table = check_table(table, feature_columns(table), target=True)  # one-line errors naming row and column
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if temperature is None:
        counts = table.groupby("temperature")["formula"].nunique()
        temperature = float(counts[counts == counts.max()].index.max())
    if f"D_{temperature:g}K" not in (comps := composition_table(table)).columns:
        raise InputError(f"no composition has data at {temperature:g} K")
    log.info("trends over %d compositions, D at %g K", len(comps), temperature)
    pearson = pearson_table(table)
    groups = comps.groupby("anion").agg(family=("family", "first"), n=("formula", "size"),
                                        D_median=(f"D_{temperature:g}K", "median"),
                                        Ea_median=("Ea", "median"), Ea_mean=("Ea", "mean"))
    binary = comps[comps["binary"]].dropna(subset=["Ea"]).copy()
    binary["li_fraction_x_radius"] = binary["li_fraction"] * binary["x_radius"]
    paths = {"compositions": out / "compositions.csv", "anions": out / "anion_groups.csv",
             "binary": out / "binary_LiX.csv", "pearson": out / "pearson_features_D.csv"}
    comps.to_csv(paths["compositions"], index=False)
    groups.reset_index().to_csv(paths["anions"], index=False)
    binary.to_csv(paths["binary"], index=False)
    pearson.to_csv(paths["pearson"], index=False)
    paths["D_by_anion"] = Path(plots.plot_groups(
        _by_anion(comps, f"D_{temperature:g}K", min_count), out / "fig2_D_by_anion.png",
        f"D at {temperature:g} K (cm²/s)", "Li diffusivity by anion", log=True))
    paths["Ea_by_anion"] = Path(plots.plot_groups(_by_anion(comps, "Ea", min_count), out / "fig2_Ea_by_anion.png",
                                                  "Ea (eV)", "Activation energy by anion"))
    if len(binary) >= 3:
        paths["binary_r"] = out / "binary_LiX_correlations.csv"
        pd.DataFrame([binary_correlations(binary)]).to_csv(paths["binary_r"], index=False)
        panels = [(binary["li_fraction"], "Li fraction"), (binary["x_radius"], "radius of X (Å)"),
                  (binary["li_fraction_x_radius"], "Li fraction × radius of X (Å)"),
                  (binary["x_group"], "group of X")]
        paths["binary_plot"] = Path(plots.plot_scatter_panels(panels, binary["Ea"], out / "fig3_binary_LiX.png",
                                                              "Ea (eV)", labels=binary["formula"].to_list(),
                                                              title="Binary Li–X compositions"))
    return paths


def binary_correlations(binary: pd.DataFrame) -> dict[str, float]:
    """Pearson r of Ea with the Li fraction, radius of X, their product and the group of X (binary Li–X)."""
    cols = ("li_fraction", "x_radius", "li_fraction_x_radius", "x_group")
    return {c: float(np.corrcoef(binary[c].astype(float), binary["Ea"])[0, 1]) for c in cols}
