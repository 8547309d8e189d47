"""The training table: columns of the paper's ``ml_features.csv`` (``formula``, the target D in 1e-3 cm²/s,
``temperature`` in K, the features), read from a CSV file or a database, and checked before any model sees it.

Which D the target holds is the table's *convention* (``table.attrs["D_convention"]``, read by
:func:`d_convention`): ``"paper"`` for the published table (3 × the Einstein tracer D,
:data:`amorphdb.units.PAPER_D_FACTOR`), ``"einstein"`` for a database table (the database holds Einstein D) or a
CSV file whose target column is ``D_einstein_mul_thousand``. Models learn the table's D and report Einstein D."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from ..errors import InputError, first_line
from ..units import D_CONVENTIONS, EINSTEIN_TARGET, KB_EV, PAPER_D_UNIT as D_UNIT, PAPER_TARGET as TARGET


class TableSource(Protocol):
    """Anything with the training table of a source, e.g. :class:`amorphdb.database.api.Database`."""

    def training_table(self, source: str = ...) -> pd.DataFrame: ...


def load_table(data: str | Path | None = None, db: TableSource | None = None,
               source: str = "paper-aimd") -> pd.DataFrame:
    """The training table from a CSV file (``data``) or from a database's ``training_table(source)`` (``db``).

    Columns: ``formula``, ``diff_coeff_mul_thousand`` (1e-3 cm²/s), ``temperature`` (K), the features; the
    D convention in ``attrs`` (a CSV's ``D_einstein_mul_thousand`` column becomes the target, ``"einstein"``).
    """
    if data is not None:
        path = Path(data)
        if not path.is_file():
            raise InputError(f"data file {path} does not exist")
        try:
            table = pd.read_csv(path)
        except Exception as exc:  # pandas raises many types for a malformed file
            raise InputError(f"cannot read {path} as CSV: {first_line(exc)}") from None
        if EINSTEIN_TARGET in table.columns:
            if TARGET in table.columns:
                raise InputError(f"{path} has both {TARGET!r} and {EINSTEIN_TARGET!r}: keep the one its D is")
            table = table.rename(columns={EINSTEIN_TARGET: TARGET})
            table.attrs["D_convention"] = "einstein"
        else:
            table.attrs["D_convention"] = "paper"
    elif db is not None:
        table = db.training_table(source=source)
    else:
        raise InputError("give a data file (--data) or a database (--db)")
    for col in ("formula", "temperature"):
        if col not in table.columns:
            raise InputError(f"the table has no {col!r} column")
    if len(table) == 0:
        raise InputError("the training table is empty" + ("" if data is not None else
                                                           f" (no database rows with source {source!r})"))
    return table.reset_index(drop=True)


def d_convention(table: pd.DataFrame) -> str:
    """The D convention of ``table``'s target (a key of :data:`amorphdb.units.D_CONVENTIONS`; "paper" when
    unmarked, as the published table)."""
    convention = table.attrs.get("D_convention", "paper")
    if convention not in D_CONVENTIONS:
        raise InputError(f"unknown D convention {convention!r} (use {' or '.join(D_CONVENTIONS)})")
    return convention


#: columns that are never model inputs: predictions and errors of D (they would leak the target) and row ids
NOT_FEATURES = ("D", "D_err", "D_paper", "ln_D", "ln_D_err", "ln_D_err_model", "D_md", "D_md_err",
                EINSTEIN_TARGET, "run_id")


def feature_columns(table: pd.DataFrame) -> list[str]:
    """The model inputs of ``table``: every column but ``formula`` and the target, ``temperature`` last.
    :class:`InputError` for a column that cannot be an input (:data:`NOT_FEATURES`, a saved index ``Unnamed: 0``)."""
    cols = [c for c in table.columns if c not in ("formula", TARGET, "temperature")]
    bad = [str(c) for c in cols if c in NOT_FEATURES or str(c).startswith("Unnamed:")]
    if bad:
        raise InputError(f"column(s) {', '.join(bad)} of the table are not features (a D, its error, an id or a "
                         "saved index): drop them")
    return [*cols, "temperature"]


def check_table(table: pd.DataFrame, features: Sequence[str], target: bool = False) -> pd.DataFrame:
    """``table`` with ``features`` (and the target when ``target``) as floats.

    Raises :class:`InputError` naming the first row (1-based, as in the CSV file after its header) and column
    that is absent, missing or not a finite number; temperatures must be positive.
    """
    needed = [*features, TARGET] if target else list(features)
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise InputError(f"the table lacks the column(s) {', '.join(missing)}")
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
    if target and (out[TARGET] <= 0).any():
        i = int(np.flatnonzero(out[TARGET].to_numpy() <= 0)[0])
        raise InputError(f"row {i + 1}, column {TARGET!r}: D must be positive to take ln D, got {out[TARGET].iloc[i]}")
    return out


def ln_d(table: pd.DataFrame) -> np.ndarray:
    """ln D with D in cm²/s, from the target column (1e-3 cm²/s)."""
    return np.log(table[TARGET].to_numpy(dtype=float) * D_UNIT)


def inv_kt(temperature: Any) -> np.ndarray:
    """1/(kB T) in 1/eV for T in K (a number or an array-like)."""
    return 1.0 / (KB_EV * np.asarray(temperature, dtype=float))
