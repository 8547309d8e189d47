"""The MPMorph melt-quench protocol with a universal ML potential, its presets, and its results in the database.

For one composition (``docs/protocol.md`` has the numbers and the reasons):

1. scale the formula to about ``atoms`` atoms and pack them at random at the guessed density
   (:mod:`amorphdb.structure`);
2. at the melt temperature (5000 K), the **volume search**: NVT runs at 0.8, 1.0, 1.2 × the volume, a
   third-order Birch–Murnaghan fit of P(V) (linear fallback), a **check** run at the zero-pressure volume,
   then rescale V → V·exp(β·P) until |P| < 5 kbar and the energy drift < 0.1 % (caps: 14 rescales, after
   which it fails; 3 energy-only reruns, after which it goes on, as the reference does);
3. the **production** run at the converged volume;
4. each lower temperature starts from the last melt frame with fresh velocities (an instantaneous quench)
   and does its own volume search, check and production;
5. after each production run: D per species, partial RDFs and features into the database; at the end the
   Arrhenius fit per species.

Every MD run is a database run (source ``mlip-<engine>``, stage ``volume``/``check``/``production``) whose key
encodes the settings, temperature, stage and iteration, and a set of files in the work directory
(:mod:`amorphdb.md`). Running the same command again after a kill skips the finished runs (database row
``done`` and result file with matching checksum), resumes the interrupted one from its checkpoint, and
repeats the same decisions, so nothing is lost or duplicated.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import warnings
import zlib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.io import read
from pymatgen.io.ase import AseAtomsAdaptor
from scipy.optimize import OptimizeWarning, curve_fit

from ..composition import parse_formula, scale_composition
from ..analysis.diffusion import MIN_FRAMES, arrhenius_fit, diffusion_from_trajectory
from ..engines import Engine, check_elements, load_engine
from ..errors import ConvergenceError, InputError, MDError
from ..md import MDResult, atomic_write, load_result, run_nvt
from ..structure import guess_density, random_packing

log = logging.getLogger(__name__)

ENV_WORKDIR = "AMORPHDB_WORKDIR"


@dataclass(frozen=True)
class ProtocolSettings:
    """Every number of the protocol (units: K, fs, kbar, bar⁻¹, g/cm³, Å). Defaults: the paper preset."""

    atoms: int = 100  # atoms in the cell (nearest multiple of the formula unit)
    melt_temperature: float = 5000.0  # K
    temperatures: tuple[float, ...] = (1000.0, 1500.0, 2000.0, 2500.0)  # K, each quenched from the melt
    volume_steps: int = 2000  # steps of each 0.8/1.0/1.2 x volume run
    check_steps: int = 2000  # steps of each convergence check run
    production_steps: int = 10000  # steps of the production run
    timestep: float = 2.0  # fs
    tdamp: float = 200.0  # fs, Nose-Hoover chain damping time
    frame_interval: int = 1  # write every n-th step to the trajectory
    checkpoint_interval: int = 500  # steps between MD checkpoints
    scales: tuple[float, ...] = (0.8, 1.0, 1.2)  # volume factors of the EOS runs
    pressure_convention: str = "virial"  # "virial" (the paper's) or "total" (kinetic term included)
    pressure_tolerance: float = 5.0  # kbar: converged when |P| is below
    energy_tolerance: float = 0.001  # converged when |E(2nd half) - E(1st half)| / |E| is below
    rescale_beta: float = 5e-7  # 1/bar: V -> V exp(beta P)
    max_rescales: int = 14  # volume rescales before the search fails
    max_energy_reruns: int = 3  # energy-only reruns before going on to production
    max_eos_extensions: int = 3  # extra EOS runs when the zero-pressure volume is outside the explored range
    density: float | None = None  # g/cm3 of the packed start; None: guessed from element data
    packing_tolerance: float = 2.0  # Å, PACKMOL's pair distance
    max_temperature_factor: float = 3.0  # blow-up: mean T over 100 steps above this x target (x melt T in a quench)
    min_distance: float = 0.5  # Å, blow-up: two atoms closer than this
    analysis_frames: int = 10  # frames of the production run averaged for RDFs and features
    seed: int = 1  # PACKMOL and velocity seed

    def validate(self) -> ProtocolSettings:
        """Raise :class:`InputError` for a setting no run can use; return ``self``."""
        def positive(*values: float) -> bool:  # finite and > 0 (NaN and inf fail)
            return all(0 < v < math.inf for v in values)

        temperatures = (self.melt_temperature, *self.temperatures)
        checks = [
            (self.atoms >= 1, f"atoms must be at least 1, got {self.atoms}"),
            (positive(*temperatures), f"temperatures must be positive and finite (K), got {list(temperatures)}"),
            (len(set(temperatures)) == len(temperatures),
             f"quench temperatures must be distinct and differ from the melt temperature, got {list(temperatures)}"),
            (min(self.volume_steps, self.check_steps, self.production_steps) >= 2, "runs need at least 2 steps"),
            (positive(self.timestep, self.tdamp), "timestep and tdamp must be positive (fs)"),
            (self.frame_interval >= 1 and self.checkpoint_interval >= 1, "frame and checkpoint intervals must be >= 1"),
            (len(set(self.scales)) >= 2 and positive(*self.scales),
             "need at least two distinct positive volume scales"),
            (self.pressure_convention in ("virial", "total"), "pressure convention must be 'virial' or 'total'"),
            (positive(self.pressure_tolerance, self.energy_tolerance), "convergence tolerances must be positive"),
            (positive(self.rescale_beta), "rescale beta must be positive (1/bar)"),
            (min(self.max_rescales, self.max_energy_reruns, self.max_eos_extensions) >= 0,
             "iteration caps must not be negative"),
            (self.density is None or positive(self.density), f"density must be positive, got {self.density}"),
            (positive(self.packing_tolerance),
             f"packing tolerance must be positive (Å), got {self.packing_tolerance}"),
            (positive(self.max_temperature_factor) and self.min_distance >= 0,
             "blow-up bounds: the temperature factor must be positive, the minimum distance not negative"),
            (self.analysis_frames >= 1, "analysis frames must be at least 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise InputError(message)
        return self

    def fingerprint(self) -> str:
        """Short hash of the settings that change the runs (not the temperature list, not the analysis)."""
        data = {k: v for k, v in asdict(self).items() if k not in ("temperatures", "analysis_frames")}
        return hashlib.sha1(json.dumps(data, sort_keys=True).encode()).hexdigest()[:8]


PRESETS: dict[str, ProtocolSettings] = {
    "paper": ProtocolSettings(),
    # a small cell and short runs: the whole protocol in a few minutes on 2 CPU cores (demos, the README job)
    "quick": ProtocolSettings(atoms=24, volume_steps=100, check_steps=100, production_steps=500, tdamp=100.0,
                              frame_interval=5, checkpoint_interval=50, pressure_tolerance=10.0,
                              energy_tolerance=0.02, max_rescales=6, max_energy_reruns=1, analysis_frames=5),
}


def settings_for(preset: str = "quick", **overrides: Any) -> ProtocolSettings:
    """The settings of ``preset`` with ``overrides`` (field names of :class:`ProtocolSettings`) applied."""
    if preset not in PRESETS:
        raise InputError(f"unknown preset {preset!r} (use {' or '.join(PRESETS)})")
    known = {f.name for f in fields(ProtocolSettings)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise InputError(f"unknown setting(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    values = {k: (tuple(float(x) for x in v) if k in ("temperatures", "scales") else v)
              for k, v in overrides.items() if v is not None}
    return replace(PRESETS[preset], **values).validate()


# --------------------------------------------------------------------------------------------------
# Equation of state
# --------------------------------------------------------------------------------------------------

def birch_murnaghan_pressure(volume: np.ndarray, v0: float, b0: float, b0_prime: float) -> np.ndarray:
    """Third-order Birch–Murnaghan P(V) (units of ``b0``; volumes in any common unit)."""
    eta = (v0 / np.asarray(volume, dtype=float)) ** (1.0 / 3.0)
    return 1.5 * b0 * (eta**7 - eta**5) * (1.0 + 0.75 * (b0_prime - 4.0) * (eta**2 - 1.0))


def fit_zero_pressure_volume(volumes: list[float], pressures: list[float]) -> tuple[float, str]:
    """Volume (Å³) where P(V) = 0 from a Birch–Murnaghan fit, else a linear one; and which fit was used.

    The BM fit starts from V0 = mean V, B0 from a quadratic fit and B0' = 4; it is kept when it converges with
    B0 > 0 and V0 within [0.5 min V, 2 max V]. The linear fit must have a negative slope
    (else :class:`ConvergenceError`). The result is kept within [0.5 min V, 2 max V].
    """
    v = np.asarray(volumes, dtype=float)
    p = np.asarray(pressures, dtype=float)
    lo, hi = 0.5 * v.min(), 2.0 * v.max()
    if len(v) >= 3:
        vm = float(v.mean())
        q2, q1, _ = np.polyfit(v, p, 2)
        b0 = max(-vm * (2 * q2 * vm + q1), 1e-3 * max(np.abs(p).max(), 1.0))
        try:
            with warnings.catch_warnings():  # three points, three parameters: no covariance, which is fine
                warnings.simplefilter("ignore", OptimizeWarning)
                (v0, b0_fit, _), _ = curve_fit(birch_murnaghan_pressure, v, p, p0=[vm, b0, 4.0], maxfev=20000)
            if math.isfinite(v0) and b0_fit > 0 and lo < v0 < hi:
                return float(v0), "birch-murnaghan"
        except (RuntimeError, ValueError):
            pass
    slope, intercept = np.polyfit(v, p, 1)
    if not slope < 0:
        raise ConvergenceError(f"pressure does not fall with volume (slope {slope:.3g} kbar/Å3): "
                               "no zero-pressure volume")
    return float(np.clip(-intercept / slope, lo, hi)), "linear"


# --------------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------------

@dataclass
class TemperatureResult:
    """The converged volume and production run at one temperature, with its analysis (D in cm²/s)."""

    temperature: float
    production: MDResult
    run_id: int
    n_rescales: int
    n_energy_reruns: int
    diffusion: dict[str, dict[str, Any]] = field(default_factory=dict)  # species -> D, D_err, diffusive


@dataclass
class ProtocolResult:
    """Everything one ``run`` made: per temperature results, Arrhenius fits per species, where files are."""

    formula: str
    source: str
    settings: ProtocolSettings
    workdir: Path
    temperatures: list[TemperatureResult]
    arrhenius: dict[str, Any] = field(default_factory=dict)  # species -> ArrheniusResult

    def table(self, species: str | None = None) -> str:
        """T, density, D ± error of ``species`` (default Li, else the first element) and Ea, as text."""
        species = species or ("Li" if "Li" in self.formula_elements else self.formula_elements[0])
        n_atoms = self.temperatures[0].production.n_atoms if self.temperatures else self.settings.atoms
        lines = [f"{self.formula}, {n_atoms} atoms, {self.source}",
                 f"{'T (K)':>8} {'density (g/cm3)':>16} {'D(' + species + ') (cm2/s)':>26}  diffusive"]
        for t in self.temperatures:
            d = t.diffusion.get(species)
            dtext = f"{d['D']:.2e} ± {d['D_err']:.1e}" if d and d.get("D_err") is not None else (
                f"{d['D']:.2e}" if d else "n/a")
            flag = ("yes" if d["diffusive"] else "no") if d else "-"
            lines.append(f"{t.temperature:>8.0f} {t.production.density:>16.3f} {dtext:>26}  {flag}")
        fit = self.arrhenius.get(species)
        if not any(t.diffusion for t in self.temperatures):
            lines.append(f"Ea({species}): not computed (no diffusion analysis)")
        elif fit is not None:
            err = f" ± {fit.Ea_err:.3f}" if fit.Ea_err is not None and math.isfinite(fit.Ea_err) else ""
            lines.append(f"Ea({species}) = {fit.Ea:.3f}{err} eV ({fit.t_min:.0f}-{fit.t_max:.0f} K)")
        else:
            lines.append(f"Ea({species}): no fit (too few diffusive quench temperatures)")
        return "\n".join(lines)

    @property
    def formula_elements(self) -> list[str]:
        return [el.symbol for el in parse_formula(self.formula).elements]


# --------------------------------------------------------------------------------------------------
# The protocol
# --------------------------------------------------------------------------------------------------

@dataclass
class RunContext:
    """What every MD run of one protocol shares: material, engine, settings, work directory, database."""

    formula: str  # reduced formula, the database key of the material
    source: str  # mlip-<engine>
    engine: Engine
    settings: ProtocolSettings
    workdir: Path
    db: Any  # amorphdb.database.Database
    progress: bool = True

    def md(self, atoms: Atoms, temperature: float, stage: str, iteration: int, n_steps: int,
           label: str = "", start_temperature: float | None = None) -> tuple[MDResult, int]:
        """One MD run recorded in the database; a finished one is found again and not redone.

        ``start_temperature``: the temperature ``atoms`` was equilibrated at, when not ``temperature``.
        """
        key = f"{self.settings.fingerprint()}/T{temperature:g}/{stage}/{iteration}{label}"
        path = self.workdir / f"T{temperature:g}" / f"{stage}-{iteration}{label.replace('/', '-')}.traj"
        row = self.db.get_run(self.formula, self.source, key)
        done = load_result(path)
        if row is not None and row.status == "done" and done is not None and row.trajectory_sha256 == done.sha256:
            return done, row.id
        s = self.settings
        run_id = self.db.add_run(
            self.formula, source=self.source, temperature=temperature, stage=stage, key=key,
            engine=self.engine.name, engine_version=self.engine.version, n_atoms=len(atoms), n_steps=n_steps,
            timestep=s.timestep, status="running", trajectory_path=str(path), message=None)
        try:
            result = run_nvt(atoms, self.engine.calculator, temperature=temperature, n_steps=n_steps, path=path,
                             timestep=s.timestep, frame_interval=s.frame_interval,
                             checkpoint_interval=s.checkpoint_interval, tdamp=s.tdamp,
                             seed=s.seed + zlib.crc32(key.encode()) % 100000,
                             stage=f"T={temperature:g} K {stage} {iteration}{label}",
                             max_temperature_factor=s.max_temperature_factor, start_temperature=start_temperature,
                             min_distance=s.min_distance,
                             progress=self.progress)
        except Exception as exc:  # MDError, or a calculator failing in its own way: the row must not stay "running"
            text = str(exc) if isinstance(exc, MDError) else (
                f"T={temperature:g} K {stage} {iteration}{label}: {type(exc).__name__}: {exc}")
            self.db.update_run(run_id, status="failed", message=text.splitlines()[0])
            raise
        # the final structure first, "done" last: a kill between the two leaves the run to be finished again
        self.db.add_structure(run_id, AseAtomsAdaptor.get_structure(last_frame(result)))
        self.db.update_run(run_id, status="done", volume=result.volume, density=result.density,
                           energy=result.energy, pressure=result.pressure(s.pressure_convention),
                           trajectory_sha256=result.sha256, message=None)
        return result, run_id

    def fail(self, run_id: int, error: ConvergenceError) -> ConvergenceError:
        """Mark the run where the volume search stopped as failed with ``error``'s message; return ``error``."""
        self.db.update_run(run_id, status="failed", message=str(error))
        return error


