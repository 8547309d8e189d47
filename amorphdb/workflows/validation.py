"""``amorphdb.validate``: our melt-quench runs against the AIMD reference they replace (the paper's Fig. 6 and more).

Per composition (:class:`ValidationRecord`):

- R² of our 5000 K partial RDFs against the DFT ones, pooled over pairs and bins
  (:func:`~amorphdb.analysis.rdf.rdf_r2`, the paper's definition), against the paper's M3GNet ones, and
  M3GNet against DFT on the same composition;
- our density / the AIMD density at each temperature both have (AIMD density = average mass / AAV, g/cm³);
- D(Li) ours / AIMD at each temperature both have, the published D converted to Einstein D
  (÷ :data:`~amorphdb.units.PAPER_D_FACTOR`, docs/validation.md);
- Ea ours − AIMD (eV), the AIMD Ea fitted over the same temperatures as ours (``Ea_ref``; the least-squares
  slope of ln D against 1/kT, exact for two), and over all its temperatures (``Ea_ref_all``, the package's
  Arrhenius rule): an Arrhenius plot that bends makes Ea depend on the window, so only the matched one is a
  comparison, and none is made (``Ea_note`` says why) when the reference lacks one of our temperatures.

The reference is a directory in the published layout (``ml_features.csv``, ``rdf/DFT_RDF_<formula>.csv``,
``rdf/M3GNet_RDF_<formula>.csv``), by default the copy shipped with the package. Our side comes from the
database (:func:`stored_result`): :func:`validate` runs the protocol first (a campaign,
:func:`amorphdb.workflows.campaign.run_campaign`, which stores everything), or with ``stored=True`` compares
the runs already there. It also imports the reference into the same database when that lacks it, so that the web
explorer's validation page (which compares every source with ``paper-aimd`` from stored runs) shows them.
The distribution over compositions, plots and the Markdown table are in :mod:`amorphdb.reports.validation`.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..analysis.arrhenius import arrhenius_points, fit_points
from ..analysis.rdf import rdf_r2, read_rdf_csv
from ..composition import parse_formula
from ..data import paper_dir
from ..database.api import Database, latest_per_temperature
from ..database.importers.paper import PAPER_RDF_TEMPERATURE, paper_density, read_paper_table
from ..engines import engine_name
from ..errors import InputError
from ..protocol.settings import PRESETS, settings_for
from ..units import KB_EV, PAPER_D_UNIT, PAPER_TARGET, einstein_d
from .melt_quench import as_database

log = logging.getLogger(__name__)

SPECIES = "Li"
LAYOUT = "the published layout: ml_features.csv, rdf/DFT_RDF_<formula>.csv (rdf/M3GNet_RDF_<formula>.csv optional)"
_RDF_FILE = re.compile(r"^(DFT|M3GNet)_RDF_(.+)\.csv$")


def _reduced(formula: str) -> str:
    return parse_formula(formula).reduced_formula


def _t_key(temperature: float) -> str:
    """A temperature as a JSON key: ``"1000"``, ``"1500.5"``."""
    return f"{float(temperature):g}"


@dataclass(frozen=True)
class Reference:
    """An AIMD reference directory in the published layout, read and checked (:func:`load_reference`).

    ``table``: ``ml_features.csv`` (formula, D × 1e-3 in the paper's convention, temperature K, AAV Å³/atom,
    ...); ``rdf_files``: (kind ``DFT``/``M3GNet``, reduced formula) → file.
    """

    path: Path
    table: pd.DataFrame
    rdf_files: Mapping[tuple[str, str], Path]

    @cached_property
    def _rows(self) -> dict[str, pd.DataFrame]:
        table = self.table.assign(formula=self.table["formula"].map(_reduced))
        return {f: rows.sort_values("temperature") for f, rows in table.groupby("formula", sort=False)}

    def formulas(self, *, with_d: bool = False) -> list[str]:
        """Reduced formulas of the reference: those with a DFT RDF (``with_d``: those with rows in the table,
        i.e. D), the ones with both first; then in table order, then by name. (In the paper's data the two
        sets overlap in 3 compositions only: 256 with RDFs, 165 with D.)"""
        rdf = {f for kind, f in self.rdf_files if kind == "DFT"}
        table = list(self._rows)
        both = [f for f in table if f in rdf]
        rest = [f for f in table if f not in rdf] if with_d else sorted(rdf - set(both))
        return both + rest

    def has(self, formula: str) -> bool:
        """Whether the reference has anything on ``formula`` (a DFT RDF or table rows)."""
        f = _reduced(formula)
        return ("DFT", f) in self.rdf_files or f in self._rows

    def rdf(self, formula: str, kind: str = "DFT") -> pd.DataFrame | None:
        """The 5000 K partial RDFs of ``kind`` (``DFT`` or ``M3GNet``), or None."""
        path = self.rdf_files.get((kind, _reduced(formula)))
        return None if path is None else read_rdf_csv(path)

    def density(self, formula: str) -> dict[float, float]:
        """AIMD density (g/cm³) per temperature (K): average atomic mass / AAV."""
        rows = self._rows.get(_reduced(formula))
        return {} if rows is None else dict(zip(rows["temperature"].astype(float),
                                                 paper_density(rows).astype(float)))

    def diffusivity(self, formula: str) -> dict[float, float]:
        """AIMD Einstein D(Li) (cm²/s) per temperature (K): the published value × 1e-3 / PAPER_D_FACTOR (3)."""
        rows = self._rows.get(_reduced(formula))
        if rows is None:
            return {}
        d = einstein_d(rows[PAPER_TARGET].astype(float) * PAPER_D_UNIT, "paper")
        return dict(zip(rows["temperature"].astype(float), d))

    def activation_energy(self, formula: str, temperatures: Iterable[float] | None = None) -> float | None:
        """AIMD Ea of Li (eV). Over all its temperatures: the package's Arrhenius fit (three needed, no error
        bars). Over ``temperatures`` (K; all of them, or None): the least-squares slope of ln D against
        1/(kB T), which two temperatures determine exactly. None if too few. The factor on D leaves Ea unchanged."""
        d = self.diffusivity(formula)
        if temperatures is None:
            fit = fit_points(list(d), list(d.values())) if d else None
            return None if fit is None else float(fit.Ea)
        t = sorted({float(x) for x in temperatures})
        if len(t) < 2 or not set(t) <= set(d):  # another window would be another Ea
            return None
        slope = np.polyfit(1.0 / (KB_EV * np.array(t)), np.log([d[x] for x in t]), 1)[0]
        return float(-slope)


def load_reference(path: str | os.PathLike | None = None) -> Reference:
    """The reference directory ``path`` (default: the copy shipped with the package) read and checked;
    InputError naming what is missing when it is not in the published layout."""
    root = Path(paper_dir() if path is None else path)
    if not root.is_dir():
        raise InputError(f"reference {root} is not a directory (expected {LAYOUT})")
    if not (root / "ml_features.csv").is_file():
        raise InputError(f"reference {root} has no ml_features.csv (expected {LAYOUT})")
    files: dict[tuple[str, str], Path] = {}
    for file in sorted((root / "rdf").glob("*_RDF_*.csv")) if (root / "rdf").is_dir() else []:
        match = _RDF_FILE.match(file.name)
        if match:
            files[(match[1], _reduced(match[2]))] = file
    if not any(kind == "DFT" for kind, _ in files):
        raise InputError(f"reference {root} has no rdf/DFT_RDF_<formula>.csv (expected {LAYOUT})")
    return Reference(root, read_paper_table(root / "ml_features.csv"), files)


@dataclass
class OurResult:
    """Our side of one composition: the RDFs of the melt (5000 K), density (g/cm³) and diffusive D(Li) (cm²/s)
    per temperature (K), the Li Ea (eV) fitted over ``Ea_temperatures`` (K)."""

    formula: str
    source: str
    rdf: pd.DataFrame | None = None
    density: dict[float, float] = field(default_factory=dict)
    D: dict[float, float] = field(default_factory=dict)
    Ea: float | None = None
    D_err: dict[float, float] = field(default_factory=dict)  # cm²/s
    Ea_err: float | None = None  # eV
    Ea_temperatures: tuple[float, ...] = ()


def stored_result(db: Database, formula: str, source: str,
                  melt_temperature: float = PAPER_RDF_TEMPERATURE, fingerprint: str | None = None,
                  temperatures: Iterable[float] | None = None) -> OurResult:
    """Our result for ``formula`` from the finished production runs of ``source`` stored in ``db``: of the
    protocol settings ``fingerprint`` (None: those of the latest run), the last run per temperature
    (:func:`~amorphdb.database.api.latest_per_temperature`), at ``melt_temperature`` (K) and ``temperatures``
    (None: every stored one; ``()``: the melt only). D only where Li is diffusive (a flagged D is an upper
    bound); RDFs from the run at ``melt_temperature``; Ea by the package's Arrhenius rule over the other
    temperatures."""
    name = _reduced(formula)
    try:
        runs = db.show(name).runs
    except InputError:
        runs = []
    wanted = None if temperatures is None else {_t_key(t) for t in (melt_temperature, *temperatures)}
    last = {r.temperature: r for r in latest_per_temperature(
        (r for r in runs if r.source == source and r.stage == "production" and r.status == "done"
         and (wanted is None or _t_key(r.temperature) in wanted)), fingerprint)}
    density = {float(t): float(r.density) for t, r in sorted(last.items())
               if r.density is not None and math.isfinite(r.density)}
    d = {float(t): r.diffusivity[SPECIES][-1] for t, r in sorted(last.items()) if r.diffusivity.get(SPECIES)}
    d = {t: x for t, x in d.items() if x.diffusive is not False and math.isfinite(x.D)}
    quench = [t for t in d if abs(t - melt_temperature) > 1e-6]
    points = arrhenius_points(quench, [d[t].D for t in quench], [d[t].D_err for t in quench],
                              [d[t].diffusive for t in quench]) if quench else None
    fit = None if points is None else points.fit(SPECIES)
    melt = last.get(melt_temperature)
    rdf = None if melt is None else db.rdf(name, source, run_id=melt.id)  # the melt of these settings only
    return OurResult(name, source, rdf, density, {t: float(x.D) for t, x in d.items()},
                     None if fit is None else float(fit.Ea),
                     {t: float(x.D_err) for t, x in d.items() if x.D_err is not None and math.isfinite(x.D_err)},
                     None if fit is None else _finite(fit.Ea_err),
                     () if points is None else tuple(sorted({float(t) for t in points.temperature})))


def _finite(value: Any) -> float | None:
    return float(value) if value is not None and math.isfinite(float(value)) else None


@dataclass
class ValidationRecord:
    """One composition compared with the reference. R² are pooled over pairs and bins; ratios are ours /
    AIMD per temperature (K); ``Ea_diff`` = ours − AIMD (eV). None where either side lacks the quantity;
    ``error``: why our runs failed, if they did; ``Ea_note``: why there is an ``Ea`` but no ``Ea_diff``."""

    formula: str
    source: str
    rdf_r2: float | None = None
    rdf_r2_m3gnet: float | None = None  # ours against the paper's M3GNet
    m3gnet_rdf_r2: float | None = None  # the paper's M3GNet against DFT, same composition
    density_ratio: dict[float, float] = field(default_factory=dict)
    D_ratio: dict[float, float] = field(default_factory=dict)
    density: dict[float, float] = field(default_factory=dict)  # ours, g/cm³
    density_ref: dict[float, float] = field(default_factory=dict)
    D: dict[float, float] = field(default_factory=dict)  # ours, Einstein D, cm²/s
    D_ref: dict[float, float] = field(default_factory=dict)
    Ea: float | None = None
    Ea_ref: float | None = None  # AIMD over our temperatures
    Ea_diff: float | None = None  # Ea − Ea_ref
    error: str | None = None
    D_err: dict[float, float] = field(default_factory=dict)  # ours, cm²/s
    Ea_err: float | None = None  # ours, eV
    Ea_ref_all: float | None = None  # AIMD over all its temperatures
    Ea_note: str | None = None  # e.g. "the reference lacks 1000 K"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: per-temperature dicts keyed by the temperature as text (``"1000"``)."""
        return {k: {_t_key(t): x for t, x in v.items()} if isinstance(v, dict) else v
                for k, v in self.__dict__.items()}


