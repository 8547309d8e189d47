"""Runs and the records hanging off them, on each back end: writes, validation, what comes back, show()."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest
from db_records import counts, fill, structure

from amorphdb.database import RunInfo
from amorphdb.database.views import DiffusivityView, MaterialView, RunView
from amorphdb.errors import InputError


def test_new_database_gets_schema_and_provenance(any_db):
    assert any_db.schema_version() == 3
    run = fill(any_db)
    info = any_db.run(run)
    import amorphdb

    assert info.code_version == amorphdb.__version__
    assert info.created_at.tzinfo is not None and abs(time.time() - info.created_at.timestamp()) < 600
    records = json.loads(json.dumps(any_db.show("Li3PS4").to_dict()))
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
    assert counts(any_db)["runs"] == 4 and counts(any_db)["materials"] == 1
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
    with pytest.raises(InputError, match="unknown run field 'element_data'"):  # set with the features
        any_db.add_run("Li3PS4", source="x", temperature=1000, stage="production", element_data="mine")
    with pytest.raises(InputError, match="no run with id 12345"):
        any_db.add_diffusivity(12345, "Li", 1e-5, None, "msd")
    with pytest.raises(InputError, match="unknown element 'Zz'"):
        any_db.add_diffusivity(1, "Zz", 1e-5, None, "msd")
    with pytest.raises(InputError, match="no run with id 12345"):
        any_db.add_features(12345, {"AAV": 1.0}, element_data="x")
    assert counts(any_db)["runs"] == 0


def test_records_come_back(any_db):
    run = fill(any_db)
    from pymatgen.io.ase import AseAtomsAdaptor

    atoms = AseAtomsAdaptor.get_atoms(structure())
    atoms.positions[0] += 0.3
    any_db.add_structure(run, atoms, label="frame-1")
    stored = any_db.structures(run)
    assert len(stored) == 2
    assert stored[0] == structure()  # pymatgen Structure equality: lattice, species, coordinates
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
    any_db.add_model("gp-paper", "gp", "models/gp.joblib")
    assert [(m.name, m.path) for m in any_db.models()] == [("gp-paper", "models/gp.joblib"),
                                                           ("rf-paper", "models/rf2.joblib")]
    assert any_db.model("nope") is None
    with pytest.raises(InputError, match="no data on Li2O"):
        any_db.show("Li2O")


def test_show_is_typed_and_its_dict_is_the_former_record(any_db):
    run = fill(any_db)
    any_db.add_structure(run, structure(), label="frame-1")
    shown = any_db.show("Li6P2S8")
    assert isinstance(shown, MaterialView) and all(isinstance(r, RunView) for r in shown.runs)
    assert shown.formula == "Li3PS4" and shown.composition == {"Li": 3, "P": 1, "S": 4}
    production = next(r for r in shown.runs if r.stage == "production")
    assert (production.id, production.formula, production.density) == (run, "Li3PS4", 1.87)
    assert production.diffusivity["Li"] == [DiffusivityView(D=2.5e-5, D_err=3e-6, method="msd-fit", diffusive=True)]
    assert production.diffusivity["S"][0].diffusive is False
    assert production.features["LNC"] == 12.5 and production.features["SLPW"] is None
    assert production.element_data == "paper table (test)"
    assert shown.arrhenius[0].Ea == 0.25 and shown.rdfs[0].pairs == ["Li-Li", "Li-S"]
    assert shown.structures[0].labels == ["final", "frame-1"]

    # the dict, key for key and in order, as show() returned it before it was typed (plus element_data)
    record = shown.to_dict()
    assert list(record) == ["formula", "elements", "composition", "runs", "arrhenius", "rdfs", "structures",
                            "amorphous_limits"]
    assert record["elements"] == ["Li", "P", "S"]
    as_dict = next(r for r in record["runs"] if r["stage"] == "production")
    assert list(as_dict) == [
        "run_id", "source", "key", "temperature", "stage", "engine", "engine_version", "volume", "density",
        "energy", "pressure", "n_atoms", "n_steps", "timestep", "status", "trajectory_path", "trajectory_sha256",
        "message", "code_version", "created_at", "diffusivity", "features", "element_data"]
    assert as_dict["run_id"] == run and as_dict["created_at"] == production.created_at.isoformat()
    assert as_dict["diffusivity"]["Li"] == [{"D": 2.5e-5, "D_err": 3e-6, "method": "msd-fit", "diffusive": True}]
    assert as_dict["features"] == {"AAV": 15.2, "LNC": 12.5, "SLPW": None}
    assert record["arrhenius"] == [{"source": "mlip-chgnet", "species": "Li", "Ea": 0.25, "Ea_err": 0.02,
                                    "prefactor": 1.1e-3, "prefactor_err": 2e-4, "t_min": 1000.0, "t_max": 2500.0}]
    assert record["rdfs"] == [{"run_id": run, "source": "mlip-chgnet", "key": "T1000", "temperature": 1000.0,
                               "pairs": ["Li-Li", "Li-S"]}]
    assert record["structures"] == [{"run_id": run, "source": "mlip-chgnet", "key": "T1000",
                                     "labels": ["final", "frame-1"]}]
    json.dumps(record, allow_nan=False)  # JSON-ready as it is


def test_feature_sets_keep_their_element_data_source(any_db):
    run = any_db.add_run("Li3PS4", source="mlip-chgnet", temperature=1500, stage="production", key="T1500")
    assert any_db.run(run).element_data is None
    any_db.add_features(run, {"AAV": 15.0, "avg_B_with_Li": 20.0}, element_data="paper table (/data/elements.csv)")
    assert any_db.run(run).element_data == "paper table (/data/elements.csv)"
    any_db.add_features(run, {"LNC": 12.0})  # no source given: the stored one stays
    assert any_db.get_run("Li3PS4", "mlip-chgnet", "T1500").element_data == "paper table (/data/elements.csv)"
    any_db.add_features(run, {"avg_B_with_Li": 21.0}, element_data="public")
    assert any_db.show("Li3PS4").runs[0].element_data == "public"
    assert any_db.features(run) == {"AAV": 15.0, "avg_B_with_Li": 21.0, "LNC": 12.0}


def test_relaxation_with_missing_or_unknown_fields_is_refused(any_db):
    from db_records import fill_limit

    limit = fill_limit(any_db, fill(any_db))
    fields = dict(frame=3, time_ps=0.6, status="done", message=None, n_steps=4, fmax=0.04, energy=-4.3,
                  formation_energy=-0.5, volume=24.0)
    with pytest.raises(InputError, match="missing: fmax, unknown: none"):
        any_db.add_relaxation(limit, "snapshot-03", structure=structure(),
                              **{k: v for k, v in fields.items() if k != "fmax"})
    with pytest.raises(InputError, match="missing: none, unknown: fmax_eV"):
        any_db.add_relaxation(limit, "snapshot-03", structure=structure(), **fields, fmax_eV=0.04)
    assert len(any_db.amorphous_limits("Li3PS4")[0].relaxations) == 2
    any_db.add_relaxation(limit, "snapshot-03", structure=structure(), **fields)
    assert len(any_db.amorphous_limits("Li3PS4")[0].relaxations) == 3


def test_non_finite_numbers_are_stored_alike_on_both_back_ends(any_db, tmp_path):
    """NaN and ±inf in a model's metadata (train() records NaN for a CV coverage it cannot compute) are stored as
    null, so the export stays strict JSON; elsewhere a JSON column refuses them; a relaxation's NaN is cleaned as
    every other row's (null, or refused where the column needs a number) instead of stored as NaN by PostgreSQL
    only."""
    from db_records import fill_limit

    from amorphdb.errors import DatabaseError

    nan, inf = float("nan"), float("inf")
    any_db.add_model("cv-model", "rf", "m.joblib", {"cv": {"random-cv": {"rmse_D": 1e-5, "coverage_1sigma": nan}},
                                                    "folds": [inf, 0.5, -inf]})
    assert any_db.model("cv-model").metadata == {"cv": {"random-cv": {"rmse_D": 1e-5, "coverage_1sigma": None}},
                                                 "folds": [None, 0.5, None]}
    any_db.export(tmp_path / "all.json")
    limit = fill_limit(any_db, fill(any_db))
    key = any_db.amorphous_limits("Li3PS4")[0].key
    with pytest.raises(InputError, match="cannot store NaN or infinity in a JSON column"):
        any_db.add_amorphous_limit("Li3PS4", source="mlip-chgnet", key=key,
                                   references={"Li": {"energy": nan, "origin": "ase.build.bulk"}})
    assert any_db.amorphous_limits("Li3PS4")[0].references["Li"]["energy"] == -1.9
    fields = dict(frame=1, time_ps=nan, status="failed", message="blew up", n_steps=3, fmax=0.5, energy=-4.0,
                  formation_energy=-0.1, volume=24.0)
    any_db.add_relaxation(limit, "snapshot-09", structure=structure(), **fields)
    assert any_db.amorphous_limits("Li3PS4")[0].relaxations[-1].time_ps is None
    with pytest.raises(DatabaseError, match="fmax"):  # NOT NULL: a relaxation has a largest force
        any_db.add_relaxation(limit, "snapshot-10", structure=structure(), **{**fields, "fmax": nan})
    assert [r.label for r in any_db.amorphous_limits("Li3PS4")[0].relaxations][-1] == "snapshot-09"
