"""Typed results of the database API: stored runs and models, :meth:`Database.show`, :meth:`Database.fit_arrhenius`.

Each view that replaces a former dict has ``to_dict()``, which gives that dict exactly (JSON-ready: times as
ISO strings), so that ``amorphdb show --json`` and ``amorphdb arrhenius --json`` print what they printed before.
Units: temperature K, volume Å³, density g/cm³, energy eV/atom, pressure kbar, timestep fs, D cm²/s, Ea eV,
σ S/cm.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .schema import RUN_FIELDS

if TYPE_CHECKING:
    import pandas as pd

    from ..analysis.arrhenius import ArrheniusResult
    from ..analysis.conductivity import ConductivityEstimate
    from ..analysis.rdf import RDFComparison


@dataclass(frozen=True)
class RunInfo:
    """One run as stored (units: K, Å³, g/cm³, eV/atom, kbar, fs); ``element_data`` is the source of the
    element data of its features (None: not recorded)."""

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
    element_data: str | None = None


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


@dataclass(frozen=True)
class DiffusivityView:
    """One stored D of a species in a run (cm²/s); ``diffusive`` False: an upper bound, not a D."""

    D: float
    D_err: float | None
    method: str
    diffusive: bool

    def to_dict(self) -> dict[str, Any]:
        return {"D": self.D, "D_err": self.D_err, "method": self.method, "diffusive": self.diffusive}


@dataclass(frozen=True)
class RunView(RunInfo):
    """A run with its records: D per species (in the order stored) and features by name (None: missing)."""

    diffusivity: dict[str, list[DiffusivityView]] = field(default_factory=dict)
    features: dict[str, float | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.id, "source": self.source, "key": self.key, "temperature": self.temperature,
                "stage": self.stage, **{k: getattr(self, k) for k in RUN_FIELDS},
                "code_version": self.code_version, "created_at": self.created_at.isoformat(),
                "diffusivity": {sp: [d.to_dict() for d in ds] for sp, ds in self.diffusivity.items()},
                "features": dict(self.features), "element_data": self.element_data}


@dataclass(frozen=True)
class ArrheniusView:
    """A stored Arrhenius fit D = D0 exp(−Ea / kB T): Ea in eV, prefactor D0 in cm²/s, range t_min–t_max K."""

    source: str
    species: str
    Ea: float
    Ea_err: float | None
    prefactor: float | None
    prefactor_err: float | None
    t_min: float | None
    t_max: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RDFView:
    """Which partial RDFs (``A-B`` pairs) a run has."""

    run_id: int
    source: str
    key: str
    temperature: float
    pairs: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class StructureView:
    """The labels of a run's stored structures."""

    run_id: int
    source: str
    key: str
    labels: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RelaxationView:
    """One relaxed snapshot of an amorphous limit: the frame (index, time in ps), whether it converged
    (``status`` done/failed, ``message`` why not), steps taken, largest force left (eV/Å), total and formation
    energy (eV/atom), volume (Å³/atom). The relaxed structure: :meth:`Database.relaxed_structures`."""

    label: str
    frame: int
    time_ps: float | None
    status: str
    message: str | None
    n_steps: int
    fmax: float
    energy: float
    formation_energy: float
    volume: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class AmorphousLimitView:
    """A stored amorphous limit (Aykol et al., Sci. Adv. 4, eaaq0148, 2018): ``limit`` is the lowest formation
    energy (eV/atom) of the relaxed snapshots, ``limit_err`` its bootstrap standard error, ``mean`` and ``std``
    those of all converged snapshots (eV/atom); ``references`` the elemental reference energies (eV/atom) and
    their origin. Sampled from ``trajectory_path`` (of run ``run_id`` at ``temperature`` K when stored), every
    ``spacing_ps`` ps, relaxed with ``engine`` to ``fmax`` eV/Å in at most ``max_steps`` steps."""

    id: int
    formula: str
    source: str
    key: str
    run_id: int | None
    trajectory_path: str
    trajectory_sha256: str
    temperature: float | None
    engine: str
    engine_version: str
    n_snapshots: int
    spacing_ps: float
    fmax: float
    max_steps: int
    status: str
    message: str | None
    limit: float | None
    limit_err: float | None
    mean: float | None
    std: float | None
    references: dict[str, Any]
    code_version: str
    created_at: datetime
    relaxations: list[RelaxationView] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {**{k: v for k, v in asdict(self).items() if k not in ("created_at", "relaxations")},
                "created_at": self.created_at.isoformat(), "relaxations": [r.to_dict() for r in self.relaxations]}

    def text(self) -> str:
        """The limit, its provenance and each snapshot as text (energies eV/atom)."""
        at = f" at {self.temperature:g} K" if self.temperature is not None else ""
        err = f" ± {self.limit_err:.4f}" if self.limit_err is not None else ""
        lines = [f"{self.formula}: amorphous limit {self.limit:.4f}{err} eV/atom (lowest formation energy of "
                 f"{len(self.relaxations)} relaxed snapshots; mean {self.mean:.4f}, std {self.std or 0:.4f} eV/atom)"
                 if self.status == "done" else f"{self.formula}: amorphous limit {self.status}: "
                 + (self.message or f"{len(self.relaxations)} of {self.n_snapshots} snapshots relaxed"),
                 f"  from {self.trajectory_path}{at}, {self.n_snapshots} snapshots {self.spacing_ps:g} ps apart, "
                 f"{self.engine} {self.engine_version}, fmax {self.fmax:g} eV/Å",
                 "  references: " + ", ".join(f"{el} {r['energy']:.4f} eV/atom ({r['origin']})"
                                              for el, r in self.references.items())]
        for r in self.relaxations:
            when = f"{r.time_ps:.3f} ps" if r.time_ps is not None else f"frame {r.frame}"
            lines.append(f"  {r.label} ({when}): E_f = {r.formation_energy:.4f} eV/atom, {r.volume:.2f} Å3/atom, "
                         f"{r.n_steps} steps, {r.status}")
        return "\n".join(lines)