def compare(ours: OurResult, reference: Reference) -> ValidationRecord:
    """``ours`` against ``reference`` on what both have (see :class:`ValidationRecord`)."""
    dft, m3g = reference.rdf(ours.formula, "DFT"), reference.rdf(ours.formula, "M3GNet")

    def r2(ref: pd.DataFrame | None, cand: pd.DataFrame | None) -> float | None:
        return None if ref is None or cand is None else rdf_r2(ref, cand)

    def ratios(mine: Mapping[float, float], theirs: Mapping[float, float]) -> dict[float, float]:
        return {t: mine[t] / theirs[t] for t in sorted(mine) if t in theirs and theirs[t] > 0}

    rho_ref, d_ref = reference.density(ours.formula), reference.diffusivity(ours.formula)
    ea_ref = reference.activation_energy(ours.formula, ours.Ea_temperatures) if ours.Ea is not None else None
    note = None
    if ours.Ea is not None and ea_ref is None:  # the AIMD Ea over another window would be no comparison
        lacking = [_t_key(t) for t in sorted(ours.Ea_temperatures) if float(t) not in d_ref]
        note = (f"the reference lacks {', '.join(lacking)} K" if lacking
                else f"too few temperatures for an AIMD Ea ({len(set(ours.Ea_temperatures))})")
    return ValidationRecord(
        ours.formula, ours.source, r2(dft, ours.rdf), r2(m3g, ours.rdf), r2(dft, m3g),
        ratios(ours.density, rho_ref), ratios(ours.D, d_ref), dict(ours.density), rho_ref, dict(ours.D), d_ref,
        ours.Ea, ea_ref, None if ours.Ea is None or ea_ref is None else ours.Ea - ea_ref,
        D_err=dict(ours.D_err), Ea_err=ours.Ea_err, Ea_ref_all=reference.activation_energy(ours.formula),
        Ea_note=note)


