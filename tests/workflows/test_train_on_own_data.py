"""Models from the project's own data (issue 9, item 7): a campaign of three tiny compositions with CHGNet, then
``amorphdb train --db --source mlip-chgnet`` and ``amorphdb predict`` on what it stored."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from amorphdb.cli import main
from amorphdb.database import Database
from amorphdb.units import EINSTEIN_TARGET

FORMULAS = ["Li2O", "LiF", "Li3N"]  # an oxide, a halide, a nitride: 9, 8 and 8 atoms
TINY = dict(atoms=8, temperatures=[3000.0, 4000.0], volume_steps=20, check_steps=20, production_steps=300,
            frame_interval=5, checkpoint_interval=50, max_rescales=2, max_energy_reruns=0, max_eos_extensions=1,
            energy_tolerance=0.5, pressure_tolerance=200.0, analysis_frames=3,
            # quenches start their checks from the melt's volume and bulk modulus (as `fast` does): 20-step EOS runs
            # of 8 atoms from a 5000 K frame give pressures of noise, whose P(V) may rise with V (no zero to fit)
            rescale="secant", quench_eos="skip")


@pytest.mark.slow
def test_campaign_then_train_from_the_database_then_predict(tmp_path, capsys):
    from amorphdb.workflows.campaign import run_campaign

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    result = run_campaign(FORMULAS, db=url, workdir=tmp_path / "runs", workers=2, progress=False, **TINY)
    assert not result.failed, [o for o in result.outcomes if o.status == "failed"]

    db = Database(url)
    stored = db.query(source="mlip-chgnet")
    production = stored[stored["stage"] == "production"]
    assert set(production["temperature"]) == {3000, 4000, 5000}  # the melt's production run is stored ...
    table = db.training_table("mlip-chgnet")
    assert 5000 not in set(table["temperature"])  # ... but is no label
    flags = {(v.formula, r.temperature): r.diffusivity["Li"][-1].diffusive
             for v in (db.show(f) for f in FORMULAS) for r in v.runs
             if r.stage == "production" and r.temperature < 5000}
    assert sorted(zip(table["formula"], table["temperature"])) == sorted(k for k, ok in flags.items() if ok)
    assert len(table) >= 3 and table.attrs["D_convention"] == "einstein"

    model = tmp_path / "own.joblib"
    assert main(["train", "--db", url, "--source", "mlip-chgnet", "--model", "rf", "--no-cv",
                 "--out", str(model)]) == 0
    assert "recorded as model" in capsys.readouterr().out
    rows = tmp_path / "rows.csv"
    table.drop(columns=EINSTEIN_TARGET).to_csv(rows, index=False)
    out = tmp_path / "pred.csv"
    assert main(["predict", "--model", str(model), "--data", str(rows), "--out", str(out)]) == 0
    pred = pd.read_csv(out)
    # an Einstein-D model predicts Einstein D: on its own training rows, within the spread of the labels
    d = table[EINSTEIN_TARGET].to_numpy() * 1e-3
    assert len(pred) == len(table) and np.all((pred["D"] >= 0.5 * d.min()) & (pred["D"] <= 2 * d.max()))
    np.testing.assert_allclose(pred["D_paper"], 3 * pred["D"])

    # the fast route on a new composition (a sulfide) with the model of the project's own data, tiny settings
    from amorphdb.learning.train import load_model
    from amorphdb.workflows.predict import predict_formula

    res = predict_formula("Li2S", [3000.0, 4000.0], load_model(model), db=url, workdir=tmp_path / "runs",
                          **{k: v for k, v in TINY.items() if k != "temperatures"})
    assert np.all(np.isfinite(res.table["D"])) and (res.table["D"] > 0).all()
    assert (res.table["ln_D_err"] > res.table["ln_D_err_model"]).all()  # the shift terms widen the error bar
