"""The MPMorph volume search and the melt-quench sequence of MD runs, each run recorded in a :class:`RunLedger`.

At each temperature: NVT runs at ``scales`` × the volume, a Birch–Murnaghan fit of P(V) (:mod:`.eos`), a check
run at the zero-pressure volume, then V → V·exp(β·P) (or a secant step) until |P| and the energy drift pass the
check (:func:`equilibrate`; the paper's test or the statistical one, :mod:`.convergence`), then the production
run. EOS and check runs may stop when their mean pressure is known, production when D is
(:func:`.convergence.pressure_error_rule`, :attr:`RunContext.production_stop`). The melt comes first; each quench
temperature starts from the last melt frame with fresh velocities (:func:`melt`, :func:`quench`; each is one
:func:`anneal`), with or without EOS runs of its own (``quench_eos``), at the melt's volume, at that of the
next hotter quench, or at the volume the two next hotter ones extrapolate to (``quench_start``).

Every MD run has a key that encodes the settings, temperature, stage and iteration, and a set of files in the
work directory (:mod:`amorphdb.md`). A run whose ledger row is ``done`` and whose result file has the matching
checksum is taken from its files, an interrupted one resumes from its checkpoint, and the same decisions are
repeated, so a rerun after a kill loses and duplicates nothing.
"""

from __future__ import annotations

import logging
import math
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ase import Atoms
from ase.io import read
from pymatgen.core import Composition
from pymatgen.io.ase import AseAtomsAdaptor

from ..engines.base import Potential
from ..errors import ConvergenceError, InputError, MDError, RunBusyError
from ..md.files import MDResult, atomic_write, load_result
from ..md.runner import StopRule, run_nvt
from ..structure import pack
from .convergence import finite_error, judge_check, pressure_error_rule
from .eos import (fit_zero_pressure_volume, fitted_bulk_modulus, rescaled_volume, same_side_rescales,
                  secant_bulk_modulus, secant_partner)
from .results import TemperatureResult
from .settings import ProtocolSettings, QuenchStart

log = logging.getLogger(__name__)


class LedgerRow(Protocol):
    """A run as the ledger returns it."""

    @property
    def id(self) -> int: ...
    @property
    def status(self) -> str: ...
    @property
    def trajectory_sha256(self) -> str | None: ...
    @property
    def trajectory_path(self) -> str | None: ...


class RunLedger(Protocol):
    """Where the protocol records its MD runs (:class:`amorphdb.database.Database` is one). Runs are found by
    (formula, source, key); ``fields`` are the run's columns: status, volume (Å³), density (g/cm³), energy
    (eV/atom), pressure (kbar), timestep (fs), n_atoms, n_steps, engine, trajectory_path, message ..."""

    def get_run(self, formula: str, source: str, key: str) -> LedgerRow | None: ...
    def add_run(self, formula: str, *, source: str, temperature: float, stage: str, key: str | None = None,
                **fields: Any) -> int: ...
    def update_run(self, run_id: int, **fields: Any) -> None: ...
    def add_structure(self, run_id: int, structure: Any, label: str = "final") -> None: ...


