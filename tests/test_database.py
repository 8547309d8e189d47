"""The database against real SQLite files and a real PostgreSQL server (``AMORPHDB_TEST_PG_URL``).

PostgreSQL tests run each in a fresh schema; they skip when no server answers, unless ``CI`` is set.
"""

from __future__ import annotations

import json
import math
import multiprocessing as mp
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import create_engine, make_url, text

from amorphdb.cli import main
from amorphdb.composition import parse_formula
from amorphdb.database import PAPER_TARGET, Database, Material, RunInfo, default_url
from amorphdb.errors import DatabaseError, InputError

PG_ENV = "AMORPHDB_TEST_PG_URL"


# ---------------------------------------------------------------------------------------------------------
# Fixtures: one URL per back end, a fresh database per test
# ---------------------------------------------------------------------------------------------------------


def _pg_admin_url() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {PG_ENV} is not")
        pytest.skip(f"{PG_ENV} is not set")
    url = make_url(url)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    """A URL of an empty database: an SQLite file, or a fresh schema on the PostgreSQL test server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.sqlite'}"
        return
    admin_url = _pg_admin_url()
    admin = create_engine(admin_url, connect_args={"connect_timeout": 3})
    try:
        with admin.connect():
            pass
    except Exception as exc:  # no server: skip locally, fail in CI
        admin.dispose()
        message = f"PostgreSQL at {make_url(admin_url).render_as_string()} does not answer: {str(exc).splitlines()[0]}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    schema = f"amorphdb_test_{uuid.uuid4().hex[:12]}"
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield make_url(admin_url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture
def any_db(db_url):
    """A fresh Database on each back end."""
    database = Database(db_url)
    yield database
    database.close()


@pytest.fixture
def small_paper(tmp_path, paper_dir) -> Path:
    """A small copy of the paper's data in tmp_path: 8 compositions of ml_features.csv, 3 RDF files of each kind."""
    table = pd.read_csv(paper_dir / "ml_features.csv", dtype=str, keep_default_na=False)
    keep = table["formula"].drop_duplicates().iloc[:8]
    out = tmp_path / "paper"
    (out / "rdf").mkdir(parents=True)
    table[table["formula"].isin(keep)].to_csv(out / "ml_features.csv", index=False)
    for kind in ("DFT", "M3GNet"):
        for file in sorted((paper_dir / "rdf").glob(f"{kind}_RDF_*.csv"))[:3]:
            shutil.copy(file, out / "rdf" / file.name)
    return out


def _counts(db: Database) -> dict[str, int]:
    with db._engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in
                ("materials", "runs", "diffusivities", "arrhenius", "features", "rdfs", "structures", "models")}


def _structure():
    from pymatgen.core import Lattice, Structure

    return Structure(Lattice.cubic(4.2), ["Li", "Li", "S", "P"],
                     [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0.25, 0.25, 0.25]])


def _fill(db: Database) -> int:
    """Records of every kind, as the protocol, the analysis and the learning would write them."""
    run = db.add_run("Li6P2S8", source="mlip-chgnet", temperature=1000, stage="production", key="T1000",
                     engine="chgnet", engine_version="0.4.2", volume=1234.5, density=1.87, energy=-4.21,
                     pressure=0.3, n_atoms=96, n_steps=20000, timestep=2.0, status="done",
                     trajectory_path="runs/Li3PS4/T1000.traj", trajectory_sha256="ab" * 32)
    db.add_run("Li3PS4", source="mlip-chgnet", temperature=1000, stage="volume", key="T1000-v0",
               volume=1300.0, status="done", message="volume search step 0")
    db.add_diffusivity(run, "Li", 2.5e-5, 3e-6, "msd-fit")
    db.add_diffusivity(run, "S", 1e-7, None, "msd-fit", diffusive=False)
    db.add_features(run, {"AAV": 15.2, "LNC": 12.5, "SLPW": float("nan")})
    db.add_rdf(run, pd.DataFrame({"r": [0.0, 0.1, 0.2], "Li-Li": [0.0, 0.5, 1.25], "Li-S": [0.0, np.nan, 2.0]}))
    db.add_structure(run, _structure())
    db.add_arrhenius("Li3PS4", "mlip-chgnet", "Li", 0.25, 0.02, 1.1e-3, 2e-4, 1000, 2500)
    db.add_model("rf-paper", "rf", "models/rf.joblib", {"rmse": 1.2e-4, "features": ["AAV", "LNC"]})
    return run


