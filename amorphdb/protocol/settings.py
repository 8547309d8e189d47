"""Every number of the melt-quench protocol, its presets, and per-setting help from which the CLI builds
``amorphdb run``'s options.

Imports only the standard library and :mod:`amorphdb.errors`, so that ``amorphdb --help`` stays fast.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import os
import types
from functools import lru_cache
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from ..errors import InputError

PressureConvention = Literal["virial", "total"]
Convergence = Literal["paper", "statistical"]
Rescale = Literal["beta", "secant"]
QuenchEOS = Literal["run", "skip"]
QuenchStart = Literal["melt", "previous", "trend"]
UnresolvedEnergy = Literal["paper", "floor"]

#: Peak memory of one CHGNet energy + forces + stress call per atom (MiB; bcc Li 128 → 1024 atoms: 1.18 → 6.74 GiB
#: peak RSS, measured on this project's 2-core machine) and the pairwise distance matrix of the packing check
#: (pymatgen's N × N × 3 float64 vectors: 24 B per pair; 100 000 atoms asked for its 224 GiB).
MIB_PER_ATOM = 6.2
BYTES_PER_PAIR = 24


def available_memory() -> int:
    """Memory a new run can use (bytes): ``MemAvailable`` of /proc/meminfo, else free physical pages."""
    try:
        with open("/proc/meminfo") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def memory_needed(atoms: int) -> float:
    """Peak memory (bytes) of a run of ``atoms`` atoms: the MLIP call and the packing check."""
    return MIB_PER_ATOM * 2**20 * atoms + BYTES_PER_PAIR * atoms**2


def max_atoms(memory: int | None = None) -> int:
    """Largest cell (atoms) whose MLIP call and packing check fit in ``memory`` bytes (default: available now)."""
    memory = available_memory() if memory is None else memory
    a, b = BYTES_PER_PAIR, MIB_PER_ATOM * 2**20  # a N² + b N = memory
    return int((-b + math.sqrt(b * b + 4 * a * memory)) / (2 * a))


def _setting(default: Any, help: str, unit: str = "", *, none: str = "", added: bool = False) -> Any:
    """A field of :class:`ProtocolSettings` with its help text and unit (shown by ``amorphdb run --help``);
    ``none``: what the value None means. ``added``: a field added after fingerprints were first stored, part
    of the fingerprint only when it is not at its default (existing work directories and run keys stay)."""
    return field(default=default, metadata={"help": help, "unit": unit, "none": none, "added": added})


@dataclass(frozen=True)
class ProtocolSettings:
    """Every number of the protocol (units: K, fs, kbar, bar⁻¹, g/cm³, Å). Defaults: the paper preset."""

    atoms: int = _setting(100, "atoms in the cell: the smallest multiple of the formula unit with at least this many "
                               "(a formula unit of more than twice this many is refused as a likely mistake)")
    melt_temperature: float = _setting(5000.0, "melt temperature", "K")
    temperatures: tuple[float, ...] = _setting((1000.0, 1500.0, 2000.0, 2500.0),
                                               "quench temperatures, each quenched from the melt", "K")
    volume_steps: int = _setting(2000, "steps of each EOS volume run")
    check_steps: int = _setting(2000, "steps of each convergence check run")
    production_steps: int = _setting(10000, "steps of the production run")
    timestep: float = _setting(2.0, "MD timestep", "fs")
    tdamp: float = _setting(200.0, "Nose-Hoover chain damping time", "fs")
    frame_interval: int = _setting(1, "write every n-th step to the trajectory")
    checkpoint_interval: int = _setting(500, "steps between MD checkpoints")
    scales: tuple[float, ...] = _setting((0.8, 1.0, 1.2), "volume factors of the EOS runs")
    pressure_convention: PressureConvention = _setting(
        "virial", "pressure driven to zero: virial (the paper's) or total (kinetic term included)")
    pressure_tolerance: float = _setting(5.0, "converged when |P| is below", "kbar")
    energy_tolerance: float = _setting(0.001, "converged when |E(2nd half) - E(1st half)| / |E| is below")
    rescale_beta: float = _setting(5e-7, "V -> V exp(beta P)", "1/bar")
    max_rescales: int = _setting(14, "volume rescales before the search fails")
    max_energy_reruns: int = _setting(3, "energy-only reruns before going on to production")
    max_eos_extensions: int = _setting(3, "extra EOS runs when zero pressure is outside the explored range")
    density: float | None = _setting(None, "density of the packed start",
                                     "g/cm3", none="guessed from element data")
    packing_tolerance: float = _setting(2.0, "PACKMOL pair distance", "Å")
    max_temperature_factor: float = _setting(
        3.0, "blow-up: mean T over 100 steps above this x target (x the melt T in a quench's first EOS runs)")
    min_distance: float = _setting(0.5, "blow-up: two atoms closer than this", "Å")
    analysis_frames: int = _setting(10, "production frames averaged for RDFs and features")
    seed: int = _setting(1, "PACKMOL and velocity seed")
    # statistical convergence and adaptive run lengths (docs/protocol.md, "Statistical convergence")
    convergence: Convergence = _setting(
        "paper", "check-run test: paper (|P| and |E2-E1|/|E| below the tolerances) or statistical (against "
        "their standard errors)", added=True)
    energy_sigmas: float = _setting(3.0, "statistical: the energy half-means must agree within this many "
                                    "standard errors (or within the energy tolerance)", added=True)
    unresolved_energy: UnresolvedEnergy = _setting(
        "paper", "statistical: an energy difference whose error is unknown (a half shorter than ~20 correlation "
        "times) passes below the energy tolerance (paper), or also within the energy sigmas x the floor of that "
        "error, sqrt(var/20) per half (floor)", added=True)
    pressure_confidence: float = _setting(0.95, "statistical: |P| must be below the tolerance at this one-sided "
                                          "confidence", added=True)
    pressure_error_fraction: float | None = _setting(
        None, "check runs (and EOS runs, unless --eos-error-fraction) stop once the standard error of their mean "
        "P is below this x the pressure tolerance, a check also once |P| is surely above the tolerance (checked "
        "every checkpoint interval)", none="off", added=True)
    eos_error_fraction: float | None = _setting(
        None, "EOS runs stop once the standard error of their mean P is below this x the pressure tolerance: the "
        "fit only seeds the checks, which judge |P| themselves", none="the pressure error fraction", added=True)
    pressure_target: float | None = _setting(
        None, "a check's mean |P| must also be below this (its point estimate): the search ends near zero "
        "pressure, not anywhere within the tolerance", "kbar", none="off", added=True)
    density_target: float | None = _setting(
        None, "a check's mean |P| must also be below this x the bulk modulus B of the search (the EOS fit's, the "
        "melt's, then the checks' secant): a target on the volume, |P|/B, that holds for soft and stiff liquids "
        "alike (the lower of the two targets counts)", none="off", added=True)
    target_modulus_error: float | None = _setting(
        None, "the density target's bulk modulus: a straight-line fit of P against ln V over the search's checks "
        "(weighted by their SE(P)), kept when its standard error is below this fraction of it, else the last one "
        "kept (the EOS fit's, the melt's or the hotter temperature's); secants still steer the rescales",
        none="the search's present bulk modulus, secants included", added=True)
    min_volume_steps: int = _setting(400, "shortest adaptive EOS run, and shortest check that surely fails",
                                     added=True)
    min_check_steps: int | None = _setting(
        None, "shortest adaptive check that passes: its SE(P) must come from enough steps to see the pressure's "
        "slow fluctuations", none="min volume steps", added=True)
    rescale: Rescale = _setting(
        "beta", "how a failed check rescales the volume: beta (V exp(beta P), the reference's) or secant "
        "(V exp(P/B), B the bulk modulus of this temperature's EOS fit, then the secant of the last check and the "
        "latest one across zero pressure, else the one before)", added=True)
    rescale_growth: float = _setting(
        1.0, "secant: a rescale that finds P on the same side of zero as the rescale before it, with no resolved "
        "secant since (B not measured again), steps with B / growth^n, n such rescales in a row, so that a B too "
        "stiff for a flat P(V) cannot make the search crawl; B itself, and the density target's, stay as measured",
        added=True)
    quench_eos: QuenchEOS = _setting(
        "run", "at the quench temperatures: run the EOS runs, or skip them and check from the melt's volume "
        "(rescaled with the melt's bulk modulus first; needs --rescale secant)", added=True)
    quench_start: QuenchStart = _setting(
        "melt", "the volume a quench's search starts from (its structure is always the melt's last frame): the "
        "melt's (the quenches independent of each other), that of the next hotter quench (previous), or ln V "
        "extrapolated linearly in T through the two next hotter temperatures, the melt's included (trend); with "
        "previous or trend the quenches run hottest first, one after another", added=True)
    target_d_error: float | None = _setting(
        None, "production stops once the relative error of D falls below this (checked every checkpoint "
        "interval)", none="off", added=True)
    target_d_species: str | None = _setting(None, "species whose D --target-d-error watches",
                                            none="Li, else the first element", added=True)
    min_production_steps: int = _setting(2500, "shortest production run with --target-d-error", added=True)
    fit_start_ps: float | None = _setting(
        None, "start of the MSD fit window of D: fixed, so that the error of D falls as 1/sqrt(run length) and "
        "--target-d-error can be reached by running longer (docs/analysis.md)", "ps", none="10 % of the run",
        added=True)

    def validate(self) -> ProtocolSettings:
        """Raise :class:`InputError` for a setting no run can use; return ``self``."""
        def positive(*values: float) -> bool:  # finite and > 0 (NaN and inf fail)
            return all(0 < v < math.inf for v in values)

        temperatures = (self.melt_temperature, *self.temperatures)
        conventions = get_args(PressureConvention)
        cap = max_atoms() if self.atoms > 1000 else self.atoms  # reading the memory costs nothing; skip when small
        # run lengths end on a frame (the last frame starts the next stage); adaptive runs stop at checkpoints
        off_frame = [f"{name} = {getattr(self, name)}" for name in
                     ("volume_steps", "check_steps", "production_steps", "checkpoint_interval")
                     if self.frame_interval >= 1 and getattr(self, name) % self.frame_interval]
        checks = [
            (self.atoms >= 1, f"atoms must be at least 1, got {self.atoms}"),
            (self.atoms <= cap, f"atoms = {self.atoms} needs about {memory_needed(self.atoms) / 2**30:.0f} GiB; "
                                f"{available_memory() / 2**30:.0f} GiB available allow at most {cap} atoms"),
            (positive(*temperatures), f"temperatures must be positive and finite (K), got {list(temperatures)}"),
            (len({f"{t:g}" for t in temperatures}) == len(temperatures),  # as run keys and paths write them
             f"quench temperatures must be distinct and differ from the melt temperature, got {list(temperatures)}"),
            (min(self.volume_steps, self.check_steps, self.production_steps) >= 2, "runs need at least 2 steps"),
            (positive(self.timestep, self.tdamp), "timestep and tdamp must be positive (fs)"),
            (self.frame_interval >= 1 and self.checkpoint_interval >= 1, "frame and checkpoint intervals must be >= 1"),
            (not off_frame, f"{', '.join(off_frame)}: run lengths and the checkpoint interval must be multiples of "
                            f"frame_interval = {self.frame_interval}, so that every run ends on a written frame"),
            (len({f"{x:g}" for x in self.scales}) == len(self.scales) >= 2 and positive(*self.scales),
             f"need at least two distinct positive volume scales, got {list(self.scales)}"),
            (self.seed >= 0, f"the seed must not be negative, got {self.seed}"),
            (self.pressure_convention in conventions,
             f"pressure convention must be {' or '.join(map(repr, conventions))}"),
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
            (self.convergence in get_args(Convergence),
             f"convergence must be {' or '.join(map(repr, get_args(Convergence)))}"),
            (positive(self.energy_sigmas) and 0.5 <= self.pressure_confidence < 1,
             "energy sigmas must be positive and the pressure confidence in [0.5, 1)"),
            (all(v is None or positive(v) for v in (self.pressure_error_fraction, self.eos_error_fraction,
                                                     self.target_d_error)),
             "the pressure and EOS error fractions and the target D error must be positive"),
            (self.pressure_target is None or 0 < self.pressure_target <= self.pressure_tolerance,
             f"the pressure target must be positive and at most the pressure tolerance "
             f"({self.pressure_tolerance:g} kbar), got {self.pressure_target}"),
            (self.density_target is None or 0 < self.density_target < 1,
             f"the density target must be a fraction in (0, 1), got {self.density_target}"),
            (self.target_modulus_error is None or 0 < self.target_modulus_error < 1,
             f"the target modulus error must be a fraction in (0, 1), got {self.target_modulus_error}"),
            (self.target_modulus_error is None or self.density_target is not None,
             "the target modulus error sets the B of the density target: it needs a density target"),
            (self.rescale in get_args(Rescale), f"rescale must be {' or '.join(map(repr, get_args(Rescale)))}"),
            (1 <= self.rescale_growth < math.inf, f"the rescale growth must be at least 1, got {self.rescale_growth}"),
            (self.rescale_growth == 1 or self.rescale == "secant",
             "the rescale growth divides the secant's bulk modulus: it needs rescale = secant"),
            (self.quench_eos in get_args(QuenchEOS),
             f"quench_eos must be {' or '.join(map(repr, get_args(QuenchEOS)))}"),
            (self.unresolved_energy in get_args(UnresolvedEnergy),
             f"unresolved_energy must be {' or '.join(map(repr, get_args(UnresolvedEnergy)))}"),
            (self.quench_start in get_args(QuenchStart),
             f"quench_start must be {' or '.join(map(repr, get_args(QuenchStart)))}"),
            (self.quench_eos == "run" or self.rescale == "secant",
             "quench_eos = skip needs rescale = secant: beta's steps (a bulk modulus of 200 GPa) would take many "
             "checks to cover a quench's contraction"),
            (min(self.min_volume_steps, self.min_production_steps,
                 self.min_volume_steps if self.min_check_steps is None else self.min_check_steps) >= 2,
             "minimum run lengths must be at least 2"),
            (self.fit_start_ps is None or 0 < self.fit_start_ps < 0.5 * self.production_steps * self.timestep / 1000,
             f"the D fit start must be positive and below half the production run "
             f"({0.5 * self.production_steps * self.timestep / 1000:g} ps), got {self.fit_start_ps} ps"),
        ]
        for ok, message in checks:
            if not ok:
                raise InputError(message)
        return self

    def quench_order(self) -> tuple[float, ...]:
        """The quench temperatures (K) in the order they run: as given, or hottest first when each starts from
        the volume of the ones before (``quench_start`` previous or trend)."""
        if self.quench_start != "melt":
            return tuple(sorted(self.temperatures, reverse=True))
        return self.temperatures

    def shortest_production_ps(self) -> float:
        """Length (ps) of the shortest production run these settings allow."""
        steps = self.production_steps
        if self.target_d_error is not None:
            steps = min(steps, self.min_production_steps)
        return steps * self.timestep / 1000.0

    def fingerprint(self) -> str:
        """Short hash of the settings that change the runs (not the temperature list, not the analysis: the fit
        start of D counts only with ``target_d_error``, whose stop rule it steers)."""
        added = {f.name: f.default for f in fields(self) if f.metadata["added"]}
        analysis = {"analysis_frames"} | ({"fit_start_ps"} if self.target_d_error is None else set())  # no stop rule
        data = {k: v for k, v in asdict(self).items() if k not in ("temperatures", *analysis)
                and not (k in added and v == added[k])}
        return hashlib.sha1(json.dumps(data, sort_keys=True).encode()).hexdigest()[:8]


PRESETS: dict[str, ProtocolSettings] = {
    "paper": ProtocolSettings(),
    # a small cell and short runs: the whole protocol in a few minutes on 2 CPU cores (demos, the README job)
    "quick": ProtocolSettings(atoms=24, volume_steps=100, check_steps=100, production_steps=500, tdamp=100.0,
                              frame_interval=5, checkpoint_interval=50, pressure_tolerance=10.0,
                              energy_tolerance=0.02, max_rescales=6, max_energy_reruns=1, analysis_frames=5),
    # the fast route's default (amorphdb predict FORMULA): a mid-size cell and 3 ps productions; its feature
    # shifts against longer runs and AIMD are measured in docs/learning.md ("The fast route")
    "predict": ProtocolSettings(atoms=64, volume_steps=300, check_steps=300, production_steps=1500, tdamp=100.0,
                                frame_interval=10, checkpoint_interval=100, pressure_tolerance=10.0,
                                energy_tolerance=0.005, max_rescales=8, max_energy_reruns=1, analysis_frames=10),
}
# the paper's cell, temperatures and maximum lengths; every stage stops when its answer is known: statistical check
# tests (an energy difference of unknown error judged against its floor), checks until SE(P) < 0.3 x 5 kbar (at least
# 1000 steps) or |P| is surely above 5 (at least 400), and a mean |P| below 2.5 kbar and below 0.02 x the search's
# bulk modulus (the targets: the volume within ~2 % of zero pressure); EOS runs (melt only) until SE(P) < 0.6 x 5
# kbar; secant rescales; quenches hottest first, each from the volume ln V linear in T through the two next hotter
# ones gives (the first from the melt's); production until sigma(D)/D < 10 % with the D fit window from 0.5 ps
# (10 % of the shortest production), so that sigma(D) falls as the run goes on (docs/protocol.md)
PRESETS["fast"] = replace(PRESETS["paper"], convergence="statistical", unresolved_energy="floor",
                          pressure_error_fraction=0.3, eos_error_fraction=0.6, min_volume_steps=400,
                          min_check_steps=1000, pressure_target=2.5, density_target=0.02, rescale="secant",
                          quench_eos="skip", quench_start="trend", target_d_error=0.1, min_production_steps=2500,
                          checkpoint_interval=100, fit_start_ps=0.5)


@dataclass(frozen=True)
class SettingInfo:
    """What a user needs to set one field of :class:`ProtocolSettings` (the CLI makes ``--name`` of it)."""

    name: str
    kind: type  # int, float or str: the type of one value
    many: bool  # a tuple of values (``nargs="+"`` on the command line)
    choices: tuple[str, ...] | None  # the allowed values, for a Literal field
    help: str
    unit: str  # "" when dimensionless
    none: str = ""  # what None means, for a field that may be None

    def coerce(self, value: Any) -> Any:
        """``value`` as this setting holds it: floats as float (2 and 2.0 give one fingerprint), counts as int,
        a tuple for a list setting (one number is a list of one); InputError for anything else."""
        def one(x: Any) -> Any:
            if self.kind is str:
                if not isinstance(x, str):
                    raise InputError(f"{self.name} must be text, got {x!r}")
                return x
            if isinstance(x, bool) or not isinstance(x, numbers.Real):
                raise InputError(f"{self.name} must be a number, got {x!r}")
            if self.kind is int:
                if not float(x).is_integer():
                    raise InputError(f"{self.name} must be a whole number, got {x!r}")
                return int(x)
            return float(x)

        if not self.many:
            return one(value)
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            return (one(value),)
        if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
            raise InputError(f"{self.name} must be a list of numbers, got {value!r}")
        return tuple(one(x) for x in value)

    def text(self) -> str:
        """The help with its unit and the presets' values, e.g. ``MD timestep, fs (default 2)``."""
        def show(value: Any) -> str:
            return self.none if value is None else (
                " ".join(f"{v:g}" for v in value) if self.many else f"{value:g}" if self.kind is not str else value)

        values = {name: show(getattr(preset, self.name)) for name, preset in PRESETS.items()}
        defaults = (f"default {next(iter(values.values()))}" if len(set(values.values())) == 1
                    else ", ".join(f"{name} {value}" for name, value in values.items()))
        return f"{self.help}{', ' + self.unit if self.unit else ''} ({defaults})"


