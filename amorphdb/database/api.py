"""The :class:`Database` API: runs and their records in, tables and typed views out.

Every public write is one transaction: an error in the middle leaves the database as it was (see
:mod:`.connection` for SQLite's locking and PostgreSQL). Units: temperature K, volume Å³, density g/cm³,
energy eV/atom, pressure kbar, timestep fs, D cm²/s, Ea eV, r Å, σ S/cm.
"""

from __future__ import annotations

import json
import logging
import math
import os
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import fields as dataclass_fields
from typing import Any, TypeVar

import pandas as pd
from sqlalchemy import select, update
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from ..composition import parse_formula
from ..errors import DatabaseError, InputError
from ..units import EINSTEIN_TARGET, PAPER_D_UNIT
from . import rows as R
from .connection import CONNECT_TIMEOUT_S, Connection, upsert
from .schema import (
    CHILD_TABLES,
    RDF,
    RUN_FIELDS,
    AmorphousLimit,
    Arrhenius,
    Diffusivity,
    ElementReference,
    Feature,
    Material,
    Meta,
    Model,
    Relaxation,
    Run,
    StoredStructure,
    code_version,
    prepare,
)
from .views import (
    AmorphousLimitView,
    ArrheniusFit,
    ArrheniusView,
    ConductivityAt300K,
    DiffusivityView,
    MaterialView,
    ModelInfo,
    RDFView,
    RelaxationView,
    RunInfo,
    RunView,
    SourceRDFComparison,
    StructureView,
)

FITTED_STAGES = ("production", "imported")  # stages whose D enters an Arrhenius fit
FITTED_STATUSES = ("done", "imported", None)  # whose D enters a fit (None: none recorded); not running or failed
RUN_FEATURES = ("temperature", "density")  # features the protocol stores that are fields of the run itself
log = logging.getLogger(__name__)
RunT = TypeVar("RunT", bound=RunInfo)


def settings_fingerprint(key: str) -> str | None:
    """The protocol settings fingerprint of a run key ``<fingerprint>/T<K>/<stage>/<n>`` (a volume run's ends in
    ``/<label>``); None for any other key (imported data)."""
    parts = str(key).split("/")
    return parts[0] if len(parts) >= 4 and parts[1].startswith("T") else None


def melt_run_ids(runs: Sequence[tuple[int, Any, str]]) -> set[int]:
    """Ids of the melt production runs among ``runs`` (run id, protocol owner, key) of production runs; the owner
    is anything equal for the runs of one material and source.

    The protocol keys its runs ``<settings fingerprint>/T<K>/<stage>/<n>`` and melts before it quenches (every
    quench starts from the melt's last frame), so the melt is the first production run (lowest id) of each
    owner and fingerprint. Runs with other keys (imported data) are no protocol's melt.
    """
    first: dict[tuple[Any, str], int] = {}
    for run_id, owner, key in runs:
        fingerprint = settings_fingerprint(key)
        if fingerprint is not None and str(key).split("/")[2] == "production":
            group = (owner, fingerprint)
            first[group] = min(run_id, first.get(group, run_id))
    return set(first.values())


def latest_per_temperature(runs: Iterable[RunT], fingerprint: str | None = None) -> list[RunT]:
    """The latest run (highest id) of ``runs`` at each temperature, coldest first, all of one protocol setting:
    those of ``fingerprint``, or (None) those of the latest run's, so that the runs of two presets (or of settings
    changed between campaigns) never mix. Runs without a protocol key (imported data) are one setting of their own."""
    ordered = sorted(runs, key=lambda r: r.id)
    if fingerprint is None and ordered:
        fingerprint = settings_fingerprint(ordered[-1].key)
    last = {r.temperature: r for r in ordered if settings_fingerprint(r.key) == fingerprint}
    return [last[t] for t in sorted(last)]


