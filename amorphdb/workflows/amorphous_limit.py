"""The amorphous limit of a composition and the synthesizability check of its crystals.

Aykol et al. (Sci. Adv. 4, eaaq0148, 2018) bound the energy of synthesizable polymorphs by the amorphous state
of the same composition: a crystal whose energy lies above the amorphous limit is unlikely to be made, as the
amorphous phase would form first. As in the paper this database follows, ``snapshots`` structures are taken
from an MD run ``spacing_ps`` apart (default ten, 2 ps apart, the last one the run's final frame), each is
relaxed (positions and cell: ASE FIRE on a ``FrechetCellFilter``, to ``fmax`` eV/Å in at most ``max_steps``
steps) with one engine, and their formation energies per atom against the engine's relaxed elemental
references are computed. The **limit** is the lowest of them (Aykol et al. take the lowest-energy amorphous
configuration); their mean and standard deviation, and the bootstrap standard error of the lowest, are kept
beside it.

Elemental references (``docs/amorphous_limit.md``): the ground-state crystal of ASE's reference data
(``ase.build.bulk``) where it has one; H, N, O, F and Cl as their diatomic molecules (``ase.build.molecule``)
in a 12 Å periodic box, positions relaxed only; any other element (S, P, Se, Br, I ...) needs a structure file
(``references={"S": "alpha-S.cif"}``, ``--reference S=FILE``). Each is relaxed once per engine and origin and
kept in the database. The references shift a crystal and its amorphous limit alike, so the verdict and the
margin do not depend on them; only the reported formation energies do.

Everything goes into the database: the limit with its provenance (trajectory and its SHA-256, run, engine and
version, settings, references) and each relaxed snapshot with its structure. A relaxation that does not
converge within ``max_steps`` is stored as failed and the limit as failed (one-line :class:`ConvergenceError`);
calling again with more steps reuses the converged snapshots.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from ..analysis.features.structural import read_frames, read_structure
from ..analysis.trajectory import TIME_KEY
from ..composition import parse_formula
from ..database.api import Database
from ..database.views import AmorphousLimitView, RunInfo
from ..engines import check_elements, load_engine
from ..engines.base import Potential
from ..errors import ConvergenceError, InputError
from ..md.files import sha256_file
from .melt_quench import as_database

log = logging.getLogger(__name__)

#: Elements whose standard state is a diatomic gas: their reference is the molecule in a periodic box.
MOLECULES: dict[str, str] = {"H": "H2", "N": "N2", "O": "O2", "F": "F2", "Cl": "Cl2"}
BOX = 12.0  # Å, edge of the periodic box around a reference molecule
MAX_STEPS = 500  # default step limit of one relaxation
VERDICTS = ("below", "above")


@dataclass
class Relaxed:
    """A relaxation's end: the structure, its energy (eV/atom), the largest force left (eV/Å; with the cell,
    the generalised force of the filter), steps taken, and whether it reached ``fmax``."""

    atoms: Atoms
    energy: float
    fmax: float
    n_steps: int
    converged: bool


def relax(atoms: Atoms, engine: Potential, fmax: float = 0.05, max_steps: int = MAX_STEPS,
          cell: bool = True) -> Relaxed:
    """Relax a copy of ``atoms`` with ``engine``: FIRE on the positions and (``cell``) the cell through a
    ``FrechetCellFilter``, until the largest force is below ``fmax`` (eV/Å) or ``max_steps`` steps."""
    from ase.filters import FrechetCellFilter
    from ase.optimize import FIRE

    atoms = atoms.copy()
    atoms.calc = engine.calculator
    target = FrechetCellFilter(atoms) if cell else atoms
    opt = FIRE(target, logfile=None)
    converged = bool(opt.run(fmax=fmax, steps=max_steps))
    left = float(np.sqrt((target.get_forces() ** 2).sum(axis=1).max()))
    energy = float(atoms.get_potential_energy()) / len(atoms)
    atoms.calc = None
    return Relaxed(atoms, energy, left, int(opt.nsteps), converged)


# -- elemental references ------------------------------------------------------------------------------

def reference_structure(symbol: str, files: dict[str, str | os.PathLike] | None = None) -> tuple[Atoms, str, bool]:
    """The unrelaxed reference of element ``symbol``: (structure, origin, relax the cell too).

    A file in ``files`` wins (a periodic crystal; a non-periodic file is a molecule, boxed); else ASE's
    ground-state crystal; else the diatomic molecule of :data:`MOLECULES`; else InputError.
    """
    from ase.build import bulk, molecule
    from ase.data import atomic_numbers, reference_states

    if files and symbol in files:
        path = Path(files[symbol])
        atoms = read_structure(path)
        if set(atoms.get_chemical_symbols()) != {symbol}:
            raise InputError(f"reference file {path} for {symbol} holds {atoms.get_chemical_formula()}, "
                             f"not pure {symbol}")
        origin = f"file {path.name} sha256:{sha256_file(path)[:16]}"
        if not atoms.pbc.all():
            return _boxed(atoms), origin + " (molecule in a 12 Å box)", False
        return atoms, origin, True
    state = reference_states[atomic_numbers[symbol]] if symbol in atomic_numbers else None
    if symbol in MOLECULES:
        return _boxed(molecule(MOLECULES[symbol])), f"ase molecule {MOLECULES[symbol]} in a {BOX:g} Å box", False
    if state and state.get("basis", "") is not None:  # basis None: ASE knows the lattice but not the atoms
        try:
            return bulk(symbol), f"ase bulk {state['symmetry']}", True
        except Exception:  # symmetries ase.build.bulk cannot build
            pass
    raise InputError(f"no reference structure for {symbol}: ASE has no ground-state crystal of it; give one "
                     f"with --reference {symbol}=FILE (Python: references={{'{symbol}': path}})")


def _boxed(atoms: Atoms) -> Atoms:
    boxed = atoms.copy()
    boxed.set_cell([BOX] * 3)
    boxed.center()
    boxed.pbc = True
    return boxed


def reference_energies(elements: Sequence[str], engine: Potential, db: Database, source: str,
                       files: dict[str, str | os.PathLike] | None = None, fmax: float = 0.05,
                       max_steps: int = MAX_STEPS) -> dict[str, dict[str, Any]]:
    """Per element: ``{"energy": eV/atom, "origin": ...}`` of its relaxed reference under ``engine``, from the
    database or relaxed now and stored (ConvergenceError when it does not reach ``fmax``)."""
    structures = {el: reference_structure(el, files) for el in elements}  # every InputError before any work
    out: dict[str, dict[str, Any]] = {}
    for el, (atoms, origin, cell) in structures.items():
        energy = db.element_reference(el, engine.name, engine.version, origin)
        if energy is None:
            done = relax(atoms, engine, fmax, max_steps, cell=cell)
            if not done.converged:
                raise ConvergenceError(f"reference {el} ({origin}) did not converge: largest force {done.fmax:.3f} "
                                       f"eV/Å after {done.n_steps} steps (> {fmax:g}); raise --max-steps")
            db.add_element_reference(el, engine=engine.name, engine_version=engine.version, origin=origin,
                                     energy=done.energy, fmax=done.fmax, n_steps=done.n_steps, structure=done.atoms,
                                     source=source)
            energy = done.energy
            log.info("reference %s (%s): %.4f eV/atom after %d steps", el, origin, energy, done.n_steps)
        out[el] = {"energy": float(energy), "origin": origin}
    return out


def formation_energy(atoms: Atoms, energy: float, references: dict[str, dict[str, Any]]) -> float:
    """Formation energy (eV/atom) of ``atoms`` at ``energy`` eV/atom against the elemental references
    (element -> ``{"energy": eV/atom, ...}``)."""
    return energy - float(np.mean([references[s]["energy"] for s in atoms.get_chemical_symbols()]))


# -- which frames --------------------------------------------------------------------------------------

def production_run(db: Database, formula: str, temperature: float | None = None,
                   source: str | None = None) -> RunInfo:
    """The finished production run of ``formula`` with a trajectory file: of ``source`` (None: the one source
    that has such runs), at ``temperature`` K (None: the lowest), the latest of several."""
    name = parse_formula(formula).reduced_formula
    try:
        runs = db.show(name).runs
    except InputError:
        runs = []
    runs = [r for r in runs if r.stage == "production" and r.status == "done" and r.trajectory_path]
    hint = f"run `amorphdb run {name}` first, or give a trajectory file (--trajectory FILE)"
    if source is None:
        sources = list(dict.fromkeys(r.source for r in runs))
        if len(sources) > 1:
            raise InputError(f"{name}: production runs from several sources ({', '.join(sources)}): choose one "
                             "with --source")
    else:
        runs = [r for r in runs if r.source == source]
    if not runs:
        raise InputError(f"no finished production run of {name} with a trajectory"
                         f"{f' from {source}' if source else ''} in {db.safe_url}: {hint}")
    if temperature is not None:
        at = [r for r in runs if abs(r.temperature - float(temperature)) < 1e-6]
        if not at:
            raise InputError(f"{name}: no production run at {temperature:g} K (there are: "
                             f"{', '.join(f'{t:g}' for t in sorted({r.temperature for r in runs}))} K)")
        runs = at
    coldest = min(r.temperature for r in runs)
    return max((r for r in runs if r.temperature == coldest), key=lambda r: r.id)


def _stored_run(db: Database, name: str, run_id: int) -> RunInfo:
    """The run ``run_id`` when it is a finished production run of ``name`` with a trajectory, else InputError."""
    run = db.run(run_id)
    if run.formula != name or run.stage != "production" or run.status != "done" or not run.trajectory_path:
        raise InputError(f"run {run_id} is not a finished production run of {name} with a trajectory (it is "
                         f"{run.formula} {run.stage} at {run.temperature:g} K, {run.status})")
    return run


def snapshot_stride(spacing_ps: float, frame_dt_ps: float, what: str = "a spacing") -> int:
    """Frames between snapshots ``spacing_ps`` ps apart in a trajectory of frames ``frame_dt_ps`` ps apart;
    InputError when that is not a whole number (1 % tolerance) of at least one."""
    stride = round(spacing_ps / frame_dt_ps) if 0 < spacing_ps < math.inf else 0
    if stride < 1 or not math.isclose(stride * frame_dt_ps, spacing_ps, rel_tol=0.01):
        raise InputError(f"{what} of {spacing_ps:g} ps is not a whole number of frames ({frame_dt_ps:g} ps apart)")
    return stride


def snapshot_frames(frames: Sequence[Atoms], snapshots: int, spacing_ps: float,
                    frame_dt_ps: float | None = None) -> list[int]:
    """Indices of ``snapshots`` frames ``spacing_ps`` apart ending at the last frame, oldest first. The time
    between frames comes from the frames' ``info["time_ps"]``, else ``frame_dt_ps`` (ps)."""
    n = len(frames)
    times = [f.info.get(TIME_KEY) for f in frames]
    if frame_dt_ps is None:
        steps = np.diff(np.asarray(times, dtype=float)) if n > 1 and None not in times else np.array([])
        if not len(steps) or not np.allclose(steps, steps[0], rtol=1e-6) or steps[0] <= 0:
            raise InputError(f"the trajectory's {n} frames do not say their times ({TIME_KEY}) evenly: give the "
                             "time between frames with --frame-dt-ps")
        frame_dt_ps = float(steps[0])
    stride = snapshot_stride(spacing_ps, frame_dt_ps)
    needed = (snapshots - 1) * stride + 1
    if needed > n:
        raise InputError(f"too few frames: {snapshots} snapshots {spacing_ps:g} ps apart need "
                         f"{(snapshots - 1) * spacing_ps:g} ps ({needed} frames); the trajectory has {n} frames "
                         f"({(n - 1) * frame_dt_ps:g} ps): lower --snapshots or --spacing-ps")
    return list(range(n - needed, n, stride))