def last_frame(result: MDResult) -> Atoms:
    """The last frame of a run, wrapped into the cell, without calculator or velocities."""
    atoms = read(result.path, index=-1)
    atoms.calc = None
    atoms.set_momenta(None)
    atoms.wrap()
    return atoms


def _scaled(atoms: Atoms, volume: float) -> Atoms:
    out = atoms.copy()
    out.set_cell(out.cell * (volume / out.get_volume()) ** (1.0 / 3.0), scale_atoms=True)
    return out


def _nearest(runs: list[MDResult], volume: float) -> MDResult:
    return min(runs, key=lambda r: abs(math.log(r.volume / volume)))


def equilibrate(ctx: RunContext, start: Atoms, temperature: float,
                start_temperature: float | None = None) -> tuple[MDResult, int, int]:
    """Volume search and check runs at ``temperature`` from ``start``: (last check run, rescales, energy reruns).

    The EOS runs at ``scales`` × the start volume are fitted; while the zero-pressure volume lies outside the
    explored range, one more run is added beyond its edge (at most ``max_eos_extensions``). The first check
    starts from the last frame of the EOS run nearest to that volume, scaled to it. ``start_temperature``: the
    temperature ``start`` comes from (the melt, for a quench).
    Raises :class:`ConvergenceError` after ``max_rescales`` rescales without a converged pressure, or when the
    pressure does not fall with the volume; the run where the search stopped is marked failed with the message.
    """
    s = ctx.settings
    v_start = start.get_volume()
    runs: list[MDResult] = []
    run_ids: list[int] = []

    def eos_run(origin: Atoms, volume: float, label: str, origin_temperature: float | None = None) -> None:
        result, run_id = ctx.md(_scaled(origin, volume), temperature, "volume", 0, s.volume_steps, label=label,
                                start_temperature=origin_temperature)
        runs.append(result)
        run_ids.append(run_id)
        log.info("T=%g K volume %s: V=%.1f Å3, P=%.1f kbar, E=%.4f eV/atom", temperature, label.strip("/"),
                 result.volume, result.pressure(s.pressure_convention), result.energy)

    for scale in s.scales:
        eos_run(start, scale * v_start, f"/x{scale:g}", start_temperature)
    step = max(b / a for a, b in zip(sorted(s.scales), sorted(s.scales)[1:]))  # widest gap between scales
    for extension in range(s.max_eos_extensions + 1):
        volumes, pressures = [r.volume for r in runs], [r.pressure(s.pressure_convention) for r in runs]
        lo, hi = min(volumes), max(volumes)
        if min(pressures) > 0 or max(pressures) < 0:  # zero pressure not bracketed: look beyond the edge
            v0, how = (hi * step if min(pressures) > 0 else lo / step), "bracketing"
        else:
            try:
                v0, how = fit_zero_pressure_volume(volumes, pressures)
            except ConvergenceError as exc:
                raise ctx.fail(run_ids[-1], ConvergenceError(f"T={temperature:g} K volume search: {exc}")) from None
        if lo <= v0 <= hi or extension == s.max_eos_extensions:
            break
        target = min(max(v0, lo / step), hi * step)
        eos_run(last_frame(_nearest(runs, target)), target, f"/ext{extension}")
    v0 = min(max(v0, lo), hi)
    log.info("T=%g K zero-pressure volume %.1f Å3 (%s fit)", temperature, v0, how)
    atoms = _scaled(last_frame(_nearest(runs, v0)), v0)
    rescales = reruns = 0
    for iteration in range(s.max_rescales + s.max_energy_reruns + 1):
        check, check_id = ctx.md(atoms, temperature, "check", iteration, s.check_steps)
        pressure, drift = check.pressure(s.pressure_convention), check.energy_drift
        p_ok, e_ok = abs(pressure) < s.pressure_tolerance, drift < s.energy_tolerance
        log.info("T=%g K check %d: V=%.1f Å3 (%.3f g/cm3), P=%.1f kbar%s, energy drift %.2g%s", temperature,
                 iteration, check.volume, check.density, pressure, "" if p_ok else " (not converged)", drift,
                 "" if e_ok else " (not converged)")
        if p_ok and e_ok:
            return check, rescales, reruns
        atoms = last_frame(check)
        if not p_ok:
            rescales += 1
            if rescales > s.max_rescales:
                raise ctx.fail(check_id, ConvergenceError(
                    f"T={temperature:g} K volume search: |P| = {abs(pressure):.1f} kbar is still above "
                    f"{s.pressure_tolerance:g} kbar after {s.max_rescales} volume rescales (the cap, --max-rescales); "
                    "no production run"))
            atoms = _scaled(atoms, atoms.get_volume() * math.exp(s.rescale_beta * pressure * 1000.0))  # kbar → bar
        else:
            reruns += 1
            if reruns > s.max_energy_reruns:
                log.warning("T=%g K: energy drift %.2g still above %g after %d reruns; going on to production "
                            "(as the reference does)", temperature, drift, s.energy_tolerance, s.max_energy_reruns)
                return check, rescales, reruns - 1
    raise AssertionError("unreachable: the loop returns or raises within its caps")