@dataclass
class RunContext:
    """What every MD run of one protocol shares: material, engine, settings, work directory, ledger."""

    formula: str  # reduced formula, the ledger's key of the material
    source: str  # mlip-<engine>
    engine: Potential
    settings: ProtocolSettings
    workdir: Path
    ledger: RunLedger
    progress: bool = True
    md_seconds: float = 0.0  # wall time (s) spent in MD runs made through :meth:`md`, found ones not counted
    #: makes the stop rule of a production run (``settings.target_d_error``; it needs the diffusion analysis,
    #: which the protocol does not import: :func:`amorphdb.workflows.melt_quench.prepare` supplies it)
    production_stop: Callable[[], StopRule] | None = None

    def __post_init__(self) -> None:
        if self.settings.target_d_error is not None and self.production_stop is None:
            raise InputError("target_d_error needs a production stop rule (amorphdb.run supplies one)")

    def md(self, atoms: Atoms, temperature: float, stage: str, iteration: int, n_steps: int,
           label: str = "", start_temperature: float | None = None,
           stop: StopRule | None = None) -> tuple[MDResult, int]:
        """One NVT run at ``temperature`` (K) recorded in the ledger, and its run id; a finished one is found
        again and not redone. ``start_temperature``: the temperature ``atoms`` was equilibrated at, when not
        ``temperature``. ``stop``: a stop rule (``n_steps`` is then the maximum); the row's ``n_steps`` is the
        number run and its message says whether the rule's target was reached, with the numbers."""
        key = f"{self.settings.fingerprint()}/T{temperature:g}/{stage}/{iteration}{label}"
        path = self.workdir / f"T{temperature:g}" / f"{stage}-{iteration}{label.replace('/', '-')}.traj"
        row = self.ledger.get_run(self.formula, self.source, key)
        # hash the trajectory here only for a row marked done: run_nvt below finds (and hashes) a finished run itself
        done = load_result(path) if row is not None and row.status == "done" else None
        if done is not None and row.trajectory_sha256 == done.sha256:
            if row.trajectory_path != done.path:  # the work directory was moved: the row follows its files
                self.ledger.update_run(row.id, trajectory_path=done.path)
            return done, row.id
        s = self.settings
        run_id = self.ledger.add_run(
            self.formula, source=self.source, temperature=temperature, stage=stage, key=key,
            engine=self.engine.name, engine_version=self.engine.version, n_atoms=len(atoms), n_steps=n_steps,
            timestep=s.timestep, status="running", trajectory_path=str(path), message=None)
        started = time.perf_counter()
        try:
            result = run_nvt(atoms, self.engine.calculator, temperature=temperature, n_steps=n_steps, path=path,
                             timestep=s.timestep, frame_interval=s.frame_interval,
                             checkpoint_interval=s.checkpoint_interval, tdamp=s.tdamp,
                             seed=s.seed + zlib.crc32(key.encode()) % 100000,
                             stage=f"T={temperature:g} K {stage} {iteration}{label}",
                             max_temperature_factor=s.max_temperature_factor, start_temperature=start_temperature,
                             min_distance=s.min_distance,
                             progress=self.progress, stop=stop)
        except RunBusyError:  # another process runs it: its row is that process's to finish, not ours to fail
            raise
        except Exception as exc:  # MDError, or a calculator failing in its own way: the row must not stay "running"
            text = str(exc) if isinstance(exc, MDError) else (
                f"T={temperature:g} K {stage} {iteration}{label}: {type(exc).__name__}: {exc}")
            self.ledger.update_run(run_id, status="failed", message=text.splitlines()[0])
            raise
        finally:
            self.md_seconds += time.perf_counter() - started
        # the final structure first, "done" last: a kill between the two leaves the run to be finished again
        self.ledger.add_structure(run_id, AseAtomsAdaptor.get_structure(last_frame(result)))
        self.ledger.update_run(run_id, status="done", volume=result.volume, density=result.density,
                               energy=result.energy, pressure=result.pressure(s.pressure_convention),
                               n_steps=result.n_steps, trajectory_sha256=result.sha256, message=stop_message(result))
        return result, run_id

    def fail(self, run_id: int, error: ConvergenceError) -> ConvergenceError:
        """Mark the run where the volume search stopped as failed with ``error``'s message; return ``error``."""
        self.ledger.update_run(run_id, status="failed", message=str(error))
        return error


def stop_message(result: MDResult) -> str | None:
    """The ledger's message of a finished run that had a stop rule: ``converged after 600 of at most 2000
    steps: SE(P) = ...`` or ``not converged ...``; None without a rule."""
    if result.converged is None:
        return None
    return (f"{'converged' if result.converged else 'not converged'} after {result.n_steps} of at most "
            f"{result.max_steps} steps: {result.stop_message}")


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


@dataclass(frozen=True)
class VolumeSearch:
    """Where a volume search ended: its last check run, the rescales and energy-only reruns it took, the
    bulk modulus (kbar) it last used: the EOS fit's (or the melt's), or a secant of its checks, and the one its
    density target last used (``target_modulus_error``: the last fit kept; else the same)."""

    check: MDResult
    rescales: int
    reruns: int
    bulk_modulus: float | None
    target_modulus: float | None = None