# -- the limit -----------------------------------------------------------------------------------------

def amorphous_limit(formula: str, *, temperature: float | None = None, snapshots: int = 10,
                    spacing_ps: float = 2.0, engine: str | Potential = "chgnet", fmax: float = 0.05,
                    max_steps: int = MAX_STEPS, db: Database | str | os.PathLike[str] | None = None,
                    trajectory: str | os.PathLike[str] | None = None, source: str | None = None,
                    references: dict[str, str | os.PathLike] | None = None, frame_dt_ps: float | None = None,
                    run_id: int | None = None, device: str | None = None,
                    progress: bool = True) -> AmorphousLimitView:
    """The amorphous limit of ``formula`` (eV/atom), stored in ``db`` and returned as stored.

    Frames come from ``trajectory`` (any file ASE reads), the stored production run ``run_id``, or the stored
    production run of the composition (:func:`production_run`: ``source``, ``temperature`` K, default the
    lowest); ``snapshots`` of them
    ``spacing_ps`` ps apart (:func:`snapshot_frames`) are relaxed with ``engine`` to ``fmax`` eV/Å in at most
    ``max_steps`` steps; formation energies against the elemental references (``references``: element ->
    structure file, for elements without a built-in one). Bad input raises InputError before any relaxation;
    a relaxation that does not converge raises ConvergenceError after it is stored as failed.
    """
    name = parse_formula(formula).reduced_formula
    checks = [(snapshots >= 1, f"snapshots must be at least 1, got {snapshots}"),
              (0 < spacing_ps < math.inf, f"spacing must be positive (ps), got {spacing_ps}"),
              (0 < fmax < math.inf, f"fmax must be positive (eV/Å), got {fmax}"),
              (max_steps >= 1, f"max_steps must be at least 1, got {max_steps}"),
              (frame_dt_ps is None or 0 < frame_dt_ps < math.inf, f"frame_dt_ps must be positive, got {frame_dt_ps}")]
    for ok, message in checks:
        if not ok:
            raise InputError(message)
    db = as_database(db)
    run = None
    if trajectory is not None and run_id is not None:
        raise InputError("give a trajectory file or a run id, not both")
    if run_id is not None and (temperature is not None or source is not None):
        raise InputError("a run id names the run: leave out the temperature and the source")
    if trajectory is None:
        run = production_run(db, name, temperature, source) if run_id is None else _stored_run(db, name, run_id)
        path = Path(run.trajectory_path)
        if not path.is_file():
            raise InputError(f"the trajectory of run {run.id} ({name}, {run.temperature:g} K) is gone: {path}")
        sha = sha256_file(path)
        if run.trajectory_sha256 and sha != run.trajectory_sha256:
            raise InputError(f"the trajectory of run {run.id} changed since the run was stored: {path}")
        temperature = run.temperature
    else:
        path, sha = Path(trajectory), None
    frames = read_frames(path)
    sha = sha or sha256_file(path)  # a stored run's file was hashed above: once is enough
    found = parse_formula(frames[0].get_chemical_formula()).reduced_formula
    if found != name:
        raise InputError(f"{path} holds {found}, not {name}")
    picked = snapshot_frames(frames, snapshots, spacing_ps, frame_dt_ps)
    elements = sorted(set(frames[0].get_chemical_symbols()))
    for el in elements:
        reference_structure(el, references)  # an element without a reference: InputError before any work
    eng = engine if isinstance(engine, Potential) else load_engine(engine, device=device)
    check_elements(eng, name)
    label = f"mlip-{eng.name}"
    refs = reference_energies(elements, eng, db, label, references, fmax, max_steps)
    legacy = f"{sha[:16]}/{snapshots}x{spacing_ps:g}ps/fmax{fmax:g}/{eng.name} {eng.version}"
    key = f"{legacy}/frames{picked[0]}-{picked[-1]}"  # other frames (--frame-dt-ps): another limit
    tags = {f"snapshot-{k + 1:02d}": index for k, index in enumerate(picked)}
    limits = {v.key: v for v in db.amorphous_limits(name, label)}
    old = limits.get(legacy)
    if key not in limits and old and all(tags.get(r.label) == r.frame for r in old.relaxations):
        key = legacy  # stored before the frames were in the key, from the same frames: resume it
    common = dict(run_id=run.id if run else None, trajectory_path=str(path.resolve()), trajectory_sha256=sha,
                  temperature=temperature if temperature is None else float(temperature), engine=eng.name,
                  engine_version=eng.version, n_snapshots=snapshots, spacing_ps=float(spacing_ps),
                  fmax=float(fmax), max_steps=int(max_steps), references=refs)
    previous = limits.get(key)
    done_before = {r.label: r for r in previous.relaxations if r.status == "done"} if previous else {}
    stored = db.relaxed_structures(previous.id) if done_before else {}
    cleared = dict(limit=None, limit_err=None, mean=None, std=None)  # no stale numbers while running or failed
    limit_id = db.add_amorphous_limit(name, source=label, key=key, status="running", message=None, **cleared,
                                      **common)
    log.info("%s: relaxing %d snapshots of %s (%d atoms) with %s", name, len(picked), path, len(frames[0]), eng.name)

    from tqdm.auto import tqdm

    energies, failed = [], []
    for k, index in enumerate(tqdm(picked, desc=f"{name} relaxations", unit="snapshot", disable=not progress)):
        tag = f"snapshot-{k + 1:02d}"
        if tag in done_before and done_before[tag].frame == index:  # converged before: same frame, engine, fmax
            old = done_before[tag]
            structure, volume = stored[tag], old.volume
            result = Relaxed(frames[index], old.energy, old.fmax, old.n_steps, True)
        else:
            result = relax(frames[index], eng, fmax, max_steps)
            structure, volume = result.atoms, result.atoms.get_volume() / len(result.atoms)
        e_form = formation_energy(frames[index], result.energy, refs)
        message = None if result.converged else (f"{tag} did not converge: largest force {result.fmax:.3f} eV/Å "
                                                 f"after {result.n_steps} steps (> {fmax:g})")
        db.add_relaxation(limit_id, tag, structure=structure, frame=int(index),
                          time_ps=frames[index].info.get(TIME_KEY), status="done" if result.converged else "failed",
                          message=message, n_steps=result.n_steps, fmax=result.fmax, energy=result.energy,
                          formation_energy=e_form, volume=float(volume))
        (energies if result.converged else failed).append(e_form if result.converged else message)
    if failed:
        message = f"{len(failed)} of {len(picked)} relaxations did not converge; first: {failed[0]}; raise --max-steps"
        db.add_amorphous_limit(name, source=label, key=key, status="failed", message=message, **cleared)
        raise ConvergenceError(message)
    values = np.asarray(energies)
    db.add_amorphous_limit(name, source=label, key=key, status="done", limit=float(values.min()),
                           limit_err=_min_standard_error(values), mean=float(values.mean()),
                           std=float(values.std(ddof=1)) if len(values) > 1 else None)
    return next(v for v in db.amorphous_limits(name, label) if v.id == limit_id)