class Database:
    """The amorphdb database at ``url``: ``None`` → ``$AMORPHDB_URL`` → the SQLite file in the user data dir.

    ``url`` is a SQLAlchemy URL (``sqlite:///path``, ``postgresql://user:pw@host/db``) or a bare file path
    (SQLite). A new database gets the schema; one of an older schema version is migrated; a newer one is
    refused.
    """

    def __init__(self, url: str | URL | os.PathLike | None = None, *, connect_timeout: float = CONNECT_TIMEOUT_S):
        self._conn = Connection(url, connect_timeout)
        self.url, self.safe_url = self._conn.url, self._conn.safe_url
        try:
            self._conn.write(lambda session: prepare(session, self.safe_url))
        except DatabaseError:
            self._conn.close()
            raise

    def __repr__(self) -> str:
        return f"Database({self.safe_url!r})"

    def close(self) -> None:
        """Release the connections (the database itself stays)."""
        self._conn.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def schema_version(self) -> int:
        return int(self._conn.read(lambda s: s.get(Meta, "schema_version").value))

    @staticmethod
    def _require_run(session: Session, run_id: int) -> Run:
        run = session.get(Run, run_id)
        if run is None:
            raise InputError(f"no run with id {run_id}")
        return run

    # -- runs --------------------------------------------------------------------------------------------

    def add_run(self, formula: str, *, source: str, temperature: float, stage: str, key: str | None = None,
                **fields: Any) -> int:
        """Add a run (or update the run with the same material, source and ``key``) and return its id.

        ``temperature`` in K; ``fields`` are those of :data:`RUN_FIELDS` (volume Å³, density g/cm³, energy
        eV/atom, pressure kbar, timestep fs ...). Without ``key`` a new run is made every time.
        """
        if not source:
            raise InputError("a run needs a source (e.g. 'mlip-chgnet')")
        if not stage:
            raise InputError("a run needs a stage (volume, check, production or imported)")
        row = {"temperature": R.temperature(temperature), "stage": stage, **R.clean_fields(fields)}
        key = str(key) if key is not None else f"run-{uuid.uuid4().hex[:16]}"

        def write(session: Session) -> int:
            material_id = R.material_ids(session, [formula], source)[formula]
            upsert(session, Run, [{"material_id": material_id, "source": source, "key": key, **row,
                                   "code_version": code_version()}], ["material_id", "source", "key"])
            return session.execute(select(Run.id).where(Run.material_id == material_id, Run.source == source,
                                                         Run.key == key)).scalar_one()

        return self._conn.write(write)

    def update_run(self, run_id: int, **fields: Any) -> None:
        """Change fields of a run (e.g. ``status="done"``, ``energy=...``); ``temperature``/``stage`` too."""
        values = R.clean_fields({k: v for k, v in fields.items() if k not in ("temperature", "stage")})
        if "stage" in fields:
            if not fields["stage"]:
                raise InputError("stage must not be empty")
            values["stage"] = str(fields["stage"])
        if "temperature" in fields:
            values["temperature"] = R.temperature(fields["temperature"])

        def write(session: Session) -> None:
            run = self._require_run(session, run_id)
            for name, value in values.items():
                setattr(run, name, value)
            run.code_version = code_version()

        self._conn.write(write)

    def get_run(self, formula: str, source: str, key: str) -> RunInfo | None:
        """The run of ``formula`` with this source and key, or None."""
        name = parse_formula(formula).reduced_formula
        stmt = (select(Run, Material.formula).join(Material)
                .where(Material.formula == name, Run.source == source, Run.key == str(key)))

        def read(session: Session) -> RunInfo | None:
            found = session.execute(stmt).first()
            return None if found is None else _run_fields(RunInfo, *found)

        return self._conn.read(read)

    def run(self, run_id: int) -> RunInfo:
        """The run with this id (InputError when there is none)."""
        def read(session: Session) -> RunInfo:
            run = self._require_run(session, run_id)
            return _run_fields(RunInfo, run, session.get(Material, run.material_id).formula)

        return self._conn.read(read)

    # -- per-run records ---------------------------------------------------------------------------------

    def _add_to_run(self, run_id: int, table: str, rows: list[dict[str, Any]], **run_fields: Any) -> None:
        """Upsert ``rows`` into the per-run ``table`` (of :data:`CHILD_TABLES`), stamped with the run's source;
        ``run_fields`` are set on the run in the same transaction."""
        model, keys = CHILD_TABLES[table]

        def write(session: Session) -> None:
            run = self._require_run(session, run_id)
            for name, value in run_fields.items():
                setattr(run, name, value)
            upsert(session, model, [{"run_id": run_id, **row, "source": run.source, "code_version": code_version()}
                                    for row in rows], keys)

        self._conn.write(write)

    def add_structure(self, run_id: int, structure: Any, label: str = "final") -> None:
        """Store a pymatgen ``Structure`` (or ASE ``Atoms``) for the run under ``label`` (replaces)."""
        self._add_to_run(run_id, "structures", [{"label": label, "structure": _structure_dict(structure)}])

    def structures(self, run_id: int) -> list:
        """The run's stored structures, as pymatgen ``Structure`` objects, in the order they were added."""
        from pymatgen.core import Structure

        stmt = select(StoredStructure.structure).where(StoredStructure.run_id == run_id).order_by(StoredStructure.id)
        return [Structure.from_dict(d) for d in self._conn.read(lambda s: s.scalars(stmt).all())]

    def add_diffusivity(self, run_id: int, species: str, D: float, D_err: float | None, method: str,
                        diffusive: bool = True) -> None:
        """D of ``species`` in the run (cm²/s) with its uncertainty; one value per species and method."""
        R.check_species(species)
        d = R.clean_float(D, "D")
        if d is None:
            raise InputError("D must be a number, got NaN/None")
        err = R.clean_float(D_err, "D_err")
        self._add_to_run(run_id, "diffusivities", [{"species": species, "D": d, "D_err": err, "method": str(method),
                                                    "diffusive": bool(diffusive)}])

    def add_features(self, run_id: int, features: dict[str, float], element_data: str | None = None) -> None:
        """Features of the run by name (the paper's column names); existing names are replaced.

        ``element_data`` names the source of the element data the compositional features were computed with
        (e.g. ``ElementTable.source``); it is stored on the run (None keeps what is stored).
        """
        rows = [{"name": str(k), "value": R.clean_float(v, f"feature {k!r}")} for k, v in features.items()]
        self._add_to_run(run_id, "features", rows,
                         **({} if element_data is None else {"element_data": str(element_data)}))

    def features(self, run_id: int) -> dict[str, float]:
        """The run's features by name, in the order they were stored (NaN where stored as missing)."""
        stmt = select(Feature.name, Feature.value).where(Feature.run_id == run_id).order_by(Feature.id)
        return {k: (math.nan if v is None else v) for k, v in self._conn.read(lambda s: s.execute(stmt).all())}

    def add_rdf(self, run_id: int, rdf: pd.DataFrame) -> None:
        """Partial RDFs of the run: a DataFrame with column ``r`` (Å) and one g(r) column per pair (``Li-S``)."""
        from ..analysis.rdf import validate_rdf

        self._add_to_run(run_id, "rdfs", R.rdf_rows(validate_rdf(rdf, "RDF table", allow_nan=True)))

    def rdf(self, formula: str, source: str, temperature: float | None = None,
            run_id: int | None = None) -> pd.DataFrame | None:
        """Partial RDFs of ``formula`` from ``source``: columns ``r`` (Å) and one per pair; None when absent.

        Those of run ``run_id``; else of the latest run with RDFs at ``temperature`` (K; default the highest
        temperature that has RDFs, as the paper's are at 5000 K).
        """
        name = parse_formula(formula).reduced_formula
        stmt = (select(Run.temperature, Run.id, RDF.pair, RDF.r, RDF.g).join(Run, RDF.run_id == Run.id)
                .join(Material).where(Material.formula == name, Run.source == source)
                .order_by(Run.temperature.desc(), Run.id.desc(), RDF.id))
        if run_id is not None:
            stmt = stmt.where(Run.id == run_id)
        rows = self._conn.read(lambda s: s.execute(stmt).all())
        if temperature is not None:
            rows = [row for row in rows if abs(row[0] - float(temperature)) < 1e-6]
        if not rows:
            return None
        rows = [row for row in rows if row[1] == rows[0][1]]  # one run: several would mix their pairs
        table = pd.DataFrame({"r": rows[0][3]})
        for _, _, pair, r, g in rows:
            if len(g) != len(table):
                raise DatabaseError(f"RDF {pair} of {name} ({source}) has another r grid than {rows[0][2]}")
            table[pair] = [math.nan if v is None else v for v in g]
        return table

    def compare_rdfs(self, formula: str, reference: str, candidate: str,
                     temperature: float | None = None) -> SourceRDFComparison:
        """R² of the stored RDFs of ``formula`` from source ``candidate`` against those from ``reference`` (e.g.
        "paper-aimd", "mlip-chgnet"), at ``temperature`` (K; default: the highest that has RDFs, per source).

        Raises :class:`InputError` when a source has no RDF of ``formula`` there.
        """
        from ..analysis.rdf import compare_rdfs, validate_rdf

        at = "" if temperature is None else f" at {temperature:g} K"
        tables = []
        for source in (reference, candidate):
            table = self.rdf(formula, source, temperature)
            if table is None:
                raise InputError(f"no RDF of {formula} from source {source!r}{at} in the database")
            tables.append(validate_rdf(table, f"{formula} {source}"))
        return SourceRDFComparison(formula, reference, candidate, temperature, compare_rdfs(*tables), *tables)

    # -- amorphous limits --------------------------------------------------------------------------------

    def element_reference(self, element: str, engine: str, engine_version: str, origin: str) -> float | None:
        """The stored reference energy (eV/atom) of ``element`` relaxed with this engine from ``origin``, or None."""
        stmt = select(ElementReference.energy).where(
            ElementReference.element == element, ElementReference.engine == engine,
            ElementReference.engine_version == engine_version, ElementReference.origin == origin)
        return self._conn.read(lambda s: s.scalars(stmt).first())

    def add_element_reference(self, element: str, *, engine: str, engine_version: str, origin: str, energy: float,
                              fmax: float, n_steps: int, structure: Any, source: str) -> None:
        """Store the relaxed reference of ``element`` (energy eV/atom, largest force left ``fmax`` eV/Å, the
        relaxed ``structure``: pymatgen or ASE) under its engine and ``origin`` (replaces)."""
        row = {"element": R.check_species(element), "engine": engine, "engine_version": engine_version,
               "origin": origin, "energy": R.clean_float(energy, "energy"), "fmax": R.clean_float(fmax, "fmax"),
               "n_steps": int(n_steps), "structure": _structure_dict(structure), "source": source,
               "code_version": code_version()}
        self._conn.write(lambda session: upsert(session, ElementReference, [row],
                                                ["element", "engine", "engine_version", "origin"]))

    def add_amorphous_limit(self, formula: str, *, source: str, key: str, **fields: Any) -> int:
        """Add the amorphous limit of ``formula`` with this source and ``key``, or change the fields of the
        stored one; returns its id. ``fields`` are columns of ``amorphous_limits`` (energies eV/atom, spacing
        ps, fmax eV/Å, temperature K)."""
        known = set(AmorphousLimit.__table__.columns.keys()) - {"id", "material_id", "source", "key", "code_version",
                                                                "created_at"}
        unknown = sorted(set(fields) - known)
        if unknown:
            raise InputError(f"unknown amorphous-limit field(s) {', '.join(unknown)} "
                             f"(known: {', '.join(sorted(known))})")
        values = {**R.clean_floats(fields), "code_version": code_version()}

        def write(session: Session) -> int:
            material_id = R.material_ids(session, [formula], source)[formula]
            where = (AmorphousLimit.material_id == material_id, AmorphousLimit.source == source,
                     AmorphousLimit.key == key)
            if session.execute(update(AmorphousLimit).where(*where).values(values)).rowcount == 0:
                # a new one; should another writer add it first, the upsert changes that one
                upsert(session, AmorphousLimit, [{"material_id": material_id, "source": source, "key": key,
                                                  **values}], ["material_id", "source", "key"])
            return session.execute(select(AmorphousLimit.id).where(*where)).scalar_one()

        return self._conn.write(write)

    def add_relaxation(self, limit_id: int, label: str, *, structure: Any, **fields: Any) -> None:
        """Store one relaxed snapshot of amorphous limit ``limit_id`` under ``label`` (replaces): its relaxed
        ``structure`` (pymatgen or ASE) and the fields of :class:`~amorphdb.database.views.RelaxationView`
        (all of them; InputError for a missing or unknown one)."""
        want = {f.name for f in dataclass_fields(RelaxationView)} - {"label"}
        if set(fields) != want:
            raise InputError(f"a relaxation needs the fields {', '.join(sorted(want))}; missing: "
                             f"{', '.join(sorted(want - set(fields))) or 'none'}, unknown: "
                             f"{', '.join(sorted(set(fields) - want)) or 'none'}")

        def write(session: Session) -> None:
            limit = session.get(AmorphousLimit, limit_id)
            if limit is None:
                raise InputError(f"no amorphous limit with id {limit_id}")
            upsert(session, Relaxation, [{"limit_id": limit_id, "label": label, **R.clean_floats(fields),
                                          "structure": _structure_dict(structure), "source": limit.source,
                                          "code_version": code_version()}], ["limit_id", "label"])

        self._conn.write(write)

    def amorphous_limits(self, formula: str | None = None, source: str | None = None) -> list[AmorphousLimitView]:
        """Stored amorphous limits (of one formula and/or source), oldest first, with their relaxations."""
        stmt = select(AmorphousLimit, Material.formula).join(Material)
        if formula is not None:
            stmt = stmt.where(Material.formula == parse_formula(formula).reduced_formula)
        if source is not None:
            stmt = stmt.where(AmorphousLimit.source == source)
        return self._conn.read(lambda session: _limit_views(session, stmt.order_by(AmorphousLimit.id)))

    def relaxed_structures(self, limit_id: int) -> dict[str, Any]:
        """The relaxed snapshots of amorphous limit ``limit_id`` as pymatgen ``Structure`` objects, by label."""
        from pymatgen.core import Structure

        stmt = select(Relaxation.label, Relaxation.structure).where(Relaxation.limit_id == limit_id) \
            .order_by(Relaxation.id)
        return {label: Structure.from_dict(d) for label, d in self._conn.read(lambda s: s.execute(stmt).all())}

    # -- per-material and global records -----------------------------------------------------------------

    def add_arrhenius(self, formula: str, source: str, species: str, Ea: float, Ea_err: float | None,
                      prefactor: float | None, prefactor_err: float | None, t_min: float | None,
                      t_max: float | None) -> None:
        """Arrhenius fit D = D0 exp(-Ea / kB T) of ``species``: Ea in eV, prefactor D0 in cm²/s, range in K."""
        R.check_species(species)
        row = {"species": species, "Ea": R.clean_float(Ea, "Ea"), "Ea_err": R.clean_float(Ea_err, "Ea_err"),
               "prefactor": R.clean_float(prefactor, "prefactor"),
               "prefactor_err": R.clean_float(prefactor_err, "prefactor_err"),
               "t_min": R.clean_float(t_min, "t_min"), "t_max": R.clean_float(t_max, "t_max")}
        if row["Ea"] is None:
            raise InputError("Ea must be a number, got NaN/None")

        def write(session: Session) -> None:
            material_id = R.material_ids(session, [formula], source)[formula]
            upsert(session, Arrhenius, [{"material_id": material_id, "source": source, **row,
                                         "code_version": code_version()}], ["material_id", "source", "species"])

        self._conn.write(write)

    def arrhenius(self, formula: str | None = None, source: str | None = None) -> pd.DataFrame:
        """Stored Arrhenius fits: formula, source, species, Ea, Ea_err (eV), prefactor, prefactor_err (cm²/s),
        t_min, t_max (K)."""
        cols = ["species", "Ea", "Ea_err", "prefactor", "prefactor_err", "t_min", "t_max"]
        stmt = select(Material.formula, Arrhenius.source, *(getattr(Arrhenius, c) for c in cols)).join(Material)
        if formula is not None:
            stmt = stmt.where(Material.formula == parse_formula(formula).reduced_formula)
        if source is not None:
            stmt = stmt.where(Arrhenius.source == source)
        rows = self._conn.read(lambda s: s.execute(stmt.order_by(Arrhenius.id)).all())
        return pd.DataFrame(rows, columns=["formula", "source", *cols])

    def fit_arrhenius(self, formula: str, species: str = "Li", source: str | None = None,
                      charge: float | None = None, store: bool = True) -> ArrheniusFit:
        """Fit D = D0 exp(−Ea / kB T) to the stored D of ``species`` in the finished production (and imported) runs
        of ``formula`` from ``source``, and extrapolate to 300 K.

        ``source`` None: the one source with such runs (InputError when there are several). Runs marked running
        or failed and a protocol's melt are left out; of the rest, the latest run at each temperature of the
        protocol settings of the latest run (:func:`latest_per_temperature`: two presets' runs never mix), with its
        latest D. Which points are kept, whether the fit is weighted and how many temperatures it needs
        is the package's one rule, :func:`amorphdb.analysis.arrhenius.arrhenius_points` (InputError when too
        few remain). With ``charge`` (e), also the Nernst–Einstein σ(300 K) at the stored density (g/cm³) of
        the coldest fitted run. ``store`` records the fit (:meth:`add_arrhenius`).
        """
        from ..analysis.arrhenius import RULE, arrhenius_points
        from ..analysis.conductivity import extrapolated_conductivity

        R.check_species(species)
        shown = self.show(formula)
        melts = melt_run_ids([(r.id, r.source, r.key) for r in shown.runs if r.stage == "production"])
        runs = [r for r in shown.runs if r.stage in FITTED_STAGES and r.status in FITTED_STATUSES
                and r.diffusivity.get(species) and r.id not in melts]
        if source is None:
            sources = list(dict.fromkeys(r.source for r in runs))
            if len(sources) > 1:
                raise InputError(f"{shown.formula}: D of {species} from several sources ({', '.join(sources)}): "
                                 "choose one")
            source = sources[0] if sources else ""
        runs = latest_per_temperature(r for r in runs if r.source == source)
        latest = [r.diffusivity[species][-1] for r in runs]
        points = arrhenius_points([r.temperature for r in runs], [d.D for d in latest], [d.D_err for d in latest],
                                  [d.diffusive for d in latest])
        if points is None:
            raise InputError(f"{shown.formula}: too few temperatures with a diffusive {species} D from source "
                             f"{source!r} ({len(runs)} runs): an Arrhenius fit needs {RULE}")
        fit = points.fit(species)
        kept = [i for i in range(len(runs)) if i not in points.excluded]
        if store:
            self.add_arrhenius(shown.formula, source, species, fit.Ea, fit.Ea_err, fit.prefactor, fit.prefactor_err,
                               fit.t_min, fit.t_max)
        sigma = None
        if charge is not None:
            densities = {runs[i].temperature: runs[i].density for i in kept if runs[i].density}
            if not densities:
                raise InputError(f"{shown.formula}: no density stored for the fitted runs of {source!r}: "
                                 "the conductivity needs one")
            t_cold = min(densities)
            sigma = ConductivityAt300K(extrapolated_conductivity(fit, shown.formula, densities[t_cold], charge),
                                       t_cold, charge)
        as_point = [(r.temperature, d.D, d.D_err) for r, d in zip(runs, latest)]
        return ArrheniusFit(shown.formula, source, species, fit, [as_point[i] for i in kept],
                            [as_point[i] for i in points.excluded], points.weighted, sigma)

    def add_model(self, name: str, kind: str, path: str | os.PathLike, metadata: dict[str, Any] | None = None,
                  source: str = "amorphdb") -> int:
        """Record a trained model (its file ``path`` and JSON-able ``metadata``; NaN and ±inf in it are stored as
        null) under ``name``; returns its id."""
        if not name:
            raise InputError("a model needs a name")
        # JSON-ready (other objects as text), NaN and ±inf as null at any depth: a CV score can be NaN
        meta = json.loads(json.dumps(metadata or {}, default=str), parse_constant=lambda _: None)
        row = {"name": str(name), "kind": str(kind), "path": os.fspath(path), "metadata": meta, "source": source,
               "code_version": code_version()}

        def write(session: Session) -> int:
            upsert(session, Model, [row], ["name"])
            return session.execute(select(Model.id).where(Model.name == row["name"])).scalar_one()

        return self._conn.write(write)

    def model(self, name: str) -> ModelInfo | None:
        """The model recorded under ``name``, or None."""
        found = self._conn.read(lambda s: s.scalars(select(Model).where(Model.name == name)).first())
        return None if found is None else _model_info(found)

    def models(self) -> list[ModelInfo]:
        """Every recorded model, by name."""
        # text is sorted here, not in SQL: SQLite compares bytes, PostgreSQL by its locale's collation
        found = self._conn.read(lambda s: s.scalars(select(Model)).all())
        return [_model_info(m) for m in sorted(found, key=lambda m: m.name)]

    # -- tables ------------------------------------------------------------------------------------------

    def training_table(self, source: str = "paper-aimd", species: str = "Li") -> pd.DataFrame:
        """The runs of ``source`` a model can learn D of ``species`` from, laid out like ``ml_features.csv``.

        Rows: production runs at the quench temperatures (a protocol's melt, :func:`melt_run_ids`, is left
        out), with a D of ``species`` flagged diffusive (the latest one stored; a non-diffusive D is an upper
        bound, not a label) and with features. Columns: ``formula``, ``D_einstein_mul_thousand`` (Einstein D ×
        1000, D in cm²/s), ``temperature`` (the run's, K), then the features in the order they were first stored;
        the features that repeat a field of the run (``temperature``, ``density``) are not columns. The database
        holds Einstein tracer D for every source (the paper's are converted on import), so the column's name says
        so, and ``table.attrs["D_convention"] == "einstein"`` (:data:`amorphdb.units.D_CONVENTIONS`); the published
        table's ``diff_coeff_mul_thousand`` is 3 × that (:data:`amorphdb.units.PAPER_D_FACTOR`).
        """

        def read(session: Session) -> tuple[list, list, list]:
            runs = session.execute(select(Run.id, Material.formula, Run.temperature, Run.key, Run.material_id)
                                   .join(Material).where(Run.source == source, Run.stage == "production")
                                   .order_by(Run.id)).all()
            ds = session.execute(select(Diffusivity.run_id, Diffusivity.D, Diffusivity.diffusive).join(Run)
                                 .where(Run.source == source, Diffusivity.species == species)
                                 .order_by(Diffusivity.id)).all()
            fs = session.execute(select(Feature.run_id, Feature.name, Feature.value).join(Run)
                                 .where(Run.source == source).order_by(Feature.id)).all()
            return runs, ds, fs

        runs, ds, fs = self._conn.read(read)
        d_of = {run_id: (d, diffusive) for run_id, d, diffusive in ds}  # the latest value when several exist
        melts = melt_run_ids([(r[0], r[4], r[3]) for r in runs])
        flagged = sum(1 for r in runs if r[0] in d_of and r[0] not in melts and not d_of[r[0]][1])
        if flagged:
            log.info("training table of %s: %d run(s) with a non-diffusive D of %s left out", source, flagged, species)
        runs = [r for r in runs if r[0] in d_of and d_of[r[0]][1] and r[0] not in melts]
        table = pd.DataFrame({"run_id": [r[0] for r in runs], "formula": [r[1] for r in runs],
                              EINSTEIN_TARGET: [d_of[r[0]][0] / PAPER_D_UNIT for r in runs],
                              "temperature": [r[2] for r in runs]})
        long = pd.DataFrame(fs, columns=["run_id", "name", "value"])
        long = long[~long["name"].isin(RUN_FEATURES)]
        if long.empty:
            table = table.iloc[0:0]
        else:
            wide = long.pivot(index="run_id", columns="name", values="value")[list(dict.fromkeys(long["name"]))]
            table = table.merge(wide, left_on="run_id", right_index=True, how="inner")
            table["temperature"] = _whole_kelvins(table["temperature"])
        table = table.drop(columns="run_id").reset_index(drop=True)
        table.attrs["D_convention"] = "einstein"
        return table

    def query(self, elements: Sequence[str] | str | None = None, exclude: Sequence[str] | str | None = None,
              temperature: float | None = None, t_min: float | None = None, t_max: float | None = None,
              d_min: float | None = None, d_max: float | None = None, source: str | None = None,
              species: str = "Li") -> pd.DataFrame:
        """Runs whose material contains all ``elements`` and none of ``exclude``, filtered by temperature (K),
        D of ``species`` (cm²/s) and source. One row per run: run_id, formula, source, key, stage, temperature,
        status, engine, density, D, D_err, method, diffusive (the latest D of ``species`` stored for the run;
        ``diffusive`` False: not diffusive in the run, D is an upper bound; None: no D). The D bounds apply to D
        as stored, upper bounds included."""
        want, avoid = _element_list(elements), _element_list(exclude)
        R.check_species(species)
        bounds = {n: R.clean_float(v, n) for n, v in
                  {"temperature": temperature, "t_min": t_min, "t_max": t_max, "d_min": d_min, "d_max": d_max}.items()}
        for low, high in (("t_min", "t_max"), ("d_min", "d_max")):
            if bounds[low] is not None and bounds[high] is not None and bounds[low] > bounds[high]:
                raise InputError(f"{low} = {bounds[low]:g} is above {high} = {bounds[high]:g}")

        def read(session: Session) -> tuple[list, list]:
            materials = session.execute(select(Material.id, Material.elements)).all()
            keep = [m for m, els in materials if set(want) <= set(els) and not set(avoid) & set(els)]
            stmt = (select(Run.id, Material.formula, Run.source, Run.key, Run.stage, Run.temperature, Run.status,
                           Run.engine, Run.density).join(Material).where(Run.material_id.in_(keep)))
            if source is not None:
                stmt = stmt.where(Run.source == source)
            if bounds["temperature"] is not None:
                stmt = stmt.where(Run.temperature.between(bounds["temperature"] - 1e-6, bounds["temperature"] + 1e-6))
            if bounds["t_min"] is not None:
                stmt = stmt.where(Run.temperature >= bounds["t_min"])
            if bounds["t_max"] is not None:
                stmt = stmt.where(Run.temperature <= bounds["t_max"])
            runs = sorted(session.execute(stmt).all(), key=lambda r: (r.formula, r.source, r.temperature, r.id))
            ds = session.execute(select(Diffusivity.run_id, Diffusivity.D, Diffusivity.D_err, Diffusivity.method,
                                        Diffusivity.diffusive).join(Run)
                                 .where(Run.material_id.in_(keep), Diffusivity.species == species)
                                 .order_by(Diffusivity.id)).all()
            return runs, ds

        runs, ds = self._conn.read(read)
        d_of = {run_id: values for run_id, *values in ds}
        cols = ["run_id", "formula", "source", "key", "stage", "temperature", "status", "engine", "density"]
        table = pd.DataFrame(runs, columns=cols)
        table["density"] = pd.to_numeric(table["density"].astype(object), errors="coerce")
        extra = [d_of.get(run_id, (None, None, None, None)) for run_id in table["run_id"]]
        table["D"] = pd.to_numeric(pd.Series([e[0] for e in extra], dtype=object), errors="coerce")
        table["D_err"] = pd.to_numeric(pd.Series([e[1] for e in extra], dtype=object), errors="coerce")
        table["method"] = [e[2] for e in extra]
        table["diffusive"] = pd.Series([e[3] for e in extra], dtype=object)
        if bounds["d_min"] is not None:
            table = table[table["D"] >= bounds["d_min"]]
        if bounds["d_max"] is not None:
            table = table[table["D"] <= bounds["d_max"]]
        table["temperature"] = _whole_kelvins(table["temperature"])
        return table.reset_index(drop=True)

    def show(self, formula: str) -> MaterialView:
        """Everything known about one composition: runs (with D per species, features and their element data
        source), Arrhenius fits, which RDFs exist, stored structures. ``.to_dict()`` gives it as JSON-ready
        dicts. InputError when the database has nothing on it."""
        name = parse_formula(formula).reduced_formula

        def read(session: Session) -> MaterialView:
            material = session.scalars(select(Material).where(Material.formula == name)).first()
            if material is None:
                raise InputError(f"no data on {name} in {self.safe_url}")
            runs = sorted(session.scalars(select(Run).where(Run.material_id == material.id)).all(),
                          key=lambda r: (r.source, r.temperature, r.id))
            run_ids = [r.id for r in runs]
            ds = session.scalars(select(Diffusivity).where(Diffusivity.run_id.in_(run_ids))
                                 .order_by(Diffusivity.id)).all()
            fs = session.execute(select(Feature.run_id, Feature.name, Feature.value)
                                 .where(Feature.run_id.in_(run_ids)).order_by(Feature.id)).all()
            rdfs = session.execute(select(RDF.run_id, RDF.pair).where(RDF.run_id.in_(run_ids)).order_by(RDF.id)).all()
            sts = session.execute(select(StoredStructure.run_id, StoredStructure.label)
                                  .where(StoredStructure.run_id.in_(run_ids)).order_by(StoredStructure.id)).all()
            arr = session.scalars(select(Arrhenius).where(Arrhenius.material_id == material.id)
                                  .order_by(Arrhenius.id)).all()
            limits = _limit_views(session, select(AmorphousLimit, Material.formula).join(Material)
                                  .where(AmorphousLimit.material_id == material.id).order_by(AmorphousLimit.id))
            by_run = {r.id: _run_fields(RunView, r, material.formula) for r in runs}
            for d in ds:
                by_run[d.run_id].diffusivity.setdefault(d.species, []).append(
                    DiffusivityView(D=d.D, D_err=d.D_err, method=d.method, diffusive=d.diffusive))
            for run_id, fname, value in fs:
                by_run[run_id].features[fname] = value
            pairs: dict[int, list[str]] = {}
            for run_id, pair in rdfs:
                pairs.setdefault(run_id, []).append(pair)
            labels: dict[int, list[str]] = {}
            for run_id, label in sts:
                labels.setdefault(run_id, []).append(label)
            return MaterialView(
                formula=material.formula, elements=material.elements, composition=material.composition,
                runs=list(by_run.values()),
                arrhenius=[ArrheniusView(a.source, a.species, a.Ea, a.Ea_err, a.prefactor, a.prefactor_err,
                                         a.t_min, a.t_max) for a in arr],
                rdfs=[RDFView(i, by_run[i].source, by_run[i].key, by_run[i].temperature, p) for i, p in pairs.items()],
                structures=[StructureView(i, by_run[i].source, by_run[i].key, ls) for i, ls in labels.items()],
                amorphous_limits=limits)

        return self._conn.read(read)

    def summary(self) -> pd.DataFrame:
        """Counts per source and temperature: runs, compositions, runs with D, with features, with RDFs."""

        def read(session: Session) -> list:
            runs = session.execute(select(Run.id, Run.source, Run.temperature, Run.material_id)).all()
            with_d = set(session.scalars(select(Diffusivity.run_id).distinct()).all())
            with_f = set(session.scalars(select(Feature.run_id).distinct()).all())
            with_rdf = set(session.scalars(select(RDF.run_id).distinct()).all())
            return [(src, t, m, i in with_d, i in with_f, i in with_rdf) for i, src, t, m in runs]

        rows = pd.DataFrame(self._conn.read(read),
                            columns=["source", "temperature", "material", "D", "features", "RDF"])
        if rows.empty:
            return pd.DataFrame(columns=["source", "temperature", "runs", "compositions", "with_D",
                                         "with_features", "with_RDF"])
        table = rows.groupby(["source", "temperature"]).agg(
            runs=("material", "size"), compositions=("material", "nunique"), with_D=("D", "sum"),
            with_features=("features", "sum"), with_RDF=("RDF", "sum")).reset_index()
        table["temperature"] = _whole_kelvins(table["temperature"])
        return table

    # -- files -------------------------------------------------------------------------------------------

    def import_paper(self, path: str | os.PathLike | None = None) -> pd.DataFrame:
        """Load the paper's published data from directory ``path`` (see
        :func:`amorphdb.database.importers.paper.import_paper`; None: the copy shipped with the package,
        :func:`amorphdb.data.paper_dir`); idempotent. Returns :meth:`summary`."""
        from .importers.paper import import_paper

        if path is None:
            from ..data import paper_dir

            path = paper_dir()
        import_paper(self._conn, path)
        return self.summary()

    def export(self, path: str | os.PathLike, format: str = "json") -> dict[str, int]:
        """Write the whole database to ``path`` as JSON or CSV (:func:`amorphdb.database.transfer.export`).
        Returns rows per table."""
        from .transfer import export

        return export(self._conn, path, format)

    def import_file(self, path: str | os.PathLike) -> dict[str, int]:
        """Read a file written by :meth:`export` (JSON or CSV) into this database, merging by natural keys
        (:func:`amorphdb.database.transfer.import_file`). Returns rows per table."""
        from .transfer import import_file

        return import_file(self._conn, path)


