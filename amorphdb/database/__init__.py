"""The database: SQLAlchemy schema and the :class:`Database` API (SQLite by default, PostgreSQL by URL).

Everything hangs off a **run**: one MD run of one material at one temperature and stage, ours or imported.
Tables: ``materials`` (reduced formula, elements, atom counts), ``runs``, ``diffusivities`` (per run and
species), ``arrhenius`` (per material, source and species), ``features`` (per run, long format), ``rdfs``
(per run and element pair), ``structures`` (pymatgen JSON per run and label), ``models`` (trained models),
and ``meta`` (the schema version). Every record carries its provenance: ``source`` (``paper-aimd``,
``paper-m3gnet``, ``mlip-chgnet`` ...), ``code_version`` (the amorphdb version that wrote it) and
``created_at`` (UTC).

Units: temperature K, volume Å³, density g/cm³, energy eV/atom, pressure kbar, timestep fs, D cm²/s,
Ea eV, r Å.

Every public write is one transaction: an error in the middle leaves the database as it was. SQLite runs in
WAL mode; writers take the lock up front (``BEGIN IMMEDIATE``), wait for each other (busy timeout) and retry
on "database is locked", so several processes can write at once. Upserts use the back end's
``INSERT ... ON CONFLICT`` (SQLite and PostgreSQL only), which keeps bulk imports at a few seconds.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Double,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    inspect,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.pool import StaticPool

from ..composition import parse_formula
from ..errors import DatabaseError, InputError, first_line
from ..units import AMU_PER_A3_IN_G_PER_CM3

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
ENV_URL = "AMORPHDB_URL"
CONNECT_TIMEOUT_S = 5.0  # how long to wait for a database server to answer
LOCK_TIMEOUT_S = 60.0  # how long a writer waits for another one (SQLite)
PAPER_SOURCES = {"DFT": ("paper-aimd", "vasp"), "M3GNet": ("paper-m3gnet", "m3gnet")}
PAPER_RDF_TEMPERATURE = 5000.0  # K: the paper's RDFs are averages over its 5000 K trajectories
PAPER_TARGET = "diff_coeff_mul_thousand"  # the paper's table stores D in 1e-3 cm²/s

T = TypeVar("T")


def _code_version() -> str:
    from .. import __version__

    return __version__


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


# ----------------------------------------------------------------------------------------------------------
# Schema
# ----------------------------------------------------------------------------------------------------------


class Base(DeclarativeBase):
    type_annotation_map = {float: Double, datetime: DateTime(timezone=True), dict: JSON, list: JSON}


class _Provenance:
    source: Mapped[str] = mapped_column(String, index=True)
    code_version: Mapped[str] = mapped_column(String, default=_code_version)
    created_at: Mapped[datetime] = mapped_column(default=_utcnow)


class _OfMaterial(_Provenance):
    id: Mapped[int] = mapped_column(primary_key=True)
    material_id: Mapped[int] = mapped_column(ForeignKey("materials.id", ondelete="CASCADE"), index=True)


class _OfRun(_Provenance):
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)


class Meta(Base):
    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String, primary_key=True)
    value: Mapped[str] = mapped_column(String)


class Material(_Provenance, Base):
    """A composition, keyed by its reduced formula (pymatgen's spelling)."""

    __tablename__ = "materials"
    id: Mapped[int] = mapped_column(primary_key=True)
    formula: Mapped[str] = mapped_column(String, unique=True)
    elements: Mapped[list] = mapped_column()  # sorted element symbols
    composition: Mapped[dict] = mapped_column()  # element -> atoms per reduced formula unit
    n_elements: Mapped[int] = mapped_column(Integer)


class Run(_OfMaterial, Base):
    """One MD run (or one imported row) of a material at one temperature and stage."""

    __tablename__ = "runs"
    __table_args__ = (UniqueConstraint("material_id", "source", "key"),)
    key: Mapped[str] = mapped_column(String)
    temperature: Mapped[float] = mapped_column()  # K
    stage: Mapped[str] = mapped_column(String)
    engine: Mapped[str | None] = mapped_column(String)
    engine_version: Mapped[str | None] = mapped_column(String)
    volume: Mapped[float | None] = mapped_column()  # Å³
    density: Mapped[float | None] = mapped_column()  # g/cm³
    energy: Mapped[float | None] = mapped_column()  # eV/atom, mean
    pressure: Mapped[float | None] = mapped_column()  # kbar, mean
    n_atoms: Mapped[int | None] = mapped_column(Integer)
    n_steps: Mapped[int | None] = mapped_column(Integer)
    timestep: Mapped[float | None] = mapped_column()  # fs
    status: Mapped[str | None] = mapped_column(String)
    trajectory_path: Mapped[str | None] = mapped_column(Text)
    trajectory_sha256: Mapped[str | None] = mapped_column(String)
    message: Mapped[str | None] = mapped_column(Text)


class Diffusivity(_OfRun, Base):
    __tablename__ = "diffusivities"
    __table_args__ = (UniqueConstraint("run_id", "species", "method"),)
    species: Mapped[str] = mapped_column(String)
    D: Mapped[float] = mapped_column()  # cm²/s
    D_err: Mapped[float | None] = mapped_column()  # cm²/s
    method: Mapped[str] = mapped_column(String)
    diffusive: Mapped[bool] = mapped_column(Boolean)


class Arrhenius(_OfMaterial, Base):
    __tablename__ = "arrhenius"
    __table_args__ = (UniqueConstraint("material_id", "source", "species"),)
    species: Mapped[str] = mapped_column(String)
    Ea: Mapped[float] = mapped_column()  # eV
    Ea_err: Mapped[float | None] = mapped_column()  # eV
    prefactor: Mapped[float | None] = mapped_column()  # cm²/s
    prefactor_err: Mapped[float | None] = mapped_column()  # cm²/s
    t_min: Mapped[float | None] = mapped_column()  # K
    t_max: Mapped[float | None] = mapped_column()  # K


class Feature(_OfRun, Base):
    __tablename__ = "features"
    __table_args__ = (UniqueConstraint("run_id", "name"),)
    name: Mapped[str] = mapped_column(String)
    value: Mapped[float | None] = mapped_column()


class RDF(_OfRun, Base):
    __tablename__ = "rdfs"
    __table_args__ = (UniqueConstraint("run_id", "pair"),)
    pair: Mapped[str] = mapped_column(String)  # "Li-S"
    r: Mapped[list] = mapped_column()  # Å
    g: Mapped[list] = mapped_column()


class StoredStructure(_OfRun, Base):
    __tablename__ = "structures"
    __table_args__ = (UniqueConstraint("run_id", "label"),)
    label: Mapped[str] = mapped_column(String)
    structure: Mapped[dict] = mapped_column()  # pymatgen Structure.as_dict()


class Model(_Provenance, Base):
    __tablename__ = "models"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String, unique=True)
    kind: Mapped[str] = mapped_column(String)
    path: Mapped[str] = mapped_column(Text)
    metadata_: Mapped[dict] = mapped_column("metadata", JSON)