def _min_standard_error(values: np.ndarray) -> float | None:
    """Bootstrap standard error (same units) of the lowest of ``values``; None for fewer than two."""
    if len(values) < 2 or np.ptp(values) == 0:
        return None if len(values) < 2 else 0.0
    from scipy.stats import bootstrap

    res = bootstrap((values,), np.min, n_resamples=2000, method="percentile", random_state=0)
    return float(res.standard_error)


# -- synthesizability ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Verdict:
    """A crystal against the amorphous limit of its composition: its relaxed energy and formation energy
    (eV/atom), the limit used (eV/atom, id ``limit_id``, from MD at ``limit_temperature`` K), the margin
    crystal − limit and its uncertainty (the limit's bootstrap standard error) in meV/atom, and the verdict:
    ``below`` (may be made) or ``above`` (unlikely: the amorphous phase would form first). ``significant``:
    |margin| exceeds its uncertainty."""

    file: str
    formula: str
    n_atoms: int
    energy: float
    formation_energy: float
    n_steps: int
    limit_id: int
    limit_temperature: float | None
    limit: float
    limit_err: float | None
    margin_meV_per_atom: float
    uncertainty_meV_per_atom: float | None
    verdict: str
    significant: bool
    engine: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def text(self) -> str:
        err = f" ± {self.uncertainty_meV_per_atom:.0f}" if self.uncertainty_meV_per_atom is not None else ""
        at = f", {self.limit_temperature:g} K" if self.limit_temperature is not None else ""
        return (f"{self.file}: {self.formula} E_f = {self.formation_energy:.4f} eV/atom, amorphous limit "
                f"{self.limit:.4f} eV/atom (id {self.limit_id}{at}): {self.verdict} by "
                f"{abs(self.margin_meV_per_atom):.0f}{err} meV/atom"
                f"{'' if self.significant else ' (within the uncertainty)'}")