def validate(formulas: Sequence[str] = (), *, from_paper: int | None = None,
             reference: str | os.PathLike | Reference | None = None, engine: str = "chgnet",
             preset: str = "paper", melt_only: bool = False, stored: bool = False,
             db: Database | str | os.PathLike[str] | None = None, workdir: str | Path | None = None,
             device: str | None = None, workers: int | None = None, progress: bool = True,
             **overrides: Any) -> list[ValidationRecord]:
    """Run the protocol for each composition and compare it with the AIMD reference; one record each.

    ``formulas`` or ``from_paper`` (the first N reference compositions with D, or with a DFT RDF when
    ``melt_only``: :meth:`Reference.formulas`); ``reference`` a directory in the published layout (default:
    the shipped copy);
    ``engine``, ``preset``, ``device``, ``workdir`` and ``overrides`` (fields of ``ProtocolSettings``) as for
    :func:`amorphdb.run`; the compositions run in parallel as the campaign ``validate-mlip-<engine>`` of
    :func:`amorphdb.workflows.campaign.run_campaign` on ``workers`` processes (default: the free cores), so a
    rerun after a kill goes on where it stopped. ``melt_only`` runs 5000 K only (RDFs, no D or Ea); ``stored``
    runs nothing and compares the production runs of source ``mlip-<engine>`` already in ``db``. Only runs at the
    melt temperature and at ``temperatures`` (the preset's when not given; none with ``melt_only``) count. A
    composition whose MD fails gets a record with ``error`` set; the others go on. Every formula is checked against the
    reference first.
    """
    ref = reference if isinstance(reference, Reference) else load_reference(reference)
    temperatures = overrides.pop("temperatures", None)
    temperatures = [] if melt_only else temperatures
    names = _formulas(ref, formulas, from_paper, melt_only)
    db = as_database(db)
    source = f"mlip-{engine_name(engine)}"  # as amorphdb.run names it
    settings = settings_for(preset, **{**overrides, "temperatures": temperatures})
    fingerprint = settings.fingerprint()
    if stored:
        _check_stored(db, names, source, preset, fingerprint)
    failed: dict[str, str] = {}
    if not stored:
        from .campaign import run_campaign

        result = run_campaign(names, name=f"validate-{source}", preset=preset, engine=engine,
                              temperatures=temperatures, db=db.url, workdir=workdir, device=device,
                              workers=workers, progress=progress, **overrides)
        for outcome in result.outcomes:
            if outcome.status == "failed":
                failed.setdefault(outcome.formula, f"{outcome.task}: {outcome.message}")
    records = []
    for name in names:  # a failed task keeps what its other tasks stored, with the error beside it
        ours = stored_result(db, name, source, settings.melt_temperature, fingerprint, settings.temperatures)
        record = compare(ours, ref)
        record.error = failed.get(name)
        records.append(record)
    _store_reference(db, ref, names)
    return records


