"""Shared fixtures: the paper's data in ../shared (tests skip cleanly without it) and temporary databases."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "paper"


@pytest.fixture(scope="session")
def paper_dir() -> Path:
    """The published data of the paper (``../shared/data/paper``); skips the test when it is absent."""
    if not (SHARED / "ml_features.csv").exists():
        pytest.skip("../shared/data/paper is not present")
    return SHARED


@pytest.fixture
def db(tmp_path):
    """A fresh amorphdb Database in an SQLite file under tmp_path."""
    from amorphdb.database import Database

    database = Database(tmp_path / "amorphdb.sqlite")
    yield database
    database.close()
