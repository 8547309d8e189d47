"""Train, save, load and predict: round trips of every kind, bad input, the CLI, and training from a database."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from amorphdb.cli import main
from amorphdb.errors import InputError
from amorphdb.learning.folds import composition_groups
from amorphdb.learning.table import D_UNIT, TARGET, feature_columns
from amorphdb.learning.train import library_versions, load_model, predict, train
from amorphdb.units import PAPER_D_FACTOR


def test_models_predict_einstein_d_whatever_their_table(synth):
    """The same numbers as published D (3 × Einstein) and as Einstein D: the predictions differ by exactly 3, the
    paper-trained one being divided; the fixed paper equation is in the paper's convention on any table."""
    einstein = synth.copy()
    einstein.attrs["D_convention"] = "einstein"
    assert train(synth, "rf", cv=False, n_estimators=10).metadata["D_convention"] == "paper"
    a = train(synth, "rf", cv=False, n_estimators=10).predict(synth)
    b = train(einstein, "rf", cv=False, n_estimators=10)
    assert b.metadata["D_convention"] == "einstein"
    np.testing.assert_allclose(b.predict(synth)["D"], PAPER_D_FACTOR * a["D"], rtol=1e-12)
    np.testing.assert_allclose(b.predict(synth)["ln_D"], a["ln_D"] + np.log(PAPER_D_FACTOR), rtol=1e-12)
    fixed = train(einstein, "sisso-paper", cv=False)
    assert fixed.metadata["D_convention"] == "paper"
    np.testing.assert_allclose(fixed.predict(synth)["D"], train(synth, "sisso-paper", cv=False).predict(synth)["D"])


@pytest.mark.parametrize("kind, kw", [("rf", {"n_estimators": 20}), ("xgb", {"n_bootstrap": 5}),
                                      ("best", {"n_members": 3}), ("sisso", {"max_dim": 2, "n_sis": 5}),
                                      ("sisso-paper", {})])
def test_save_load_round_trip_gives_identical_predictions(synth, tmp_path, kind, kw):
    trained = train(synth, kind, cv=False, **kw)
    path = trained.save(tmp_path / f"{kind}.joblib")
    loaded = load_model(path)
    assert loaded.kind == kind and loaded.features == trained.features
    assert loaded.metadata["n_formulas"] == 30
    a, b = trained.predict(synth), predict(path, synth)
    pd.testing.assert_frame_equal(a, b)
    assert list(a.columns) == ["formula", "temperature", "D", "D_err", "ln_D", "ln_D_err", "D_paper"]
    np.testing.assert_allclose(a["D_paper"], PAPER_D_FACTOR * a["D"], rtol=1e-12)
    np.testing.assert_allclose(a["D"], np.exp(a["ln_D"]), rtol=1e-9)
    assert np.isfinite(a["D_err"]).all() and (a["D_err"] > 0).all()
    if kind == "sisso-paper":  # needs only the columns of its equation
        assert trained.features == ["LNC", "LLB", "PF", "temperature"]
        pd.testing.assert_frame_equal(trained.predict(synth[["formula", "temperature", "LNC", "LLB", "PF"]]), a)


def test_train_records_cv_scores_and_metadata(synth):
    table = synth.copy()
    table.loc[0, "formula"] = "Li4O2"  # one Li2O row spelt per two formula units: still the Li2O composition
    trained = train(table, "rf", n_estimators=10)
    meta = trained.metadata
    assert set(meta["cv"]) == {"random-cv", "grouped-cv"} and meta["cv"]["grouped-cv"]["n"] == len(table)
    # the fold that held out each row: grouped CV keeps each composition in one fold (on one side of every
    # split), the paper's random CV does not
    groups = composition_groups(table["formula"])
    folds = {p: pd.Series(meta["cv_folds"][p], index=table.index) for p in ("random-cv", "grouped-cv")}
    assert all(sorted(set(f)) == [0, 1, 2, 3, 4] for f in folds.values())
    assert (folds["grouped-cv"].groupby(groups).nunique() == 1).all()
    assert (folds["random-cv"].groupby(groups).nunique() > 1).any()
    assert meta["temperatures"] == [1000.0, 1500.0, 2000.0, 2500.0] and meta["params"] == {"n_estimators": 10}
    assert meta["target"] == f"{TARGET} (1e-3 cm2/s)" and train(synth, "sisso-paper", cv=False).metadata[
        "target"] == "ln D (cm2/s)"
    assert meta["versions"] == library_versions() and {"pandas", "scipy", "pymatgen"} <= set(meta["versions"])


def test_predict_names_the_bad_row_and_column(synth, tmp_path):
    trained = train(synth, "rf", cv=False, n_estimators=10)
    bad = synth.drop(columns=TARGET).astype({"AAV": object})
    bad.loc[2, "AAV"] = "abc"
    with pytest.raises(InputError, match=r"row 3 \(.*\), column 'AAV'"):
        trained.predict(bad)
    bad = synth.copy()
    bad.loc[4, "LNC"] = np.nan
    with pytest.raises(InputError, match=r"row 5 .*'LNC'"):
        trained.predict(bad)
    with pytest.raises(InputError, match="lacks the column"):
        trained.predict(synth.drop(columns=["PF"]))
    with pytest.raises(InputError, match="unknown model"):
        train(synth, "nonsense")
    with pytest.raises(InputError, match="not an amorphdb model"):
        (tmp_path / "x.joblib").write_text("hello")
        load_model(tmp_path / "x.joblib")
    with pytest.raises(InputError, match="does not exist"):
        load_model(tmp_path / "absent.joblib")
    # rows without a formula are named by their position
    assert list(trained.predict(synth.drop(columns="formula").head(2))["formula"]) == ["row1", "row2"]