def _model_info(model: Model) -> ModelInfo:
    return ModelInfo(id=model.id, name=model.name, kind=model.kind, path=model.path, metadata=model.metadata_,
                     source=model.source, code_version=model.code_version, created_at=R.utc(model.created_at))


def _run_fields(cls: type[RunInfo], run: Run, formula: str) -> RunInfo:
    """A :class:`RunInfo` (or :class:`RunView`, records empty) of a stored run."""
    return cls(id=run.id, formula=formula, source=run.source, key=run.key, temperature=run.temperature,
               stage=run.stage, **{k: getattr(run, k) for k in RUN_FIELDS}, code_version=run.code_version,
               created_at=R.utc(run.created_at), element_data=run.element_data)


def _structure_dict(structure: Any) -> dict[str, Any]:
    """A pymatgen ``Structure`` (or ASE ``Atoms``) as the JSON dict the tables hold."""
    from pymatgen.core import Structure

    if not isinstance(structure, Structure):
        try:
            from pymatgen.io.ase import AseAtomsAdaptor

            structure = AseAtomsAdaptor.get_structure(structure)
        except Exception:
            raise InputError(f"not a structure: {type(structure).__name__}") from None
    return json.loads(structure.to_json())


def _limit_views(session: Session, stmt: Any) -> list[AmorphousLimitView]:
    """The amorphous limits selected by ``stmt`` (rows of AmorphousLimit and the formula), with relaxations."""
    found = session.execute(stmt).all()
    relax = session.scalars(select(Relaxation).where(Relaxation.limit_id.in_([a.id for a, _ in found]))
                            .order_by(Relaxation.id)).all()
    by_limit: dict[int, list[RelaxationView]] = {}
    for r in relax:
        by_limit.setdefault(r.limit_id, []).append(RelaxationView(
            r.label, r.frame, r.time_ps, r.status, r.message, r.n_steps, r.fmax, r.energy, r.formation_energy,
            r.volume))
    skip = {"id", "material_id", "created_at"}
    return [AmorphousLimitView(id=a.id, formula=formula, created_at=R.utc(a.created_at),
                               relaxations=by_limit.get(a.id, []),
                               **{c: getattr(a, c) for c in AmorphousLimit.__table__.columns.keys() if c not in skip})
            for a, formula in found]


def _whole_kelvins(column: pd.Series) -> pd.Series:
    """Temperatures come back as floats; show whole kelvins as integers."""
    if len(column) and all(float(t).is_integer() for t in column):
        return column.astype("int64")
    return column


def _element_list(value: Sequence[str] | str | None) -> list[str]:
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    found = [R.check_species(item.strip()) for item in items if item.strip()]
    if isinstance(value, str) and not found:
        raise InputError(f"no element in {value!r} (give symbols separated by commas, e.g. Li,S)")
    return found
