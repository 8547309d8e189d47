"""The training table: the generated fixture's layout, reading from a file or a database, the checks, units."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from amorphdb.analysis.features import FEATURE_COLUMNS
from amorphdb.errors import InputError
from amorphdb.learning.evaluate import evaluate, holdout_curve
from amorphdb.learning.folds import grouped_folds
from amorphdb.learning.table import (D_UNIT, TARGET, check_table, d_convention, feature_columns, inv_kt, ln_d,
                                     load_table, target_d)
from amorphdb.learning.train import train
from amorphdb.reports.trends import trend_tables
from amorphdb.units import EINSTEIN_TARGET, KB_EV


def test_synthetic_table_has_the_papers_layout(synth):
    assert list(synth.columns[3:]) == FEATURE_COLUMNS and len(FEATURE_COLUMNS) == 42
    assert synth.shape == (120, 45) and synth["formula"].nunique() == 30
    assert (synth[FEATURE_COLUMNS] > 0).all().all() and (synth[TARGET] > 0).all()
    # D rises with T for every composition (positive Ea) and stays in a liquid-like range
    assert (synth.groupby("formula", sort=False)[TARGET].apply(lambda d: np.all(np.diff(d) > 0))).all()
    assert 1e-7 < synth[TARGET].min() * D_UNIT and synth[TARGET].max() * D_UNIT < 1e-2  # cm2/s


def test_load_table_from_a_file_or_anything_with_a_training_table(synth, tmp_path):
    path = tmp_path / "t.csv"
    synth.to_csv(path, index=False)
    pd.testing.assert_frame_equal(load_table(path), synth)
    assert feature_columns(synth) == [*FEATURE_COLUMNS, "temperature"]

    class FakeDatabase:  # duck-typed: learning never imports the database
        def training_table(self, source: str = "paper-aimd") -> pd.DataFrame:
            return synth.iloc[:8] if source == "mine" else synth.iloc[:0]

    assert len(load_table(db=FakeDatabase(), source="mine")) == 8
    with pytest.raises(InputError, match="no database rows with source 'other'"):
        load_table(db=FakeDatabase(), source="other")
    with pytest.raises(InputError, match="does not exist"):
        load_table(tmp_path / "absent.csv")
    with pytest.raises(InputError, match="give a data file"):
        load_table()
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="no 'formula' column"):
        load_table(tmp_path / "bad.csv")


def test_check_table_names_the_row_and_column(synth):
    features = feature_columns(synth)
    bad = synth.astype({"AAV": object})
    bad.loc[2, "AAV"] = "abc"
    with pytest.raises(InputError, match=r"row 3 \(Li2O\), column 'AAV': 'abc' is not a number"):
        check_table(bad, features)
    with pytest.raises(InputError, match=r"row 1, column 'temperature': must be positive"):
        check_table(synth.assign(temperature=-synth["temperature"]), features)
    with pytest.raises(InputError, match="D must be positive"):
        check_table(synth.assign(**{TARGET: 0.0}), features, target=True)
    with pytest.raises(InputError, match="lacks the column"):
        check_table(synth.drop(columns=TARGET), features, target=True)
    assert check_table(synth, features, target=True)[features].dtypes.eq(float).all()


def test_units_of_ln_d_and_inv_kt(synth):
    np.testing.assert_allclose(np.exp(ln_d(synth)), synth[TARGET] * 1e-3)  # D in cm2/s
    assert inv_kt(1000.0) == pytest.approx(1 / (KB_EV * 1000.0))  # 1/eV
    np.testing.assert_allclose(inv_kt([500.0, 1000.0]), [2 * inv_kt(1000.0), inv_kt(1000.0)])


@pytest.mark.parametrize("column", ["D", "ln_D", "D_paper", "run_id", "Unnamed: 0"])
def test_a_prediction_id_or_saved_index_is_never_a_feature(synth, column):
    # a CSV written by `predict --out` or pandas' to_csv with its index must not leak D into the inputs
    with pytest.raises(InputError, match=f"column\\(s\\) {column} of the table are not features"):
        feature_columns(synth.assign(**{column: 1.0}))


def test_the_d_convention_is_in_the_column_name_and_survives_csv_and_concat(synth, tmp_path):
    old = synth.copy()  # how Database.training_table wrote Einstein D: the published name, the convention in attrs
    old.attrs["D_convention"] = "einstein"
    new = synth.rename(columns={TARGET: EINSTEIN_TARGET})  # the Einstein name, no attrs needed

    class FakeDatabase:
        def training_table(self, source: str = "paper-aimd") -> pd.DataFrame:
            return old if source == "old" else new

    for source in ("old", "new"):  # both forms read from a database: Einstein D under the Einstein name
        table = load_table(db=FakeDatabase(), source=source)
        assert EINSTEIN_TARGET in table.columns and TARGET not in table.columns, source
        assert d_convention(table) == "einstein" and old.attrs == {"D_convention": "einstein"}
        table.to_csv(tmp_path / f"{source}.csv", index=False)
        assert d_convention(load_table(tmp_path / f"{source}.csv")) == "einstein"  # a CSV round trip keeps it
    synth.to_csv(tmp_path / "paper.csv", index=False)
    paper, einstein = load_table(tmp_path / "paper.csv"), load_table(tmp_path / "new.csv")
    assert d_convention(paper) == d_convention(pd.read_csv(tmp_path / "paper.csv")) == "paper"
    np.testing.assert_allclose(target_d(einstein), target_d(paper))
    # both forms give the same model; an Einstein table's model predicts 3 x the D of a published one's
    a, b = (train(t, "rf", cv=False, n_estimators=5) for t in (old, einstein))
    assert a.metadata["D_convention"] == b.metadata["D_convention"] == "einstein"
    pd.testing.assert_frame_equal(a.predict(synth), b.predict(synth))
    # joined tables of the two conventions (pd.concat drops the differing attrs) are refused, in one line
    mixed = pd.concat([paper, einstein], ignore_index=True)
    for call in (d_convention, lambda t: train(t, "rf", cv=False), lambda t: evaluate(t, ["sisso-paper"]),
                 lambda t: holdout_curve(t, "sisso-paper", "Li2O", [1500.0]), trend_tables):
        with pytest.raises(InputError, match=r"^the table has both 'diff_coeff_mul_thousand' .*keep one column$"):
            call(mixed)
    contradicting = new.copy()
    contradicting.attrs["D_convention"] = "paper"
    with pytest.raises(InputError, match="Einstein D .* but its attrs say 'paper'"):
        check_table(contradicting, feature_columns(new), target=True)
    unknown = synth.copy()
    unknown.attrs["D_convention"] = "kelvin"
    with pytest.raises(InputError, match="unknown D convention 'kelvin'"):
        d_convention(unknown)


def test_a_missing_formula_is_named_by_its_row(synth):
    bad = synth.copy()
    bad.loc[1, "formula"] = np.nan
    message = r"^row 2, column 'formula': nan is not a formula$"
    with pytest.raises(InputError, match=message):
        check_table(bad, feature_columns(bad))
    with pytest.raises(InputError, match=message):
        grouped_folds(bad)
    with pytest.raises(InputError, match=message):
        train(synth, "sisso-paper", cv=False).predict(bad)