# ---------------------------------------------------------------------------------------------------------
# Runs and the records hanging off them
# ---------------------------------------------------------------------------------------------------------


def test_new_database_gets_schema_and_provenance(any_db):
    assert any_db.schema_version() == 1
    run = _fill(any_db)
    info = any_db.run(run)
    import amorphdb

    assert info.code_version == amorphdb.__version__
    assert info.created_at.tzinfo is not None and abs(time.time() - info.created_at.timestamp()) < 600
    records = json.loads(json.dumps(any_db.show("Li3PS4"), default=str))
    assert {r["source"] for r in records["runs"]} == {"mlip-chgnet"}


def test_add_run_with_key_is_idempotent_and_updates(any_db):
    first = any_db.add_run("Li3PS4", source="mlip-chgnet", temperature=1500, stage="volume", key="T1500",
                           status="running", n_atoms=96)
    second = any_db.add_run("Li6P2S8", source="mlip-chgnet", temperature=1500, stage="production", key="T1500",
                            status="done", density=1.9)
    assert first == second
    info = any_db.get_run("Li3PS4", "mlip-chgnet", "T1500")
    assert isinstance(info, RunInfo)
    assert (info.formula, info.stage, info.status, info.density, info.n_atoms) == \
        ("Li3PS4", "production", "done", 1.9, 96)
    any_db.update_run(first, status="failed", message="temperature ran away", energy=-3.5)
    info = any_db.run(first)
    assert (info.status, info.message, info.energy) == ("failed", "temperature ran away", -3.5)
    # without a key every call is a new run; another source is another run
    a = any_db.add_run("Li3PS4", source="mlip-chgnet", temperature=1500, stage="check")
    b = any_db.add_run("Li3PS4", source="mlip-chgnet", temperature=1500, stage="check")
    c = any_db.add_run("Li3PS4", source="mlip-sevennet", temperature=1500, stage="production", key="T1500")
    assert len({first, a, b, c}) == 4
    assert _counts(any_db)["runs"] == 4 and _counts(any_db)["materials"] == 1
    assert any_db.get_run("Li3PS4", "mlip-chgnet", "nope") is None


def test_bad_run_input_is_rejected(any_db):
    with pytest.raises(InputError, match="unknown run field 'volumee'"):
        any_db.add_run("Li3PS4", source="x", temperature=1000, stage="production", volumee=3.0)
    with pytest.raises(InputError, match="temperature must be positive"):
        any_db.add_run("Li3PS4", source="x", temperature=-5, stage="production")
    with pytest.raises(InputError, match="unknown element 'Xx'"):
        any_db.add_run("Li3Xx", source="x", temperature=1000, stage="production")
    with pytest.raises(InputError, match="empty formula"):
        any_db.add_run(" ", source="x", temperature=1000, stage="production")
    with pytest.raises(InputError, match="n_atoms must be a whole number"):
        any_db.add_run("Li3PS4", source="x", temperature=1000, stage="production", n_atoms=9.5)
    with pytest.raises(InputError, match="no run with id 12345"):
        any_db.add_diffusivity(12345, "Li", 1e-5, None, "msd")
    with pytest.raises(InputError, match="unknown element 'Zz'"):
        any_db.add_diffusivity(1, "Zz", 1e-5, None, "msd")
    assert _counts(any_db)["runs"] == 0