# Optional run fields of add_run/update_run and their types.
RUN_FIELDS: dict[str, type] = {
    "engine": str, "engine_version": str, "volume": float, "density": float, "energy": float,
    "pressure": float, "n_atoms": int, "n_steps": int, "timestep": float, "status": str,
    "trajectory_path": str, "trajectory_sha256": str, "message": str,
}


@dataclass(frozen=True)
class RunInfo:
    """One run as stored (units: K, Å³, g/cm³, eV/atom, kbar, fs)."""

    id: int
    formula: str
    source: str
    key: str
    temperature: float
    stage: str
    engine: str | None
    engine_version: str | None
    volume: float | None
    density: float | None
    energy: float | None
    pressure: float | None
    n_atoms: int | None
    n_steps: int | None
    timestep: float | None
    status: str | None
    trajectory_path: str | None
    trajectory_sha256: str | None
    message: str | None
    code_version: str
    created_at: datetime


@dataclass(frozen=True)
class ModelInfo:
    """A trained model: where its file is and what was recorded about it."""

    id: int
    name: str
    kind: str
    path: str
    metadata: dict[str, Any]
    source: str
    code_version: str
    created_at: datetime


# ----------------------------------------------------------------------------------------------------------
# Export layout: every table by natural keys (formula, source, key) instead of ids, so that an export can be
# read into any database. Field kinds drive the CSV encoding.
# ----------------------------------------------------------------------------------------------------------

_STAMP = {"code_version": "str", "created_at": "datetime"}
_PROV = {"source": "str", **_STAMP}
_RUN_REF = {"formula": "str", "source": "str", "key": "str"}
EXPORT_TABLES: dict[str, dict[str, str]] = {
    "materials": {"formula": "str", "elements": "json", "composition": "json", "n_elements": "int", **_PROV},
    "runs": {**_RUN_REF, "temperature": "float", "stage": "str",
             **{k: {str: "str", float: "float", int: "int"}[t] for k, t in RUN_FIELDS.items()}, **_STAMP},
    "diffusivities": {**_RUN_REF, "species": "str", "D": "float", "D_err": "float", "method": "str",
                      "diffusive": "bool", **_STAMP},
    "arrhenius": {"formula": "str", "source": "str", "species": "str", "Ea": "float", "Ea_err": "float",
                  "prefactor": "float", "prefactor_err": "float", "t_min": "float", "t_max": "float", **_STAMP},
    "features": {**_RUN_REF, "name": "str", "value": "float", **_STAMP},
    "rdfs": {**_RUN_REF, "pair": "str", "r": "json", "g": "json", **_STAMP},
    "structures": {**_RUN_REF, "label": "str", "structure": "json", **_STAMP},
    "models": {"name": "str", "kind": "str", "path": "str", "metadata": "json", **_PROV},
}
_CHILD_TABLES: dict[str, tuple[type[Base], tuple[str, ...]]] = {
    "diffusivities": (Diffusivity, ("run_id", "species", "method")),
    "features": (Feature, ("run_id", "name")),
    "rdfs": (RDF, ("run_id", "pair")),
    "structures": (StoredStructure, ("run_id", "label")),
}
_MATERIAL_DERIVED = ("formula", "elements", "composition", "n_elements")  # recomputed from the formula
EXPORT_FORMAT = "amorphdb-export"


# ----------------------------------------------------------------------------------------------------------
# URLs and engines
# ----------------------------------------------------------------------------------------------------------


def default_url() -> str:
    """``$AMORPHDB_URL``, else the SQLite file ``$XDG_DATA_HOME/amorphdb/amorphdb.sqlite``
    (``~/.local/share/amorphdb/amorphdb.sqlite`` when XDG_DATA_HOME is unset)."""
    if os.environ.get(ENV_URL):
        return os.environ[ENV_URL]
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return f"sqlite:///{data_home / 'amorphdb' / 'amorphdb.sqlite'}"


def _normalise_url(url: str | URL | os.PathLike | None) -> str:
    """A SQLAlchemy URL from a URL, a bare file path (SQLite) or None (the default)."""
    if url is None:
        url = default_url()
    if isinstance(url, URL):
        return url.render_as_string(hide_password=False)
    url = os.fspath(url)
    if not url.strip():
        raise InputError("empty database URL")
    if "://" not in url:  # a bare path: an SQLite file
        url = f"sqlite:///{Path(url).expanduser().resolve()}"
    return url


def _is_locked(exc: BaseException) -> bool:
    msg = str(getattr(exc, "orig", exc)).lower()
    return "database is locked" in msg or "database table is locked" in msg or "busy" in msg


def _make_engine(url: str, connect_timeout: float) -> Engine:
    try:
        u = make_url(url)
    except ArgumentError as exc:
        raise DatabaseError(f"cannot parse database URL {url!r}: {first_line(exc)}") from None
    backend = u.get_backend_name()
    if backend == "sqlite":
        if u.database and u.database != ":memory:":
            try:
                Path(u.database).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DatabaseError(f"cannot create the folder of SQLite file {u.database}: {exc.strerror}") from None
            engine = create_engine(u, connect_args={"timeout": LOCK_TIMEOUT_S})
        else:
            engine = create_engine(u, connect_args={"check_same_thread": False}, poolclass=StaticPool)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record):
            dbapi_conn.isolation_level = None  # SQLAlchemy's "begin" event below emits BEGIN itself
            cursor = dbapi_conn.cursor()
            cursor.execute(f"PRAGMA busy_timeout = {int(LOCK_TIMEOUT_S * 1000)}")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn):
            # writers take the write lock up front: no deadlock between two readers that both upgrade
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("write") else "BEGIN")

        return engine
    if backend == "postgresql":
        if u.drivername == "postgresql":
            u = u.set(drivername="postgresql+psycopg")
        try:
            return create_engine(u, connect_args={"connect_timeout": max(1, int(round(connect_timeout)))},
                                 pool_pre_ping=True)
        except ImportError as exc:
            raise DatabaseError(f"no driver for {u.drivername}: {exc} (pip install 'psycopg[binary]')") from None
    raise DatabaseError(f"unsupported database back end {backend!r}: use sqlite:///FILE or postgresql://...")


def _clean_float(value: Any, what: str) -> float | None:
    if value is None:
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be a number, got {value!r}") from None
    return None if math.isnan(x) else x


def _temperature(value: Any) -> float:
    """A run temperature (K): a positive number."""
    t = _clean_float(value, "temperature")
    if t is None or t <= 0:
        raise InputError(f"temperature must be positive (K), got {value!r}")
    return t


def _clean_fields(fields: dict[str, Any]) -> dict[str, Any]:
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
            x = _clean_float(value, name)
            if x is not None and x != int(x):
                raise InputError(f"{name} must be a whole number, got {value!r}")
            out[name] = None if x is None else int(x)
        else:
            out[name] = _clean_float(value, name)
    return out


def _check_species(species: str) -> str:
    from pymatgen.core import Element

    if not isinstance(species, str) or not Element.is_valid_symbol(species):
        raise InputError(f"unknown element {species!r}")
    return species


def _material_row(formula: str) -> dict[str, Any]:
    comp = parse_formula(formula).reduced_composition
    amounts = {str(el): int(round(n)) for el, n in comp.items()}
    return {"formula": comp.reduced_formula, "elements": sorted(amounts), "composition": amounts,
            "n_elements": len(amounts)}