@dataclass(frozen=True)
class MaterialView:
    """Everything known about one composition (:meth:`Database.show`): runs ordered by source, temperature
    and id; Arrhenius fits, RDFs, structures and amorphous limits in the order stored."""

    formula: str
    elements: list[str]
    composition: dict[str, int]
    runs: list[RunView]
    arrhenius: list[ArrheniusView]
    rdfs: list[RDFView]
    structures: list[StructureView]
    amorphous_limits: list[AmorphousLimitView] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"formula": self.formula, "elements": list(self.elements), "composition": dict(self.composition),
                **{name: [item.to_dict() for item in getattr(self, name)]
                   for name in ("runs", "arrhenius", "rdfs", "structures", "amorphous_limits")}}


@dataclass(frozen=True)
class SourceRDFComparison:
    """The stored RDFs of ``formula`` from two sources compared (:meth:`Database.compare_rdfs`): ``comparison``
    (R² pooled and per pair) and the two tables compared (column ``r`` in Å, one g(r) column per pair);
    ``temperature`` the one asked for (K; None: the highest that has RDFs)."""

    formula: str
    reference: str
    candidate: str
    temperature: float | None
    comparison: RDFComparison
    reference_rdf: pd.DataFrame
    candidate_rdf: pd.DataFrame

    def to_dict(self) -> dict[str, Any]:
        """The comparison's record (what ``amorphdb rdf-compare --formula ... --json`` prints)."""
        return self.comparison.to_dict()


@dataclass(frozen=True)
class ConductivityAt300K:
    """Nernst–Einstein σ(300 K) from an Arrhenius fit (``estimate``: σ, its error and 1σ range in S/cm, and the
    density in g/cm³ used), at the stored density of the coldest fitted run (``density_temperature``, K), for
    carriers of ``charge`` (e)."""

    estimate: ConductivityEstimate
    density_temperature: float
    charge: float

    def to_dict(self) -> dict[str, Any]:
        e = self.estimate
        return {"sigma_300K": e.sigma, "sigma_300K_err": e.sigma_err, "sigma_300K_1sigma": [e.low, e.high],
                "sigma_density": e.density, "sigma_density_temperature": self.density_temperature}


@dataclass(frozen=True)
class ArrheniusFit:
    """An Arrhenius fit of the stored D(T) of one species (:meth:`Database.fit_arrhenius`).

    ``points`` are the (T K, D cm²/s, D_err cm²/s or None) fitted, ``excluded`` those left out (not
    diffusive, or D not positive); ``weighted`` whether the fit used the error bars; ``conductivity``
    σ(300 K) when a charge was given.
    """

    formula: str
    source: str
    species: str
    fit: ArrheniusResult
    points: list[tuple[float, float, float | None]]
    excluded: list[tuple[float, float, float | None]]
    weighted: bool
    conductivity: ConductivityAt300K | None = None

    def to_dict(self) -> dict[str, Any]:
        """The fit, D(300 K) and σ(300 K) as one JSON-ready record (what ``amorphdb arrhenius --json`` prints)."""
        return {"formula": self.formula, "source": self.source, "n_points": len(self.points),
                "n_excluded": len(self.excluded), **self.fit.to_dict(),
                **(self.conductivity.to_dict() if self.conductivity else {})}
