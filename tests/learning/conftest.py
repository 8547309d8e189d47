"""Tables for the learning tests: the paper's (../shared or the shipped copy) and a generated one with the paper's
42 feature columns and a planted Arrhenius law (always available)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from amorphdb.analysis.features import COMPOSITIONAL_COLUMNS, FEATURE_COLUMNS, STRUCTURAL_COLUMNS
from amorphdb.learning.table import D_UNIT, TARGET, inv_kt, load_table

# plausible ranges of a few columns (as in ml_features.csv); the others are drawn from (0.5, 3)
_RANGES = {"AAV": (10, 30), "VPA": (15, 50), "LNC": (5, 16), "SNC": (5, 16), "LLB": (1.5, 7), "PF": (0.3, 0.6),
           "ENS": (1, 3), "AFC": (2, 5), "avg_B_with_Li": (20, 150), "avg_B_wiout_Li": (20, 200),
           "avg_G_with_Li": (10, 130), "avg_G_wiout_Li": (10, 130), "avg_m_with_Li": (10, 80),
           "avg_m_wiout_Li": (15, 130), "avg_X_with_Li": (1.2, 2.6), "avg_X_wiout_Li": (1.5, 3.2)}
SYNTH_FORMULAS = [f"Li{n}O" for n in range(2, 17)] + [f"Li{n}S2" for n in range(3, 32, 2)]  # reduced formulas
SYNTH_T = (1000.0, 1500.0, 2000.0, 2500.0)


def _synthetic_table(seed: int = 0, noise: float = 0.05) -> pd.DataFrame:
    """30 real formulas × 4 temperatures laid out like ml_features.csv, with a planted Arrhenius law.

    Compositional columns are constant per formula (Li_percentage the formula's Li fraction); structural
    columns expand linearly with T. ln D = -6 + 3 (Li_percentage - 0.8) - Ea/(kB T), Ea = 0.1 + 0.6 PF eV,
    plus Gaussian noise; D in the table's unit (1e-3 cm2/s).
    """
    from pymatgen.core import Composition

    rng = np.random.default_rng(seed)
    rows = []
    for formula in SYNTH_FORMULAS:
        base = {c: rng.uniform(*_RANGES.get(c, (0.5, 3.0))) for c in FEATURE_COLUMNS}
        base["Li_percentage"] = Composition(formula).get_atomic_fraction("Li")
        ea = 0.1 + 0.6 * base["PF"]
        for t in SYNTH_T:
            row = {c: base[c] * (1 + 1e-4 * (t - 1750)) + rng.normal(scale=1e-3) for c in STRUCTURAL_COLUMNS}
            row.update({c: base[c] for c in COMPOSITIONAL_COLUMNS})
            ln = -6 + 3 * (base["Li_percentage"] - 0.8) - ea * inv_kt(t) + rng.normal(scale=noise)
            rows.append({"formula": formula, TARGET: np.exp(ln) / D_UNIT, "temperature": t, **row})
    return pd.DataFrame(rows)[["formula", TARGET, "temperature", *FEATURE_COLUMNS]]


@pytest.fixture(scope="session")
def synth() -> pd.DataFrame:
    """The generated table: 120 rows, 30 compositions at 1000–2500 K."""
    return _synthetic_table()


@pytest.fixture(scope="session")
def table(paper_dir) -> pd.DataFrame:
    """The paper's ml_features.csv (629 rows, 165 compositions)."""
    return load_table(paper_dir / "ml_features.csv")


@pytest.fixture(params=["synthetic", "paper"])
def any_table(request) -> pd.DataFrame:
    """The generated table, then the paper's."""
    return request.getfixturevalue("synth" if request.param == "synthetic" else "table")