def stored_limit(db: Database, formula: str, engine: Potential,
                 temperature: float | None = None) -> AmorphousLimitView:
    """The finished amorphous limit of ``formula`` relaxed with ``engine`` (same name and version) from MD at
    ``temperature`` K (None: the coldest stored; limits of unknown temperature only when no other); the latest
    created of several."""
    name = parse_formula(formula).reduced_formula
    limits = [v for v in db.amorphous_limits(name) if v.status == "done"]
    same = [v for v in limits if v.engine == engine.name and v.engine_version == engine.version]
    if not same:
        other = (f" (there are limits from {', '.join(sorted({f'{v.engine} {v.engine_version}' for v in limits}))}"
                 "; choose that engine)") if limits else ""
        raise InputError(f"no amorphous limit of {name} from {engine.name} {engine.version} in {db.safe_url}{other}: "
                         f"compute it with `amorphdb amorphous-limit {name}` (after `amorphdb run {name}`, or with "
                         "--trajectory FILE)")
    if temperature is not None:
        at = [v for v in same if v.temperature is not None and abs(v.temperature - float(temperature)) < 1e-6]
        if not at:
            known = sorted({v.temperature for v in same if v.temperature is not None})
            raise InputError(f"no amorphous limit of {name} from {engine.name} {engine.version} at {temperature:g} K"
                             f" (there are: {', '.join(f'{t:g} K' for t in known) or 'only of unknown temperature'})")
        same = at
    elif any(v.temperature is not None for v in same):
        coldest = min(v.temperature for v in same if v.temperature is not None)
        same = [v for v in same if v.temperature == coldest]
    return max(same, key=lambda v: (v.created_at, v.id))


