"""The paper's published data: the importer on a small data set made by the tests, and on the published
files (``../shared/data/paper``) where they are present."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from db_records import SMALL_PAPER, SMALL_RDFS, counts

from amorphdb.composition import parse_formula
from amorphdb.database import Database, paper_density
from amorphdb.database.importers.paper import PAPER_ELEMENT_DATA
from amorphdb.errors import InputError
from amorphdb.units import EINSTEIN_TARGET, KB_EV, PAPER_D_FACTOR, PAPER_TARGET


def check_import(db: Database, paper) -> None:
    """Import ``paper`` twice and compare everything stored with its files."""
    db.import_paper(paper)
    first = counts(db)
    summary = db.import_paper(paper)
    assert counts(db) == first  # twice: nothing duplicated

    csv_table = pd.read_csv(paper / "ml_features.csv")
    n_rdf = {kind: len(list((paper / "rdf").glob(f"{kind}_RDF_*.csv"))) for kind in ("DFT", "M3GNet")}
    aimd = summary[summary["source"] == "paper-aimd"].set_index("temperature")
    for t, n in csv_table["temperature"].value_counts().items():
        assert aimd.loc[t, "runs"] == n and aimd.loc[t, "with_D"] == n and aimd.loc[t, "with_features"] == n
    assert aimd.loc[5000, "with_RDF"] == n_rdf["DFT"]
    assert summary.set_index("source").loc["paper-m3gnet", "with_RDF"] == n_rdf["M3GNet"]
    assert first["diffusivities"] == len(csv_table)
    assert first["features"] == len(csv_table) * (csv_table.shape[1] - 3)

    # the training table is the published table again, its D as Einstein D (the published / PAPER_D_FACTOR, marked
    # so) and coming back through cm²/s: equal to 1e-13
    table = db.training_table("paper-aimd")
    assert table.attrs["D_convention"] == "einstein"
    assert list(table.columns) == [EINSTEIN_TARGET if c == PAPER_TARGET else c for c in csv_table.columns]
    a = table.sort_values(["formula", "temperature"]).reset_index(drop=True)
    a = a.rename(columns={EINSTEIN_TARGET: PAPER_TARGET})
    a[PAPER_TARGET] *= PAPER_D_FACTOR
    b = csv_table.sort_values(["formula", "temperature"]).reset_index(drop=True)
    assert a["formula"].tolist() == b["formula"].tolist()
    np.testing.assert_allclose(a.drop(columns="formula").to_numpy(float), b.drop(columns="formula").to_numpy(float),
                               rtol=1e-13, atol=0)

    # density of every imported row: formula mass (pymatgen) / (AAV × atoms per formula unit), in g/cm³
    runs = db.query(source="paper-aimd").merge(csv_table, on=["formula", "temperature"], how="left")
    with_table = runs[runs["temperature"] != 5000]
    assert len(with_table) == len(csv_table)
    comps = with_table["formula"].map(parse_formula)
    expect = [c.weight / (aav * c.num_atoms) * 1.66054 for c, aav in zip(comps, with_table["AAV"])]
    np.testing.assert_allclose(with_table["density"], expect, rtol=2e-5)
    np.testing.assert_allclose(paper_density(with_table), expect, rtol=2e-5)
    assert with_table["density"].between(0.3, 12).all()
    assert runs.loc[runs["temperature"] == 5000, "density"].isna().all()  # RDF-only runs: no volume known
    # the features' element data: the paper's own
    run = db.get_run(csv_table["formula"][0], "paper-aimd", f"T{csv_table['temperature'][0]}")
    assert run.element_data == PAPER_ELEMENT_DATA

    # one RDF file, value for value
    name = sorted((paper / "rdf").glob("M3GNet_RDF_*.csv"))[0]
    expected = pd.read_csv(name, index_col=0)
    got = db.rdf(name.stem.split("_RDF_")[1], "paper-m3gnet")
    pd.testing.assert_frame_equal(got[list(expected.columns)], expected.reset_index(drop=True), check_exact=True)


def test_import_paper_holds_every_row_and_is_idempotent(any_db, small_paper):
    check_import(any_db, small_paper)
    assert counts(any_db)["runs"] == sum(map(len, SMALL_PAPER.values())) + sum(map(len, SMALL_RDFS.values()))


@pytest.mark.slow
def test_import_the_published_data(tmp_path, paper_dir):
    check_import(Database(tmp_path / "paper.sqlite"), paper_dir)


def test_import_paper_stores_arrhenius_fits(tmp_path, small_paper):
    db = Database(tmp_path / "a.sqlite")
    db.import_paper(small_paper)
    table = pd.read_csv(small_paper / "ml_features.csv")
    fits = db.arrhenius(source="paper-aimd").set_index("formula")
    # no error bars in the paper: three temperatures or more
    assert set(fits.index) == {f for f, temps in SMALL_PAPER.items() if len(temps) >= 3}
    for formula in fits.index:
        rows = table[table["formula"] == formula]
        slope = np.polyfit(1 / rows["temperature"], np.log(rows[PAPER_TARGET] / 1000), 1)[0]
        assert fits.loc[formula, "Ea"] == pytest.approx(-slope * KB_EV, rel=1e-6)
        assert db.show(formula).arrhenius[0].Ea == fits.loc[formula, "Ea"]
    assert (fits["t_min"] < fits["t_max"]).all() and (fits["species"] == "Li").all()


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.drop(columns=["temperature"]), r"ml_features.csv: missing column\(s\) temperature"),
    (lambda t: t.drop(columns=["AAV", "LNC"]), r"ml_features.csv: missing column\(s\) AAV, LNC"),
    (lambda t: t.assign(AAV=t["AAV"].where(t.index != 1, "0")), r"line 3, column 'AAV': must be positive"),
    (lambda t: t.assign(LNC=t["LNC"].where(t.index != 4, "abc")), r"ml_features.csv: line 6, column 'LNC': 'abc'"),
    (lambda t: t.assign(AAV=t["AAV"].where(t.index != 2, "")), r"line 4, column 'AAV': '' is not a number"),
    (lambda t: t.assign(formula=t["formula"].where(t.index != 3, "Li2Qq")), r"line 5, column 'formula': unknown"),
    (lambda t: pd.concat([t, t.iloc[[0]]]), r"line \d+: Li3PS4 at 1000 K appears twice: first on line 2$"),
    (lambda t: pd.concat([t, t.iloc[[0]].assign(formula="Li6P2S8")]),
     r"line \d+: Li6P2S8 at 1000 K appears twice: first on line 2 \(as Li3PS4, both are Li3PS4\)"),
    (lambda t: t.iloc[0:0], "no data rows"),
])
def test_import_paper_rejects_malformed_table(tmp_path, small_paper, edit, message):
    path = small_paper / "ml_features.csv"
    edit(pd.read_csv(path, dtype=str, keep_default_na=False)).to_csv(path, index=False)
    db = Database(tmp_path / "m.sqlite")
    with pytest.raises(InputError, match=message):
        db.import_paper(small_paper)
    assert counts(db)["runs"] == 0


def test_import_paper_rejects_missing_files(tmp_path, small_paper):
    db = Database(tmp_path / "m.sqlite")
    with pytest.raises(InputError, match="is not a directory"):
        db.import_paper(small_paper / "ml_features.csv")
    with pytest.raises(InputError, match="no ml_features.csv"):
        db.import_paper(small_paper / "rdf")
    (small_paper / "rdf" / "XRD_RDF_Li2S.csv").write_text(",Li-Li,r\n0,0.0,0.0\n")
    with pytest.raises(InputError, match="unknown RDF file kind 'XRD'"):
        db.import_paper(small_paper)
    (small_paper / "rdf" / "XRD_RDF_Li2S.csv").unlink()
    twin = small_paper / "rdf" / "DFT_RDF_Li6P2S8.csv"
    twin.write_bytes((small_paper / "rdf" / "DFT_RDF_Li3PS4.csv").read_bytes())
    with pytest.raises(InputError, match=r"DFT_RDF_(Li3PS4|Li6P2S8).csv: the same composition \(Li3PS4\) as "
                                         r"DFT_RDF_(Li6P2S8|Li3PS4).csv"):
        db.import_paper(small_paper)
    assert counts(db)["runs"] == 0


def test_malformed_rdf_file_leaves_nothing(any_db, small_paper):
    """All files are checked before the one transaction: the valid feature table is not written either."""
    bad = small_paper / "rdf" / "M3GNet_RDF_Li3PS4.csv"
    pd.DataFrame({"Li-Li": [0.0, 1.0], "Li-S": ["0.5", "oops"], "r": [0.0, 0.1]}).to_csv(bad)
    with pytest.raises(InputError, match=r"M3GNet_RDF_Li3PS4.csv: line 3, column 'Li-S': 'oops'"):
        any_db.import_paper(small_paper)
    assert set(counts(any_db).values()) == {0}
    bad.unlink()
    any_db.import_paper(small_paper)  # the database is usable afterwards
    assert counts(any_db)["runs"] > 0
