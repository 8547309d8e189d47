"""Helpers of the database tests: a small paper-like data set, records of every kind, row counts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import text

from amorphdb.database import Database

TABLES = ("materials", "runs", "diffusivities", "arrhenius", "features", "rdfs", "structures", "models",
          "element_references", "amorphous_limits", "relaxations")
# the small data set: formula -> temperatures (K) of ml_features.csv; 3+ temperatures get an Arrhenius fit
SMALL_PAPER = {"Li3PS4": (1000, 1500, 2000, 2500), "Li2S": (1500, 2000, 2500), "LiCl": (2000, 2500),
               "Li2O": (1000, 2000), "Li3N": (1500, 2000, 2500), "LiBH4": (2000,), "Li7P3S11": (1500, 2500),
               "Li6PS5Cl": (1000, 1500, 2000)}
SMALL_RDFS = {"DFT": ("Li3PS4", "LiI", "Na2S"), "M3GNet": ("Li3PS4", "LiI", "Na2S")}  # formulas with RDF files


def write_small_paper(out: Path) -> Path:
    """A paper-like data directory at ``out``: ``ml_features.csv`` (the 45 columns, :data:`SMALL_PAPER` rows,
    D on an Arrhenius line, ``avg_m_with_Li`` the mean atomic mass so that densities are physical) and
    ``rdf/`` with :data:`SMALL_RDFS` files in the paper's layout."""
    from pymatgen.core import Composition

    from amorphdb.analysis.features import FEATURE_COLUMNS
    from amorphdb.units import KB_EV

    rng = np.random.default_rng(7)
    rows = []
    for i, (formula, temps) in enumerate(SMALL_PAPER.items()):
        comp = Composition(formula)
        features = dict(zip(FEATURE_COLUMNS, rng.uniform(0.2, 5.0, len(FEATURE_COLUMNS))))
        ea = 0.2 + 0.05 * i
        for t in temps:
            rows.append({"formula": formula, "diff_coeff_mul_thousand": np.exp(-ea / (KB_EV * t)),
                         "temperature": t, **features, "AAV": 12.0 + i + t / 1000,
                         "avg_m_with_Li": comp.weight / comp.num_atoms})
    (out / "rdf").mkdir(parents=True)
    pd.DataFrame(rows).to_csv(out / "ml_features.csv", index=False)
    r = np.round(np.arange(0, 10, 0.1), 10)
    for kind, formulas in SMALL_RDFS.items():
        for formula in formulas:
            elements = sorted(str(e) for e in Composition(formula))
            pairs = [f"{a}-{b}" for j, a in enumerate(elements) for b in elements[j:]]
            g = [np.where(r < 1.5, 0.0, 1 + np.sin(r * (k + 1)) / np.maximum(r, 1.0)) for k in range(len(pairs))]
            table = pd.DataFrame(dict(zip(pairs, g)))
            table["r"] = r
            table.to_csv(out / "rdf" / f"{kind}_RDF_{formula}.csv")
    return out


def counts(db: Database) -> dict[str, int]:
    """Rows per table."""
    with db._conn.engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}


def structure():
    from pymatgen.core import Lattice, Structure

    return Structure(Lattice.cubic(4.2), ["Li", "Li", "S", "P"],
                     [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0.25, 0.25, 0.25]])


def fill(db: Database) -> int:
    """Records of every kind, as the protocol, the analysis and the learning would write them; the production
    run's id."""
    run = db.add_run("Li6P2S8", source="mlip-chgnet", temperature=1000, stage="production", key="T1000",
                     engine="chgnet", engine_version="0.4.2", volume=1234.5, density=1.87, energy=-4.21,
                     pressure=0.3, n_atoms=96, n_steps=20000, timestep=2.0, status="done",
                     trajectory_path="runs/Li3PS4/T1000.traj", trajectory_sha256="ab" * 32)
    db.add_run("Li3PS4", source="mlip-chgnet", temperature=1000, stage="volume", key="T1000-v0",
               volume=1300.0, status="done", message="volume search step 0")
    db.add_diffusivity(run, "Li", 2.5e-5, 3e-6, "msd-fit")
    db.add_diffusivity(run, "S", 1e-7, None, "msd-fit", diffusive=False)
    db.add_features(run, {"AAV": 15.2, "LNC": 12.5, "SLPW": float("nan")}, element_data="paper table (test)")
    db.add_rdf(run, pd.DataFrame({"r": [0.0, 0.1, 0.2], "Li-Li": [0.0, 0.5, 1.25], "Li-S": [0.0, np.nan, 2.0]}))
    db.add_structure(run, structure())
    db.add_arrhenius("Li3PS4", "mlip-chgnet", "Li", 0.25, 0.02, 1.1e-3, 2e-4, 1000, 2500)
    db.add_model("rf-paper", "rf", "models/rf.joblib", {"rmse": 1.2e-4, "features": ["AAV", "LNC"]})
    return run


def fill_limit(db: Database, run: int) -> int:
    """An element reference and an amorphous limit of the production run ``run`` of :func:`fill` with two
    relaxed snapshots, as the amorphous-limit workflow writes them; the limit's id."""
    from pymatgen.core import Lattice, Structure

    db.add_element_reference("Li", engine="chgnet", engine_version="0.4.2", origin="ase.build.bulk",
                             energy=-1.9, fmax=0.01, n_steps=12,
                             structure=Structure(Lattice.cubic(3.44), ["Li", "Li"], [[0, 0, 0], [0.5, 0.5, 0.5]]),
                             source="mlip-chgnet")
    limit = db.add_amorphous_limit("Li3PS4", source="mlip-chgnet", key="abcd/2x2ps/fmax0.05/chgnet 0.4.2",
                                   run_id=run, trajectory_path="runs/Li3PS4/T1000.traj", trajectory_sha256="ab" * 32,
                                   temperature=1000.0, engine="chgnet", engine_version="0.4.2", n_snapshots=2,
                                   spacing_ps=2.0, fmax=0.05, max_steps=500, status="done", message=None,
                                   limit=-0.52, limit_err=0.01, mean=-0.5, std=0.02,
                                   references={"Li": {"energy": -1.9, "origin": "ase.build.bulk"}})
    for k, e_form in enumerate((-0.52, -0.48)):
        db.add_relaxation(limit, f"snapshot-{k + 1:02d}", structure=structure(), frame=10 * k, time_ps=2.0 * k,
                          status="done", message=None, n_steps=40 + k, fmax=0.04, energy=-4.3 + 0.04 * k,
                          formation_energy=e_form, volume=24.1)
    return limit