def test_records_come_back(any_db):
    run = _fill(any_db)
    from pymatgen.io.ase import AseAtomsAdaptor

    atoms = AseAtomsAdaptor.get_atoms(_structure())
    atoms.positions[0] += 0.3
    any_db.add_structure(run, atoms, label="frame-1")
    stored = any_db.structures(run)
    assert len(stored) == 2
    assert stored[0] == _structure()  # pymatgen Structure equality: lattice, species, coordinates
    assert np.allclose(stored[1].cart_coords, atoms.positions)
    features = any_db.features(run)
    assert list(features) == ["AAV", "LNC", "SLPW"] and features["LNC"] == 12.5 and math.isnan(features["SLPW"])
    rdf = any_db.rdf("Li3PS4", "mlip-chgnet")
    assert list(rdf.columns) == ["r", "Li-Li", "Li-S"]
    assert rdf["Li-Li"].tolist() == [0.0, 0.5, 1.25] and math.isnan(rdf["Li-S"][1])
    assert any_db.rdf("Li3PS4", "paper-aimd") is None
    arr = any_db.arrhenius("Li3PS4")
    assert arr[["species", "Ea", "t_min", "t_max"]].values.tolist() == [["Li", 0.25, 1000.0, 2500.0]]
    model = any_db.model("rf-paper")
    assert (model.kind, model.path, model.metadata["features"]) == ("rf", "models/rf.joblib", ["AAV", "LNC"])
    assert any_db.add_model("rf-paper", "rf", "models/rf2.joblib", {}) == model.id  # same name: replaced
    shown = any_db.show("Li6P2S8")
    assert shown["formula"] == "Li3PS4" and shown["composition"] == {"Li": 3, "P": 1, "S": 4}
    production = next(r for r in shown["runs"] if r["stage"] == "production")
    assert production["diffusivity"]["Li"][0] == {"D": 2.5e-5, "D_err": 3e-6, "method": "msd-fit",
                                                  "diffusive": True}
    assert production["diffusivity"]["S"][0]["diffusive"] is False
    assert shown["arrhenius"][0]["Ea"] == 0.25
    assert shown["rdfs"] == [{"run_id": run, "source": "mlip-chgnet", "key": "T1000", "temperature": 1000.0,
                              "pairs": ["Li-Li", "Li-S"]}]
    assert shown["structures"][0]["labels"] == ["final", "frame-1"]
    with pytest.raises(InputError, match="no data on Li2O"):
        any_db.show("Li2O")


# ---------------------------------------------------------------------------------------------------------
# The paper's data
# ---------------------------------------------------------------------------------------------------------


def test_import_paper_holds_every_row_and_is_idempotent(any_db, paper_dir):
    any_db.import_paper(paper_dir)
    first = _counts(any_db)
    summary = any_db.import_paper(paper_dir)
    assert _counts(any_db) == first  # twice: nothing duplicated

    csv_table = pd.read_csv(paper_dir / "ml_features.csv")
    n_rdf = {kind: len(list((paper_dir / "rdf").glob(f"{kind}_RDF_*.csv"))) for kind in ("DFT", "M3GNet")}
    aimd = summary[summary["source"] == "paper-aimd"].set_index("temperature")
    for t, n in csv_table["temperature"].value_counts().items():
        assert aimd.loc[t, "runs"] == n and aimd.loc[t, "with_D"] == n and aimd.loc[t, "with_features"] == n
    assert aimd.loc[5000, "with_RDF"] == n_rdf["DFT"]
    assert summary.set_index("source").loc["paper-m3gnet", "with_RDF"] == n_rdf["M3GNet"]
    assert first["diffusivities"] == len(csv_table)
    assert first["features"] == len(csv_table) * (csv_table.shape[1] - 3)

    # the training table is the published table again (D comes back through cm²/s: equal to 1e-13)
    table = any_db.training_table("paper-aimd")
    assert list(table.columns) == list(csv_table.columns)
    a = table.sort_values(["formula", "temperature"]).reset_index(drop=True)
    b = csv_table.sort_values(["formula", "temperature"]).reset_index(drop=True)
    assert a["formula"].tolist() == b["formula"].tolist()
    np.testing.assert_allclose(a.drop(columns="formula").to_numpy(float), b.drop(columns="formula").to_numpy(float),
                               rtol=1e-13, atol=0)

    # density of every imported row: formula mass (pymatgen) / (AAV × atoms per formula unit), in g/cm³
    runs = any_db.query(source="paper-aimd").merge(csv_table, on=["formula", "temperature"], how="left")
    with_table = runs[runs["temperature"] != 5000]
    assert len(with_table) == len(csv_table)
    comps = with_table["formula"].map(parse_formula)
    expect = [c.weight / (aav * c.num_atoms) * 1.66054 for c, aav in zip(comps, with_table["AAV"])]
    np.testing.assert_allclose(with_table["density"], expect, rtol=2e-5)
    assert with_table["density"].between(0.3, 12).all()
    assert runs.loc[runs["temperature"] == 5000, "density"].isna().all()  # RDF-only runs: no volume known

    # one RDF file, value for value
    name = sorted((paper_dir / "rdf").glob("M3GNet_RDF_*.csv"))[0]
    expected = pd.read_csv(name, index_col=0)
    got = any_db.rdf(name.stem.split("_RDF_")[1], "paper-m3gnet")
    pd.testing.assert_frame_equal(got[list(expected.columns)], expected.reset_index(drop=True), check_exact=True)