def equilibrate(ctx: RunContext, start: Atoms, temperature: float, start_temperature: float | None = None,
                bulk_modulus: float | None = None, target_modulus: float | None = None) -> VolumeSearch:
    """Volume search and check runs at ``temperature`` (K) from ``start``.

    The EOS runs at ``scales`` × the start volume are fitted; while the zero-pressure volume lies outside the
    explored range, one more run is added beyond its edge (at most ``max_eos_extensions``). The first check
    starts from the last frame of the EOS run nearest to that volume, scaled to it. ``start_temperature``: the
    temperature ``start`` comes from (the melt, for a quench). With ``quench_eos = "skip"`` and a quench (a
    ``start_temperature`` and the melt's ``bulk_modulus``, kbar), there are no EOS runs: the first check runs at
    the start volume. A failed pressure rescales V → V exp(βP), or with ``rescale = "secant"`` V → V exp(P/B):
    B from the EOS fit (or the melt's), then from the last check and its partner (:func:`.eos.secant_partner`)
    when their pressures differ by more than twice their noise (:func:`.eos.secant_bulk_modulus`), a step of at
    most 15 % in ln V; with ``rescale_growth`` g, the n-th rescale in a row that finds P on the same side of zero
    without a resolved secant (B not measured again) steps with B / gⁿ. With ``pressure_target``, a check's mean
    |P| must also be below it, with ``density_target`` below that fraction of the present B
    (:func:`.convergence.judge_check`); with ``target_modulus_error``, of the B of the checks' fit
    (:func:`.eos.fitted_bulk_modulus`) when its error is below that fraction, else of the last one kept (the EOS
    fit's, else ``target_modulus``, the hotter search's).
    Raises :class:`ConvergenceError` after ``max_rescales`` rescales without a converged pressure, or when the
    pressure does not fall with the volume; the run where the search stopped is marked failed with the message.
    """
    s = ctx.settings
    skip_eos = s.quench_eos == "skip" and start_temperature is not None and bulk_modulus is not None
    if skip_eos:
        atoms, check_origin = start, start_temperature
        log.info("T=%g K: no EOS runs; checks from the start volume %.1f Å3 (bulk modulus %.0f kbar)",
                 temperature, start.get_volume(), bulk_modulus)
    else:
        (atoms, bulk_modulus), check_origin = _eos_search(ctx, start, temperature, start_temperature), None
        target_modulus = bulk_modulus
    target_modulus = bulk_modulus if target_modulus is None else target_modulus
    rescales = reruns = 0
    points: list[tuple[float, float, float]] = []  # (volume Å3, P kbar, SE kbar) of the checks so far
    same_side, last_side = 0, 0.0  # rescales in a row on one side of zero with a stale B, and the last one's P
    for iteration in range(s.max_rescales + s.max_energy_reruns + 1):
        check, check_id = ctx.md(atoms, temperature, "check", iteration, s.check_steps,
                                 start_temperature=check_origin if iteration == 0 else None,
                                 stop=pressure_error_rule(s, "check"))
        pressure = check.pressure(s.pressure_convention)
        points.append((check.volume, pressure, finite_error(check.pressure_err(s.pressure_convention))))
        secant = None
        if s.rescale == "secant" and len(points) > 1:
            secant = secant_bulk_modulus(*zip(secant_partner(points), points[-1]))
            bulk_modulus = secant if secant is not None else bulk_modulus
        if s.target_modulus_error is None:
            target_modulus = bulk_modulus
        elif (fit := fitted_bulk_modulus(points)) is not None and fit[1] < s.target_modulus_error * fit[0]:
            target_modulus = fit[0]
        verdict = judge_check(check, s, target_modulus)
        p_ok, e_ok = verdict.pressure_ok, verdict.energy_ok
        failed = [name for name, ok in (("pressure", p_ok), ("energy", e_ok)) if not ok]
        log.info("T=%g K check %d (%d steps): V=%.1f Å3 (%.3f g/cm3), %s%s", temperature, iteration, check.n_steps,
                 check.volume, check.density, verdict.message,
                 f" (not converged: {', '.join(failed)})" if failed else "")
        if verdict.converged:
            return VolumeSearch(check, rescales, reruns, bulk_modulus, target_modulus)
        atoms = last_frame(check)
        if not p_ok:
            rescales += 1
            if rescales > s.max_rescales:
                raise ctx.fail(check_id, ConvergenceError(
                    f"T={temperature:g} K volume search: {verdict.pressure_text}"
                    + ("" if verdict.off_target else " is still " + (
                        f"above {s.pressure_tolerance:g} kbar" if verdict.pressure_test == "paper" else
                        f"not below {s.pressure_tolerance:g} kbar at confidence {s.pressure_confidence:g}"))
                    + f" after {s.max_rescales} volume rescales (the cap, --max-rescales); no production run"))
            same_side, last_side = same_side_rescales(same_side, pressure, last_side, secant), pressure
            if s.rescale == "secant" and bulk_modulus is not None:
                growth = s.rescale_growth ** same_side
                if growth > 1:
                    log.info("T=%g K: P still %s zero after %d rescale(s) without a resolved secant: the step "
                             "modulus is B / %g", temperature, "above" if pressure > 0 else "below", same_side, growth)
                atoms = _scaled(atoms, rescaled_volume(atoms.get_volume(), pressure, bulk_modulus / growth))
            else:  # the reference's step (kbar → bar), written as it always was: resumed runs start bit-identically
                if s.rescale == "secant":
                    log.info("T=%g K: no bulk modulus yet (the EOS runs did not bracket zero pressure); the beta "
                             "step instead", temperature)
                atoms = _scaled(atoms, atoms.get_volume() * math.exp(s.rescale_beta * pressure * 1000.0))
        else:
            reruns += 1
            if reruns > s.max_energy_reruns:
                log.warning("T=%g K: %s, still not converged after %d reruns; going on to production (as the "
                            "reference does)", temperature, verdict.energy_text, s.max_energy_reruns)
                return VolumeSearch(check, rescales, reruns - 1, bulk_modulus, target_modulus)
    raise AssertionError("unreachable: the loop returns or raises within its caps")


