"""Export to JSON/CSV and import back: byte-identical round trips, merging, malformed files, older exports."""

from __future__ import annotations

import csv
import json

import numpy as np
import pandas as pd
import pytest
from db_records import counts, fill, fill_limit, structure
from sqlalchemy import event

from amorphdb.database import Database
from amorphdb.errors import InputError


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_export_import_round_trip(any_db, tmp_path, small_paper, fmt):
    any_db.import_paper(small_paper)
    fill_limit(any_db, fill(any_db))
    first, second = tmp_path / f"first.{fmt}", tmp_path / f"second.{fmt}"
    assert any_db.export(first, format=fmt) == counts(any_db)
    fresh = Database(tmp_path / "fresh.sqlite")
    fresh.import_file(first)
    fresh.import_file(first)  # merging by natural keys: twice changes nothing
    assert counts(fresh) == counts(any_db)
    fresh.export(second, format=fmt)
    assert first.read_bytes() == second.read_bytes()
    run = fresh.get_run("Li3PS4", "mlip-chgnet", "T1000")
    assert fresh.structures(run.id) == [structure()]
    assert run.element_data == "paper table (test)"  # the features' element data travels with them
    # the amorphous limit keeps its MD run (by natural key), its relaxations and structures; the reference too
    (limit,) = fresh.amorphous_limits("Li3PS4")
    assert (limit.run_id, limit.limit, limit.references) == (
        fresh.get_run("Li3PS4", "mlip-chgnet", "T1000").id, -0.52,
        {"Li": {"energy": -1.9, "origin": "ase.build.bulk"}})
    assert [(r.label, r.formation_energy) for r in limit.relaxations] == [("snapshot-01", -0.52), ("snapshot-02", -0.48)]
    assert fresh.relaxed_structures(limit.id)["snapshot-02"] == structure()
    assert fresh.element_reference("Li", "chgnet", "0.4.2", "ase.build.bulk") == -1.9
    # and the two formats hold the same
    fresh.export(tmp_path / "j.json")
    other = Database(tmp_path / "other.sqlite")
    other.import_file(tmp_path / "j.json")
    other.export(tmp_path / f"third.{fmt}", format=fmt)
    assert (tmp_path / f"third.{fmt}").read_bytes() == first.read_bytes()


def test_import_rejects_malformed_exports(tmp_path, db_url):
    db = Database(db_url)
    fill_limit(db, fill(db))
    good = tmp_path / "good.json"
    db.export(good)
    doc = json.loads(good.read_text())
    doc["tables"]["features"][1]["value"] = "twelve"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    fresh = Database(tmp_path / "fresh.sqlite")
    with pytest.raises(InputError, match=r"features record 1, field 'value': 'twelve' is not a valid float"):
        fresh.import_file(bad)
    assert set(counts(fresh).values()) == {0}  # runs were already written in that transaction: rolled back
    for text, message in [("{not json", "not valid JSON"), ("a,b\n1,2\n", "not an amorphdb export"),
                          ("", "empty file"), (json.dumps({**doc, "schema_version": 99}), "schema version 99")]:
        bad.write_text(text)
        with pytest.raises(InputError, match=message):
            fresh.import_file(bad)
    for table, field, value, message in [
            ("relaxations", "key", "other", r"relaxations record 1: no amorphous limit Li3PS4 mlip-chgnet other"),
            ("amorphous_limits", "run_key", "T9", r"amorphous_limits record 0: no run Li3PS4 mlip-chgnet T9"),
            ("element_references", "n_steps", 1.5, r"element_references record 0, field 'n_steps': 1.5 is not")]:
        broken = json.loads(good.read_text())
        broken["tables"][table][-1][field] = value
        bad.write_text(json.dumps(broken))
        with pytest.raises(InputError, match=message):
            fresh.import_file(bad)
        assert set(counts(fresh).values()) == {0}
    del doc["tables"]["runs"][0]["temperature"]
    bad.write_text(json.dumps(doc))
    with pytest.raises(InputError, match=r"runs record 0: missing field\(s\) temperature"):
        fresh.import_file(bad)
    with pytest.raises(InputError, match="unknown export format 'xml'"):
        db.export(tmp_path / "x.xml", format="xml")


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_exports_of_schema_version_1_are_read(tmp_path, fmt):
    """An export written before runs had ``element_data`` (no such field or column) imports, as None."""
    db = Database(tmp_path / "a.sqlite")
    fill(db)
    new = tmp_path / f"new.{fmt}"
    db.export(new, format=fmt)
    old = tmp_path / f"old.{fmt}"
    if fmt == "json":
        doc = json.loads(new.read_text())
        doc["schema_version"] = 1
        for rec in doc["tables"]["runs"]:
            del rec["element_data"]
        old.write_text(json.dumps(doc))
    else:
        import csv

        lines = list(csv.reader(new.read_text().splitlines()))
        drop = lines[0].index("element_data")
        with old.open("w", newline="") as fh:
            csv.writer(fh, lineterminator="\n").writerows([c[:drop] + c[drop + 1:] for c in lines])
    fresh = Database(tmp_path / "fresh.sqlite")
    assert fresh.import_file(old) == counts(db)
    assert fresh.get_run("Li3PS4", "mlip-chgnet", "T1000").element_data is None
    assert fresh.features(fresh.get_run("Li3PS4", "mlip-chgnet", "T1000").id) == pytest.approx(
        db.features(db.get_run("Li3PS4", "mlip-chgnet", "T1000").id), nan_ok=True)