def _check_stored(db: Database, names: Sequence[str], source: str, preset: str, fingerprint: str) -> None:
    """InputError naming the compositions without finished production runs of ``source`` at the settings
    ``fingerprint`` in ``db``, and the presets whose runs are there instead."""
    keys = db.query(source=source)
    keys = keys[keys["stage"] == "production"]
    missing = [n for n in names if not keys[(keys["formula"] == n) & keys["key"].str.startswith(f"{fingerprint}/")
                                            & (keys["status"] == "done")].size]
    if not missing:
        return
    presets = {p.fingerprint(): name for name, p in PRESETS.items()}
    other = sorted({presets.get(k.split("/", 1)[0], k.split("/", 1)[0])
                    for k in keys[keys["formula"].isin(missing)]["key"]})
    hint = f" (stored: runs of {', '.join(other)}; choose with --preset and the same settings)" if other else ""
    raise InputError(f"no finished runs of {source} with the settings of --preset {preset} ({fingerprint}) for "
                     f"{', '.join(missing)} in {db.safe_url}{hint}: run them (amorphdb validate without --stored, "
                     "or amorphdb run) first")


def _formulas(ref: Reference, formulas: Iterable[str], from_paper: int | None, melt_only: bool) -> list[str]:
    """The reduced formulas to validate, each checked against the reference (InputError before any work)."""
    formulas = list(formulas)
    if bool(formulas) == (from_paper is not None):
        raise InputError("give formulas or --from-paper N, not both" if formulas else "give formulas or --from-paper N")
    if from_paper is not None:
        have = ref.formulas(with_d=not melt_only)
        if not 1 <= from_paper <= len(have):
            raise InputError(f"--from-paper must be between 1 and {len(have)} (compositions the reference has), "
                             f"got {from_paper}")
        return have[:from_paper]
    names = list(dict.fromkeys(_reduced(f) for f in formulas))
    for name in names:
        if not ref.has(name):
            raise InputError(f"{name} is not in the reference {ref.path} (no DFT RDF and no row of ml_features.csv)")
    return names


def _store_reference(db: Database, ref: Reference, names: Sequence[str]) -> None:
    """Import the reference into ``db`` when it lacks the reference's runs of ``names`` (source ``paper-aimd``),
    so that the web explorer's validation page compares them with ours."""
    have = set(db.query(source="paper-aimd")["formula"])
    if not set(names) <= have:
        log.info("validate: importing the reference %s into %s for the web explorer", ref.path, db.safe_url)
        db.import_paper(ref.path)
