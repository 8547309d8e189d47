"""Read-only queries of the web explorer: the one layer that both the JSON API and the HTML pages call.

Everything goes through the public :class:`amorphdb.database.Database` API (``query``, ``show``, ``rdf``,
``structures``, ``fit_arrhenius(store=False)``, ``arrhenius``, ``training_table``, ``model``, ``models``) and the
trends of :mod:`amorphdb.reports.trends`. Results are JSON-ready (:func:`finite`:
NaN and infinities become null). Units: T in K, D in cm²/s, Ea in eV, r in Å.
"""

from __future__ import annotations

import io
import math
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from ..composition import parse_formula
from ..errors import InputError
from ..units import KB_EV

T = TypeVar("T")

MAX_LIMIT = 500  # most records one /api/materials answer holds
SORT_COLUMNS = ("formula", "source", "temperature", "D", "D_err", "density", "stage", "status", "engine",
                "method", "key", "run_id")
REFERENCE_SOURCE = "paper-aimd"  # what the validation compares every other source with
CACHE_TTL_S = 60.0  # s: how long the list of sources is reused
SUMMARY_TTL_S = 3600.0  # s: the longest the overview and validation are reused while the data look unchanged


class NotFound(InputError):
    """The thing asked for is well formed but the database has nothing on it (HTTP 404)."""