def _eos_search(ctx: RunContext, start: Atoms, temperature: float,
                start_temperature: float | None) -> tuple[Atoms, float | None]:
    """The EOS runs of :func:`equilibrate` and their fit: the first check's start (the last frame of the EOS run
    nearest to the zero-pressure volume, scaled to it) and the fit's bulk modulus (kbar; None when the zero was
    not bracketed)."""
    s = ctx.settings
    v_start = start.get_volume()
    runs: list[MDResult] = []
    run_ids: list[int] = []

    def eos_run(origin: Atoms, volume: float, label: str, origin_temperature: float | None = None) -> None:
        result, run_id = ctx.md(_scaled(origin, volume), temperature, "volume", 0, s.volume_steps, label=label,
                                start_temperature=origin_temperature, stop=pressure_error_rule(s, "volume"))
        runs.append(result)
        run_ids.append(run_id)
        log.info("T=%g K volume %s: V=%.1f Å3, P=%.1f kbar, E=%.4f eV/atom", temperature, label.strip("/"),
                 result.volume, result.pressure(s.pressure_convention), result.energy)

    for scale in s.scales:
        eos_run(start, scale * v_start, f"/x{scale:g}", start_temperature)
    step = max(b / a for a, b in zip(sorted(s.scales), sorted(s.scales)[1:]))  # widest gap between scales
    bulk_modulus = None
    for extension in range(s.max_eos_extensions + 1):
        volumes, pressures = [r.volume for r in runs], [r.pressure(s.pressure_convention) for r in runs]
        lo, hi = min(volumes), max(volumes)
        if min(pressures) > 0 or max(pressures) < 0:  # zero pressure not bracketed: look beyond the edge
            v0, how, bulk_modulus = (hi * step if min(pressures) > 0 else lo / step), "bracketing", None
        else:
            try:
                fit = fit_zero_pressure_volume(volumes, pressures)
            except ConvergenceError as exc:
                raise ctx.fail(run_ids[-1], ConvergenceError(f"T={temperature:g} K volume search: {exc}")) from None
            v0, how, bulk_modulus = fit.volume, fit.method, fit.bulk_modulus
        if lo <= v0 <= hi or extension == s.max_eos_extensions:
            break
        target = min(max(v0, lo / step), hi * step)
        eos_run(last_frame(_nearest(runs, target)), target, f"/ext{extension}")
    v0 = min(max(v0, lo), hi)
    log.info("T=%g K zero-pressure volume %.1f Å3 (%s fit%s)", temperature, v0, how,
             "" if bulk_modulus is None else f", bulk modulus {bulk_modulus:.0f} kbar")
    return _scaled(last_frame(_nearest(runs, v0)), v0), bulk_modulus


def packed_start(composition: Composition, settings: ProtocolSettings, workdir: Path) -> Atoms:
    """The random packing the melt starts from, made once and kept in ``workdir`` (so a resumed run uses the
    same one); at ``settings.density`` (g/cm³), else the guessed density, lowered while PACKMOL fails
    (:func:`amorphdb.structure.pack`)."""
    path = workdir / "initial.traj"
    if path.exists():
        return read(path)
    structure = pack(composition, settings.density, tolerance=settings.packing_tolerance, seed=settings.seed)
    atoms = AseAtomsAdaptor.get_atoms(structure)
    atomic_write(path, lambda tmp: atoms.write(tmp, format="traj"))
    return atoms


