"""``amorphdb.run``: the melt-quench protocol of one composition, analysed and stored in the database.

For one composition (``docs/protocol.md`` has the numbers and the reasons):

1. scale the formula to the smallest multiple of the formula unit with at least ``atoms`` atoms and pack them
   at random at the guessed density;
2. at the melt temperature and then at each quench temperature, the volume search, check and production runs
   of :mod:`amorphdb.protocol.mpmorph`, every MD run a database run (source ``mlip-<engine>``, stage
   ``volume``/``check``/``production``);
3. after each production run: D per species, partial RDFs and features into the database;
4. at the end the Arrhenius fit per species over the quench temperatures.

Running the same call again after a kill skips the finished runs, resumes the interrupted one from its
checkpoint and repeats the same decisions, so nothing is lost or duplicated.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ase.io import read
from pymatgen.core import Composition

from ..analysis.arrhenius import RULE, ArrheniusResult, arrhenius_points
from ..analysis.diffusion import MIN_FRAMES, diffusion_from_trajectory
from ..analysis.features import trajectory_features
from ..analysis.features.elements import element_data_source
from ..analysis.rdf import partial_rdfs
from ..analysis.trajectory import evenly_spaced
from ..composition import parse_formula, scale_composition
from ..database.api import Database
from ..engines import check_elements, load_engine
from ..engines.base import Potential
from ..errors import InputError
from ..md.files import atomic_write
from ..paths import default_runs_dir
from ..protocol.mpmorph import RunContext, melt, packed_start, quench
from ..protocol.results import ProtocolResult, SpeciesDiffusion, TemperatureResult
from ..protocol.settings import ProtocolSettings, settings_for
from .stopping import production_stop

log = logging.getLogger(__name__)

ENV_WORKDIR = "AMORPHDB_WORKDIR"


def default_workdir(formula: str, source: str, settings: ProtocolSettings, base: str | Path | None = None) -> Path:
    """``base``, else ``$AMORPHDB_WORKDIR``, else ``$XDG_DATA_HOME/amorphdb/runs`` (``~/.local/share/...``),
    then ``<formula>-<source>-<settings fingerprint>``; absolute (a relative one is taken from the current
    directory), since the database records the paths of the runs' files."""
    base = base or os.environ.get(ENV_WORKDIR) or default_runs_dir()
    return Path(base).expanduser().resolve() / f"{formula}-{source}-{settings.fingerprint()}"


def as_database(db: Database | str | os.PathLike[str] | None) -> Database:
    """The :class:`Database` of a URL or path (None: the default database); a ``Database`` is returned as is."""
    return Database(db) if db is None or isinstance(db, (str, os.PathLike)) else db


def check_production_frames(settings: ProtocolSettings) -> None:
    """Raise :class:`InputError` when a production run writes fewer frames than the diffusion analysis needs, or
    too few for its fit window from ``fit_start_ps``. (With ``target_d_error`` a run may stop earlier, but its
    stop rule waits until D can be fitted.)"""
    frames = settings.production_steps // settings.frame_interval + 1
    if frames < MIN_FRAMES:
        raise InputError(f"a production run of {settings.production_steps} steps writes {frames} frames; the "
                         f"diffusion analysis needs at least {MIN_FRAMES}: raise --production-steps, lower "
                         f"--frame-interval, or pass --no-analysis")
    if settings.fit_start_ps is not None:
        dt = settings.frame_interval * settings.timestep / 1000.0
        if (frames - 1) // 2 - max(1, round(settings.fit_start_ps / dt)) < 2:
            raise InputError(f"the D fit window from --fit-start-ps {settings.fit_start_ps:g} ps to half the "
                             f"production run ({0.5 * (frames - 1) * dt:g} ps) holds fewer than 3 frames: lower "
                             "--fit-start-ps or --frame-interval")


@dataclass
class CompositionRun:
    """One composition's protocol, checked and ready to run stage by stage: :func:`run_melt`, then
    :func:`run_quench` per quench temperature (independent of each other, unless each starts from the volume
    of the next hotter one: ``quench_start``), then :func:`fit_composition_arrhenius`. Made by :func:`prepare`."""

    ctx: RunContext  # formula, source, engine, settings, work directory; ``ctx.ledger`` is ``db``
    composition: Composition  # the whole cell
    db: Database
    analyse: bool  # D, RDFs, features and the Arrhenius fit after each production run


