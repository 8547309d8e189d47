"""What a fresh install predicts with: the default model (trained once from the shipped table, cached) and the
fast route's error bar (the model's spread with the measured feature shifts)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from amorphdb.cli import main
from amorphdb.errors import InputError
from amorphdb.learning.uncertainty import TERMS, read_terms, shift_terms, total_ln_sigma
from amorphdb.workflows.predict import below_preset
from amorphdb.units import PAPER_D_UNIT, PAPER_TARGET


def test_every_engine_and_preset_gets_each_shift_term():
    rows = read_terms()
    assert {r.term for r in rows} == set(TERMS) and all(r.rms_ln_d >= 0 for r in rows)
    for engine in ("chgnet", "sevennet", "some-ase-calculator"):
        for preset in ("quick", "predict", "paper", "fast"):
            terms = shift_terms(engine, preset)
            assert [t.term for t in terms] == list(TERMS)
    assert shift_terms("chgnet", "paper")[1].rms_ln_d == 0  # the model's own training runs: no short-run shift
    # σ² adds up: a model σ of 0.3 with the terms of the table
    terms = shift_terms("chgnet", "quick")
    assert total_ln_sigma(0.3, terms) == pytest.approx(np.sqrt(0.09 + sum(t.rms_ln_d ** 2 for t in terms)))
    assert total_ln_sigma(0.3, terms) > 0.3


def test_runs_smaller_than_the_presets_get_the_largest_shift_terms():
    from amorphdb.protocol.settings import settings_for

    # the shipped table: predict's own row (0.172, measured with the short-run part), else the largest for CHGNet
    assert below_preset(settings_for("predict"), "predict") == []
    assert below_preset(settings_for("predict", atoms=200, production_steps=3000), "predict") == []
    assert below_preset(settings_for("paper", atoms=24, production_steps=500), "paper") == [
        "atoms 24 < 100", "production_ps 1 < 20"]
    assert below_preset(settings_for("predict", timestep=1.0), "predict") == [
        "volume_ps 0.3 < 0.6", "check_ps 0.3 < 0.6", "production_ps 1.5 < 3"]
    # a stop rule that may end the runs early counts with its minimum: the shortest run the settings allow
    assert below_preset(settings_for("predict", target_d_error=0.1, min_production_steps=500), "predict") == [
        "production_ps 1 < 3"]
    assert below_preset(settings_for("paper", target_d_error=0.1, min_production_steps=2500), "paper") == [
        "production_ps 5 < 20"]
    assert below_preset(settings_for("fast", production_steps=5000), "fast") == []  # fast stops at 5 ps anyway
    assert [t.rms_ln_d for t in shift_terms("chgnet", "predict")] == [0.172, 0.0]
    assert [t.rms_ln_d for t in shift_terms("chgnet", "paper")] == [0.246, 0.0]
    for preset in ("predict", "paper", "quick"):
        assert [t.rms_ln_d for t in shift_terms("chgnet", preset, conservative=True)] == [0.246, 0.065]
    assert [t.rms_ln_d for t in shift_terms("sevennet", "paper", conservative=True)] == [0.246, 0.065]
    measured = [t for t in read_terms() if (t.term, t.engine, t.preset) == ("mlip", "chgnet", "quick")]
    assert measured and "24-atom" in measured[0].basis  # what the CHGNet mlip value was measured on


def test_the_default_models_key_covers_its_code_and_libraries(monkeypatch):
    import pathlib

    import amorphdb.learning.train as train_module
    from amorphdb.learning.default import KEY_SOURCES, default_model_path

    names = {p.name for p in KEY_SOURCES}
    assert {"composition.py", "units.py", "table.py", "folds.py", "arrhenius.py"} <= names
    assert {"pandas", "scipy", "pymatgen", "scikit-learn", "xgboost", "numpy"} <= set(train_module.LIBRARIES)
    path = default_model_path("/cache")
    read = pathlib.Path.read_bytes
    for source in ("composition.py", "units.py"):  # an edited source makes another file
        monkeypatch.setattr(pathlib.Path, "read_bytes", lambda p, s=source: read(p) + b"#" * (p.name == s))
        assert default_model_path("/cache") != path, source
    monkeypatch.setattr(pathlib.Path, "read_bytes", read)
    assert default_model_path("/cache") == path
    version = train_module.version
    for package in ("pandas", "scipy", "pymatgen"):  # so does another version of a library
        monkeypatch.setattr(train_module, "version", lambda p, q=package: "0.0" if p == q else version(p))
        assert default_model_path("/cache") != path, package


def test_a_bad_shift_table_is_one_line(tmp_path):
    bad = tmp_path / "terms.csv"
    bad.write_text("term,engine,preset,rms_ln_d,n_rows,basis\nmlip,chgnet,*,-1,0,x\n")
    with pytest.raises(InputError, match="negative RMS"):
        read_terms(bad)
    bad.write_text("term,engine,preset,rms_ln_d,n_rows,basis\nmlip,chgnet,*,0.3,2,x\n")
    with pytest.raises(InputError, match="no 'short-run' row"):
        shift_terms("chgnet", "quick", bad)
    with pytest.raises(InputError, match="cannot read"):
        read_terms(tmp_path / "absent.csv")


@pytest.mark.slow
def test_default_model_is_deterministic_cached_and_used_without_model(tmp_path, monkeypatch, capsys):
    """Two caches, two trainings: identical predictions; a second call reads the file; ``amorphdb predict --data``
    without ``--model`` uses it and reports Einstein D (the published / 3 on average)."""
    from amorphdb.data import PAPER_TABLE
    from amorphdb.learning.default import default_model, default_model_path

    a, b = default_model(tmp_path / "a"), default_model(tmp_path / "b")
    table = pd.read_csv(PAPER_TABLE)
    pa, pb = a.predict(table), b.predict(table)
    pd.testing.assert_frame_equal(pa, pb)
    assert default_model_path(tmp_path / "a").is_file() and a.metadata["D_convention"] == "paper"
    mtime = default_model_path(tmp_path / "a").stat().st_mtime_ns
    default_model(tmp_path / "a")
    assert default_model_path(tmp_path / "a").stat().st_mtime_ns == mtime  # read, not trained again

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "home"))
    rows = tmp_path / "rows.csv"
    some = table["formula"].isin(table["formula"].unique()[:12])  # whole compositions: best pools their rows
    table[some].drop(columns=PAPER_TARGET).to_csv(rows, index=False)
    assert main(["predict", "--data", str(rows), "--out", str(tmp_path / "p.csv")]) == 0
    got = pd.read_csv(tmp_path / "p.csv")
    np.testing.assert_allclose(got["D"], pa["D"][some], rtol=1e-9)
    ratio = got["D"].to_numpy() / (table[PAPER_TARGET][some].to_numpy() * PAPER_D_UNIT)
    assert 0.25 < np.median(ratio) < 0.45  # Einstein D: a third of the published value
