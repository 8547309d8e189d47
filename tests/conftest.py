"""Shared fixtures: the paper's data in ../shared (tests skip cleanly without it) and temporary databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from pg_schema import fresh_pg_schema

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "paper"


@pytest.fixture(scope="session")
def paper_dir(tmp_path_factory) -> Path:
    """The published data of the paper: ``../shared/data/paper`` when present, else the copy shipped with the
    package (:func:`amorphdb.data.paper_dir`, unpacked into a temporary directory)."""
    if (SHARED / "ml_features.csv").exists():
        return SHARED
    from amorphdb.data import paper_dir as shipped

    return shipped(tmp_path_factory.mktemp("shipped-paper"))


@pytest.fixture
def db(tmp_path):
    """A fresh amorphdb Database in an SQLite file under tmp_path."""
    from amorphdb.database import Database

    database = Database(tmp_path / "amorphdb.sqlite")
    yield database
    database.close()


@pytest.fixture(scope="session")
def file_times():
    """``file_times(folder, suffixes=(".traj",))``: modification times (ns) of the files under ``folder`` with
    those suffixes. A deterministic rerun reproduces the files' contents, so only the times tell that nothing
    was run (or analysed) again."""

    def times(folder: Path, suffixes: tuple[str, ...] = (".traj",)) -> dict[Path, int]:
        return {p: p.stat().st_mtime_ns for p in Path(folder).rglob("*") if p.suffix in suffixes}

    return times


@pytest.fixture(scope="session")
def ar1():
    """``ar1(g, n, size, seed)``: ``size`` stationary AR(1) series of ``n`` samples with unit variance and
    statistical inefficiency g = (1 + φ)/(1 − φ) (the known answer for the time-series statistics)."""
    import math

    import numpy as np
    from scipy.signal import lfilter

    def make(g: float, n: int, size: int, seed: int) -> np.ndarray:
        phi = (g - 1) / (g + 1)
        burn = int(20 * g)
        e = np.random.default_rng(seed).standard_normal((size, n + burn)) * math.sqrt(1 - phi**2)
        return lfilter([1.0], [1.0, -phi], e, axis=1)[:, burn:]

    return make


@pytest.fixture
def pg_url():
    """:func:`fresh_pg_schema` as a fixture."""
    with fresh_pg_schema() as url:
        yield url