def _utc(value: datetime) -> datetime:
    """SQLite gives naive datetimes back: they were written in UTC."""
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


# ----------------------------------------------------------------------------------------------------------
# The API
# ----------------------------------------------------------------------------------------------------------


class Database:
    """The amorphdb database at ``url``: ``None`` → ``$AMORPHDB_URL`` → the SQLite file in the user data dir.

    ``url`` is a SQLAlchemy URL (``sqlite:///path``, ``postgresql://user:pw@host/db``) or a bare file path
    (SQLite). A new database gets the schema; an existing one must have this schema version.
    """

    def __init__(self, url: str | URL | os.PathLike | None = None, *, connect_timeout: float = CONNECT_TIMEOUT_S):
        self.url = _normalise_url(url)
        self._engine = _make_engine(self.url, connect_timeout)
        self._writer = self._engine.execution_options(write=True)
        self._dialect = self._engine.dialect.name
        self.safe_url = self._engine.url.render_as_string(hide_password=True)
        try:
            self._write(self._init_schema)
        except DatabaseError:
            self._engine.dispose()
            raise

    def __repr__(self) -> str:
        return f"Database({self.safe_url!r})"

    def close(self) -> None:
        """Release the connections (the database itself stays)."""
        self._engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions ------------------------------------------------------------------------------------

    def _error(self, exc: DBAPIError) -> DatabaseError:
        msg = first_line(exc)
        if "not a database" in msg:
            return DatabaseError(f"{self.safe_url} is not a database ({msg})")
        if isinstance(exc, OperationalError) and ("connect" in msg.lower() or "timeout" in msg.lower()
                                                  or "unable to open" in msg.lower()):
            return DatabaseError(f"cannot open database {self.safe_url}: {msg}")
        return DatabaseError(f"database {self.safe_url}: {msg}")

    def _write(self, fn: Callable[[Session], T]) -> T:
        """Run ``fn(session)`` in one write transaction, retried while another writer holds the lock."""
        deadline = time.monotonic() + LOCK_TIMEOUT_S
        delay = 0.05
        while True:
            try:
                with Session(self._writer) as session, session.begin():
                    return fn(session)
            except DBAPIError as exc:
                if not (_is_locked(exc) and time.monotonic() < deadline):
                    raise self._error(exc) from None
                log.debug("database locked, retrying in %.2f s", delay)
                time.sleep(delay)
                delay = min(2 * delay, 1.0)

    def _read(self, fn: Callable[[Session], T]) -> T:
        try:
            with Session(self._engine, expire_on_commit=False) as session, session.begin():
                return fn(session)
        except DBAPIError as exc:
            raise self._error(exc) from None

    def _init_schema(self, session: Session) -> None:
        if self._dialect == "postgresql":  # serialise concurrent first opens
            session.execute(text("SELECT pg_advisory_xact_lock(4242001)"))
        tables = set(inspect(session.connection()).get_table_names())
        if not tables:
            Base.metadata.create_all(session.connection())
            session.add(Meta(key="schema_version", value=str(SCHEMA_VERSION)))
            session.add(Meta(key="created_by", value=_code_version()))
            log.debug("created amorphdb schema %d in %s", SCHEMA_VERSION, self.safe_url)
            return
        if "meta" not in tables:
            raise DatabaseError(f"{self.safe_url} is not an amorphdb database (tables: {', '.join(sorted(tables))})")
        found = session.get(Meta, "schema_version")
        if found is None or found.value != str(SCHEMA_VERSION):
            version = found.value if found else "none"
            raise DatabaseError(f"{self.safe_url} has schema version {version}; this amorphdb "
                                f"({_code_version()}) reads version {SCHEMA_VERSION}: export it with the amorphdb that "
                                "wrote it and import the file here")

    def schema_version(self) -> int:
        return int(self._read(lambda s: s.get(Meta, "schema_version").value))

    # -- low-level helpers -------------------------------------------------------------------------------

    def _upsert(self, session: Session, model: type[Base], rows: list[dict[str, Any]],
                keys: Sequence[str], update: bool = True) -> None:
        """INSERT ... ON CONFLICT (keys) DO UPDATE the given columns (or DO NOTHING), in bulk."""
        if not rows:
            return
        insert = sqlite_insert if self._dialect == "sqlite" else pg_insert
        stmt = insert(model.__table__)
        columns = [c for c in rows[0] if c not in keys]
        if update and columns:
            stmt = stmt.on_conflict_do_update(index_elements=list(keys),
                                              set_={c: stmt.excluded[c] for c in columns})
        else:
            stmt = stmt.on_conflict_do_nothing(index_elements=list(keys))
        session.execute(stmt, rows)

    def _material_ids(self, session: Session, formulas: Iterable[str], source: str) -> dict[str, int]:
        """Ids of the materials of ``formulas`` (any spelling → reduced formula), created when missing."""
        rows = {f: _material_row(f) for f in dict.fromkeys(formulas)}  # ordered: reproducible ids
        unique = {r["formula"]: r for r in rows.values()}
        self._upsert(session, Material, [{**r, "source": source, "code_version": _code_version()}
                                         for r in unique.values()], ["formula"], update=False)
        ids = dict(session.execute(select(Material.formula, Material.id)
                                   .where(Material.formula.in_(list(unique)))).all())
        return {f: ids[r["formula"]] for f, r in rows.items()}

    def _run_ids(self, session: Session, material_ids: Iterable[int], source: str | None = None
                 ) -> dict[tuple[int, str, str], int]:
        stmt = select(Run.material_id, Run.source, Run.key, Run.id).where(Run.material_id.in_(list(set(material_ids))))
        if source is not None:
            stmt = stmt.where(Run.source == source)
        return {(m, s, k): i for m, s, k, i in session.execute(stmt).all()}

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
        row = {"temperature": _temperature(temperature), "stage": stage, **_clean_fields(fields)}
        key = str(key) if key is not None else f"run-{uuid.uuid4().hex[:16]}"

        def write(session: Session) -> int:
            material_id = self._material_ids(session, [formula], source)[formula]
            self._upsert(session, Run, [{"material_id": material_id, "source": source, "key": key, **row,
                                         "code_version": _code_version()}], ["material_id", "source", "key"])
            return session.execute(select(Run.id).where(Run.material_id == material_id, Run.source == source,
                                                         Run.key == key)).scalar_one()

        return self._write(write)

    def update_run(self, run_id: int, **fields: Any) -> None:
        """Change fields of a run (e.g. ``status="done"``, ``energy=...``); ``temperature``/``stage`` too."""
        values = _clean_fields({k: v for k, v in fields.items() if k not in ("temperature", "stage")})
        if "stage" in fields:
            if not fields["stage"]:
                raise InputError("stage must not be empty")
            values["stage"] = str(fields["stage"])
        if "temperature" in fields:
            values["temperature"] = _temperature(fields["temperature"])

        def write(session: Session) -> None:
            run = self._require_run(session, run_id)
            for name, value in values.items():
                setattr(run, name, value)
            run.code_version = _code_version()

        self._write(write)

    def get_run(self, formula: str, source: str, key: str) -> RunInfo | None:
        """The run of ``formula`` with this source and key, or None."""
        name = parse_formula(formula).reduced_formula
        stmt = (select(Run, Material.formula).join(Material)
                .where(Material.formula == name, Run.source == source, Run.key == str(key)))

        def read(session: Session) -> RunInfo | None:
            found = session.execute(stmt).first()
            return None if found is None else self._run_info(*found)

        return self._read(read)

    def run(self, run_id: int) -> RunInfo:
        """The run with this id (InputError when there is none)."""
        def read(session: Session) -> RunInfo:
            run = self._require_run(session, run_id)
            return self._run_info(run, session.get(Material, run.material_id).formula)

        return self._read(read)

    @staticmethod
    def _run_info(run: Run, formula: str) -> RunInfo:
        return RunInfo(id=run.id, formula=formula, source=run.source, key=run.key, temperature=run.temperature,
                       stage=run.stage, **{k: getattr(run, k) for k in RUN_FIELDS},
                       code_version=run.code_version, created_at=_utc(run.created_at))

    # -- per-run records ---------------------------------------------------------------------------------

    def _add_to_run(self, run_id: int, table: str, rows: list[dict[str, Any]]) -> None:
        """Upsert ``rows`` into the per-run ``table`` (of :data:`_CHILD_TABLES`), stamped with the run's source."""
        model, keys = _CHILD_TABLES[table]

        def write(session: Session) -> None:
            source = self._require_run(session, run_id).source
            self._upsert(session, model, [{"run_id": run_id, **row, "source": source, "code_version": _code_version()}
                                          for row in rows], keys)

        self._write(write)

    def add_structure(self, run_id: int, structure: Any, label: str = "final") -> None:
        """Store a pymatgen ``Structure`` (or ASE ``Atoms``) for the run under ``label`` (replaces)."""
        from pymatgen.core import Structure

        if not isinstance(structure, Structure):
            try:
                from pymatgen.io.ase import AseAtomsAdaptor

                structure = AseAtomsAdaptor.get_structure(structure)
            except Exception:
                raise InputError(f"not a structure: {type(structure).__name__}") from None
        self._add_to_run(run_id, "structures", [{"label": label, "structure": json.loads(structure.to_json())}])

    def structures(self, run_id: int) -> list:
        """The run's stored structures, as pymatgen ``Structure`` objects, in the order they were added."""
        from pymatgen.core import Structure

        stmt = select(StoredStructure.structure).where(StoredStructure.run_id == run_id).order_by(StoredStructure.id)
        return [Structure.from_dict(d) for d in self._read(lambda s: s.scalars(stmt).all())]

    def add_diffusivity(self, run_id: int, species: str, D: float, D_err: float | None, method: str,
                        diffusive: bool = True) -> None:
        """D of ``species`` in the run (cm²/s) with its uncertainty; one value per species and method."""
        _check_species(species)
        d = _clean_float(D, "D")
        if d is None:
            raise InputError("D must be a number, got NaN/None")
        err = _clean_float(D_err, "D_err")
        self._add_to_run(run_id, "diffusivities", [{"species": species, "D": d, "D_err": err, "method": str(method),
                                                    "diffusive": bool(diffusive)}])

    def add_features(self, run_id: int, features: dict[str, float]) -> None:
        """Features of the run by name (the paper's column names); existing names are replaced."""
        self._add_to_run(run_id, "features", [{"name": str(k), "value": _clean_float(v, f"feature {k!r}")}
                                              for k, v in features.items()])

    def features(self, run_id: int) -> dict[str, float]:
        """The run's features by name, in the order they were stored (NaN where stored as missing)."""
        stmt = select(Feature.name, Feature.value).where(Feature.run_id == run_id).order_by(Feature.id)
        return {k: (math.nan if v is None else v) for k, v in self._read(lambda s: s.execute(stmt).all())}

    def add_rdf(self, run_id: int, rdf: pd.DataFrame) -> None:
        """Partial RDFs of the run: a DataFrame with column ``r`` (Å) and one g(r) column per pair (``Li-S``)."""
        from ..analysis.rdf import validate_rdf

        self._add_to_run(run_id, "rdfs", _rdf_rows(validate_rdf(rdf, "RDF table", allow_nan=True)))

    def rdf(self, formula: str, source: str, temperature: float | None = None) -> pd.DataFrame | None:
        """Partial RDFs of ``formula`` from ``source``: columns ``r`` (Å) and one per pair; None when absent.

        Without ``temperature``, the highest temperature that has RDFs (the paper's are at 5000 K).
        """
        name = parse_formula(formula).reduced_formula
        stmt = (select(Run.temperature, RDF.pair, RDF.r, RDF.g).join(Run, RDF.run_id == Run.id).join(Material)
                .where(Material.formula == name, Run.source == source).order_by(Run.temperature.desc(), RDF.id))
        rows = self._read(lambda s: s.execute(stmt).all())
        if temperature is not None:
            rows = [row for row in rows if abs(row[0] - float(temperature)) < 1e-6]
        if not rows:
            return None
        rows = [row for row in rows if row[0] == rows[0][0]]
        table = pd.DataFrame({"r": rows[0][2]})
        for _, pair, r, g in rows:
            if len(g) != len(table):
                raise DatabaseError(f"RDF {pair} of {name} ({source}) has another r grid than {rows[0][1]}")
            table[pair] = [math.nan if v is None else v for v in g]
        return table

    # -- per-material and global records -----------------------------------------------------------------

    def add_arrhenius(self, formula: str, source: str, species: str, Ea: float, Ea_err: float | None,
                      prefactor: float | None, prefactor_err: float | None, t_min: float | None,
                      t_max: float | None) -> None:
        """Arrhenius fit D = D0 exp(-Ea / kB T) of ``species``: Ea in eV, prefactor D0 in cm²/s, range in K."""
        _check_species(species)
        row = {"species": species, "Ea": _clean_float(Ea, "Ea"), "Ea_err": _clean_float(Ea_err, "Ea_err"),
               "prefactor": _clean_float(prefactor, "prefactor"),
               "prefactor_err": _clean_float(prefactor_err, "prefactor_err"),
               "t_min": _clean_float(t_min, "t_min"), "t_max": _clean_float(t_max, "t_max")}
        if row["Ea"] is None:
            raise InputError("Ea must be a number, got NaN/None")

        def write(session: Session) -> None:
            material_id = self._material_ids(session, [formula], source)[formula]
            self._upsert(session, Arrhenius, [{"material_id": material_id, "source": source, **row,
                                               "code_version": _code_version()}],
                         ["material_id", "source", "species"])

        self._write(write)

    def arrhenius(self, formula: str | None = None, source: str | None = None) -> pd.DataFrame:
        """Arrhenius fits: formula, source, species, Ea, Ea_err (eV), prefactor, prefactor_err (cm²/s),
        t_min, t_max (K)."""
        cols = ["species", "Ea", "Ea_err", "prefactor", "prefactor_err", "t_min", "t_max"]
        stmt = select(Material.formula, Arrhenius.source, *(getattr(Arrhenius, c) for c in cols)).join(Material)
        if formula is not None:
            stmt = stmt.where(Material.formula == parse_formula(formula).reduced_formula)
        if source is not None:
            stmt = stmt.where(Arrhenius.source == source)
        rows = self._read(lambda s: s.execute(stmt.order_by(Arrhenius.id)).all())
        return pd.DataFrame(rows, columns=["formula", "source", *cols])

    def add_model(self, name: str, kind: str, path: str | os.PathLike, metadata: dict[str, Any] | None = None,
                  source: str = "amorphdb") -> int:
        """Record a trained model (its file ``path`` and JSON-able ``metadata``) under ``name``; returns its id."""
        if not name:
            raise InputError("a model needs a name")
        meta = json.loads(json.dumps(metadata or {}, default=str))
        row = {"name": str(name), "kind": str(kind), "path": os.fspath(path), "metadata": meta, "source": source,
               "code_version": _code_version()}

        def write(session: Session) -> int:
            self._upsert(session, Model, [row], ["name"])
            return session.execute(select(Model.id).where(Model.name == row["name"])).scalar_one()

        return self._write(write)

    def model(self, name: str) -> ModelInfo | None:
        """The model recorded under ``name``, or None."""
        found = self._read(lambda s: s.scalars(select(Model).where(Model.name == name)).first())
        if found is None:
            return None
        return ModelInfo(id=found.id, name=found.name, kind=found.kind, path=found.path, metadata=found.metadata_,
                         source=found.source, code_version=found.code_version, created_at=_utc(found.created_at))

    # -- tables ------------------------------------------------------------------------------------------

    def training_table(self, source: str = "paper-aimd", species: str = "Li") -> pd.DataFrame:
        """Production runs of ``source`` with D of ``species`` and features, laid out like ``ml_features.csv``.

        Columns: ``formula``, ``diff_coeff_mul_thousand`` (D × 1000, D in cm²/s), ``temperature`` (K), then
        the features in the order they were first stored.
        """

        def read(session: Session) -> tuple[list, list, list]:
            runs = session.execute(select(Run.id, Material.formula, Run.temperature).join(Material)
                                   .where(Run.source == source, Run.stage == "production").order_by(Run.id)).all()
            ds = session.execute(select(Diffusivity.run_id, Diffusivity.D).join(Run)
                                 .where(Run.source == source, Diffusivity.species == species)
                                 .order_by(Diffusivity.id)).all()
            fs = session.execute(select(Feature.run_id, Feature.name, Feature.value).join(Run)
                                 .where(Run.source == source).order_by(Feature.id)).all()
            return runs, ds, fs

        runs, ds, fs = self._read(read)
        d_of = {run_id: d for run_id, d in ds}  # the latest value when several methods exist
        runs = [r for r in runs if r[0] in d_of]
        table = pd.DataFrame({"run_id": [r[0] for r in runs], "formula": [r[1] for r in runs],
                              PAPER_TARGET: [d_of[r[0]] * 1000.0 for r in runs],
                              "temperature": [r[2] for r in runs]})
        if not fs:
            return table.iloc[0:0].drop(columns="run_id")
        long = pd.DataFrame(fs, columns=["run_id", "name", "value"])
        wide = long.pivot(index="run_id", columns="name", values="value")[list(dict.fromkeys(long["name"]))]
        table = table.merge(wide, left_on="run_id", right_index=True, how="inner")
        table["temperature"] = _maybe_int(table["temperature"])
        return table.drop(columns="run_id").reset_index(drop=True)

    def query(self, elements: Sequence[str] | str | None = None, exclude: Sequence[str] | str | None = None,
              temperature: float | None = None, t_min: float | None = None, t_max: float | None = None,
              d_min: float | None = None, d_max: float | None = None, source: str | None = None,
              species: str = "Li") -> pd.DataFrame:
        """Runs whose material contains all ``elements`` and none of ``exclude``, filtered by temperature (K),
        D of ``species`` (cm²/s) and source. One row per run: run_id, formula, source, key, stage, temperature,
        status, engine, density, D, D_err, method."""
        want, avoid = _element_list(elements), _element_list(exclude)
        _check_species(species)
        bounds = {n: _clean_float(v, n) for n, v in
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
            runs = session.execute(stmt.order_by(Material.formula, Run.source, Run.temperature, Run.id)).all()
            ds = session.execute(select(Diffusivity.run_id, Diffusivity.D, Diffusivity.D_err, Diffusivity.method)
                                 .join(Run).where(Run.material_id.in_(keep), Diffusivity.species == species)
                                 .order_by(Diffusivity.id)).all()
            return runs, ds

        runs, ds = self._read(read)
        d_of = {run_id: (d, err, method) for run_id, d, err, method in ds}
        cols = ["run_id", "formula", "source", "key", "stage", "temperature", "status", "engine", "density"]
        table = pd.DataFrame(runs, columns=cols)
        table["density"] = pd.to_numeric(table["density"].astype(object), errors="coerce")
        extra = [d_of.get(run_id, (None, None, None)) for run_id in table["run_id"]]
        table["D"] = pd.to_numeric(pd.Series([e[0] for e in extra], dtype=object), errors="coerce")
        table["D_err"] = pd.to_numeric(pd.Series([e[1] for e in extra], dtype=object), errors="coerce")
        table["method"] = [e[2] for e in extra]
        if bounds["d_min"] is not None:
            table = table[table["D"] >= bounds["d_min"]]
        if bounds["d_max"] is not None:
            table = table[table["D"] <= bounds["d_max"]]
        table["temperature"] = _maybe_int(table["temperature"])
        return table.reset_index(drop=True)

    def show(self, formula: str) -> dict[str, Any]:
        """Everything known about one composition: runs (with D per species and features), Arrhenius fits,
        which RDFs exist, stored structures. InputError when the database has nothing on it."""
        name = parse_formula(formula).reduced_formula

        def read(session: Session) -> dict[str, Any]:
            material = session.scalars(select(Material).where(Material.formula == name)).first()
            if material is None:
                raise InputError(f"no data on {name} in {self.safe_url}")
            runs = session.scalars(select(Run).where(Run.material_id == material.id)
                                   .order_by(Run.source, Run.temperature, Run.id)).all()
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
            by_run: dict[int, dict[str, Any]] = {}
            for r in runs:
                by_run[r.id] = {"run_id": r.id, "source": r.source, "key": r.key, "temperature": r.temperature,
                                "stage": r.stage, **{k: getattr(r, k) for k in RUN_FIELDS},
                                "code_version": r.code_version, "created_at": _utc(r.created_at).isoformat(),
                                "diffusivity": {}, "features": {}}
            for d in ds:
                by_run[d.run_id]["diffusivity"].setdefault(d.species, []).append(
                    {"D": d.D, "D_err": d.D_err, "method": d.method, "diffusive": d.diffusive})
            for run_id, fname, value in fs:
                by_run[run_id]["features"][fname] = value
            pairs: dict[int, list[str]] = {}
            for run_id, pair in rdfs:
                pairs.setdefault(run_id, []).append(pair)
            labels: dict[int, list[str]] = {}
            for run_id, label in sts:
                labels.setdefault(run_id, []).append(label)
            return {
                "formula": material.formula, "elements": material.elements, "composition": material.composition,
                "runs": list(by_run.values()),
                "arrhenius": [{"source": a.source, "species": a.species, "Ea": a.Ea, "Ea_err": a.Ea_err,
                               "prefactor": a.prefactor, "prefactor_err": a.prefactor_err, "t_min": a.t_min,
                               "t_max": a.t_max} for a in arr],
                "rdfs": [{"run_id": i, "source": by_run[i]["source"], "key": by_run[i]["key"],
                          "temperature": by_run[i]["temperature"], "pairs": p} for i, p in pairs.items()],
                "structures": [{"run_id": i, "source": by_run[i]["source"], "key": by_run[i]["key"],
                                "labels": ls} for i, ls in labels.items()],
            }

        return self._read(read)

    def summary(self) -> pd.DataFrame:
        """Counts per source and temperature: runs, compositions, runs with D, with features, with RDFs."""

        def read(session: Session) -> list:
            runs = session.execute(select(Run.id, Run.source, Run.temperature, Run.material_id)).all()
            with_d = set(session.scalars(select(Diffusivity.run_id).distinct()).all())
            with_f = set(session.scalars(select(Feature.run_id).distinct()).all())
            with_rdf = set(session.scalars(select(RDF.run_id).distinct()).all())
            return [(src, t, m, i in with_d, i in with_f, i in with_rdf) for i, src, t, m in runs]

        rows = pd.DataFrame(self._read(read), columns=["source", "temperature", "material", "D", "features", "RDF"])
        if rows.empty:
            return pd.DataFrame(columns=["source", "temperature", "runs", "compositions", "with_D",
                                         "with_features", "with_RDF"])
        table = rows.groupby(["source", "temperature"]).agg(
            runs=("material", "size"), compositions=("material", "nunique"), with_D=("D", "sum"),
            with_features=("features", "sum"), with_RDF=("RDF", "sum")).reset_index()
        table["temperature"] = _maybe_int(table["temperature"])
        return table

    # -- the paper's data --------------------------------------------------------------------------------

    def import_paper(self, path: str | os.PathLike) -> pd.DataFrame:
        """Load the paper's published data from directory ``path`` (``ml_features.csv`` and ``rdf/``).

        Every row of ``ml_features.csv`` becomes a production run (source ``paper-aimd``, key ``T<temperature>``,
        status ``imported``, engine ``vasp``, density from :func:`paper_density`) with its Li diffusivity
        (value/1000 cm²/s, method ``paper``) and its features; ``rdf/DFT_RDF_<formula>.csv`` and
        ``rdf/M3GNet_RDF_<formula>.csv`` become the RDFs of 5000 K runs of sources ``paper-aimd`` and
        ``paper-m3gnet``. Compositions with three or more temperatures get a Li Arrhenius fit (``paper-aimd``,
        unweighted on ln D). Idempotent. Returns :meth:`summary`.
        """
        root = Path(path)
        if not root.is_dir():
            raise InputError(f"{root} is not a directory (expected the paper's data directory)")
        table_path = root / "ml_features.csv"
        if not table_path.is_file():
            raise InputError(f"no ml_features.csv in {root}")
        table = _read_paper_table(table_path)
        rdf_files = sorted((root / "rdf").glob("*_RDF_*.csv")) if (root / "rdf").is_dir() else []
        log.info("importing %d rows of %s and %d RDF files", len(table), table_path, len(rdf_files))
        rdfs = _read_paper_rdfs(rdf_files)  # every file is read and checked before anything is written
        version = _code_version()

        def write(session: Session) -> None:
            source = "paper-aimd"
            material_of = self._material_ids(session, table["formula"], source)
            keys = [f"T{_fmt_t(t)}" for t in table["temperature"]]
            self._upsert(session, Run, [
                {"material_id": material_of[f], "source": source, "key": k, "temperature": float(t),
                 "stage": "production", "status": "imported", "engine": "vasp", "density": float(rho),
                 "code_version": version}
                for f, k, t, rho in zip(table["formula"], keys, table["temperature"], paper_density(table))],
                ["material_id", "source", "key"])
            run_of = self._run_ids(session, material_of.values(), source)
            run_ids = [run_of[(material_of[f], source, k)] for f, k in zip(table["formula"], keys)]
            self._upsert(session, Diffusivity, [
                {"run_id": i, "species": "Li", "D": float(d) / 1000.0, "D_err": None, "method": "paper",
                 "diffusive": True, "source": source, "code_version": version}
                for i, d in zip(run_ids, table[PAPER_TARGET])], ["run_id", "species", "method"])
            names = [c for c in table.columns if c not in ("formula", PAPER_TARGET, "temperature")]
            values = table[names].to_numpy(dtype=float)
            self._upsert(session, Feature, [
                {"run_id": i, "name": n, "value": float(v), "source": source, "code_version": version}
                for i, row in zip(run_ids, values) for n, v in zip(names, row)], ["run_id", "name"])
            log.info("stored %d runs with D and %d features each", len(run_ids), len(names))
            fits = _paper_arrhenius(table)
            self._upsert(session, Arrhenius, [{"material_id": material_of[f], "source": source, **fit,
                                               "code_version": version} for f, fit in fits.items()],
                         ["material_id", "source", "species"])
            log.info("stored Arrhenius fits of Li for %d compositions with 3 or more temperatures", len(fits))
            self._store_paper_rdfs(session, rdfs)

        self._write(write)
        return self.summary()

    def _store_paper_rdfs(self, session: Session, parsed: list[tuple[str, str, str, list[dict[str, Any]]]]) -> None:
        version = _code_version()
        key = f"T{_fmt_t(PAPER_RDF_TEMPERATURE)}"
        for source, engine in PAPER_SOURCES.values():
            items = [p for p in parsed if p[1] == source]
            if not items:
                continue
            material_of = self._material_ids(session, [p[0] for p in items], source)
            self._upsert(session, Run, [
                {"material_id": material_of[f], "source": source, "key": key, "temperature": PAPER_RDF_TEMPERATURE,
                 "stage": "production", "status": "imported", "engine": engine, "code_version": version}
                for f, *_ in items], ["material_id", "source", "key"])
            run_of = self._run_ids(session, material_of.values(), source)
            self._upsert(session, RDF, [
                {"run_id": run_of[(material_of[f], source, key)], **row, "source": source, "code_version": version}
                for f, _, _, rows in items for row in rows], ["run_id", "pair"])
            log.info("stored the RDFs of %d compositions from %s", len(items), source)

    # -- export / import ---------------------------------------------------------------------------------

    def export(self, path: str | os.PathLike, format: str = "json") -> dict[str, int]:
        """Write the whole database to ``path`` as JSON (one document) or CSV (one row per record, column
        ``table`` first; JSON-valued cells such as RDF arrays are JSON text). Returns rows per table."""
        if format not in ("json", "csv"):
            raise InputError(f"unknown export format {format!r} (use json or csv)")
        tables = self._read(self._export_tables)
        path = Path(path)
        if path.is_dir():
            raise InputError(f"cannot write the export to {path}: it is a directory")
        partial = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.partial")
        try:  # written next to the target and renamed: a failed export leaves no half-written file
            with partial.open("w", newline="") as fh:
                if format == "json":
                    doc = {"format": EXPORT_FORMAT, "schema_version": SCHEMA_VERSION, "tables": tables}
                    fh.write(json.dumps(doc, indent=1, allow_nan=False) + "\n")
                else:
                    header = ["table", *dict.fromkeys(f for fields in EXPORT_TABLES.values() for f in fields)]
                    writer = csv.writer(fh, lineterminator="\n")
                    writer.writerow(header)
                    for name, records in tables.items():
                        kinds = EXPORT_TABLES[name]
                        for rec in records:
                            cells = {k: _csv_cell(v, kinds[k]) for k, v in rec.items()}
                            writer.writerow([name] + [cells.get(h, "") for h in header[1:]])
            os.replace(partial, path)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise InputError(f"cannot write the export to {path}: {exc.strerror}") from None
        counts = {name: len(records) for name, records in tables.items()}
        log.debug("exported %s to %s", ", ".join(f"{n} {k}" for k, n in counts.items()), path)
        return counts

    def _export_tables(self, session: Session) -> dict[str, list[dict[str, Any]]]:
        formula_of = dict(session.execute(select(Material.id, Material.formula)).all())
        ref_of = {i: {"formula": formula_of[m], "source": s, "key": k}
                  for i, m, s, k in session.execute(select(Run.id, Run.material_id, Run.source, Run.key)).all()}

        out: dict[str, list[dict[str, Any]]] = {}
        for name, model in [("materials", Material), ("runs", Run), ("diffusivities", Diffusivity),
                            ("arrhenius", Arrhenius), ("features", Feature), ("rdfs", RDF),
                            ("structures", StoredStructure), ("models", Model)]:
            records = []
            for obj in session.scalars(select(model).order_by(model.id)):
                # run references and formulas by natural key; the rest from the record itself
                base = (ref_of[obj.run_id] if hasattr(obj, "run_id") else
                        {"formula": formula_of[obj.material_id]} if hasattr(obj, "material_id") else {})
                rec = {}
                for field in EXPORT_TABLES[name]:
                    value = base[field] if field in base else getattr(obj, "metadata_" if field == "metadata"
                                                                      else field)
                    rec[field] = _utc(value).isoformat() if isinstance(value, datetime) else value
                records.append(rec)
            out[name] = records
        return out

    def import_file(self, path: str | os.PathLike) -> dict[str, int]:
        """Read a file written by :meth:`export` (JSON or CSV, told apart by content) into this database.

        Records are merged by their natural keys (formula, source, run key, ...), so importing twice changes
        nothing. One transaction: a malformed record leaves the database as it was. Returns rows per table.
        """
        path = Path(path)
        if not path.is_file():
            raise InputError(f"no such file: {path}")
        try:
            text_ = path.read_text()
        except UnicodeDecodeError:
            raise InputError(f"{path}: not an amorphdb export (not a text file)") from None
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc.strerror}") from None
        if not text_.strip():
            raise InputError(f"{path}: empty file, not an amorphdb export")
        tables = _parse_json_export(path, text_) if text_.lstrip().startswith("{") else _parse_csv_export(path, text_)

        for name in EXPORT_TABLES:
            for i, rec in enumerate(tables.get(name, [])):
                missing = [f for f in EXPORT_TABLES[name] if f not in rec]
                if missing:
                    raise InputError(f"{path}: {name} record {i}: missing field(s) {', '.join(missing)}")

        def typed(name: str, i: int, rec: dict[str, Any], skip: tuple[str, ...]) -> dict[str, Any]:
            kinds = EXPORT_TABLES[name]
            return {f: _typed(rec[f], kinds[f], path, name, i, f) for f in kinds if f not in skip}

        def write(session: Session) -> None:
            # materials first, by reduced formula (validates every formula before anything is written)
            row_of: dict[str, dict[str, Any]] = {}  # formula as written -> its material row
            materials: dict[str, dict[str, Any]] = {}
            for name in ("materials", "runs", "arrhenius", *_CHILD_TABLES):
                for i, rec in enumerate(tables.get(name, [])):
                    f = rec["formula"]
                    if f not in row_of:
                        try:
                            row_of[f] = _material_row(str(f))
                        except InputError as exc:
                            raise InputError(f"{path}: {name} record {i}: {exc}") from None
                    row = row_of[f]
                    if name == "materials":
                        materials[row["formula"]] = {**row, **typed(name, i, rec, _MATERIAL_DERIVED)}
                    else:
                        materials.setdefault(row["formula"], {**row, "source": rec["source"],
                                                              "code_version": _code_version(), "created_at": _utcnow()})
            self._upsert(session, Material, list(materials.values()), ["formula"], update=False)
            material_of = dict(session.execute(select(Material.formula, Material.id)).all())

            def material_id(rec: dict[str, Any]) -> int:
                return material_of[row_of[rec["formula"]]["formula"]]

            self._upsert(session, Run, [{"material_id": material_id(r), **typed("runs", i, r, ("formula",))}
                                        for i, r in enumerate(tables.get("runs", []))],
                         ["material_id", "source", "key"])
            run_of = self._run_ids(session, material_of.values())
            for name, (model, keys) in _CHILD_TABLES.items():
                rows = []
                for i, r in enumerate(tables.get(name, [])):
                    ref = (material_id(r), r["source"], r["key"])
                    if ref not in run_of:
                        raise InputError(f"{path}: {name} record {i}: no run {r['formula']} {r['source']} {r['key']}")
                    rows.append({"run_id": run_of[ref], **typed(name, i, r, ("formula", "key"))})
                self._upsert(session, model, rows, keys)
            self._upsert(session, Arrhenius, [{"material_id": material_id(r), **typed("arrhenius", i, r, ("formula",))}
                                              for i, r in enumerate(tables.get("arrhenius", []))],
                         ["material_id", "source", "species"])
            self._upsert(session, Model, [typed("models", i, r, ()) for i, r in enumerate(tables.get("models", []))],
                         ["name"])

        self._write(write)
        counts = {name: len(tables.get(name, [])) for name in EXPORT_TABLES}
        log.debug("imported %s from %s", ", ".join(f"{n} {k}" for k, n in counts.items()), path)
        return counts