def default_workdir(formula: str, source: str, settings: ProtocolSettings, base: str | Path | None = None) -> Path:
    """``base``, else ``$AMORPHDB_WORKDIR``, else ``$XDG_DATA_HOME/amorphdb/runs`` (``~/.local/share/...``),
    then ``<formula>-<source>-<settings fingerprint>``."""
    if not base:
        data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
        base = os.environ.get(ENV_WORKDIR) or data_home / "amorphdb" / "runs"
    return Path(base) / f"{formula}-{source}-{settings.fingerprint()}"


def run(formula: str, *, preset: str = "quick", engine: str | Engine = "chgnet",
        temperatures: list[float] | None = None, db: Any = None, workdir: str | Path | None = None,
        progress: bool = True, device: str | None = None, analyse: bool = True, **overrides: Any) -> ProtocolResult:
    """The whole protocol for ``formula``: melt, volume searches, productions, analysis, all in the database.

    ``preset`` is ``quick`` or ``paper``; ``overrides`` are fields of :class:`ProtocolSettings`; ``engine``
    a spec for :func:`amorphdb.engines.load_engine` or an :class:`Engine`; ``db`` a ``Database``, a URL or
    ``None`` (the default database); ``workdir`` holds the trajectories and checkpoints (default:
    :func:`default_workdir`). ``analyse=False`` skips diffusion, RDFs, features and Arrhenius.
    Running it again after an interruption resumes.
    """
    if temperatures is not None:
        overrides["temperatures"] = temperatures
    settings = settings_for(preset, **overrides)
    production_frames = settings.production_steps // settings.frame_interval + 1
    if analyse and production_frames < MIN_FRAMES:
        raise InputError(f"a production run of {settings.production_steps} steps writes {production_frames} frames; "
                         f"the diffusion analysis needs at least {MIN_FRAMES}: raise --production-steps, lower "
                         f"--frame-interval, or pass --no-analysis")
    reduced = parse_formula(formula).reduced_formula
    composition = scale_composition(formula, settings.atoms, mode="nearest")
    eng = engine if isinstance(engine, Engine) else load_engine(engine, device=device)
    check_elements(eng, composition)
    source = f"mlip-{eng.name}"
    if db is None or isinstance(db, (str, os.PathLike)):
        from ..database import Database

        db = Database(db)
    work = default_workdir(reduced, source, settings, workdir)
    work.mkdir(parents=True, exist_ok=True)
    ctx = RunContext(reduced, source, eng, settings, work, db, progress)
    log.info("%s: %d atoms, %s on %s, work directory %s", reduced, int(composition.num_atoms), eng.name,
             eng.device, work)

    start = _initial_atoms(composition, settings, work)
    results: list[TemperatureResult] = []
    melt = None
    for temperature in (settings.melt_temperature, *settings.temperatures):
        t_start = start if melt is None else last_frame(melt.production)
        check, rescales, reruns = equilibrate(ctx, t_start, temperature,
                                              None if melt is None else settings.melt_temperature)
        production, run_id = ctx.md(last_frame(check), temperature, "production", 0, settings.production_steps)
        log.info("T=%g K production: %.3f g/cm3, P=%.1f kbar, E=%.4f eV/atom, T=%.0f K", temperature,
                 production.density, production.pressure(settings.pressure_convention), production.energy,
                 production.temperature_mean)
        result = TemperatureResult(temperature, production, run_id, rescales, reruns)
        if analyse:
            result.diffusion = _analyse(ctx, result)
        results.append(result)
        if melt is None:
            melt = result
    quenched = [r for r in results if r is not melt] or results
    return ProtocolResult(reduced, source, settings, work, results, _arrhenius(ctx, quenched) if analyse else {})