def test_import_paper_stores_arrhenius_fits(tmp_path, small_paper):
    db = Database(tmp_path / "a.sqlite")
    db.import_paper(small_paper)
    table = pd.read_csv(small_paper / "ml_features.csv")
    counts = table.groupby("formula")["temperature"].nunique()
    fits = db.arrhenius(source="paper-aimd").set_index("formula")
    assert set(fits.index) == set(counts[counts >= 3].index)
    formula = fits.index[0]
    rows = table[table["formula"] == formula]
    slope = np.polyfit(1 / rows["temperature"], np.log(rows[PAPER_TARGET] / 1000), 1)[0]
    assert fits.loc[formula, "Ea"] == pytest.approx(-slope * 8.617333262e-5, rel=1e-6)  # kB in eV/K
    assert db.show(formula)["arrhenius"][0]["Ea"] == fits.loc[formula, "Ea"]


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.drop(columns=["temperature"]), r"ml_features.csv: missing column\(s\) temperature"),
    (lambda t: t.drop(columns=["AAV", "LNC"]), r"ml_features.csv: missing column\(s\) AAV, LNC"),
    (lambda t: t.assign(AAV=t["AAV"].where(t.index != 1, "0")), r"line 3, column 'AAV': must be positive"),
    (lambda t: t.assign(LNC=t["LNC"].where(t.index != 4, "abc")), r"ml_features.csv: line 6, column 'LNC': 'abc'"),
    (lambda t: t.assign(AAV=t["AAV"].where(t.index != 2, "")), r"line 4, column 'AAV': '' is not a number"),
    (lambda t: t.assign(formula=t["formula"].where(t.index != 3, "Li2Qq")), r"line 5, column 'formula': unknown"),
])
def test_import_paper_rejects_malformed_table(tmp_path, small_paper, edit, message):
    path = small_paper / "ml_features.csv"
    edit(pd.read_csv(path, dtype=str, keep_default_na=False)).to_csv(path, index=False)
    db = Database(tmp_path / "m.sqlite")
    with pytest.raises(InputError, match=message):
        db.import_paper(small_paper)
    assert _counts(db)["runs"] == 0


def test_malformed_rdf_file_leaves_nothing(any_db, small_paper):
    """All files are checked before the one transaction: the valid feature table is not written either."""
    bad = small_paper / "rdf" / "M3GNet_RDF_Li3PS4.csv"
    pd.DataFrame({"Li-Li": [0.0, 1.0], "Li-S": ["0.5", "oops"], "r": [0.0, 0.1]}).to_csv(bad)
    with pytest.raises(InputError, match=r"M3GNet_RDF_Li3PS4.csv: line 3, column 'Li-S': 'oops'"):
        any_db.import_paper(small_paper)
    assert set(_counts(any_db).values()) == {0}
    bad.unlink()
    any_db.import_paper(small_paper)  # the database is usable afterwards
    assert _counts(any_db)["runs"] > 0


def _crash_in_transaction(url: str) -> None:
    db = Database(url)

    def write(session):
        db._upsert(session, Material,
                   [{"formula": "Li2O", "elements": ["Li", "O"], "composition": {"Li": 2, "O": 1}, "n_elements": 2,
                     "source": "crash"}], ["formula"])
        session.flush()
        os._exit(3)  # the process dies with the transaction open

    db._write(write)


def test_process_killed_mid_write_leaves_database_as_it_was(any_db, db_url):
    run = _fill(any_db)
    before = _counts(any_db)
    proc = mp.get_context("spawn").Process(target=_crash_in_transaction, args=(db_url,))
    proc.start()
    proc.join(60)
    assert proc.exitcode == 3
    reopened = Database(db_url)
    assert _counts(reopened) == before
    reopened.add_diffusivity(run, "P", 1e-8, None, "msd-fit")  # no lock left behind
    assert _counts(reopened)["diffusivities"] == before["diffusivities"] + 1


# ---------------------------------------------------------------------------------------------------------
# Queries
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def paper_db(tmp_path_factory, paper_dir) -> Database:
    db = Database(tmp_path_factory.mktemp("paper") / "paper.sqlite")
    db.import_paper(paper_dir)
    return db


