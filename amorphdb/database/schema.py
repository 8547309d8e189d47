"""The SQLAlchemy schema of the database, its version, and the migration of older databases.

Everything hangs off a **run**: one MD run of one material at one temperature and stage, ours or imported.
Tables: ``materials`` (reduced formula, elements, atom counts), ``runs``, ``diffusivities`` (per run and
species), ``arrhenius`` (per material, source and species), ``features`` (per run, long format; the run's
``element_data`` column names the element data its compositional features were computed with), ``rdfs``
(per run and element pair), ``structures`` (pymatgen JSON per run and label), ``models`` (trained models),
``element_references`` (an element's relaxed reference energy per engine), ``amorphous_limits`` (per material,
source and key: the amorphous limit of Aykol et al. and its statistics), ``relaxations`` (per amorphous limit:
each relaxed snapshot with its structure), and ``meta`` (the schema version). Every record carries its provenance:
``source`` (``paper-aimd``,
``paper-m3gnet``, ``mlip-chgnet`` ...), ``code_version`` (the amorphdb version that wrote it) and
``created_at`` (UTC).

Units: temperature K, volume Å³, density g/cm³, energy eV/atom, pressure kbar, timestep fs, D cm²/s,
Ea eV, r Å.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

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
    inspect,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from ..errors import DatabaseError

log = logging.getLogger(__name__)

#: 1: the first schema; 2: ``runs.element_data``; 3: the amorphous-limit tables.
SCHEMA_VERSION = 3
#: Columns added after version 1, as (schema version that added it, table, column): a database of an older
#: version gets them by ``ALTER TABLE ... ADD COLUMN`` when it is opened.
ADDED_COLUMNS: tuple[tuple[int, str, str], ...] = ((2, "runs", "element_data"),)
#: Tables added after version 1, as (schema version that added it, table): created when an older database opens.
ADDED_TABLES: tuple[tuple[int, str], ...] = ((3, "element_references"), (3, "amorphous_limits"), (3, "relaxations"))


def code_version() -> str:
    """The amorphdb version that writes a record."""
    from .. import __version__

    return __version__


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {float: Double, datetime: DateTime(timezone=True), dict: JSON, list: JSON}


class _Provenance:
    source: Mapped[str] = mapped_column(String, index=True)
    code_version: Mapped[str] = mapped_column(String, default=code_version)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


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
    element_data: Mapped[str | None] = mapped_column(Text)  # source of the element data of the run's features


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


class ElementReference(_Provenance, Base):
    """The relaxed reference energy of an element under one engine; ``origin`` says which structure it is
    (ASE's ground-state crystal, a molecule in a box, or a user's file with its SHA-256)."""

    __tablename__ = "element_references"
    __table_args__ = (UniqueConstraint("element", "engine", "engine_version", "origin"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    element: Mapped[str] = mapped_column(String)
    engine: Mapped[str] = mapped_column(String)
    engine_version: Mapped[str] = mapped_column(String)
    origin: Mapped[str] = mapped_column(Text)
    energy: Mapped[float] = mapped_column()  # eV/atom
    fmax: Mapped[float] = mapped_column()  # eV/Å, largest force left
    n_steps: Mapped[int] = mapped_column(Integer)
    structure: Mapped[dict] = mapped_column()  # pymatgen Structure.as_dict(), relaxed


class AmorphousLimit(_OfMaterial, Base):
    """The amorphous limit of a material (Aykol et al., Sci. Adv. 2018): relaxed MD snapshots, their formation
    energies (eV/atom) against the engine's elemental references, the lowest (the limit) and the statistics."""

    __tablename__ = "amorphous_limits"
    __table_args__ = (UniqueConstraint("material_id", "source", "key"),)
    key: Mapped[str] = mapped_column(Text)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))  # the MD run sampled
    trajectory_path: Mapped[str] = mapped_column(Text)
    trajectory_sha256: Mapped[str] = mapped_column(String)
    temperature: Mapped[float | None] = mapped_column()  # K, of the sampled MD
    engine: Mapped[str] = mapped_column(String)
    engine_version: Mapped[str] = mapped_column(String)
    n_snapshots: Mapped[int] = mapped_column(Integer)
    spacing_ps: Mapped[float] = mapped_column()  # ps
    fmax: Mapped[float] = mapped_column()  # eV/Å
    max_steps: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String)  # running, done, failed
    message: Mapped[str | None] = mapped_column(Text)
    limit: Mapped[float | None] = mapped_column()  # eV/atom, lowest formation energy of the snapshots
    limit_err: Mapped[float | None] = mapped_column()  # eV/atom, bootstrap standard error of the lowest
    mean: Mapped[float | None] = mapped_column()  # eV/atom
    std: Mapped[float | None] = mapped_column()  # eV/atom
    references: Mapped[dict] = mapped_column()  # element -> reference energy (eV/atom) and origin


