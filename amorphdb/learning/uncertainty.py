"""The fast route's error bar: the model's own spread plus the measured shifts of the features it is given.

A model trained on AIMD features (100 atoms, 20 ps) predicts from features of a short MLIP run. Two shifts move
those features, and with them ln D, away from what the AIMD run would have given:

- ``mlip``: the potential (MLIP structure vs DFT structure at the same composition and temperature);
- ``short-run``: the preset (a smaller cell and shorter runs vs longer ones with the same potential).

Each is measured as the change of the *model's* ln D when the features of one run are replaced by those of the
other (same composition and temperature), and kept as its root mean square over the measured rows, RMS_k,
in the table ``amorphdb/data/fast_route_uncertainty.csv`` (one row per term, engine and preset; ``*`` matches
any). The predicted ln D then carries

    σ_total² = σ_model² + Σ_k RMS_k²

(the shifts are not subtracted: their sign is not known for a new composition, so each counts as an error of
its RMS size). A preset's rows hold for its own cell and run lengths: settings that make the runs smaller or
shorter than the preset's (:func:`amorphdb.workflows.predict.below_preset`) get each term's largest value for
the engine instead. New validation data update the table; docs/learning.md ("The fast route") says how each row
was measured and which are assumed.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError

TABLE = Path(__file__).resolve().parents[1] / "data" / "fast_route_uncertainty.csv"
TERMS = ("mlip", "short-run")


@dataclass(frozen=True)
class ShiftTerm:
    """One variance term: RMS shift of ln D (D in cm²/s) over ``n_rows`` measured rows."""

    term: str
    engine: str  # "*": any engine
    preset: str  # "*": any preset
    rms_ln_d: float
    n_rows: int
    basis: str  # how it was measured, or why it is assumed


def read_terms(path: str | Path = TABLE) -> list[ShiftTerm]:
    """The rows of a shift table (columns ``term, engine, preset, rms_ln_d, n_rows, basis``)."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
        terms = [ShiftTerm(r["term"], r["engine"], r["preset"], float(r["rms_ln_d"]), int(r["n_rows"]), r["basis"])
                 for r in rows]
    except (OSError, KeyError, ValueError) as exc:
        raise InputError(f"cannot read the shift table {path}: {exc}") from None
    bad = [t.term for t in terms if t.term not in TERMS or not t.rms_ln_d >= 0]
    if bad:
        raise InputError(f"shift table {path}: unknown term or negative RMS in row(s) {', '.join(bad)}")
    return terms


def shift_terms(engine: str, preset: str, path: str | Path = TABLE, conservative: bool = False) -> list[ShiftTerm]:
    """For each term, the row that fits ``engine`` and ``preset`` best (exact, then ``*`` for the preset, then
    for the engine); with ``conservative`` (runs below the preset's,
    :func:`amorphdb.workflows.predict.below_preset`), the preset's rows do
    not apply: the row with the largest RMS among those of ``engine`` or ``*``, whatever their preset.
    InputError when a term has no row at all."""
    rows = read_terms(path)
    out = []
    for term in TERMS:
        if conservative:
            found = [r for r in rows if r.term == term and r.engine in (engine, "*")]
            if found:
                out.append(max(found, key=lambda r: r.rms_ln_d))
                continue
        for e, p in ((engine, preset), (engine, "*"), ("*", preset), ("*", "*")):
            found = [r for r in rows if (r.term, r.engine, r.preset) == (term, e, p)]
            if found:
                out.append(found[0])
                break
        else:
            raise InputError(f"shift table {path} has no {term!r} row for engine {engine!r}, preset {preset!r}")
    return out


def total_ln_sigma(model_sigma: np.ndarray | float, terms: list[ShiftTerm]) -> np.ndarray:
    """σ_total of ln D = sqrt(σ_model² + Σ RMS_k²)."""
    return np.sqrt(np.asarray(model_sigma, dtype=float) ** 2 + sum(t.rms_ln_d ** 2 for t in terms))