def prepare(formula: str, *, preset: str = "quick", engine: str | Potential = "chgnet",
            temperatures: list[float] | None = None, db: Database | str | os.PathLike[str] | None = None,
            workdir: str | Path | None = None, progress: bool = True, device: str | None = None,
            analyse: bool = True, **overrides: Any) -> CompositionRun:
    """Check everything about one composition's protocol before any MD (settings, formula, cell size, engine
    and its elements, database) and make its work directory; the arguments are those of :func:`run`.
    The cell is the smallest multiple of the formula unit with at least ``atoms`` atoms."""
    if temperatures is not None:
        overrides["temperatures"] = temperatures
    settings = settings_for(preset, **overrides)
    if analyse:
        check_production_frames(settings)
    reduced = parse_formula(formula).reduced_formula
    composition = scale_composition(formula, settings.atoms, mode="ceil")
    eng = engine if isinstance(engine, Potential) else load_engine(engine, device=device)
    check_elements(eng, composition)
    stop = production_stop(settings, composition)  # --target-d-error: an unknown species fails before any MD
    source = f"mlip-{eng.name}"
    db = as_database(db)
    work = default_workdir(reduced, source, settings, workdir)
    work.mkdir(parents=True, exist_ok=True)
    log.info("%s: %d atoms, %s on %s, work directory %s", reduced, int(composition.num_atoms), eng.name,
             eng.device, work)
    return CompositionRun(RunContext(reduced, source, eng, settings, work, db, progress, production_stop=stop),
                          composition, db, analyse)


def run_melt(job: CompositionRun) -> TemperatureResult:
    """The packed start (made once) and the melt (K: ``settings.melt_temperature``), analysed and stored."""
    return _analysed(job, melt(job.ctx, packed_start(job.composition, job.ctx.settings, job.ctx.workdir)))


def run_quench(job: CompositionRun, melted: TemperatureResult, temperature: float,
               hotter: Sequence[TemperatureResult] = ()) -> TemperatureResult:
    """One quench temperature (K) from the melt's last frame (at a volume from ``hotter``, the finished hotter
    quenches, hottest first, when ``quench_start`` is previous or trend: :func:`.mpmorph.quench`), analysed and
    stored."""
    return _analysed(job, quench(job.ctx, melted, temperature, hotter))


def fit_composition_arrhenius(job: CompositionRun,
                              quenched: list[TemperatureResult]) -> dict[str, ArrheniusResult]:
    """The Arrhenius fit per species over the quench temperatures' results, stored ({} without analysis)."""
    return _arrhenius(job.db, job.ctx.formula, job.ctx.source, quenched) if job.analyse else {}


def run(formula: str, *, preset: str = "quick", engine: str | Potential = "chgnet",
        temperatures: list[float] | None = None, db: Database | str | os.PathLike[str] | None = None,
        workdir: str | Path | None = None,
        progress: bool = True, device: str | None = None, analyse: bool = True, **overrides: Any) -> ProtocolResult:
    """The whole protocol for ``formula``: melt, volume searches, productions, analysis, all in the database.

    ``preset`` is a name of :data:`~amorphdb.protocol.settings.PRESETS` (quick, paper, fast, predict);
    ``overrides`` are fields of :class:`ProtocolSettings` (K, fs, kbar, ...); ``temperatures`` the quench
    temperatures (K); ``engine`` a spec for
    :func:`amorphdb.engines.load_engine` or a :class:`~amorphdb.engines.base.Potential`; ``db`` a ``Database``,
    a URL or ``None`` (the default database); ``workdir`` holds the trajectories and checkpoints (default:
    :func:`default_workdir`). ``analyse=False`` skips diffusion, RDFs, features and Arrhenius. Running it again
    after an interruption resumes. The stages one after the other: :func:`prepare`, :func:`run_melt`,
    :func:`run_quench` per temperature, :func:`fit_composition_arrhenius` (a campaign runs the same stages as
    parallel tasks).
    """
    job = prepare(formula, preset=preset, engine=engine, temperatures=temperatures, db=db, workdir=workdir,
                  progress=progress, device=device, analyse=analyse, **overrides)
    melted = run_melt(job)
    settings, done = job.ctx.settings, {}
    for t in settings.quench_order():  # hottest first when each quench starts from the ones before
        done[t] = run_quench(job, melted, t, list(done.values()))
    results = [melted, *(done[t] for t in settings.temperatures)]
    quenched = results[1:] or results  # the melt is not on the quench's Arrhenius line
    ctx = job.ctx
    return ProtocolResult(ctx.formula, ctx.source, ctx.settings, ctx.workdir, results,
                          fit_composition_arrhenius(job, quenched))


