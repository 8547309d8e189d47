"""The training table: columns of the paper's ``ml_features.csv`` (``formula``, the target D in 1e-3 cm²/s,
``temperature`` in K, the features), read from a CSV file or a database, and checked before any model sees it.

Which D the target holds is the table's *convention* (:func:`d_convention`), named by its column
(:data:`TARGET_COLUMNS`): published D (3 × the Einstein tracer D, :data:`amorphdb.units.PAPER_D_FACTOR`) under
``diff_coeff_mul_thousand``, Einstein D under ``D_einstein_mul_thousand`` (a database table: the database holds
Einstein D). A table whose D sit under the published name but are Einstein D says so in
``attrs["D_convention"] == "einstein"`` (how ``Database.training_table`` wrote them before it used the Einstein
name); :func:`load_table` renames those, so a table it returns stays self-describing through ``to_csv`` and
``pd.concat``. Models learn the table's D and report Einstein D."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from ..errors import InputError, first_line
from ..units import D_CONVENTIONS, EINSTEIN_TARGET, KB_EV, PAPER_D_UNIT as D_UNIT, PAPER_TARGET as TARGET

#: the target column of each D convention (D in 1e-3 cm²/s)
TARGET_COLUMNS: dict[str, str] = {"paper": TARGET, "einstein": EINSTEIN_TARGET}


class TableSource(Protocol):
    """Anything with the training table of a source, e.g. :class:`amorphdb.database.api.Database`."""

    def training_table(self, source: str = ...) -> pd.DataFrame: ...


def load_table(data: str | Path | None = None, db: TableSource | None = None,
               source: str = "paper-aimd") -> pd.DataFrame:
    """The training table from a CSV file (``data``) or from a database's ``training_table(source)`` (``db``).

    Columns: ``formula``, the D (1e-3 cm²/s) under the column of its convention (:func:`self_describing`: a
    CSV's ``diff_coeff_mul_thousand`` is the published D, its ``D_einstein_mul_thousand`` Einstein D),
    ``temperature`` (K), the features; the convention also in ``attrs["D_convention"]``.
    """
    if data is not None:
        path = Path(data)
        if not path.is_file():
            raise InputError(f"data file {path} does not exist")
        try:
            table = pd.read_csv(path)
        except Exception as exc:  # pandas raises many types for a malformed file
            raise InputError(f"cannot read {path} as CSV: {first_line(exc)}") from None
        if EINSTEIN_TARGET in table.columns and TARGET in table.columns:
            raise InputError(f"{path} has both {TARGET!r} and {EINSTEIN_TARGET!r}: keep the one its D is")
    elif db is not None:
        table = db.training_table(source=source)
    else:
        raise InputError("give a data file (--data) or a database (--db)")
    table = self_describing(table)
    for col in ("formula", "temperature"):
        if col not in table.columns:
            raise InputError(f"the table has no {col!r} column")
    if len(table) == 0:
        raise InputError("the training table is empty" + ("" if data is not None else
                                                           f" (no database rows with source {source!r})"))
    return table.reset_index(drop=True)


def d_convention(table: pd.DataFrame) -> str:
    """The D convention of ``table``'s target (a key of :data:`amorphdb.units.D_CONVENTIONS`): ``"einstein"``
    for a ``D_einstein_mul_thousand`` column; for ``diff_coeff_mul_thousand`` (or no target) the one in
    ``attrs["D_convention"]``, else ``"paper"``, the published table's layout.

    Raises :class:`InputError` when it cannot be told: both columns (tables of the two conventions
    concatenated), ``attrs`` contradicting the Einstein column, or an unknown name.
    """
    marked = table.attrs.get("D_convention")
    if marked is not None and marked not in D_CONVENTIONS:
        raise InputError(f"unknown D convention {marked!r} (use {' or '.join(D_CONVENTIONS)})")
    if TARGET in table.columns and EINSTEIN_TARGET in table.columns:
        raise InputError(f"the table has both {TARGET!r} (published D, 3 × Einstein) and {EINSTEIN_TARGET!r} "
                         "(Einstein D), as after joining tables of the two conventions: convert one "
                         "(amorphdb.units.einstein_d) and keep one column")
    if EINSTEIN_TARGET in table.columns:
        if marked not in (None, "einstein"):
            raise InputError(f"the table's D are Einstein D ({EINSTEIN_TARGET!r}) but its attrs say {marked!r}")
        return "einstein"
    return marked or "paper"


def self_describing(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with its D under the column that names their convention (:data:`TARGET_COLUMNS`) and the
    convention in ``attrs["D_convention"]``: a CSV written from it, or a ``pd.concat`` with a table of the other
    convention (which drops ``attrs``), still tells which D it holds."""
    convention = d_convention(table)
    out = table.rename(columns={c: TARGET_COLUMNS[convention] for c in TARGET_COLUMNS.values()
                                if c in table.columns})
    out.attrs["D_convention"] = convention
    return out


def target_column(table: pd.DataFrame) -> str:
    """The column of ``table``'s D (1e-3 cm²/s), in the convention :func:`d_convention` tells."""
    d_convention(table)  # refuses a table whose convention cannot be told
    found = [c for c in TARGET_COLUMNS.values() if c in table.columns]
    if not found:
        raise InputError(f"the table lacks the column(s) {TARGET} (published D) or {EINSTEIN_TARGET} (Einstein D)")
    return found[0]


def target_d(table: pd.DataFrame) -> np.ndarray:
    """``table``'s D in 1e-3 cm²/s, in its convention (:func:`d_convention`)."""
    return table[target_column(table)].to_numpy(dtype=float)


#: columns that are never model inputs: predictions and errors of D (they would leak the target) and row ids
NOT_FEATURES = ("D", "D_err", "D_paper", "ln_D", "ln_D_err", "ln_D_err_model", "D_md", "D_md_err", "run_id")


def feature_columns(table: pd.DataFrame) -> list[str]:
    """The model inputs of ``table``: every column but ``formula`` and the targets, ``temperature`` last.
    :class:`InputError` for a column that cannot be an input (:data:`NOT_FEATURES`, a saved index ``Unnamed: 0``)."""
    cols = [c for c in table.columns if c not in ("formula", "temperature", *TARGET_COLUMNS.values())]
    bad = [str(c) for c in cols if c in NOT_FEATURES or str(c).startswith("Unnamed:")]
    if bad:
        raise InputError(f"column(s) {', '.join(bad)} of the table are not features (a D, its error, an id or a "
                         "saved index): drop them")
    return [*cols, "temperature"]


def check_table(table: pd.DataFrame, features: Sequence[str], target: bool = False) -> pd.DataFrame:
    """``table`` with ``features`` (and the target when ``target``: :func:`target_column`) as floats.

    Raises :class:`InputError` naming the first row (1-based, as in the CSV file after its header) and column
    that is absent, missing or not a finite number, or whose formula is missing; temperatures must be positive.
    """
    target_col = target_column(table) if target else None
    needed = [*features, target_col] if target_col else list(features)
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise InputError(f"the table lacks the column(s) {', '.join(missing)}")
    if "formula" in table.columns:
        check_formulas(table["formula"])
    out = table.copy()
    for col in needed:
        values = pd.to_numeric(out[col], errors="coerce")
        bad = ~np.isfinite(values.to_numpy(dtype=float))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            formula = out["formula"].iloc[i] if "formula" in out.columns else "?"
            raise InputError(f"row {i + 1} ({formula}), column {col!r}: {out[col].iloc[i]!r} is not a number")
        out[col] = values.astype(float)
    if (out["temperature"] <= 0).any():
        i = int(np.flatnonzero(out["temperature"].to_numpy() <= 0)[0])
        raise InputError(f"row {i + 1}, column 'temperature': must be positive (K), got {out['temperature'].iloc[i]}")
    if target_col and (out[target_col] <= 0).any():
        i = int(np.flatnonzero(out[target_col].to_numpy() <= 0)[0])
        raise InputError(f"row {i + 1}, column {target_col!r}: D must be positive to take ln D, "
                         f"got {out[target_col].iloc[i]}")
    return out


def check_formulas(formulas: pd.Series) -> None:
    """Raise :class:`InputError` naming the first row (1-based) whose formula is missing or not text."""
    bad = [i for i, f in enumerate(formulas) if not (isinstance(f, str) and f.strip())]
    if bad:
        raise InputError(f"row {bad[0] + 1}, column 'formula': {formulas.iloc[bad[0]]!r} is not a formula")


def ln_d(table: pd.DataFrame) -> np.ndarray:
    """ln D with D in cm²/s, from the target column (1e-3 cm²/s, :func:`target_d`)."""
    return np.log(target_d(table) * D_UNIT)


def inv_kt(temperature: Any) -> np.ndarray:
    """1/(kB T) in 1/eV for T in K (a number or an array-like)."""
    return 1.0 / (KB_EV * np.asarray(temperature, dtype=float))
