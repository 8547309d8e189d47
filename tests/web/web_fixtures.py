"""Data of the web explorer's tests: one SQLite database with the paper's data and a few rows of our own (an MLIP
source with D ± err of two species, an RDF, structures, a stored model)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

FORMULA = "LiTi2"  # in the paper's table at four temperatures and with DFT and M3GNet RDFs
OURS = "mlip-test"  # the source of the rows the tests add
MODEL = "paper-sisso"  # the stored model (sisso-paper: no fitting, fast)


def _structure(seed: int = 1):
    """A small LiTi2 cell (12 atoms) at random positions: enough for the 3-D view and the downloads."""
    from pymatgen.core import Lattice, Structure

    rng = np.random.default_rng(seed)
    return Structure(Lattice.cubic(6.2), ["Li"] * 4 + ["Ti"] * 8, rng.random((12, 3)))


def build_database(path: Path, paper_dir: Path) -> None:
    """The SQLite file ``path`` with the paper's data plus our rows for FORMULA and a stored model."""
    build_database_at(path, path.parent, paper_dir)


def build_database_at(url: str | Path, folder: Path, paper_dir: Path) -> None:
    """The paper's data plus our rows for FORMULA and a stored model (its file in ``folder``) at ``url``."""
    from amorphdb import train
    from amorphdb.database import Database

    with Database(url) as db:
        db.import_paper(paper_dir)
        rdf = db.rdf(FORMULA, "paper-m3gnet")
        for t, d_li, d_ti in ((1000, 2.1e-5, 4e-6), (1500, 8.0e-5, 2.2e-5), (2000, 1.9e-4, 6e-5),
                              (2500, 3.3e-4, 1.1e-4)):
            run = db.add_run(FORMULA, source=OURS, temperature=t, stage="production", key=f"T{t}", engine="chgnet",
                             density=4.1, status="done", trajectory_path=f"/srv/private/runs/T{t}/production-0.traj")
            db.add_diffusivity(run, "Li", d_li, 0.1 * d_li, "msd")
            db.add_diffusivity(run, "Ti", d_ti, 0.15 * d_ti, "msd")
            if t == 1500:
                db.add_structure(run, _structure(), label="final")
                db.add_structure(run, _structure(2), label="quenched")
                noisy = rdf.copy()
                for col in noisy.columns[1:]:
                    noisy[col] = noisy[col] * 1.03
                db.add_rdf(run, noisy)
        trained = train(db.training_table(), "sisso-paper")
        model_path = trained.save(folder / f"{MODEL}.joblib")
        db.add_model(MODEL, "sisso-paper", model_path, trained.metadata)
        db.add_model("lost-model", "rf", folder / "missing.joblib",  # as amorphdb before 0.x stored it
                     {"n_rows": 1, "data": "database postgresql://amorph:s3cret@dbhost/amorph source paper-aimd"})


def file_digest(path: Path) -> str:
    """sha256 of the database file and its WAL companions: equal before and after means nothing was written."""
    h = hashlib.sha256()
    for p in (path, path.with_name(path.name + "-wal")):
        if p.exists():
            h.update(p.read_bytes())
    return h.hexdigest()
