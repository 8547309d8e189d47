"""``amorphdb import-paper`` with no directory imports the copy of the paper's data shipped with the package."""

from __future__ import annotations

import pandas as pd
import pytest

from amorphdb.cli import main
from amorphdb.data import PAPER_TABLE
from amorphdb.database import Database
from amorphdb.units import PAPER_D_FACTOR, PAPER_D_UNIT, PAPER_TARGET


@pytest.mark.slow
def test_import_paper_without_a_directory_imports_the_shipped_copy(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "home"))  # paper_dir() unpacks there
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    assert main(["import-paper", "--db", url]) == 0
    assert "paper-aimd" in capsys.readouterr().out
    table = pd.read_csv(PAPER_TABLE)
    db = Database(url)
    stored = db.query(source="paper-aimd", temperature=2500).set_index("formula")["D"]
    published = table[table["temperature"] == 2500].set_index("formula")[PAPER_TARGET]
    assert len(stored) == len(published) == 165
    # stored as Einstein D: the published value × 1e-3 / 3
    pd.testing.assert_series_equal(stored.sort_index(), (published * PAPER_D_UNIT / PAPER_D_FACTOR).sort_index(),
                                   check_names=False, rtol=1e-12)
