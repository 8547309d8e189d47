"""Tests of amorphdb.reports.trends: planted Arrhenius data and correlations, then the paper's table end to end."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from amorphdb.reports import trends
from amorphdb.cli import main
from amorphdb.errors import InputError
from amorphdb.learning.table import TARGET
from amorphdb.units import KB_EV

PLANTED = {"LiF": 0.6, "LiCl": 0.5, "LiBr": 0.4, "LiI": 0.3, "Li2O": 0.55, "Li2S": 0.35, "Li3PO4": 0.7}


def _planted_table() -> pd.DataFrame:
    rows = []
    for i, (formula, ea) in enumerate(PLANTED.items()):
        for t in (1000.0, 1500.0, 2000.0, 2500.0):
            d = 1e-2 * np.exp(-ea / (KB_EV * t))  # cm2/s
            rows.append({"formula": formula, TARGET: d * 1e3, "temperature": t, "AAV": 10 + i,
                         "copy_of_D": d, "LNC": 20 - 10 * ea})
    return pd.DataFrame(rows)


def test_anion_and_family_are_the_physical_choice():
    assert trends.anion_of("Li13Si5O8") == "O"  # not Si, the table's alphabetical "anion"
    assert trends.anion_of("Li3PS4") == "S"
    assert trends.anion_of("Li4Pt") == "Pt"
    assert [trends.family_of(s) for s in ("Cl", "Se", "N", "Sn", "Pt")] == [
        "halogen", "chalcogen", "pnictogen", "tetrel", "other"]
    with pytest.raises(InputError):
        trends.anion_of("Li")


def test_report_recovers_planted_activation_energies_and_correlations(tmp_path):
    table = _planted_table()
    paths = trends.report(table, tmp_path, min_count=1)
    comps = pd.read_csv(paths["compositions"]).set_index("formula")
    np.testing.assert_allclose(comps.loc[list(PLANTED), "Ea"], list(PLANTED.values()), atol=1e-9)
    # the planted table is in the published convention (3 x Einstein); the report gives Einstein D
    np.testing.assert_allclose(comps["D0"], 1e-2 / 3, rtol=1e-6)
    einstein = table.copy()
    einstein["diff_coeff_mul_thousand"] /= 3
    einstein.attrs["D_convention"] = "einstein"
    same = trends.composition_table(einstein).set_index("formula")
    np.testing.assert_allclose(same["D0"], comps["D0"], rtol=1e-9)
    assert comps.loc["LiBr", "family"] == "halogen" and comps.loc["Li3PO4", "anion"] == "O"
    binary = pd.read_csv(paths["binary"])
    assert set(binary["formula"]) == {"LiF", "LiCl", "LiBr", "LiI", "Li2O", "Li2S"}  # Li3PO4 is ternary
    assert set(binary["x_group"]) == {16, 17}
    pearson = pd.read_csv(paths["pearson"]).set_index("feature")
    np.testing.assert_allclose(pearson.loc["copy_of_D", ["r_D_1000K", "r_D_2500K", "r_D_all"]], 1.0)
    for name in ("D_by_anion", "Ea_by_anion", "binary_plot"):
        assert paths[name].stat().st_size > 1000
    summary = trends.trend_tables(table, min_count=2)  # what report writes, as tables
    assert summary.temperature == 2500.0  # every composition has all four: the highest
    assert set(summary.Ea_by_anion) == {"O (chalcogen)"} and len(summary.Ea_by_anion["O (chalcogen)"]) == 2
    assert summary.binary_r["li_fraction"] == pytest.approx(pd.read_csv(paths["binary_r"])["li_fraction"][0])
    with pytest.raises(InputError, match="no composition has data at 3000 K"):
        trends.report(table, tmp_path, temperature=3000)
    with pytest.raises(InputError, match="lacks the column"):
        trends.report(table.drop(columns=TARGET), tmp_path)
    bad = table.astype({"AAV": object})
    bad.loc[5, "AAV"] = "x"
    with pytest.raises(InputError, match=r"row 6 \(LiCl\), column 'AAV'"):
        trends.report(bad, tmp_path)
    # lithium metal has no anion: left out of the trends, not an error for the whole table
    metal = pd.concat([table, table[table["formula"] == "LiF"].assign(formula="Li")], ignore_index=True)
    assert "Li" not in set(trends.trend_tables(metal, min_count=1).compositions["formula"])
    with pytest.raises(InputError, match="only lithium metal"):
        trends.trend_tables(metal[metal["formula"] == "Li"])


def test_report_on_the_papers_table(paper_dir, tmp_path, capsys):
    assert main(["report", "--data", str(paper_dir / "ml_features.csv"), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out  # the anion table: oxides are the largest group of the shipped table
    assert re.search(r"^\s+O chalcogen 50 ", out, re.M) and re.search(r"^\s+F\s+halogen\s+5 ", out, re.M)
    pearson = pd.read_csv(tmp_path / "pearson_features_D.csv").set_index("feature")
    assert len(pearson) == 42
    # the paper's Table 1: Li fraction raises D, Li neighbour count lowers it (at every temperature here)
    assert (pearson.loc["Li_percentage", ["r_D_1000K", "r_D_2500K"]] > 0.3).all()
    assert (pearson.loc["LNC", ["r_D_1000K", "r_D_2500K"]] < -0.5).all()
    comps = pd.read_csv(tmp_path / "compositions.csv")
    assert len(comps) == 165 and (comps["Ea"].dropna() > 0).all()
    # the paper's Fig. 3: in binary Li-X, Ea falls with Li fraction x radius of X
    r = pd.read_csv(tmp_path / "binary_LiX_correlations.csv").iloc[0]
    assert r["li_fraction_x_radius"] < -0.3
