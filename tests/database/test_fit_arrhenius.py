"""Database.fit_arrhenius: the runs it picks, the package's one weighting rule, σ(300 K), storing the fit."""

from __future__ import annotations

import json

import numpy as np
import pytest

from amorphdb.database.views import ArrheniusFit
from amorphdb.errors import InputError
from amorphdb.units import KB_EV

EA, D0 = 0.3, 1e-3  # eV, cm²/s


def _d(t: float) -> float:
    return D0 * np.exp(-EA / (KB_EV * t))


def _add(db, temperature, D, D_err, source="mlip-chgnet", diffusive=True, stage="production", density=None):
    run = db.add_run("Li3PS4", source=source, temperature=temperature, stage=stage, key=f"{stage}-{temperature}",
                     density=density)
    db.add_diffusivity(run, "Li", D, D_err, "GLS", diffusive=diffusive)
    return run


def test_weighted_fit_of_the_diffusive_production_runs_is_stored(db):
    for t, rel in [(1000, 0.2), (1500, 0.1), (2000, 0.08), (2500, 0.05)]:
        _add(db, t, _d(t), rel * _d(t), density=1.9 - t / 1e4)
    _add(db, 600, 1e-9, 1e-9, diffusive=False)  # a glass: left out
    _add(db, 3000, 1.0, 0.1, stage="volume")  # not a production run: not a point
    _add(db, 1800, 5e-5, None, source="mlip-sevennet")  # another source
    result = db.fit_arrhenius("Li6P2S8", source="mlip-chgnet", charge=1)
    assert isinstance(result, ArrheniusFit) and result.weighted
    assert (result.formula, result.source, result.species) == ("Li3PS4", "mlip-chgnet", "Li")
    assert [p[0] for p in result.points] == [1000, 1500, 2000, 2500] and [p[0] for p in result.excluded] == [600]
    assert result.fit.Ea == pytest.approx(EA, rel=1e-9) and result.fit.prefactor == pytest.approx(D0, rel=1e-9)
    stored = db.arrhenius("Li3PS4", "mlip-chgnet")
    assert stored["Ea"].tolist() == [result.fit.Ea] and stored["t_min"].tolist() == [1000.0]
    # σ(300 K) at the density of the coldest fitted run (1.8 g/cm³ at 1000 K), constants typed by hand
    sigma = result.conductivity
    assert (sigma.density_temperature, sigma.estimate.density, sigma.charge) == (1000, pytest.approx(1.8), 1)
    n_li = 1.8 / (3 * 6.941 + 30.973762 + 4 * 32.065) * 6.02214076e23 * 3  # per cm³
    expected = n_li * 1.602176634e-19**2 * result.fit.predict(300.0)[0] / (1.380649e-23 * 300)
    assert sigma.estimate.sigma == pytest.approx(expected, rel=1e-3)
    record = result.to_dict()
    assert list(record)[:4] == ["formula", "source", "n_points", "n_excluded"]
    assert (record["n_points"], record["n_excluded"]) == (4, 1)
    assert record["sigma_300K"] == sigma.estimate.sigma and record["sigma_density_temperature"] == 1000
    assert record["sigma_300K_1sigma"][0] < record["sigma_300K"] < record["sigma_300K_1sigma"][1]
    json.dumps(record, allow_nan=False)


def test_without_error_bars_three_temperatures_are_needed(db):
    """The bug of the former command: two temperatures without error bars went on to a fit that failed."""
    for t in (1000, 2000):
        _add(db, t, _d(t), None)
    with pytest.raises(InputError, match=r"too few temperatures .*\(2 runs\).* 2 temperatures with a diffusive D "
                                         "when every D has an error bar, else 3"):
        db.fit_arrhenius("Li3PS4")
    _add(db, 1500, _d(1500), None)
    result = db.fit_arrhenius("Li3PS4", store=False)
    assert not result.weighted and result.fit.Ea == pytest.approx(EA, rel=1e-9)
    assert db.arrhenius("Li3PS4").empty  # store=False
    _add(db, 2500, _d(2500), 0.1 * _d(2500))  # one error bar among missing ones: still unweighted
    assert not db.fit_arrhenius("Li3PS4").weighted


def test_two_temperatures_with_error_bars_suffice(db):
    for t in (1000, 2000):
        _add(db, t, _d(t), 0.1 * _d(t))
    result = db.fit_arrhenius("Li3PS4")
    assert result.weighted and len(result.points) == 2 and result.fit.Ea == pytest.approx(EA, rel=1e-9)