# ----------------------------------------------------------------------------------------------------------
# File parsing
# ----------------------------------------------------------------------------------------------------------


def _fmt_t(t: float) -> str:
    return str(int(t)) if float(t).is_integer() else repr(float(t))


def _maybe_int(column: pd.Series) -> pd.Series:
    """Temperatures come back as floats; show whole kelvins as integers."""
    if len(column) and all(float(t).is_integer() for t in column):
        return column.astype("int64")
    return column


def _element_list(value: Sequence[str] | str | None) -> list[str]:
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    found = [_check_species(item.strip()) for item in items if item.strip()]
    if isinstance(value, str) and not found:
        raise InputError(f"no element in {value!r} (give symbols separated by commas, e.g. Li,S)")
    return found


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


def _read_paper_table(path: Path) -> pd.DataFrame:
    """``ml_features.csv`` checked: the three key columns and the 42 feature columns present, every other cell
    numeric, formulas valid, temperature and AAV positive."""
    from ..analysis.features import FEATURE_COLUMNS

    table = _read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in ("formula", PAPER_TARGET, "temperature", *FEATURE_COLUMNS) if c not in table.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}")
    if len(table.columns) != len(set(table.columns)) or any(c.startswith("Unnamed:") for c in table.columns):
        raise InputError(f"{path}: duplicate or unnamed column in the header")
    if table.empty:
        raise InputError(f"{path}: no data rows")
    _numeric(table, [c for c in table.columns if c != "formula"], path)
    for i, formula in enumerate(table["formula"]):
        try:
            parse_formula(formula)
        except InputError as exc:
            raise InputError(f"{path}: line {i + 2}, column 'formula': {exc}") from None
    for col, unit in (("temperature", "K"), ("AAV", "Å³ per atom")):
        if (table[col] <= 0).any():
            i = int((table[col] <= 0).to_numpy().nonzero()[0][0])
            raise InputError(f"{path}: line {i + 2}, column {col!r}: must be positive ({unit})")
    dup = table.duplicated(["formula", "temperature"])
    if dup.any():
        i = int(dup.to_numpy().nonzero()[0][0])
        raise InputError(f"{path}: line {i + 2}: {table['formula'].iloc[i]} at {table['temperature'].iloc[i]:g} K "
                         "appears twice")
    return table


