"""amorphdb.predict_formula, the fast route: MD of a new composition, its stored features, a model's D(T), Ea."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from amorphdb import Database
from amorphdb.analysis.features import FEATURE_COLUMNS
from amorphdb.errors import InputError
from amorphdb.protocol.results import ProtocolResult, SpeciesDiffusion, TemperatureResult
from amorphdb.protocol.settings import PRESETS
from amorphdb.units import KB_EV
from amorphdb.workflows.predict import predict_formula



class PlantedModel:
    """D = D0 exp(-Ea / kB T) with a 10 % error, whatever the features; keeps the rows it was given."""

    kind = "planted"
    Ea, D0 = 0.3, 1e-3  # eV, cm2/s
    features = ["AAV", "temperature"]

    def __init__(self) -> None:
        self.rows: pd.DataFrame | None = None

    def predict(self, table: pd.DataFrame) -> pd.DataFrame:
        self.rows = table
        d = self.D0 * np.exp(-self.Ea / (KB_EV * table["temperature"].to_numpy()))
        return pd.DataFrame({"formula": table["formula"], "temperature": table["temperature"], "D": d,
                             "D_err": 0.1 * d, "ln_D": np.log(d), "ln_D_err": np.full(len(d), 0.1)})


def test_bad_temperatures_are_refused_before_any_md(tmp_path):
    with pytest.raises(InputError, match="positive temperatures"):
        predict_formula("Li2O", [1500.0, -20.0], PlantedModel(), db=f"sqlite:///{tmp_path / 'db.sqlite'}",
                        workdir=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()


class _Features:
    """The database of a finished run: features by run id."""

    def features(self, run_id: int) -> dict[str, float]:
        return {name: float(run_id) for name in FEATURE_COLUMNS}


def test_the_model_gets_the_stored_features_of_each_asked_temperature(monkeypatch):
    li = {1500.0: SpeciesDiffusion(2e-5, 1e-6, True), 2500.0: SpeciesDiffusion(8e-5, None, True)}
    temperatures = [TemperatureResult(t, SimpleNamespace(), run_id, 0, 0, {"Li": li[t]} if t in li else {})
                    for run_id, t in enumerate((5000.0, 1500.0, 2000.0, 2500.0), start=1)]
    calls = []

    def fake_run(formula, **kwargs):
        calls.append((formula, kwargs))
        return ProtocolResult("Li2O", "mlip-chgnet", PRESETS["quick"], Path("w"), temperatures)

    monkeypatch.setattr("amorphdb.workflows.predict.run", fake_run)
    model = PlantedModel()
    res = predict_formula("Li4O2", [1500, 2500], model, db=_Features(), preset="quick", atoms=12)
    (formula, kwargs), = calls
    assert formula == "Li4O2" and kwargs.pop("db") is not None
    assert kwargs == dict(preset="quick", engine="chgnet", temperatures=[1500.0, 2500.0], workdir=None, device=None,
                          progress=True,
                          atoms=12)
    assert list(model.rows["temperature"]) == [1500.0, 2500.0] and set(model.rows["formula"]) == {"Li2O"}
    assert list(model.rows["AAV"]) == [2.0, 4.0]  # the features stored for each production run
    assert res.formula == "Li2O" and res.model == "planted"
    rows = res.to_frame()  # what `amorphdb predict FORMULA --out` writes
    assert list(rows.columns) == ["formula", *res.table.columns] and set(rows["formula"]) == {"Li2O"}
    assert list(res.table.columns) == ["temperature", "D", "D_err", "ln_D", "ln_D_err", "D_md", "D_md_err", "run_id",
                                       "ln_D_err_model"]
    # the error bar: the model's 0.1 with the shift terms of the package's table; 12 atoms are fewer than the
    # quick preset's 24, so its own rows do not apply but the largest for CHGNet do
    from amorphdb.learning.uncertainty import shift_terms, total_ln_sigma

    np.testing.assert_allclose(res.table["ln_D_err"],
                               total_ln_sigma(0.1, shift_terms("chgnet", "quick", conservative=True)))
    assert (res.table["ln_D_err"] > 0.1).all() and (res.table["ln_D_err_model"] == 0.1).all()
    assert list(res.table["run_id"]) == [2, 4] and list(res.table["D_md"]) == [2e-5, 8e-5]
    assert res.table["D_md_err"].iloc[0] == 1e-6 and np.isnan(res.table["D_md_err"].iloc[1])
    assert res.Ea == pytest.approx(PlantedModel.Ea, rel=1e-6)  # weighted fit: two temperatures suffice
    assert res.text().splitlines()[-1].startswith("Ea (model) = 0.300 ± ")
    one = predict_formula("Li2O", [1500], model, db=_Features())
    assert np.isnan(one.Ea) and one.text().endswith("Ea: needs two or more temperatures")


def _recording_run(calls: list[str]) -> Callable[..., ProtocolResult]:
    """A stand-in for amorphdb.run (no MD): records each call, returns a melt and a quench at 1500 K."""

    def fake_run(formula, **kwargs):
        calls.append(formula)
        li = {"Li": SpeciesDiffusion(1e-5, None, True)}
        temperatures = [TemperatureResult(t, SimpleNamespace(), run_id, 0, 0, li)
                        for run_id, t in enumerate((5000.0, 1500.0), start=1)]
        return ProtocolResult(formula, "mlip-chgnet", PRESETS["predict"], Path("w"), temperatures)

    return fake_run


def test_the_error_bar_widens_when_the_runs_are_smaller_than_the_presets(monkeypatch):
    from amorphdb.learning.uncertainty import shift_terms, total_ln_sigma

    monkeypatch.setattr("amorphdb.workflows.predict.run", _recording_run([]))
    model = PlantedModel()
    as_preset = predict_formula("Li2O", [1500], model, db=_Features(), preset="paper")
    smaller = predict_formula("Li2O", [1500], model, db=_Features(), preset="paper", atoms=24, production_steps=500)
    larger = predict_formula("Li2O", [1500], model, db=_Features(), preset="predict", atoms=128)
    assert as_preset.table["ln_D_err"].iloc[0] == pytest.approx(total_ln_sigma(0.1, shift_terms("chgnet", "paper")))
    assert smaller.table["ln_D_err"].iloc[0] == pytest.approx(np.sqrt(0.1**2 + 0.246**2 + 0.065**2))
    assert smaller.table["ln_D_err"].iloc[0] > as_preset.table["ln_D_err"].iloc[0]
    assert larger.table["ln_D_err"].iloc[0] == pytest.approx(total_ln_sigma(0.1, shift_terms("chgnet", "predict")))


def test_missing_element_data_and_the_melt_temperature_are_refused_before_any_md(monkeypatch):
    import warnings

    from amorphdb.analysis.features import compositional_features
    from amorphdb.learning.train import train
    from amorphdb.units import PAPER_TARGET

    calls = []
    monkeypatch.setattr("amorphdb.workflows.predict.run", _recording_run(calls))
    table = pd.DataFrame([{"formula": f"Li{n}O", PAPER_TARGET: 0.1 * n, "temperature": t,
                           **dict.fromkeys(FEATURE_COLUMNS, 1.0 + n)} for n in (2, 3, 4) for t in (1000.0, 2000.0)])
    rf = train(table, "rf", cv=False, n_estimators=3)
    for formula, element, feature in (("Li3Np", "Np", "avg_B_with_Li"), ("LiAc", "Ac", "avg_G_wiout_Li"),
                                      ("Li3Pm", "Pm", "avg_Ecoh_with_Li")):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert not np.isfinite(compositional_features(formula)[feature])
        with pytest.raises(InputError, match=rf"^{formula}: no element data .* for {element}, so the model's "
                                             rf"features .*{feature}.* are not finite"):
            predict_formula(formula, [1500], rf, db=_Features())
    with pytest.raises(InputError, match="differ from the melt temperature"):
        predict_formula("Li2O", [1500, 5000], rf, db=_Features())
    assert calls == []  # refused before any MD
    # the paper's equation uses structural features only: Np's missing moduli do not matter to it
    res = predict_formula("Li3Np", [1500], train(table, "sisso-paper", cv=False), db=_Features())
    assert calls == ["Li3Np"] and list(res.table["run_id"]) == [2]  # the quench row, not the melt


@pytest.mark.slow
def test_predict_formula_end_to_end(tmp_path):
    """The fast route with CHGNet's shipped weights on a cut-down quick preset (12-atom Li2O, short runs) and the
    paper's SISSO equation: melt-quench, features stored per production run, the model's D(T) and Ea. The quenches
    skip their EOS runs (as `fast` does): 40-step EOS runs of 12 atoms from a 5000 K frame give pressures of noise,
    whose P(V) may rise with V and leave no zero to fit."""
    from amorphdb import train

    table = pd.DataFrame([{"formula": f"Li{n}O", "diff_coeff_mul_thousand": 0.1, "temperature": t,
                           **dict.fromkeys(FEATURE_COLUMNS, 1.0)} for n in (2, 4) for t in (1000.0, 2000.0)])
    trained = train(table, "sisso-paper", cv=False)  # a fixed equation: the table only names the columns
    db = Database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    res = predict_formula("Li2O", [1500, 2500], trained, db=db, workdir=tmp_path / "runs", atoms=12,
                          volume_steps=40, check_steps=40, production_steps=150, frame_interval=5, energy_tolerance=0.05,
                          pressure_tolerance=20.0, rescale="secant", quench_eos="skip")
    assert list(res.table["temperature"]) == [1500.0, 2500.0]
    assert np.all((res.table["D"] > 1e-7) & (res.table["D"] < 1e-2))  # cm2/s, a liquid-like range
    assert np.isfinite(res.Ea) and 0 < res.Ea < 2
    assert np.isfinite(res.table["D_md"]).all()  # the MD's own D of Li
    assert res.table["run_id"].notna().all() and "Ea (model)" in res.text()