def anneal(ctx: RunContext, origin: Atoms, temperature: float, start_temperature: float | None = None,
           bulk_modulus: float | None = None, target_modulus: float | None = None) -> TemperatureResult:
    """The volume search, check runs and production run at ``temperature`` (K) from ``origin``
    (``start_temperature``: the temperature ``origin`` comes from, when not ``temperature``; ``bulk_modulus``:
    that of ``origin``'s search, kbar, for a quench without EOS runs)."""
    s = ctx.settings
    search = equilibrate(ctx, origin, temperature, start_temperature, bulk_modulus, target_modulus)
    check = search.check
    production, run_id = ctx.md(last_frame(check), temperature, "production", 0, s.production_steps,
                                stop=ctx.production_stop() if s.target_d_error is not None and ctx.production_stop
                                else None)
    pressure = production.pressure(s.pressure_convention)
    log.info("T=%g K production: %.3f g/cm3, P=%.1f kbar, E=%.4f eV/atom, T=%.0f K", temperature,
             production.density, pressure, production.energy, production.temperature_mean)
    if abs(pressure) > s.pressure_tolerance:  # the longer run knows P better than the check did
        log.warning("T=%g K production: its mean P = %.1f kbar is outside the %g kbar the check passed within%s",
                    temperature, pressure, s.pressure_tolerance,
                    f": the density may be off by ~{100 * abs(pressure) / search.bulk_modulus:.0f} % (bulk modulus "
                    f"{search.bulk_modulus:.0f} kbar)" if search.bulk_modulus else "")
    return TemperatureResult(temperature, production, run_id, search.rescales, search.reruns,
                             bulk_modulus=search.bulk_modulus, target_modulus=search.target_modulus)


def melt(ctx: RunContext, start: Atoms) -> TemperatureResult:
    """The melt: :func:`anneal` at the melt temperature from the packed ``start``."""
    return anneal(ctx, start, ctx.settings.melt_temperature)


def quench(ctx: RunContext, melted: TemperatureResult, temperature: float,
           hotter: Sequence[TemperatureResult] = ()) -> TemperatureResult:
    """One quench temperature (K): :func:`anneal` from the last frame of the melt's production run, with fresh
    velocities. ``hotter``: the finished hotter quenches, hottest first (``quench_start`` previous or trend):
    the melt's frame is then scaled to the volume :func:`quench_start_volume` gives and the nearest one's bulk
    modulus steers the first rescale, so that the search does not travel from the melt's volume again. Without
    them the quenches of one melt are independent of each other (a campaign runs them in parallel)."""
    origin, bulk_modulus, target_modulus = last_frame(melted.production), melted.bulk_modulus, melted.target_modulus
    if hotter and ctx.settings.quench_start != "melt":
        volume = quench_start_volume([melted, *hotter], temperature, ctx.settings.quench_start)
        origin = _scaled(origin, volume)
        bulk_modulus = hotter[-1].bulk_modulus or bulk_modulus
        target_modulus = hotter[-1].target_modulus or target_modulus
        log.info("T=%g K: starts from %.1f Å3 (quench start %s; T=%g K's production: %.1f Å3, %.3f g/cm3)",
                 temperature, volume, ctx.settings.quench_start, hotter[-1].temperature,
                 hotter[-1].production.volume, hotter[-1].production.density)
    return anneal(ctx, origin, temperature, ctx.settings.melt_temperature, bulk_modulus, target_modulus)


def quench_start_volume(done: Sequence[TemperatureResult], temperature: float, how: QuenchStart,
                        max_log_step: float = 0.15) -> float:
    """The volume (Å³) a quench at ``temperature`` (K) starts its search from, given the finished temperatures
    ``done`` (the melt first, then the hotter quenches in the order they ran): ``previous``, the production
    volume of the last; ``trend``, ln V extrapolated linearly in T through the last two (the thermal expansion
    between them), the step from the last at most ``max_log_step`` in ln V (as a rescale's)."""
    near = done[-1].production.volume
    if how != "trend" or len(done) < 2:
        return near
    (t1, v1), (t2, v2) = ((r.temperature, r.production.volume) for r in done[-2:])
    step = math.log(v2 / v1) / (t2 - t1) * (temperature - t2)
    return near * math.exp(max(-max_log_step, min(max_log_step, step)))