def test_query_filters_match_the_published_table(paper_db, paper_dir):
    table = pd.read_csv(paper_dir / "ml_features.csv")
    elements = table["formula"].map(lambda f: {str(e) for e in parse_formula(f).elements})
    expect = table[elements.map(lambda e: {"Li", "S"} <= e and "O" not in e) & (table["temperature"] == 1500)]
    got = paper_db.query(elements="Li,S", exclude=["O"], temperature=1500, source="paper-aimd")
    assert sorted(got["formula"]) == sorted(expect["formula"]) and len(got) > 0
    assert np.allclose(got.sort_values("formula")["D"], expect.sort_values("formula")[PAPER_TARGET] / 1000)

    d_min, d_max = 1e-4, 5e-4
    got = paper_db.query(d_min=d_min, d_max=d_max, t_min=1200, t_max=2200)
    d = table[PAPER_TARGET] / 1000
    expect = table[(d >= d_min) & (d <= d_max) & table["temperature"].between(1200, 2200)]
    assert len(got) == len(expect) > 0

    everything = paper_db.query()
    assert len(everything) == len(table) + 2 * 256
    m3gnet = paper_db.query(source="paper-m3gnet")
    assert len(m3gnet) == 256 and m3gnet["D"].isna().all() and set(m3gnet["temperature"]) == {5000}
    with pytest.raises(InputError, match="unknown element 'Qq'"):
        paper_db.query(elements="Li,Qq")
    with pytest.raises(InputError, match="no element in ' , '"):
        paper_db.query(elements=" , ")
    with pytest.raises(InputError, match="t_min = 2000 is above t_max = 1000"):
        paper_db.query(t_min=2000, t_max=1000)
    with pytest.raises(InputError, match="d_min = 0.001 is above d_max = 0.0001"):
        paper_db.query(d_min=1e-3, d_max=1e-4)
    assert paper_db.query(species="S")["D"].isna().all()  # the paper gives D of Li only


def test_show_a_paper_composition(paper_db, paper_dir):
    table = pd.read_csv(paper_dir / "ml_features.csv")
    formula = table.groupby("formula")["temperature"].nunique().idxmax()
    info = paper_db.show(formula)
    rows = table[table["formula"] == formula].set_index("temperature")
    aimd = [r for r in info["runs"] if r["source"] == "paper-aimd"]
    assert sorted(r["temperature"] for r in aimd) == sorted(rows.index)
    for r in aimd:
        assert r["diffusivity"]["Li"][0]["D"] == pytest.approx(rows.loc[r["temperature"], PAPER_TARGET] / 1000)
        assert r["features"]["LNC"] == rows.loc[r["temperature"], "LNC"]
    assert info["arrhenius"][0]["species"] == "Li" and 0 < info["arrhenius"][0]["Ea"] < 2


# ---------------------------------------------------------------------------------------------------------
# Export / import
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_export_import_round_trip(any_db, tmp_path, small_paper, fmt):
    any_db.import_paper(small_paper)
    _fill(any_db)
    first, second = tmp_path / f"first.{fmt}", tmp_path / f"second.{fmt}"
    counts = any_db.export(first, format=fmt)
    assert counts == _counts(any_db)
    fresh = Database(tmp_path / "fresh.sqlite")
    fresh.import_file(first)
    fresh.import_file(first)  # merging by natural keys: twice changes nothing
    assert _counts(fresh) == _counts(any_db)
    fresh.export(second, format=fmt)
    assert first.read_bytes() == second.read_bytes()
    assert fresh.structures(fresh.get_run("Li3PS4", "mlip-chgnet", "T1000").id) == [_structure()]
    # and the two formats hold the same
    fresh.export(tmp_path / "j.json")
    other = Database(tmp_path / "other.sqlite")
    other.import_file(tmp_path / "j.json")
    other.export(tmp_path / f"third.{fmt}", format=fmt)
    assert (tmp_path / f"third.{fmt}").read_bytes() == first.read_bytes()


def test_import_rejects_malformed_exports(tmp_path, db_url):
    db = Database(db_url)
    _fill(db)
    good = tmp_path / "good.json"
    db.export(good)
    doc = json.loads(good.read_text())
    doc["tables"]["features"][1]["value"] = "twelve"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    fresh = Database(tmp_path / "fresh.sqlite")
    with pytest.raises(InputError, match=r"features record 1, field 'value': 'twelve' is not a valid float"):
        fresh.import_file(bad)
    assert set(_counts(fresh).values()) == {0}  # runs were already written in that transaction: rolled back
    bad.write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        fresh.import_file(bad)
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="not an amorphdb export"):
        fresh.import_file(bad)


