"""Rows as the tables hold them: checked and converted values, materials and runs by natural key.

Shared by the API, the export/import and the importers, so that every way in validates the same way.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..composition import parse_formula
from ..errors import InputError
from .connection import upsert
from .schema import RUN_FIELDS, Material, Run, code_version


def clean_float(value: Any, what: str) -> float | None:
    """``value`` as a float; None and NaN give None; InputError naming ``what`` when it is not a number."""
    if value is None:
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be a number, got {value!r}") from None
    return None if math.isnan(x) else x


def clean_floats(fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` with every float value passed through :func:`clean_float` (NaN gives None), the rest as given."""
    return {k: clean_float(v, k) if isinstance(v, float) else v for k, v in fields.items()}


def temperature(value: Any) -> float:
    """A run temperature (K): a positive number."""
    t = clean_float(value, "temperature")
    if t is None or t <= 0:
        raise InputError(f"temperature must be positive (K), got {value!r}")
    return t


def clean_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Validate and convert the optional run fields; empty strings and NaN are stored as NULL."""
    out: dict[str, Any] = {}
    for name, value in fields.items():
        kind = RUN_FIELDS.get(name)
        if kind is None:
            raise InputError(f"unknown run field {name!r} (known: {', '.join(RUN_FIELDS)})")
        if value is None or (kind is str and str(value) == ""):
            out[name] = None
        elif kind is str:
            out[name] = str(value)
        elif kind is int:
            x = clean_float(value, name)
            if x is not None and x != int(x):
                raise InputError(f"{name} must be a whole number, got {value!r}")
            out[name] = None if x is None else int(x)
        else:
            out[name] = clean_float(value, name)
    return out


def check_species(species: str) -> str:
    """``species`` when it is an element symbol, else InputError."""
    from pymatgen.core import Element

    if not isinstance(species, str) or not Element.is_valid_symbol(species):
        raise InputError(f"unknown element {species!r}")
    return species


def material_row(formula: str) -> dict[str, Any]:
    """The derived columns of a material: reduced formula, sorted elements, atoms per formula unit."""
    comp = parse_formula(formula).reduced_composition
    amounts = {str(el): int(round(n)) for el, n in comp.items()}
    return {"formula": comp.reduced_formula, "elements": sorted(amounts), "composition": amounts,
            "n_elements": len(amounts)}


def utc(value: datetime) -> datetime:
    """SQLite gives naive datetimes back: they were written in UTC."""
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def rdf_rows(rdf: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of the rdfs table from a table checked by :func:`amorphdb.analysis.rdf.validate_rdf` (column ``r``
    in Å, one g(r) column per pair ``A-B``); NaN in g is stored as null."""
    r = rdf["r"].tolist()
    return [{"pair": str(p), "r": r, "g": [None if math.isnan(v) else v for v in rdf[p].tolist()]}
            for p in rdf.columns if p != "r"]


def material_ids(session: Session, formulas: Iterable[str], source: str) -> dict[str, int]:
    """Ids of the materials of ``formulas`` (any spelling → reduced formula), created when missing."""
    rows = {f: material_row(f) for f in dict.fromkeys(formulas)}  # ordered: reproducible ids
    unique = {r["formula"]: r for r in rows.values()}
    upsert(session, Material, [{**r, "source": source, "code_version": code_version()} for r in unique.values()],
           ["formula"], update=False)
    ids = dict(session.execute(select(Material.formula, Material.id)
                               .where(Material.formula.in_(list(unique)))).all())
    return {f: ids[r["formula"]] for f, r in rows.items()}


def run_ids(session: Session, materials: Iterable[int], source: str | None = None
            ) -> dict[tuple[int, str, str], int]:
    """Run ids by (material id, source, key) of the given materials (of one source, or all)."""
    stmt = select(Run.material_id, Run.source, Run.key, Run.id).where(Run.material_id.in_(list(set(materials))))
    if source is not None:
        stmt = stmt.where(Run.source == source)
    return {(m, s, k): i for m, s, k, i in session.execute(stmt).all()}
