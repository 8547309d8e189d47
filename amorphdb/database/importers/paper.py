"""The paper's published data (Zheng et al. 2024): ``ml_features.csv`` and the RDF files of ``rdf/``.

Every row of ``ml_features.csv`` becomes a production run (source ``paper-aimd``, key ``T<temperature>``,
status ``imported``, engine ``vasp``, density from :func:`paper_density`) with its Li diffusivity
(the Einstein tracer D, value × 1e-3 / :data:`~amorphdb.units.PAPER_D_FACTOR` cm²/s, method
``paper``: the database holds Einstein D for every source, docs/validation.md) and its features (element data
source :data:`PAPER_ELEMENT_DATA`);
``rdf/DFT_RDF_<formula>.csv`` and ``rdf/M3GNet_RDF_<formula>.csv`` become the RDFs of 5000 K runs of sources
``paper-aimd`` and ``paper-m3gnet``. Compositions with enough temperatures (by the package's one rule,
:func:`amorphdb.analysis.arrhenius.arrhenius_points`: three, as the paper gives no error bars) get a Li
Arrhenius fit (``paper-aimd``, unweighted on ln D).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from ...composition import parse_formula
from ...errors import InputError, first_line
from ...units import AMU_PER_A3_IN_G_PER_CM3, PAPER_D_UNIT, PAPER_TARGET, einstein_d
from .. import rows as R
from ..connection import Connection, upsert
from ..schema import RDF, Arrhenius, Diffusivity, Feature, Run, code_version

log = logging.getLogger(__name__)

PAPER_SOURCES = {"DFT": ("paper-aimd", "vasp"), "M3GNet": ("paper-m3gnet", "m3gnet")}
PAPER_RDF_TEMPERATURE = 5000.0  # K: the paper's RDFs are averages over its 5000 K trajectories
#: The element data of the imported features: those the paper computed its table with.
PAPER_ELEMENT_DATA = "paper (ml_features.csv as published)"


def import_paper(conn: Connection, path: str | os.PathLike) -> None:
    """Load the paper's data from directory ``path`` (``ml_features.csv`` and ``rdf/``) in one transaction;
    every file is read and checked before anything is written. Idempotent."""
    root = Path(path)
    if not root.is_dir():
        raise InputError(f"{root} is not a directory (expected the paper's data directory)")
    table_path = root / "ml_features.csv"
    if not table_path.is_file():
        raise InputError(f"no ml_features.csv in {root}")
    table = read_paper_table(table_path)
    rdf_files = sorted((root / "rdf").glob("*_RDF_*.csv")) if (root / "rdf").is_dir() else []
    log.info("importing %d rows of %s and %d RDF files", len(table), table_path, len(rdf_files))
    rdfs = _read_paper_rdfs(rdf_files)
    fits = _paper_arrhenius(table)
    version = code_version()

    def write(session: Session) -> None:
        source = "paper-aimd"
        material_of = R.material_ids(session, table["formula"], source)
        keys = [f"T{_fmt_t(t)}" for t in table["temperature"]]
        upsert(session, Run, [
            {"material_id": material_of[f], "source": source, "key": k, "temperature": float(t),
             "stage": "production", "status": "imported", "engine": "vasp", "density": float(rho),
             "element_data": PAPER_ELEMENT_DATA, "code_version": version}
            for f, k, t, rho in zip(table["formula"], keys, table["temperature"], paper_density(table))],
            ["material_id", "source", "key"])
        run_of = R.run_ids(session, material_of.values(), source)
        run_ids = [run_of[(material_of[f], source, k)] for f, k in zip(table["formula"], keys)]
        upsert(session, Diffusivity, [
            {"run_id": i, "species": "Li", "D": einstein_d(float(d) * PAPER_D_UNIT), "D_err": None, "method": "paper",
             "diffusive": True, "source": source, "code_version": version}
            for i, d in zip(run_ids, table[PAPER_TARGET])], ["run_id", "species", "method"])
        names = [c for c in table.columns if c not in ("formula", PAPER_TARGET, "temperature")]
        values = table[names].to_numpy(dtype=float)
        upsert(session, Feature, [
            {"run_id": i, "name": n, "value": float(v), "source": source, "code_version": version}
            for i, row in zip(run_ids, values) for n, v in zip(names, row)], ["run_id", "name"])
        log.info("stored %d runs with D and %d features each", len(run_ids), len(names))
        upsert(session, Arrhenius, [{"material_id": material_of[f], "source": source, **fit, "code_version": version}
                                    for f, fit in fits.items()], ["material_id", "source", "species"])
        log.info("stored Arrhenius fits of Li for %d compositions", len(fits))
        _store_paper_rdfs(session, rdfs)

    conn.write(write)


def paper_density(table: pd.DataFrame) -> pd.Series:
    """Mass density (g/cm³) of each row of the paper's table: mean atomic mass ``avg_m_with_Li`` (amu) over
    the average atomic volume ``AAV`` (Å³ per atom), × 1.66054 (g/cm³ per amu/Å³)."""
    return table["avg_m_with_Li"] / table["AAV"] * AMU_PER_A3_IN_G_PER_CM3


def read_paper_table(path: Path) -> pd.DataFrame:
    """``ml_features.csv`` checked: the three key columns and the 42 feature columns present, every other cell
    numeric, formulas valid, temperature and AAV positive, no (formula, temperature) twice."""
    from ...analysis.features import FEATURE_COLUMNS

    table = _read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in ("formula", PAPER_TARGET, "temperature", *FEATURE_COLUMNS) if c not in table.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}")
    if len(table.columns) != len(set(table.columns)) or any(c.startswith("Unnamed:") for c in table.columns):
        raise InputError(f"{path}: duplicate or unnamed column in the header")
    if table.empty:
        raise InputError(f"{path}: no data rows")
    _numeric(table, [c for c in table.columns if c != "formula"], path)
    reduced = []
    for i, formula in enumerate(table["formula"]):
        try:
            reduced.append(parse_formula(formula).reduced_formula)
        except InputError as exc:
            raise InputError(f"{path}: line {i + 2}, column 'formula': {exc}") from None
    for col, unit in (("temperature", "K"), ("AAV", "Å³ per atom")):
        if (table[col] <= 0).any():
            i = int((table[col] <= 0).to_numpy().nonzero()[0][0])
            raise InputError(f"{path}: line {i + 2}, column {col!r}: must be positive ({unit})")
    # one material per reduced formula: Li4O2 and Li2O at one temperature are the same run
    seen: dict[tuple[str, float], int] = {}
    for i, (name, t) in enumerate(zip(reduced, table["temperature"])):
        first = seen.setdefault((name, float(t)), i)
        if first != i:
            same = "" if table["formula"].iloc[first] == table["formula"].iloc[i] else \
                f" (as {table['formula'].iloc[first]}, both are {name})"
            raise InputError(f"{path}: line {i + 2}: {table['formula'].iloc[i]} at {t:g} K appears twice: "
                             f"first on line {first + 2}{same}")
    return table


def _fmt_t(t: float) -> str:
    return str(int(t)) if float(t).is_integer() else repr(float(t))


def _read_csv(path: Path, **kwargs: Any) -> pd.DataFrame:
    try:
        return pd.read_csv(path, **kwargs)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError, OSError) as exc:
        raise InputError(f"{path}: not a readable CSV file ({first_line(exc)})") from None


def _numeric(table: pd.DataFrame, columns: Iterable[str], path: Path) -> None:
    """Convert ``columns`` to float in place; InputError naming file, line and column of the first bad cell
    (text, empty or infinite)."""
    for col in columns:
        values = pd.to_numeric(table[col], errors="coerce").astype(float)
        bad = ~np.isfinite(values.to_numpy())
        if bad.any():
            i = int(bad.nonzero()[0][0])
            raise InputError(f"{path}: line {i + 2}, column {col!r}: {table[col].iloc[i]!r} is not a number")
        table[col] = values.astype(float)


def _read_paper_rdfs(files: list[Path]) -> list[tuple[str, str, str, list[dict[str, Any]]]]:
    """(formula, source, engine, rdfs rows) of every ``DFT_RDF_<formula>.csv`` / ``M3GNet_RDF_<formula>.csv``."""
    from tqdm import tqdm

    from ...analysis.rdf import read_rdf_csv

    parsed = []
    seen: dict[tuple[str, str], Path] = {}
    for file in tqdm(files, desc="RDF files", unit="file", disable=None):
        kind, _, formula = file.stem.partition("_RDF_")
        if kind not in PAPER_SOURCES:
            raise InputError(f"{file}: unknown RDF file kind {kind!r} (expected DFT or M3GNet)")
        try:
            name = parse_formula(formula).reduced_formula
        except InputError as exc:
            raise InputError(f"{file}: {exc}") from None
        if (other := seen.setdefault((kind, name), file)) != file:
            raise InputError(f"{file}: the same composition ({name}) as {other.name}; keep one of the two")
        source, engine = PAPER_SOURCES[kind]
        parsed.append((formula, source, engine, R.rdf_rows(read_rdf_csv(file))))
    return parsed


def _paper_arrhenius(table: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Li Arrhenius fit (unweighted: no error bars; ln D vs 1/T) of every formula of the paper's table that has
    enough temperatures, by formula."""
    from ...analysis.arrhenius import fit_points

    fits = {}
    reduced = table["formula"].map(lambda f: parse_formula(f).reduced_formula)
    for _, rows in table.groupby(reduced, sort=False):  # all spellings of one material together
        formula = rows["formula"].iloc[0]
        fit = fit_points(rows["temperature"].to_numpy(), einstein_d(rows[PAPER_TARGET].to_numpy() * PAPER_D_UNIT),
                         species="Li")
        if fit is not None:
            fits[formula] = {k: getattr(fit, k) for k in
                             ("species", "Ea", "Ea_err", "prefactor", "prefactor_err", "t_min", "t_max")}
    return fits


def _store_paper_rdfs(session: Session, parsed: list[tuple[str, str, str, list[dict[str, Any]]]]) -> None:
    version = code_version()
    key = f"T{_fmt_t(PAPER_RDF_TEMPERATURE)}"
    for source, engine in PAPER_SOURCES.values():
        items = [p for p in parsed if p[1] == source]
        if not items:
            continue
        material_of = R.material_ids(session, [p[0] for p in items], source)
        upsert(session, Run, [
            {"material_id": material_of[f], "source": source, "key": key, "temperature": PAPER_RDF_TEMPERATURE,
             "stage": "production", "status": "imported", "engine": engine, "code_version": version}
            for f, *_ in items], ["material_id", "source", "key"])
        run_of = R.run_ids(session, material_of.values(), source)
        upsert(session, RDF, [
            {"run_id": run_of[(material_of[f], source, key)], **row, "source": source, "code_version": version}
            for f, _, _, rows in items for row in rows], ["run_id", "pair"])
        log.info("stored the RDFs of %d compositions from %s", len(items), source)