def test_cli_train_predict_and_bad_rows(synth, tmp_path, capsys):
    data = tmp_path / "train.csv"
    small = synth[synth["formula"].isin(synth["formula"].unique()[:15])].reset_index(drop=True)
    small.to_csv(data, index=False)
    model = tmp_path / "paper.joblib"  # the fixed equation: CV without fitting time
    assert main(["train", "--data", str(data), "--model", "sisso-paper", "--out", str(model)]) == 0
    out = capsys.readouterr().out
    assert "grouped-cv" in out and "random-cv" in out and model.exists()
    pred = tmp_path / "pred.csv"
    assert main(["predict", "--model", str(model), "--data", str(data), "--out", str(pred)]) == 0
    got = pd.read_csv(pred)
    assert len(got) == len(small) and {"D", "ln_D", "D_err"} <= set(got.columns)
    bad = small.copy().astype({"LNC": object})
    bad.loc[6, "LNC"] = "n/a"
    bad.to_csv(data, index=False)
    assert main(["predict", "--model", str(model), "--data", str(data)]) == 2
    assert "row 7 (Li3O), column 'LNC'" in capsys.readouterr().err
    # a FORMULA and its settings are checked before a model is trained on demand (this one would train rf)
    for args, message in ((["Xx2S"], "unknown element 'Xx'"), (["Li2S", "--atoms", "0"], "atoms must be at least 1"),
                          (["--atoms", "48"], "apply to a FORMULA only")):
        assert main(["predict", *args, "--model", "rf", "--data", str(data)]) == 2
        captured = capsys.readouterr()
        assert message in captured.err and "training" not in captured.err + captured.out
    assert main(["evaluate", "--data", str(data), "--models", "rf", "--curves", "LiXx"]) == 2
    assert "LiXx not in the training table" in capsys.readouterr().err


def test_train_from_the_database_records_the_model(synth, tmp_path, capsys):
    from amorphdb.database import Database

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    db = Database(url)
    feats = [f for f in feature_columns(synth) if f != "temperature"]
    for r in synth.head(60).itertuples(index=False):
        row = r._asdict()
        run = db.add_run(row["formula"], source="test-aimd", temperature=row["temperature"], stage="production",
                         key=f"T{row['temperature']}")
        db.add_diffusivity(run, "Li", row[TARGET] * D_UNIT, None, "test")
        db.add_features(run, {f: row[f] for f in feats})
    model = tmp_path / "m.joblib"
    assert main(["train", "--db", url, "--source", "test-aimd", "--model", "sisso-paper", "--out", str(model)]) == 0
    info = Database(url).model("m")
    assert info is not None and info.kind == "sisso-paper" and info.metadata["n_rows"] == 60
    assert main(["train", "--db", url, "--source", "nowhere", "--model", "rf", "--out", str(model)]) == 2
    assert "no database rows with source 'nowhere'" in capsys.readouterr().err


def test_train_and_save_names_its_table_and_records_only_with_a_database(synth, tmp_path):
    from amorphdb.database import Database
    from amorphdb.learning.train import SavedModel, train_and_save

    data = tmp_path / "train.csv"
    synth.to_csv(data, index=False)
    saved = train_and_save(tmp_path / "a.joblib", "sisso-paper", data=data, cv=False)
    assert isinstance(saved, SavedModel) and saved.model_id is None  # a CSV without a database: not recorded
    assert load_model(saved.path).metadata["data"] == str(data)
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    saved = train_and_save(tmp_path / "b.joblib", "sisso-paper", data=data, db=url, cv=False)
    info = Database(url).model("b")
    assert saved.model_id is not None and info.kind == "sisso-paper" and info.metadata["data"] == str(data)
    # SISSO settings on another kind: refused before the table is read (this file does not exist)
    with pytest.raises(InputError, match="apply to --model sisso only"):
        train_and_save(tmp_path / "c.joblib", "rf", data=tmp_path / "absent.csv", dim=2)
    with pytest.raises(InputError, match="apply to --model sisso only"):
        train(synth, "rf", max_dim=2)
    with pytest.raises(InputError, match="model 'rf' takes no parameter.*'depth'.*it takes: n_estimators, n_jobs"):
        train_and_save(tmp_path / "d.joblib", "rf", data=tmp_path / "absent.csv", depth=3)


def test_resolve_model_loads_a_file_or_trains_a_kind_on_demand(synth, tmp_path):
    from amorphdb.learning.train import TrainedModel, resolve_model

    fixed = train(synth, "sisso-paper", cv=False)
    path = fixed.save(tmp_path / "m.joblib")
    calls = []

    def table() -> pd.DataFrame:
        calls.append(1)
        return synth

    assert resolve_model(fixed) is fixed
    assert resolve_model(path, table).kind == "sisso-paper" and calls == []  # a file: loaded, nothing trained
    trained = resolve_model("sisso-paper", table)
    assert isinstance(trained, TrainedModel) and calls == [1] and "cv" not in trained.metadata
    with pytest.raises(InputError, match="trains on demand only with FORMULA"):
        resolve_model("sisso-paper")  # no training table: a kind name is not a file
    with pytest.raises(InputError, match="does not exist"):
        resolve_model(tmp_path / "absent.joblib", table)