# ---------------------------------------------------------------------------------------------------------
# Concurrency
# ---------------------------------------------------------------------------------------------------------


def _writer(url: str, worker: int, n: int, start) -> None:
    db = Database(url)
    start.wait(120)  # every process is up: they all write at the same time
    for i in range(n):
        run = db.add_run("Li3PS4", source=f"worker-{worker}", temperature=1000 + i, stage="production",
                         key=f"T{1000 + i}", status="done")
        db.add_features(run, {"AAV": float(i), "LNC": float(worker)})


def test_several_processes_write_at_once(any_db, db_url):
    n_proc, n_runs = 4, 25
    ctx = mp.get_context("spawn")
    start = ctx.Barrier(n_proc)
    procs = [ctx.Process(target=_writer, args=(db_url, w, n_runs, start)) for w in range(n_proc)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(300)
    assert [p.exitcode for p in procs] == [0] * n_proc
    counts = _counts(any_db)
    assert (counts["runs"], counts["features"], counts["materials"]) == (n_proc * n_runs, 2 * n_proc * n_runs, 1)
    table = any_db.query(elements="Li")
    assert table.groupby("source").size().to_dict() == {f"worker-{w}": n_runs for w in range(n_proc)}


# ---------------------------------------------------------------------------------------------------------
# Opening databases: defaults, versions, things that are not databases, servers that do not answer
# ---------------------------------------------------------------------------------------------------------


def test_default_url_and_bare_paths(tmp_path, monkeypatch):
    monkeypatch.delenv("AMORPHDB_URL", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_url() == f"sqlite:///{tmp_path / 'xdg' / 'amorphdb' / 'amorphdb.sqlite'}"
    Database().add_run("Li3PS4", source="x", temperature=900, stage="production", key="a")
    assert (tmp_path / "xdg" / "amorphdb" / "amorphdb.sqlite").is_file()
    monkeypatch.setenv("AMORPHDB_URL", str(tmp_path / "env.sqlite"))  # a bare path is an SQLite file
    Database().add_run("Li3PS4", source="x", temperature=900, stage="production", key="a")
    assert Database(tmp_path / "env.sqlite").get_run("Li3PS4", "x", "a") is not None
    with Database(f"sqlite:///{tmp_path / 'env.sqlite'}") as db:
        with db._engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"


def test_other_schema_version_is_refused(db_url):
    Database(db_url).close()
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE meta SET value = '99' WHERE key = 'schema_version'"))
    engine.dispose()
    with pytest.raises(DatabaseError, match="has schema version 99; this amorphdb .* reads version 1"):
        Database(db_url)


def test_files_that_are_not_amorphdb_databases(tmp_path):
    junk = tmp_path / "notes.txt"
    junk.write_text("this is not a database\n" * 200)
    with pytest.raises(DatabaseError, match="is not a database"):
        Database(junk)
    other = tmp_path / "other.sqlite"
    engine = create_engine(f"sqlite:///{other}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE things (x INTEGER)"))
    engine.dispose()
    with pytest.raises(DatabaseError, match="is not an amorphdb database"):
        Database(other)
    with pytest.raises(DatabaseError, match="unsupported database back end 'mysql'"):
        Database("mysql://u:p@127.0.0.1/x")


def _silent_server() -> tuple[socket.socket, int]:
    """A TCP port that accepts connections and never says a word (a hung server)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held = []
    threading.Thread(target=lambda: held.extend(server.accept() for _ in range(8)), daemon=True).start()
    return server, server.getsockname()[1]


def test_server_that_does_not_answer(tmp_path):
    server, port = _silent_server()
    start = time.monotonic()
    hidden = f"cannot open database postgresql\\+psycopg://u:\\*\\*\\*@127.0.0.1:{port}"  # no password shown
    with pytest.raises(DatabaseError, match=hidden):
        Database(f"postgresql://u:secret@127.0.0.1:{port}/x", connect_timeout=1)
    assert time.monotonic() - start < 15
    server.close()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    with pytest.raises(DatabaseError, match="cannot open database"):
        Database(f"postgresql://u:secret@127.0.0.1:{port}/x", connect_timeout=1)


# ---------------------------------------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------------------------------------


def test_cli_tour(tmp_path, small_paper, capsys):
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    assert main(["import-paper", str(small_paper), "--db", url]) == 0
    out = capsys.readouterr().out
    assert "paper-aimd" in out and "paper-m3gnet" in out
    assert main(["query", "--elements", "Li", "--temperature", "2000", "--json", "--db", url]) == 0
    records = json.loads(capsys.readouterr().out)
    table = pd.read_csv(small_paper / "ml_features.csv")
    assert len(records) == (table["temperature"] == 2000).sum()
    formula = records[0]["formula"]
    assert main(["show", formula, "--db", url]) == 0
    out = capsys.readouterr().out
    assert out.startswith(formula) and "LNC" in out and "Arrhenius" in out
    assert main(["show", formula, "--json", "--db", url]) == 0
    assert json.loads(capsys.readouterr().out)["formula"] == formula
    # a composition with RDFs only: show names the pairs of each source; no "None" cells in tables
    rdf_formula = min((small_paper / "rdf").glob("DFT_RDF_*.csv")).stem.split("_RDF_")[1]
    pairs = ", ".join(pd.read_csv(small_paper / "rdf" / f"DFT_RDF_{rdf_formula}.csv", index_col=0).columns.drop("r"))
    assert main(["show", rdf_formula, "--db", url]) == 0
    out = capsys.readouterr().out
    assert f"RDFs:\n  paper-aimd 5000 K: {pairs}\n  paper-m3gnet 5000 K: {pairs}\n" in out
    assert main(["query", "--source", "paper-m3gnet", "--db", url]) == 0
    out = capsys.readouterr().out
    assert "None" not in out and "3 runs, 3 compositions" in out
    # the density of imported rows is printed
    elements = ",".join(str(e) for e in parse_formula(formula).elements)
    assert main(["query", "--elements", elements, "--temperature", "2000", "--db", url]) == 0
    row = table[(table["formula"] == formula) & (table["temperature"] == 2000)].iloc[0]
    assert f"{row['avg_m_with_Li'] / row['AAV'] * 1.66054:.4g}" in capsys.readouterr().out
    assert main(["export", "--format", "csv", "--out", str(tmp_path / "x.csv"), "--db", url]) == 0
    assert "wrote" in capsys.readouterr().out
    url2 = f"sqlite:///{tmp_path / 'cli2.sqlite'}"
    assert main(["import", str(tmp_path / "x.csv"), "--db", url2]) == 0
    assert main(["query", "--db", url2]) == 0
    assert f"{len(table) + 6} runs" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["show", "Li3Qq"], "unknown element 'Qq'"),
    (["show", ""], "empty formula"),
    (["query", "--elements", "Li,Zz"], "unknown element 'Zz'"),
    (["import-paper", "{bad}"], "ml_features.csv: line 3, column 'temperature'"),
    (["import", "{junk}"], "not an amorphdb export"),
    (["show", "Li3PS4", "--db", "{junk}"], "is not a database"),
    (["query", "--db", "postgresql://u:p@127.0.0.1:{port}/x"], "cannot open database"),
    (["query", "--db", "{junk}/sub/x.sqlite"], "cannot create the folder"),
    (["query", "--t-min", "2000", "--t-max", "1000"], "t_min = 2000 is above t_max = 1000"),
    (["export", "--out", "{tmp}/missing/x.json"], "cannot write the export to"),
    (["export", "--out", "{tmp}"], "it is a directory"),
    (["import", "{tmp}/binary.bin"], "not an amorphdb export (not a text file)"),
])
def test_cli_errors_are_one_line(tmp_path, small_paper, argv, message):
    """Run as a user would: a separate process, exit status 2, one line on stderr, no traceback."""
    path = small_paper / "ml_features.csv"
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    table.loc[1, "temperature"] = "hot"
    table.to_csv(path, index=False)
    (tmp_path / "junk.txt").write_text("junk\n" * 100)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    (tmp_path / "binary.bin").write_bytes(bytes(range(256)) * 4)
    argv = [a.format(bad=small_paper, junk=tmp_path / "junk.txt", port=port, tmp=tmp_path) for a in argv]
    if "--db" not in argv:
        argv += ["--db", str(tmp_path / "e.sqlite")]
    proc = subprocess.run([sys.executable, "-c", "import sys; from amorphdb.cli import main; sys.exit(main())",
                           *argv], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if not line[:2].isdigit()]  # log lines start with a time
    assert len(lines) == 1 and lines[0].startswith("amorphdb: error: ") and message in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