def _analysed(job: CompositionRun, result: TemperatureResult) -> TemperatureResult:
    if job.analyse:
        result.diffusion = _analyse(job.db, job.ctx.settings, job.ctx.formula, result)
    return result


def _analyse(db: Database, settings: ProtocolSettings, formula: str,
             result: TemperatureResult) -> dict[str, SpeciesDiffusion]:
    """D per species, partial RDFs and features (with the source of their element data) of a production run,
    stored once (cached in a JSON file, which counts only while this database holds the run's features, stored
    last, and while the analysis settings, ``analysis_frames`` and ``fit_start_ps``, are those it was made with)."""
    cache = Path(result.production.path).with_suffix(".analysis.json")
    made_with = {"analysis_frames": settings.analysis_frames, "fit_start_ps": settings.fit_start_ps}
    if cache.exists() and db.features(result.run_id):
        cached = json.loads(cache.read_text())
        if "settings" not in cached:  # written before the settings were recorded: the default fit window
            cached = {"settings": {**made_with, "fit_start_ps": None}, "diffusion": cached}
        if cached["settings"] == made_with:
            return {sp: SpeciesDiffusion(**d) for sp, d in cached["diffusion"].items()}
        log.info("T=%g K: analysing again with %s", result.temperature, made_with)
    frames = read(result.production.path, index=":")
    dt_ps = settings.timestep * settings.frame_interval / 1000.0
    out: dict[str, SpeciesDiffusion] = {}
    for species, d in diffusion_from_trajectory(frames, dt_ps=dt_ps, t_start=settings.fit_start_ps).items():
        err = None if d.D_err is None or not math.isfinite(d.D_err) else float(d.D_err)
        db.add_diffusivity(result.run_id, species, float(d.D), err, method=d.method, diffusive=bool(d.diffusive))
        out[species] = SpeciesDiffusion(float(d.D), err, bool(d.diffusive))
    sample = [frames[i].copy() for i in evenly_spaced(len(frames) // 2, len(frames) - 1, settings.analysis_frames)]
    for atoms in sample:
        atoms.wrap()
    db.add_rdf(result.run_id, partial_rdfs(sample))
    db.add_features(result.run_id, trajectory_features(sample, n_samples=len(sample), temperature=result.temperature),
                    element_data=element_data_source(formula))
    log.info("T=%g K analysis: %s", result.temperature,
             ", ".join(f"D({k})={v.D:.2e} cm2/s" for k, v in out.items()))
    atomic_write(cache, lambda tmp: tmp.write_text(json.dumps(
        {"settings": made_with, "diffusion": {sp: d.to_dict() for sp, d in out.items()}})))
    return out


def _arrhenius(db: Database, formula: str, source: str,
               results: list[TemperatureResult]) -> dict[str, ArrheniusResult]:
    """Arrhenius fit per species over its diffusive runs, stored in the database; a species with too few of them
    (:func:`~amorphdb.analysis.arrhenius.arrhenius_points`: 2 with error bars, else 3) is left out."""
    fits: dict[str, ArrheniusResult] = {}
    for sp in sorted({sp for r in results for sp in r.diffusion}):
        runs = [(r.temperature, r.diffusion[sp]) for r in results if sp in r.diffusion]
        points = arrhenius_points([t for t, _ in runs], [d.D for _, d in runs], [d.D_err for _, d in runs],
                                  [d.diffusive for _, d in runs])
        if points is None:
            log.info("no Arrhenius fit for %s: diffusive at %d temperature(s), needs %s", sp,
                     sum(d.diffusive for _, d in runs), RULE)
            continue
        fit = points.fit(species=sp)
        db.add_arrhenius(formula, source, sp, fit.Ea, fit.Ea_err, fit.prefactor, fit.prefactor_err,
                         fit.t_min, fit.t_max)
        log.info("Arrhenius %s: Ea = %.3f ± %.3f eV over %g-%g K", sp, fit.Ea, fit.Ea_err, fit.t_min, fit.t_max)
        fits[sp] = fit
    return fits
