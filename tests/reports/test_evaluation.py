"""The files of an evaluation: tables, Markdown, parity plots, importances and SHAP, held-out curves."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from amorphdb.learning.evaluate import evaluate
from amorphdb.learning.table import D_UNIT, TARGET, inv_kt
from amorphdb.reports.evaluation import write_evaluation


def _table() -> pd.DataFrame:
    """12 compositions at 4 temperatures with the columns of the paper's equation and one more feature;
    ln D = -3.55 - 0.33/(kB T) - 0.11 LNC + 0.11 LLB - 1.95 PF + noise (D in the table's unit)."""
    rng = np.random.default_rng(3)
    rows = []
    for i in range(12):
        x = {"LNC": rng.uniform(5, 16), "LLB": rng.uniform(1.5, 7), "PF": rng.uniform(0.3, 0.6), "AAV": 10.0 + i}
        for t in (1000.0, 1500.0, 2000.0, 2500.0):
            ln = -3.55 - 0.33 * inv_kt(t) - 0.11 * x["LNC"] + 0.11 * x["LLB"] - 1.95 * x["PF"] + rng.normal(0, 0.1)
            rows.append({"formula": f"Li{i + 1}O", TARGET: np.exp(ln) / D_UNIT, "temperature": t, **x})
    return pd.DataFrame(rows)


@pytest.mark.slow
def test_write_evaluation_writes_every_file(tmp_path):
    table = _table()
    ev = evaluate(table, ["rf", "sisso-paper"], n_bootstrap=0, n_members=0, params={"rf": {"n_estimators": 10}})
    formula = table["formula"].iloc[0]
    plt.close("all")
    paths = write_evaluation(ev, table, tmp_path, curves=[formula], curve_kinds=["arrhenius"], n_members=0)
    assert plt.get_fignums() == []
    expected = {"scores", "predictions", "markdown", "importance_rf", "shap_rf", f"arrhenius_{formula}_arrhenius",
                *(f"parity_{m}_{p}" for m in ("rf", "sisso-paper") for p in ("paper", "grouped"))}
    assert set(paths) == expected
    assert all(p.parent == tmp_path and p.stat().st_size > 100 for p in paths.values())
    pd.testing.assert_frame_equal(pd.read_csv(paths["scores"]), ev.scores, check_dtype=False)
    assert "| sisso-paper |" in paths["markdown"].read_text()
    importance = pd.read_csv(tmp_path / "importance_rf.csv")
    assert len(importance) == 5 and importance["importance"].sum() == pytest.approx(1.0)


def test_curves_not_in_the_table_are_refused_before_any_fit(tmp_path):
    from amorphdb.errors import InputError
    from amorphdb.reports.evaluation import evaluate_and_write

    with pytest.raises(InputError, match="LiXx not in the training table"):
        evaluate_and_write(_table(), ["nonsense"], tmp_path, curves=["LiXx"])  # the check comes first
    assert list(tmp_path.iterdir()) == []