class Relaxation(_Provenance, Base):
    """One relaxed snapshot of an amorphous limit: energies in eV/atom, volume Å³/atom, force left eV/Å."""

    __tablename__ = "relaxations"
    __table_args__ = (UniqueConstraint("limit_id", "label"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    limit_id: Mapped[int] = mapped_column(ForeignKey("amorphous_limits.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String)
    frame: Mapped[int] = mapped_column(Integer)
    time_ps: Mapped[float | None] = mapped_column()  # ps, of the frame in its trajectory
    status: Mapped[str] = mapped_column(String)  # done, failed
    message: Mapped[str | None] = mapped_column(Text)
    n_steps: Mapped[int] = mapped_column(Integer)
    fmax: Mapped[float] = mapped_column()  # eV/Å
    energy: Mapped[float] = mapped_column()  # eV/atom, total, at the last step
    formation_energy: Mapped[float] = mapped_column()  # eV/atom
    volume: Mapped[float] = mapped_column()  # Å³/atom
    structure: Mapped[dict] = mapped_column()  # pymatgen Structure.as_dict() at the last step


#: Per-run tables: name -> (model, the columns of its natural key).
CHILD_TABLES: dict[str, tuple[type[Base], tuple[str, ...]]] = {
    "diffusivities": (Diffusivity, ("run_id", "species", "method")),
    "features": (Feature, ("run_id", "name")),
    "rdfs": (RDF, ("run_id", "pair")),
    "structures": (StoredStructure, ("run_id", "label")),
}

#: Optional run fields of ``add_run``/``update_run`` and their types.
RUN_FIELDS: dict[str, type] = {
    "engine": str, "engine_version": str, "volume": float, "density": float, "energy": float,
    "pressure": float, "n_atoms": int, "n_steps": int, "timestep": float, "status": str,
    "trajectory_path": str, "trajectory_sha256": str, "message": str,
}


def prepare(session: Session, where: str) -> None:
    """Create the schema in an empty database, or bring one of an older version up to :data:`SCHEMA_VERSION`
    (DatabaseError for a database that is not amorphdb's or is newer). Runs inside the opening write
    transaction; on PostgreSQL concurrent first opens wait for each other (advisory lock)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(4242001)"))
    tables = set(inspect(session.connection()).get_table_names())
    if not tables:
        Base.metadata.create_all(session.connection())
        session.add(Meta(key="schema_version", value=str(SCHEMA_VERSION)))
        session.add(Meta(key="created_by", value=code_version()))
        log.debug("created amorphdb schema %d in %s", SCHEMA_VERSION, where)
        return
    if "meta" not in tables:
        raise DatabaseError(f"{where} is not an amorphdb database (tables: {', '.join(sorted(tables))})")
    found = session.get(Meta, "schema_version")
    version = found.value if found else "none"
    if not version.isdigit() or not 1 <= int(version) <= SCHEMA_VERSION:
        raise DatabaseError(f"{where} has schema version {version}; this amorphdb ({code_version()}) reads version "
                            f"{SCHEMA_VERSION}: export it with the amorphdb that wrote it and import the file here")
    if int(version) < SCHEMA_VERSION:
        _migrate(session, int(version), where)
        found.value = str(SCHEMA_VERSION)


def _migrate(session: Session, version: int, where: str) -> None:
    """Add the columns of :data:`ADDED_COLUMNS` and the tables of :data:`ADDED_TABLES` newer than ``version``
    that the database lacks."""
    connection = session.connection()
    Base.metadata.create_all(connection, tables=[Base.metadata.tables[t] for since, t in ADDED_TABLES
                                                 if since > version])  # checkfirst: only the missing ones
    inspector = inspect(connection)
    for since, table, column in ADDED_COLUMNS:
        if since > version and column not in {c["name"] for c in inspector.get_columns(table)}:
            kind = Base.metadata.tables[table].c[column].type.compile(dialect=connection.dialect)
            session.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {kind}"))
    log.info("migrated %s from schema version %d to %d", where, version, SCHEMA_VERSION)