def paper_density(table: pd.DataFrame) -> pd.Series:
    """Mass density (g/cm³) of each row of the paper's table: mean atomic mass ``avg_m_with_Li`` (amu) over
    the average atomic volume ``AAV`` (Å³ per atom), × 1.66054 (g/cm³ per amu/Å³)."""
    return table["avg_m_with_Li"] / table["AAV"] * AMU_PER_A3_IN_G_PER_CM3


def _read_paper_rdfs(files: list[Path]) -> list[tuple[str, str, str, list[dict[str, Any]]]]:
    """(formula, source, engine, rdfs rows) of every ``DFT_RDF_<formula>.csv`` / ``M3GNet_RDF_<formula>.csv``."""
    from tqdm import tqdm

    from ..analysis.rdf import read_rdf_csv

    parsed = []
    for file in tqdm(files, desc="RDF files", unit="file", disable=None):
        kind, _, formula = file.stem.partition("_RDF_")
        if kind not in PAPER_SOURCES:
            raise InputError(f"{file}: unknown RDF file kind {kind!r} (expected DFT or M3GNet)")
        try:
            parse_formula(formula)
        except InputError as exc:
            raise InputError(f"{file}: {exc}") from None
        source, engine = PAPER_SOURCES[kind]
        parsed.append((formula, source, engine, _rdf_rows(read_rdf_csv(file))))
    return parsed