def _initial_atoms(composition, settings: ProtocolSettings, work: Path) -> Atoms:
    """The packed start, made once and kept in the work directory (so a resumed run uses the same one)."""
    path = work / "initial.traj"
    if path.exists():
        return read(path)
    density = settings.density or guess_density(composition)
    structure = random_packing(composition, density, tolerance=settings.packing_tolerance, seed=settings.seed)
    atoms = AseAtomsAdaptor.get_atoms(structure)
    atomic_write(path, lambda tmp: atoms.write(tmp, format="traj"))
    return atoms


def _analyse(ctx: RunContext, result: TemperatureResult) -> dict[str, dict[str, Any]]:
    """D per species, partial RDFs and features of a production run, stored once (cached in a JSON file, which
    counts only while this database holds the run's features, stored last)."""
    cache = Path(result.production.path).with_suffix(".analysis.json")
    if cache.exists() and ctx.db.features(result.run_id):
        return json.loads(cache.read_text())
    from ..analysis.features import trajectory_features
    from ..analysis.rdf import partial_rdfs

    s, prod = ctx.settings, result.production
    frames = read(prod.path, index=":")
    dt_ps = s.timestep * s.frame_interval / 1000.0
    diffusion = diffusion_from_trajectory(frames, dt_ps=dt_ps)
    out: dict[str, dict[str, Any]] = {}
    for species, d in diffusion.items():
        err = None if d.D_err is None or not math.isfinite(d.D_err) else float(d.D_err)
        ctx.db.add_diffusivity(result.run_id, species, float(d.D), err, method=d.method,
                               diffusive=bool(d.diffusive))
        out[species] = {"D": float(d.D), "D_err": err, "diffusive": bool(d.diffusive)}
    picks = np.unique(np.linspace(len(frames) // 2, len(frames) - 1, s.analysis_frames).round().astype(int))
    sample = [frames[i].copy() for i in picks]
    for atoms in sample:
        atoms.wrap()
    ctx.db.add_rdf(result.run_id, partial_rdfs(sample))
    ctx.db.add_features(result.run_id, trajectory_features(sample, n_samples=len(sample),
                                                           temperature=result.temperature))
    log.info("T=%g K analysis: %s", result.temperature,
             ", ".join(f"D({k})={v['D']:.2e} cm2/s" for k, v in out.items()))
    atomic_write(cache, lambda tmp: tmp.write_text(json.dumps(out)))
    return out


def _arrhenius(ctx: RunContext, results: list[TemperatureResult]) -> dict[str, Any]:
    """Arrhenius fit per species over its diffusive runs, stored in the database (species without enough
    diffusive temperatures are left out: 2 with error bars, else 3)."""
    fits: dict[str, Any] = {}
    for sp in sorted({sp for r in results for sp in r.diffusion}):
        rows = [(r.temperature, r.diffusion[sp]) for r in results
                if sp in r.diffusion and r.diffusion[sp]["diffusive"] and r.diffusion[sp]["D"] > 0]
        with_errors = all(row[1]["D_err"] is not None and row[1]["D_err"] > 0 for row in rows)
        if len(rows) < (2 if with_errors else 3):
            log.info("no Arrhenius fit for %s: diffusive at %d temperature(s)", sp, len(rows))
            continue
        fit = arrhenius_fit([row[0] for row in rows], [row[1]["D"] for row in rows],
                            [row[1]["D_err"] for row in rows] if with_errors else None, species=sp)
        ctx.db.add_arrhenius(ctx.formula, ctx.source, sp, fit.Ea, fit.Ea_err, fit.prefactor, fit.prefactor_err,
                             fit.t_min, fit.t_max)
        log.info("Arrhenius %s: Ea = %.3f ± %.3f eV over %g-%g K", sp, fit.Ea, fit.Ea_err, fit.t_min, fit.t_max)
        fits[sp] = fit
    return fits