def finite(value: Any) -> Any:
    """``value`` made JSON-ready: NaN/±inf → None, numpy scalars and arrays → Python, datetimes → ISO text."""
    if isinstance(value, dict):
        return {str(k): finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray, pd.Series)):
        return [finite(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if value is None or isinstance(value, str):
        return value
    if value is pd.NA or value is pd.NaT:
        return None
    return str(value)


_cache: dict[Hashable, tuple[float, float, Any]] = {}  # key -> (when, ttl, value)
_cache_lock = threading.Lock()
CACHE_SIZE = 64  # entries kept at most (the oldest go first)


def cached(key: Hashable, compute: Callable[[], T], ttl: float = CACHE_TTL_S) -> T:
    """``compute()``, reused for ``ttl`` seconds under ``key`` (summaries over the whole database)."""
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(key)
    if hit is not None and now - hit[0] < hit[1]:
        return hit[2]
    value = compute()
    with _cache_lock:
        for old in [k for k, (when, life, _) in _cache.items() if now - when >= life]:
            del _cache[old]
        while len(_cache) >= CACHE_SIZE:
            del _cache[min(_cache, key=lambda k: _cache[k][0])]
        _cache[key] = (now, ttl, value)
    return value


def fingerprint(db: Any) -> int:
    """A hash of ``Database.summary()`` (runs, D, features and RDFs per source and temperature) and of the
    Arrhenius fits: it changes when runs, their records or fits are added, so summaries over the whole
    database are recomputed then."""
    return hash(db.summary().to_csv(index=False) + db.arrhenius().to_csv(index=False))


def canonical(formula: str) -> str:
    """The reduced formula (the database key) of ``formula``; InputError (400) when it does not parse."""
    return parse_formula(formula).reduced_formula


# ----------------------------------------------------------------------------------------------------------
# Search
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """The filters of ``amorphdb query``: elements contained / excluded (comma-separated symbols), temperature
    or range (K), D range (cm²/s) of ``species``, source."""

    elements: str | None = None
    exclude: str | None = None
    temperature: float | None = None
    t_min: float | None = None
    t_max: float | None = None
    d_min: float | None = None
    d_max: float | None = None
    species: str = "Li"
    source: str | None = None

    def as_query(self) -> dict[str, Any]:
        """The non-empty filters, as URL query parameters."""
        return {k: v for k, v in asdict(self).items() if v is not None and not (k == "species" and v == "Li")}


def search(db: Any, filters: Filters, sort: str = "formula", order: str = "asc", limit: int = 50,
           offset: int = 0) -> dict[str, Any]:
    """``{"total": N, "items": [...]}``: the records of ``amorphdb query --json`` that match ``filters``,
    sorted by ``sort`` (``order`` asc/desc, missing values last), ``items`` from ``offset``, at most ``limit``
    (capped at :data:`MAX_LIMIT`)."""
    if sort not in SORT_COLUMNS:
        raise InputError(f"cannot sort by {sort!r} (choose from {', '.join(SORT_COLUMNS)})")
    table = db.query(**asdict(filters))  # ordered by formula, source, temperature: the order among equals
    table = table.sort_values(sort, ascending=order == "asc", kind="stable", na_position="last")
    limit = max(0, min(int(limit), MAX_LIMIT))
    page = table.iloc[offset:offset + limit]
    return {"total": len(table), "items": finite(page.to_dict(orient="records"))}


def sources(db: Any) -> list[str]:
    """Every source that has runs (for the search form), reused for a minute."""
    return cached(("sources", db.url), lambda: sorted(db.summary()["source"].unique().tolist()))


# ----------------------------------------------------------------------------------------------------------
# One composition
# ----------------------------------------------------------------------------------------------------------


def material(db: Any, formula: str) -> dict[str, Any]:
    """What ``amorphdb show FORMULA --json`` prints, trajectory files by name only (no server paths);
    :class:`NotFound` when the database has nothing on it."""
    name = canonical(formula)
    try:
        view = db.show(name)
    except InputError:
        raise NotFound(f"no data on {name}") from None
    info = finite(view.to_dict() if hasattr(view, "to_dict") else view)
    for record in (*info.get("runs", []), *info.get("amorphous_limits", [])):  # file names, not server paths
        if record.get("trajectory_path"):
            record["trajectory_path"] = Path(record["trajectory_path"]).name
    return info


def _source_order(source: str) -> tuple[int, str]:
    """Paper AIMD first, the paper's M3GNet second, our engines after, alphabetically."""
    return ({"paper-aimd": 0, "paper-m3gnet": 1}.get(source, 2), source)


def diffusivity_points(info: dict[str, Any]) -> list[dict[str, Any]]:
    """D(T) per source and species: ``{"source", "species", "temperature", "D", "D_err", "diffusive"}`` with
    one entry per run (its latest stored D), sources in :func:`_source_order`."""
    series: dict[tuple[str, str], dict[str, list]] = {}
    for run in info["runs"]:
        for species, values in run["diffusivity"].items():
            d = values[-1]
            s = series.setdefault((run["source"], species),
                                  {"temperature": [], "D": [], "D_err": [], "diffusive": []})
            s["temperature"].append(run["temperature"])
            s["D"].append(d["D"])
            s["D_err"].append(d["D_err"])
            s["diffusive"].append(d["diffusive"])
    return [{"source": src, "species": sp, **s}
            for (src, sp), s in sorted(series.items(), key=lambda kv: (_source_order(kv[0][0]), kv[0][1]))]


def arrhenius_fits(db: Any, info: dict[str, Any]) -> list[dict[str, Any]]:
    """Per source and species: the Arrhenius fit of the stored D(T) (``Database.fit_arrhenius`` without storing:
    Ea ± err eV, D0, D(300 K) ± err cm²/s), else the stored fit (D(300 K) without error), else nothing."""
    stored = {(a["source"], a["species"]): a for a in info["arrhenius"]}
    keys = list(dict.fromkeys([(p["source"], p["species"]) for p in diffusivity_points(info)] + list(stored)))
    fits = []
    for source, species in keys:
        try:
            fit = db.fit_arrhenius(info["formula"], species=species, source=source, store=False)
        except InputError:
            a = stored.get((source, species))
            if a is None or a["prefactor"] is None:
                continue
            fits.append(finite({**a, "D_300K": a["prefactor"] * math.exp(-a["Ea"] / (KB_EV * 300.0)),
                                "D_300K_err": None, "origin": "stored fit"}))
            continue
        record = fit.to_dict()
        fits.append(finite({**record, "species": species, "origin": f"fit of {record['n_points']} stored D "
                            f"({'weighted' if fit.weighted else 'unweighted'})"}))
    return fits


def features_table(info: dict[str, Any]) -> dict[str, Any]:
    """The features of every run that has them: ``{"columns": ["<source> <T> K", ...], "rows": [[name, v...]]}``."""
    runs = [r for r in info["runs"] if r["features"]]
    names = list(dict.fromkeys(n for r in runs for n in r["features"]))
    return {"columns": [f"{r['source']} {r['temperature']:g} K" for r in runs],
            "rows": [[n, *(r["features"].get(n) for r in runs)] for n in names]}


def _rdf_tables(db: Any, info: dict[str, Any], source: str | None = None) -> list[tuple[str, float, pd.DataFrame]]:
    """(source, temperature, table with ``r`` and one g(r) column per pair) of every stored RDF set."""
    keys = dict.fromkeys((r["source"], r["temperature"]) for r in info["rdfs"]
                         if source is None or r["source"] == source)
    out = []
    for src, temperature in sorted(keys, key=lambda k: (_source_order(k[0]), -k[1])):
        table = db.rdf(info["formula"], src, temperature)
        if table is not None:
            out.append((src, temperature, table))
    return out


def rdfs(db: Any, info: dict[str, Any], source: str | None = None) -> dict[str, Any]:
    """The partial RDFs of every source (or of ``source``) and the R² of each set against every earlier one
    (``amorphdb rdf-compare``'s R², all common pairs and bins pooled). :class:`NotFound` when there are none."""
    from ..analysis.rdf import rdf_r2

    tables = _rdf_tables(db, info, source)
    if not tables:
        raise NotFound(f"no RDF of {info['formula']}" + (f" from source {source!r}" if source else ""))
    r2 = []
    for i, (ref_src, ref_t, ref) in enumerate(tables):
        for cand_src, cand_t, cand in tables[i + 1:]:
            try:
                value, note = rdf_r2(ref, cand), None
            except InputError as exc:
                value, note = None, str(exc)
            r2.append({"reference": ref_src, "reference_temperature": ref_t, "candidate": cand_src,
                       "candidate_temperature": cand_t, "r2": value, "note": note})
    curves = [{"source": src, "temperature": t, "r": table["r"].tolist(),
               "g": {c: table[c].tolist() for c in table.columns if c != "r"}} for src, t, table in tables]
    return finite({"formula": info["formula"], "curves": curves, "r2": r2})


def stored_structures(db: Any, info: dict[str, Any]) -> list[tuple[dict[str, Any], Any]]:
    """Every stored structure of the composition: (its description, the pymatgen ``Structure``)."""
    temperature = {r["run_id"]: r["temperature"] for r in info["runs"]}
    out = []
    for entry in info["structures"]:
        for label, structure in zip(entry["labels"], db.structures(entry["run_id"])):
            out.append(({"index": len(out), "run_id": entry["run_id"], "source": entry["source"],
                         "key": entry["key"], "temperature": temperature.get(entry["run_id"]), "label": label,
                         "n_atoms": len(structure), "formula": structure.composition.reduced_formula,
                         "volume": structure.volume, "density": float(structure.density)}, structure))
    return out


STRUCTURE_FORMATS = {"cif": "chemical/x-cif", "extxyz": "chemical/x-xyz", "json": "application/json"}


def structure_file(structure: Any, fmt: str) -> str:
    """``structure`` as CIF, extended XYZ (with the cell) or pymatgen JSON text."""
    if fmt == "cif":
        return structure.to(fmt="cif")
    if fmt == "json":
        return structure.to_json()
    if fmt == "extxyz":
        import ase.io
        from pymatgen.io.ase import AseAtomsAdaptor

        buffer = io.StringIO()
        ase.io.write(buffer, AseAtomsAdaptor.get_atoms(structure), format="extxyz")
        return buffer.getvalue()
    raise InputError(f"unknown structure format {fmt!r} (choose from {', '.join(STRUCTURE_FORMATS)})")


def runs_csv(info: dict[str, Any]) -> str:
    """One CSV row per run: provenance, T (K), density (g/cm³), D and D_err of each species (cm²/s), features."""
    rows = []
    for r in info["runs"]:
        row = {k: r[k] for k in ("run_id", "source", "key", "temperature", "stage", "status", "engine", "density")}
        for species, values in r["diffusivity"].items():
            row[f"D_{species}"], row[f"D_err_{species}"] = values[-1]["D"], values[-1]["D_err"]
        rows.append({**row, **r["features"]})
    return pd.DataFrame(rows).assign(formula=info["formula"]).pipe(
        lambda t: t[["formula", *[c for c in t.columns if c != "formula"]]]).to_csv(index=False)


# ----------------------------------------------------------------------------------------------------------
# Overview (the paper's Fig. 2 and 3 from the database), validation, models
# ----------------------------------------------------------------------------------------------------------


def overview(db: Any, source: str = REFERENCE_SOURCE, temperature: float | None = None,
             min_count: int = 3) -> dict[str, Any] | None:
    """Trends of ``amorphdb report`` over the training table of ``source``: D at ``temperature`` (K; default the
    one most compositions have) and Ea per anion group, and Ea of the binary Li–X compositions against the Li
    fraction, the radius and the group of X. None when the source has no rows with D and features."""
    return cached(("overview", db.url, fingerprint(db), source, temperature, min_count),
                  lambda: _overview(db, source, temperature, min_count), SUMMARY_TTL_S)


def _overview(db: Any, source: str, temperature: float | None, min_count: int) -> dict[str, Any] | None:
    from ..reports.trends import trend_tables

    table = db.training_table(source=source)
    if table.empty:
        return None
    temps = sorted(float(t) for t in table["temperature"].unique())
    if temperature is not None and float(temperature) not in temps:
        raise NotFound(f"no composition of {source} has data at {temperature:g} K "
                       f"(have {', '.join(f'{t:g}' for t in temps)})")
    trends = trend_tables(table, temperature, min_count)
    return {"source": source, "temperature": trends.temperature, "temperatures": temps,
            "n_compositions": int(len(trends.compositions)), "n_rows": int(len(table)),
            "D_by_anion": trends.D_by_anion, "Ea_by_anion": trends.Ea_by_anion, "binary": trends.binary,
            "binary_r": trends.binary_r}


def validation(db: Any, species: str = "Li") -> dict[str, Any]:
    """Every source against :data:`REFERENCE_SOURCE` on what both stored: D of ``species`` at the same
    composition and temperature, Arrhenius Ea, and the R² of the RDFs. Reused while the data look unchanged."""
    return cached(("validation", db.url, fingerprint(db), species), lambda: _validation(db, species), SUMMARY_TTL_S)


def _validation(db: Any, species: str) -> dict[str, Any]:
    runs = db.query(species=species)
    with_d = runs.dropna(subset=["D"])
    ref = with_d[with_d["source"] == REFERENCE_SOURCE][["formula", "temperature", "D", "D_err"]]
    other = with_d[with_d["source"] != REFERENCE_SOURCE]
    d_pairs = other.merge(ref, on=["formula", "temperature"], suffixes=("", "_ref"))[
        ["source", "formula", "temperature", "D", "D_err", "D_ref", "D_err_ref"]]
    fits = db.arrhenius()
    fits = fits[fits["species"] == species]
    ea_pairs = fits[fits["source"] != REFERENCE_SOURCE].merge(
        fits[fits["source"] == REFERENCE_SOURCE][["formula", "Ea", "Ea_err"]], on="formula", suffixes=("", "_ref"))[
        ["source", "formula", "Ea", "Ea_err", "Ea_ref", "Ea_err_ref"]]
    rdf_rows = []
    by_formula = runs.groupby("formula")["source"].agg(lambda s: sorted(set(s)))
    for formula, srcs in by_formula.items():
        if REFERENCE_SOURCE not in srcs or len(srcs) < 2:
            continue
        ref_rdf = db.rdf(formula, REFERENCE_SOURCE)
        if ref_rdf is None:
            continue
        for src in srcs:
            cand = None if src == REFERENCE_SOURCE else db.rdf(formula, src)
            if cand is not None:
                rdf_rows.append({"source": src, "formula": formula, "r2": _safe_r2(ref_rdf, cand)})
    return {"reference": REFERENCE_SOURCE, "species": species, "D": d_pairs.sort_values(["source", "formula"]),
            "Ea": ea_pairs.sort_values(["source", "formula"]), "rdf_r2": pd.DataFrame(
                rdf_rows, columns=["source", "formula", "r2"])}


def _safe_r2(reference: pd.DataFrame, candidate: pd.DataFrame) -> float:
    from ..analysis.rdf import rdf_r2

    try:
        return rdf_r2(reference, candidate)
    except InputError:  # no common pair or another r grid: not comparable
        return math.nan


def models(db: Any) -> list[dict[str, Any]]:
    """Every stored model: name, kind, when, rows and compositions trained on, CV scores per protocol."""
    out = []
    for m in db.models():
        meta = m.metadata or {}
        out.append(finite({"name": m.name, "kind": m.kind, "source": m.source, "created_at": m.created_at,
                           "code_version": m.code_version, "n_rows": meta.get("n_rows"),
                           "n_formulas": meta.get("n_formulas"), "target": meta.get("target"),
                           "data": _public(meta.get("data")), "cv": meta.get("cv", {})}))
    return out


def _public(data: str | None) -> str | None:
    """What a model was trained on, fit to show anyone: a database URL without its password (models saved
    before amorphdb stored it that way have it) and a file by its name only (no server paths)."""
    if not data:
        return data
    if not data.startswith("database "):
        return Path(data).name
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    where, sep, source = data.removeprefix("database ").rpartition(" source ")
    if not sep:
        where, source = data.removeprefix("database "), None
    try:
        url = make_url(where) if "://" in where else None
    except ArgumentError:
        url = None
    if url is None:  # "default", or a bare file path given as --db
        shown = where if where == "default" else Path(where).name
    elif url.get_backend_name() == "sqlite":
        shown = f"sqlite:///{Path(url.database or '').name}"
    else:
        shown = url._replace(query={}).render_as_string(hide_password=True)  # no ?password=... either
    return f"database {shown}" + (f" source {source}" if source is not None else "")


_models: dict[tuple[str, float, int], Any] = {}
_models_lock = threading.Lock()


def _load_model(name: str, path: str) -> Any:
    """The saved model at ``path``, loaded once per file version."""
    from ..learning.train import load_model

    file = Path(path)
    try:
        stat = file.stat()
    except OSError:
        raise InputError(f"model {name!r}: its file is not on this server") from None
    key = (str(file), stat.st_mtime, stat.st_size)
    with _models_lock:
        if key not in _models:
            try:
                _models[key] = load_model(file)
            except InputError:
                raise InputError(f"model {name!r}: its file cannot be read as an amorphdb model") from None
        return _models[key]


def prediction(db: Any, model_name: str, formula: str, source: str | None = None) -> dict[str, Any]:
    """D(T) of the stored composition ``formula`` predicted by the stored model ``model_name`` from the
    stored features of its runs of ``source`` (default: the source with the most runs with features,
    paper AIMD on a tie), beside the stored D; plus the Arrhenius fit of the predictions (Ea ± err eV)."""
    from ..learning.train import predict
    from ..analysis.arrhenius import arrhenius_points

    info = material(db, formula)
    m = db.model(model_name)
    if m is None:
        raise NotFound(f"no model named {model_name!r}")
    runs = [r for r in info["runs"] if r["features"]]
    have = sorted({r["source"] for r in runs}, key=lambda s: (-sum(r["source"] == s for r in runs), _source_order(s)))
    if not have:
        raise NotFound(f"{info['formula']} has no stored features to predict from")
    source = source or have[0]
    if source not in have:
        raise NotFound(f"{info['formula']} has no features from source {source!r} (have {', '.join(have)})")
    runs = [r for r in runs if r["source"] == source]
    table = pd.DataFrame([{"formula": info["formula"], "temperature": r["temperature"],
                           **{k: (math.nan if v is None else v) for k, v in r["features"].items()}} for r in runs])
    pred = predict(_load_model(model_name, m.path), table)
    stored = [(r["diffusivity"].get("Li") or [{}])[-1] for r in runs]
    pred["D_stored"] = [d.get("D") for d in stored]
    pred["D_err_stored"] = [d.get("D_err") for d in stored]
    pred = pred.sort_values("temperature")
    points = arrhenius_points(pred["temperature"], pred["D"], pred["D_err"])
    fit = points.fit().to_dict() if points is not None else None
    return finite({"model": m.name, "kind": m.kind, "formula": info["formula"], "source": source,
                   "sources": have, "items": pred.drop(columns="formula").to_dict(orient="records"), "fit": fit})