def _paper_arrhenius(table: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Li Arrhenius fit (unweighted, ln D vs 1/T) of every formula of the paper's table with >= 3 temperatures."""
    from ..analysis.diffusion import arrhenius_fit

    fits = {}
    for formula, rows in table.groupby("formula", sort=False):
        if rows["temperature"].nunique() >= 3:
            fit = arrhenius_fit(rows["temperature"].to_numpy(), rows[PAPER_TARGET].to_numpy() / 1000.0, species="Li")
            fits[formula] = {k: getattr(fit, k) for k in
                             ("species", "Ea", "Ea_err", "prefactor", "prefactor_err", "t_min", "t_max")}
    return fits


def _rdf_rows(rdf: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of the rdfs table from a table checked by :func:`amorphdb.rdf.validate_rdf` (column ``r`` in Å, one
    g(r) column per pair ``A-B``); NaN in g is stored as null."""
    r = rdf["r"].tolist()
    return [{"pair": str(p), "r": r, "g": [None if math.isnan(v) else v for v in rdf[p].tolist()]}
            for p in rdf.columns if p != "r"]


def _csv_cell(value: Any, kind: str) -> str:
    if value is None:
        return ""
    if kind == "json":
        return json.dumps(value, allow_nan=False, separators=(",", ":"))
    if kind == "float":
        return repr(float(value))
    if kind == "bool":
        return "true" if value else "false"
    return str(value)


def _typed(value: Any, kind: str, path: Path, table: str, index: int, field: str) -> Any:
    """A value of an import record converted to the column type (InputError naming the record)."""
    if value is None:
        return None
    try:
        if kind == "float":
            if isinstance(value, bool):
                raise ValueError(value)
            return float(value)
        if kind == "int":
            if isinstance(value, bool) or float(value) != int(float(value)):
                raise ValueError(value)
            return int(float(value))
        if kind == "bool":
            if not isinstance(value, bool):
                raise ValueError(value)
            return value
        if kind == "datetime":
            return _utc(datetime.fromisoformat(str(value)))
        if kind == "str":
            return str(value)
        return value
    except (TypeError, ValueError):
        raise InputError(f"{path}: {table} record {index}, field {field!r}: {value!r} is not a valid {kind}") from None


def _parse_json_export(path: Path, text_: str) -> dict[str, list[dict[str, Any]]]:
    try:
        doc = json.loads(text_)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != EXPORT_FORMAT or not isinstance(doc.get("tables"), dict):
        raise InputError(f"{path}: not an amorphdb export (no \"format\": \"{EXPORT_FORMAT}\")")
    if doc.get("schema_version") != SCHEMA_VERSION:
        raise InputError(f"{path}: export of schema version {doc.get('schema_version')}, this amorphdb reads "
                         f"{SCHEMA_VERSION}")
    unknown = set(doc["tables"]) - set(EXPORT_TABLES)
    if unknown:
        raise InputError(f"{path}: unknown table(s) {', '.join(sorted(unknown))}")
    for name, records in doc["tables"].items():
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise InputError(f"{path}: table {name} is not a list of records")
    return doc["tables"]


def _parse_csv_export(path: Path, text_: str) -> dict[str, list[dict[str, Any]]]:
    reader = csv.reader(text_.splitlines())
    header = next(reader, None)
    if not header or header[0] != "table":
        raise InputError(f"{path}: not an amorphdb export (the first column must be 'table')")
    tables: dict[str, list[dict[str, Any]]] = {}
    for line, cells in enumerate(reader, start=2):
        if len(cells) != len(header):
            raise InputError(f"{path}: line {line}: {len(cells)} cells, the header has {len(header)}")
        row = dict(zip(header, cells))
        name = row.pop("table")
        kinds = EXPORT_TABLES.get(name)
        if kinds is None:
            raise InputError(f"{path}: line {line}, column 'table': unknown table {name!r}")
        rec: dict[str, Any] = {}
        for field, kind in kinds.items():
            if field not in row:
                raise InputError(f"{path}: line {line}: missing column {field!r}")
            cell = row[field]
            try:
                if cell == "":
                    rec[field] = None
                elif kind == "json":
                    rec[field] = json.loads(cell)
                elif kind == "bool":
                    rec[field] = {"true": True, "false": False}[cell]
                else:
                    rec[field] = cell
            except (json.JSONDecodeError, KeyError):
                raise InputError(f"{path}: line {line}, column {field!r}: {cell[:40]!r} is not valid {kind}") from None
        tables.setdefault(name, []).append(rec)
    return tables