def test_the_source_and_other_inputs(db):
    with pytest.raises(InputError, match="no data on Li3PS4"):
        db.fit_arrhenius("Li3PS4")
    for t in (1000, 1500, 2000):
        _add(db, t, _d(t), 0.1 * _d(t))
        _add(db, t, 2 * _d(t), 0.1 * _d(t), source="mlip-sevennet")
    with pytest.raises(InputError, match="from several sources \\(mlip-chgnet, mlip-sevennet\\): choose one"):
        db.fit_arrhenius("Li3PS4")
    assert db.fit_arrhenius("Li3PS4", source="mlip-sevennet").fit.prefactor == pytest.approx(2 * D0, rel=1e-9)
    with pytest.raises(InputError, match="too few temperatures with a diffusive Li D from source 'paper-aimd'"):
        db.fit_arrhenius("Li3PS4", source="paper-aimd")
    with pytest.raises(InputError, match="too few temperatures with a diffusive S D"):
        db.fit_arrhenius("Li3PS4", species="S", source="mlip-chgnet")
    with pytest.raises(InputError, match="unknown element 'Qq'"):
        db.fit_arrhenius("Li3PS4", species="Qq")
    with pytest.raises(InputError, match="no density stored for the fitted runs of 'mlip-chgnet'"):
        db.fit_arrhenius("Li3PS4", source="mlip-chgnet", charge=1)


def test_imported_paper_data_is_fitted_without_weights(db, small_paper):
    db.import_paper(small_paper)
    result = db.fit_arrhenius("Li3PS4", charge=1)  # the paper's runs: one source, no error bars
    assert result.source == "paper-aimd" and not result.weighted and len(result.points) == 4
    assert result.fit.Ea == pytest.approx(db.arrhenius("Li3PS4", "paper-aimd")["Ea"][0], rel=1e-12)
    assert result.conductivity.density_temperature == 1000


def test_one_run_per_temperature_of_the_latest_settings(db):
    """Two presets' protocols of one engine write under one source: the fit takes the latest settings' runs only
    (Ea 0.30 and 0.60 must not mix into 0.45), the latest run at each temperature, and no running or failed run."""
    def protocol(fingerprint: str, ea: float, temperatures=(5000, 1000, 1500, 2000), status: str = "done") -> None:
        for t in temperatures:  # the melt (5000 K) first, as the protocol runs it
            run = db.add_run("Li2O", source="mlip-chgnet", temperature=t, stage="production",
                             key=f"{fingerprint}/T{t}/production/0", status=status)
            d = D0 * np.exp(-ea / (KB_EV * t))
            db.add_diffusivity(run, "Li", d, 0.05 * d, "GLS")

    protocol("aaaa1111", 0.30)
    result = db.fit_arrhenius("Li2O", source="mlip-chgnet", store=False)
    assert [p[0] for p in result.points] == [1000, 1500, 2000] and result.fit.Ea == pytest.approx(0.30, rel=1e-9)
    protocol("bbbb2222", 0.60)
    result = db.fit_arrhenius("Li2O", source="mlip-chgnet")
    assert [p[0] for p in result.points] == [1000, 1500, 2000] and result.fit.Ea == pytest.approx(0.60, rel=1e-9)
    assert db.arrhenius("Li2O")["Ea"].tolist() == [pytest.approx(0.60, rel=1e-9)]
    protocol("bbbb2222", 0.1, temperatures=(1200,), status="running")  # unfinished, and failed: left out
    protocol("bbbb2222", 0.1, temperatures=(2500,), status="failed")
    # the same temperature again (a rerun, later): it replaces the earlier run's point
    run = db.add_run("Li2O", source="mlip-chgnet", temperature=2000, stage="production",
                     key="bbbb2222/T2000/production/1", status="done")
    db.add_diffusivity(run, "Li", 2 * D0 * np.exp(-0.60 / (KB_EV * 2000)), None, "GLS")
    result = db.fit_arrhenius("Li2O", source="mlip-chgnet", store=False)
    assert [p[0] for p in result.points] == [1000, 1500, 2000]
    assert result.points[-1][1] == pytest.approx(2 * D0 * np.exp(-0.60 / (KB_EV * 2000)), rel=1e-12)
