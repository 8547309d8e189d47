"""Database.training_table of the project's own runs: quench temperatures only, diffusive D only, the features of
the same runs (which repeat temperature and density, as the protocol stores them), Einstein D marked as such."""

from __future__ import annotations

import numpy as np
import pytest

from amorphdb.analysis.features import FEATURE_COLUMNS
from amorphdb.database import Database
from amorphdb.learning.table import d_convention, load_table
from amorphdb.units import EINSTEIN_TARGET

FINGERPRINT = "a6c83128"


def _protocol(db: Database, formula: str, d: dict[float, tuple[float, bool]], melt: float = 5000.0,
              fingerprint: str = FINGERPRINT, source: str = "mlip-chgnet") -> dict[float, int]:
    """Runs as the protocol records them: per temperature (melt first) volume, check and production runs keyed
    ``<fingerprint>/T<K>/<stage>/<n>``; D of Li and the features of each production run (with temperature
    and density, as trajectory_features gives them)."""
    ids = {}
    for t in (melt, *d):
        for stage in ("volume", "check", "production"):
            run = db.add_run(formula, source=source, temperature=t, stage=stage,
                             key=f"{fingerprint}/T{t:g}/{stage}/0", status="done", density=2.0)
        value, diffusive = d.get(t, (1e-3, True))
        db.add_diffusivity(run, "Li", value, 0.1 * value, "GLS", diffusive=diffusive)
        db.add_features(run, {**{c: t / 1000 + i for i, c in enumerate(FEATURE_COLUMNS)}, "density": 2.0,
                              "temperature": t})
        ids[t] = run
    return ids


def test_own_runs_quench_temperatures_diffusive_only(tmp_path):
    db = Database(tmp_path / "db.sqlite")
    _protocol(db, "Li2O", {1500.0: (2e-5, True), 2500.0: (2e-4, True), 1000.0: (3e-6, False)})
    _protocol(db, "LiF", {2500.0: (3e-4, True)})
    # a second protocol of LiF with other settings: its own melt (4000 K) is left out too
    _protocol(db, "LiF", {2000.0: (1e-4, True)}, melt=4000.0, fingerprint="0b1c2d3e")
    # another source's runs do not enter
    _protocol(db, "Li3N", {2500.0: (5e-4, True)}, source="mlip-sevennet")

    table = db.training_table("mlip-chgnet")
    assert d_convention(table) == "einstein"
    assert list(table.columns) == ["formula", EINSTEIN_TARGET, "temperature", *FEATURE_COLUMNS]
    got = {(f, t): d for f, t, d in zip(table["formula"], table["temperature"], table[EINSTEIN_TARGET])}
    assert got == pytest.approx({("Li2O", 1500): 2e-5 * 1000, ("Li2O", 2500): 2e-4 * 1000, ("LiF", 2500): 0.3,
                                 ("LiF", 2000): 0.1})
    row = table[(table["formula"] == "Li2O") & (table["temperature"] == 1500)].iloc[0]
    np.testing.assert_allclose(row[FEATURE_COLUMNS].to_numpy(float), 1.5 + np.arange(len(FEATURE_COLUMNS)))
    # load_table and training read it the same way; the melt is not in any Arrhenius fit either
    assert d_convention(load_table(db=db, source="mlip-chgnet")) == "einstein"
    fit = db.fit_arrhenius("Li2O", source="mlip-chgnet", store=False)
    assert sorted(t for t, *_ in fit.points) == [1500.0, 2500.0] and [t for t, *_ in fit.excluded] == [1000.0]