@lru_cache(maxsize=1)
def setting_info() -> tuple[SettingInfo, ...]:
    """One :class:`SettingInfo` per field of :class:`ProtocolSettings`, in field order; the type is read from
    the annotation (``tuple[float, ...]``: many floats; ``float | None``: float; ``Literal[...]``: choices)."""
    hints = get_type_hints(ProtocolSettings)
    out = []
    for f in fields(ProtocolSettings):
        kind, many, choices = hints[f.name], False, None
        if get_origin(kind) is tuple:
            kind, many = get_args(kind)[0], True
        elif get_origin(kind) is Literal:
            kind, choices = str, tuple(get_args(kind))
        elif get_origin(kind) in (Union, types.UnionType):  # X | None
            kind = next(a for a in get_args(kind) if a is not type(None))
        out.append(SettingInfo(f.name, kind, many, choices, f.metadata["help"], f.metadata["unit"],
                               f.metadata["none"]))
    return tuple(out)


def settings_for(preset: str = "quick", **overrides: Any) -> ProtocolSettings:
    """The settings of ``preset`` with ``overrides`` (field names of :class:`ProtocolSettings`) applied;
    ``None`` keeps the preset's value."""
    if preset not in PRESETS:
        raise InputError(f"unknown preset {preset!r} (use {' or '.join(PRESETS)})")
    known = {f.name for f in fields(ProtocolSettings)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise InputError(f"unknown setting(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    info = {i.name: i for i in setting_info()}
    values = {k: info[k].coerce(v) for k, v in overrides.items() if v is not None}
    return replace(PRESETS[preset], **values).validate()