def synthesizability(crystal_files: Sequence[str | os.PathLike[str]], *, limit_from: str | None = None,
                     engine: str | Potential = "chgnet", fmax: float = 0.05, max_steps: int = MAX_STEPS,
                     db: Database | str | os.PathLike[str] | None = None, device: str | None = None,
                     temperature: float | None = None) -> list[Verdict]:
    """Relax each crystal (any file ASE or pymatgen reads) with ``engine`` and compare its energy with the
    stored amorphous limit of its composition (``limit_from``: None or ``"db"``, each crystal's own; a formula,
    that composition's, which must be the crystal's), from MD at ``temperature`` K (None: the coldest stored,
    the latest created of several at it; :func:`stored_limit`). The crystal's formation energy uses the limit's own
    elemental references, so the margin is the difference of the two energies per atom. Every file is read and
    every limit found before any relaxation (InputError); a crystal that does not converge raises
    ConvergenceError."""
    if not crystal_files:
        raise InputError("give one or more crystal files")
    db = as_database(db)
    crystals = [(Path(f), read_structure(f)) for f in crystal_files]
    names = [parse_formula(atoms.get_chemical_formula()).reduced_formula for _, atoms in crystals]
    wanted = None if limit_from is None or limit_from.lower() == "db" else parse_formula(limit_from).reduced_formula
    for (path, _), name in zip(crystals, names):
        if wanted is not None and wanted != name:
            raise InputError(f"{path} is {name}; the limit of {wanted} applies only to {wanted}")
    eng = engine if isinstance(engine, Potential) else load_engine(engine, device=device)
    limits = []
    for name in names:
        check_elements(eng, name)
        limits.append(stored_limit(db, name, eng, temperature))
    out = []
    for (path, atoms), limit in zip(crystals, limits):
        done = relax(atoms, eng, fmax, max_steps)
        if not done.converged:
            raise ConvergenceError(f"{path} did not converge: largest force {done.fmax:.3f} eV/Å after "
                                   f"{done.n_steps} steps (> {fmax:g}); raise --max-steps")
        e_form = formation_energy(atoms, done.energy, limit.references)
        margin = 1000.0 * (e_form - limit.limit)
        err = None if limit.limit_err is None else 1000.0 * limit.limit_err
        out.append(Verdict(str(path), limit.formula, len(atoms), done.energy, e_form, done.n_steps, limit.id,
                           limit.temperature, limit.limit, limit.limit_err, margin, err, VERDICTS[margin > 0],
                           err is None or abs(margin) > err, f"{eng.name} {eng.version}"))
    return out
