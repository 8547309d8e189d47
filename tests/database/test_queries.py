"""Queries over an imported data set: query() filters, show() of a composition, summary()."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from db_records import SMALL_PAPER, SMALL_RDFS, fill, write_small_paper

from amorphdb.composition import parse_formula
from amorphdb.database import Database
from amorphdb.errors import InputError
from amorphdb.units import PAPER_D_FACTOR, PAPER_TARGET


@pytest.fixture(scope="module")
def paper(tmp_path_factory):
    """(database, data directory) of the small data set, imported once for the module."""
    root = write_small_paper(tmp_path_factory.mktemp("data") / "paper")
    db = Database(tmp_path_factory.mktemp("db") / "paper.sqlite")
    db.import_paper(root)
    yield db, root
    db.close()


def test_query_filters_match_the_table(paper):
    db, root = paper
    table = pd.read_csv(root / "ml_features.csv")
    elements = table["formula"].map(lambda f: {str(e) for e in parse_formula(f).elements})
    expect = table[elements.map(lambda e: {"Li", "S"} <= e and "O" not in e) & (table["temperature"] == 1500)]
    got = db.query(elements="Li,S", exclude=["O"], temperature=1500, source="paper-aimd")
    assert sorted(got["formula"]) == sorted(expect["formula"]) and len(got) > 0
    assert np.allclose(got.sort_values("formula")["D"], expect.sort_values("formula")[PAPER_TARGET] / 1000
                       / PAPER_D_FACTOR)  # stored as Einstein D

    d = table[PAPER_TARGET] / 1000 / PAPER_D_FACTOR
    d_min, d_max = d.quantile(0.25), d.quantile(0.75)
    got = db.query(d_min=d_min, d_max=d_max, t_min=1200, t_max=2200)
    expect = table[(d >= d_min) & (d <= d_max) & table["temperature"].between(1200, 2200)]
    assert sorted(zip(got["formula"], got["temperature"])) == sorted(
        zip(expect["formula"].map(lambda f: parse_formula(f).reduced_formula), expect["temperature"]))
    assert len(got) > 0 and set(got["source"]) == {"paper-aimd"} and got["diffusive"].tolist() == [True] * len(got)

    everything = db.query()
    n_rdf = len(SMALL_RDFS["DFT"])
    assert len(everything) == len(table) + 2 * n_rdf
    assert list(everything.columns) == ["run_id", "formula", "source", "key", "stage", "temperature", "status",
                                        "engine", "density", "D", "D_err", "method", "diffusive"]
    m3gnet = db.query(source="paper-m3gnet")
    assert len(m3gnet) == n_rdf and m3gnet["D"].isna().all() and set(m3gnet["temperature"]) == {5000}
    assert m3gnet["diffusive"].isna().all()  # no D, so neither diffusive nor not
    with pytest.raises(InputError, match="unknown element 'Qq'"):
        db.query(elements="Li,Qq")
    with pytest.raises(InputError, match="no element in ' , '"):
        db.query(elements=" , ")
    with pytest.raises(InputError, match="t_min = 2000 is above t_max = 1000"):
        db.query(t_min=2000, t_max=1000)
    with pytest.raises(InputError, match="d_min = 0.001 is above d_max = 0.0001"):
        db.query(d_min=1e-3, d_max=1e-4)
    assert db.query(species="S")["D"].isna().all()  # the paper gives D of Li only


def test_query_says_which_d_is_an_upper_bound(any_db):
    """A D flagged not diffusive is an upper bound: query returns it with ``diffusive`` False."""
    run = fill(any_db)
    rows = any_db.query(species="S").set_index("run_id")
    assert rows.loc[run, ["D", "diffusive"]].tolist() == [1e-7, False]
    others = rows.drop(index=run)  # the volume run: no D
    assert len(others) == 1 and others["D"].isna().all() and others["diffusive"].isna().all()
    assert any_db.query().set_index("run_id").loc[run, ["D", "diffusive"]].tolist() == [2.5e-5, True]
    assert any_db.query(species="S", d_max=1e-6)["run_id"].tolist() == [run]  # the bounds apply to it as stored


def test_show_a_paper_composition(paper):
    db, root = paper
    table = pd.read_csv(root / "ml_features.csv")
    formula = max(SMALL_PAPER, key=lambda f: len(SMALL_PAPER[f]))
    info = db.show(formula)
    rows = table[table["formula"] == formula].set_index("temperature")
    aimd = [r for r in info.runs if r.source == "paper-aimd" and r.temperature != 5000]
    assert sorted(r.temperature for r in aimd) == sorted(rows.index)
    for r in aimd:
        assert r.diffusivity["Li"][0].D == pytest.approx(rows.loc[r.temperature, PAPER_TARGET] / 1000 / PAPER_D_FACTOR)
        assert r.features["LNC"] == rows.loc[r.temperature, "LNC"]
    assert info.arrhenius[0].species == "Li" and 0 < info.arrhenius[0].Ea < 2
    assert {(r.source, r.temperature) for r in info.rdfs} == {("paper-aimd", 5000), ("paper-m3gnet", 5000)}


def test_summary_counts_per_source_and_temperature(paper):
    db, root = paper
    summary = db.summary()
    assert list(summary.columns) == ["source", "temperature", "runs", "compositions", "with_D", "with_features",
                                     "with_RDF"]
    assert summary["runs"].sum() == len(db.query())
    assert summary["temperature"].dtype == "int64"  # whole kelvins shown as integers


def test_text_is_ordered_the_same_on_every_back_end(any_db):
    # PostgreSQL's locale collation puts Li2Se before Li2SO4 and "b" before "C"; SQLite compares bytes
    for formula in ["Li2SO4", "Li2Se", "LiCl"]:
        for source in ["b-source", "C-source"]:
            any_db.add_run(formula, source=source, temperature=1000, stage="production")
    for name in ["b-model", "C-model", "a-model"]:
        any_db.add_model(name, "rf", f"/models/{name}.joblib")
    table = any_db.query()
    assert list(zip(table["formula"], table["source"])) == sorted(zip(table["formula"], table["source"]))
    assert list(table["formula"]) == ["Li2SO4"] * 2 + ["Li2Se"] * 2 + ["LiCl"] * 2
    assert [r.source for r in any_db.show("Li2Se").runs] == ["C-source", "b-source"]
    assert [m.name for m in any_db.models()] == ["C-model", "a-model", "b-model"]