def test_importing_an_older_export_keeps_what_it_lacks(db_url, tmp_path):
    """A run of a version-1 export (no ``element_data``) merged into a database that records the run's element
    data leaves that as it is; the rest of the run is updated from the file."""
    db = Database(db_url)
    run = db.add_run("Li2O", source="x", temperature=1000, stage="production", key="k", status="running")
    db.add_features(run, {"AAV": 1.0})
    db.update_run(run, status="done")
    db.export(tmp_path / "new.json")
    doc = json.loads((tmp_path / "new.json").read_text())
    doc["schema_version"] = 1
    for rec in doc["tables"]["runs"]:
        del rec["element_data"]
    (tmp_path / "old.json").write_text(json.dumps(doc))
    db.update_run(run, status="failed")
    db.add_features(run, {"AAV": 1.0}, element_data="pymatgen 2024 (recorded)")
    db.import_file(tmp_path / "old.json")
    assert (db.run(run).status, db.run(run).element_data) == ("done", "pymatgen 2024 (recorded)")


def test_csv_keeps_line_breaks_and_large_cells(any_db, tmp_path):
    """Cells with every kind of line break (quoted where csv needs it; characters that str.splitlines also
    splits at are not line breaks to csv) and cells longer than csv's default limit (RDFs of fine grids) come
    back as they were: export → import → export gives the same bytes."""
    message = "line one\nline two\r\nthree\rfour\u2028five\x0csix\x1cseven\x85eight"
    run = any_db.add_run("Li2O", source="x", temperature=1000, stage="production", key="k", status="failed",
                         message=message)
    r = np.arange(0, 12, 0.001) + 0.0005
    any_db.add_rdf(run, pd.DataFrame({"r": r, "Li-O": 1 + np.sin(r) / r}))
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    any_db.export(first, format="csv")
    default_limit = csv.field_size_limit()
    assert len(json.dumps(r.tolist(), separators=(",", ":"))) > default_limit  # the cell of r
    fresh = Database(tmp_path / "fresh.sqlite")
    fresh.import_file(first)
    assert csv.field_size_limit() == default_limit
    assert fresh.get_run("Li2O", "x", "k").message == message
    assert fresh.rdf("Li2O", "x")["Li-O"].tolist() == any_db.rdf("Li2O", "x")["Li-O"].tolist()
    fresh.export(second, format="csv")
    assert second.read_bytes() == first.read_bytes()
    # a file cut inside a quoted cell: one line naming the file and the line
    data = first.read_bytes()
    cut = tmp_path / "cut.csv"
    cut.write_bytes(data[:data.index(b'"line one') + 10])
    with pytest.raises(InputError, match=r"cut\.csv: line 3: unexpected end of data"):
        fresh.import_file(cut)


def test_export_is_one_snapshot_while_others_write(any_db, db_url, tmp_path):
    """A run and its D committed by another writer while the export reads its tables: the export holds both or
    neither (under PostgreSQL's READ COMMITTED each SELECT saw a newer state, and the D of a run the export had
    not read stopped it)."""
    run = any_db.add_run("Li2O", source="x", temperature=1000, stage="production", key="a")
    any_db.add_diffusivity(run, "Li", 1e-5, None, "GLS")
    other, done = Database(db_url), []

    @event.listens_for(any_db._conn.engine, "before_cursor_execute")
    def meanwhile(conn, cursor, statement, *args):
        if "FROM amorphous_limits" in statement and not done:  # the runs have been read: another writer commits
            done.append(other.add_run("Li3PS4", source="x", temperature=1500, stage="production", key="b"))
            other.add_diffusivity(done[0], "Li", 2e-5, None, "GLS")

    written = any_db.export(tmp_path / "all.json")
    other.close()
    assert done and (written["runs"], written["diffusivities"]) == (1, 1)
    assert len(any_db.query()) == 2  # the next read sees the new run


def test_failed_json_export_raises_one_line_and_leaves_no_file(tmp_path):
    """A stored ±inf has no JSON form: the export stops with an InputError and leaves neither the target nor
    the half-written ``.partial`` file behind (CSV writes it as 'inf')."""
    db = Database(tmp_path / "inf.sqlite")
    run_id = db.add_run("Li2O", source="mlip-chgnet", temperature=1000, stage="production", key="a")
    db.add_diffusivity(run_id, "Li", float("inf"), None, "msd")
    with pytest.raises(InputError, match=r"cannot write the export to .*out\.json: .*no JSON form"):
        db.export(tmp_path / "out.json")
    assert sorted(p.name for p in tmp_path.iterdir() if "out" in p.name) == []
    db.export(tmp_path / "out.csv", format="csv")
    assert sorted(p.name for p in tmp_path.iterdir() if "out" in p.name) == ["out.csv"]
