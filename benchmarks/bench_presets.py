"""The ``fast`` preset against ``paper``: steps per stage, wall time and agreement, per composition (issue 13).

    OMP_NUM_THREADS=1 python benchmarks/bench_presets.py Li3PS4 Li2S ...        # the real pair (6-10 h each)
    OMP_NUM_THREADS=1 python benchmarks/bench_presets.py Li3PS4 --scale small   # a scaled-down pair (~1 h here)
    ... --preset paper & ... --preset fast & wait; ... (no --preset)            # the two presets in parallel

Each composition runs under both presets (``amorphdb.run``, one database and work directory per preset under
``--out``). Resumable: a finished (composition, preset) is kept as a summary,
``<records>/<formula>-<preset>-<fingerprint>.json`` (the settings' fingerprint: another definition of the preset
runs again, and the summaries of earlier ones stay, for ``--fast-fingerprint``). At full scale ``<records>`` is
``docs/validation/presets`` in the repository, and a summary holds all the table needs (pressures, RDFs, the
refitted D), since the run files under ``--out`` do not outlive the machine. An interrupted run resumes from its
MD checkpoints while the machine keeps them; one that fails (a search that does not converge, MD that blows up)
is logged, and the next composition runs. Then ``<out>/table.md`` is written:

- steps per stage (volume, check, production; summed over all temperatures) and in all, per preset, and the
  ratio fast / paper; MD hours of one core: all steps at the mean wall time per step of the runs that kept
  theirs (``MDResult.wall_s``, summed over the calls that resumed a run; runs made before it was kept have none);
- steps per temperature (all stages), per preset, and their ratio;
- agreement per quench temperature: density difference (%, goal ≤ 2) beside the band the pressure tolerance
  allows either preset (± tolerance / B, B the bulk modulus of the search), the mean pressures of the two
  productions (± standard error) and the density difference they alone would make ((P_fast − P_paper) / B: where
  each run landed in the band), D(Li) difference in combined standard errors (goal ≤ 1), the same with
  `paper`'s D refitted over `fast`'s MSD window (its ``fit_start_ps`` to half the run), the log-log slope of Li's
  MSD above its plateau over each run's own window (1 when diffusive; below 1 a D that depends on the window),
  RDF R² between the presets' production RDFs over 100 frames of each second half (goal > 0.99) beside the R²
  of `paper`'s third quarter against its fourth (the RDFs' own noise at a `fast` run's length); Ea difference in
  combined errors;
- per composition, at how many temperatures each of the issue's criteria holds (density within 2 %, D(Li)
  within 1σ, RDF R² > 0.99), the density one at zero pressure (the difference less the part the two
  productions' pressures make), the RDF one against `paper`'s own noise (R² ≥ its Q3/Q4 R² − 0.01), and
  whether Ea is within its error;
- over all temperatures of all compositions, Σ(ΔD/σ)² and its χ² p-value: D(Li) as one test, which two seeds of
  one protocol pass with p uniform in 0–1.

``--status`` runs nothing and writes ``<out>/status.md``: the same tables for what has finished so far (steps of
the finished runs, the temperatures whose production is analysed under both presets with the bulk modulus of
their EOS fit, no Ea), for a comparison that takes several sessions. ``--fast-fingerprint FP`` compares
``paper`` with the runs (and, when finished, the summary) of an earlier definition of ``fast`` instead of the
present one.

``--fast-set NAME=VALUE`` (repeatable) runs and compares a candidate definition of ``fast``: the preset with those
settings changed, under its own fingerprint.

``--replica SEED`` compares `paper` with ``paper`` run again from another seed (the packing and the velocities)
instead of with ``fast``: the reference's own scatter, the floor below which no agreement between presets can go.
Its summaries are ``<formula>-replica-<fingerprint>.json``; it shares `paper`'s database, so that a campaign
(``amorphdb campaign run F --preset paper --seed SEED --db <out>/paper.sqlite --workdir <out>/runs``) can run it.

``--scale small`` replaces both presets' cell and lengths with SMALL (and FAST_SMALL for the fast one): the same
rules on a 24-atom cell and short runs, so that the machinery can be checked here; its numbers say nothing about
the accuracy of the full presets.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
from pathlib import Path

import pandas as pd
from ase.io import read
from scipy.stats import chi2

import amorphdb
from amorphdb.analysis.diffusion import diffusion_from_trajectory
from amorphdb.analysis.rdf import compare_rdfs, partial_rdfs
from amorphdb.analysis.trajectory import evenly_spaced
from amorphdb.database.api import Database
from amorphdb.md.files import MDResult
from amorphdb.protocol.eos import fit_zero_pressure_volume
from amorphdb.composition import parse_formula
from amorphdb.protocol.settings import settings_for

HERE = Path(__file__).resolve().parent
#: both presets, scaled down: 24 atoms, one quench temperature, short runs (the quick preset's tolerances)
SMALL = dict(atoms=24, temperatures=[2500.0], volume_steps=150, check_steps=300, production_steps=600,
             frame_interval=5, pressure_tolerance=10.0, energy_tolerance=0.02, max_rescales=6, max_energy_reruns=1,
             checkpoint_interval=50, tdamp=100.0, analysis_frames=5)
#: the fast preset's rules at that scale
FAST_SMALL = dict(min_volume_steps=50, min_production_steps=300, fit_start_ps=0.06)  # 10 % of 300 steps
STAGES = ("volume", "check", "production")
TOLERANCE = settings_for("paper").pressure_tolerance  # kbar: a check passes anywhere within it
#: finished full-scale summaries, kept in the repository: the table needs no run files (machines are not kept)
RECORDS = HERE.parent / "docs" / "validation" / "presets"
RDF_FRAMES = 100  # frames per RDF compared: with 10, two halves of one paper production differ by R² ~0.97
#: settings that ``--fast-set`` changes in the fast preset (a candidate definition: its own fingerprint)
FAST_SET: dict = {}
#: the seed of the "replica" preset (``--replica SEED``): `paper` run again from that seed
REPLICA_SET: dict = {}


def run_preset(formula: str, preset: str, scale: str, engine: str, out: Path, records: Path,
               fingerprint: str | None = None) -> dict:
    """Run (or resume) ``formula`` under ``preset`` and return its summary (also kept as a JSON file in
    ``records``); with ``fingerprint``, the kept summary of that definition of the preset (run if it is the
    present one)."""
    overrides = _overrides(preset, scale)
    current = settings_for(_base(preset), **overrides).fingerprint()
    done = records / f"{formula}-{preset}-{fingerprint or current}.json"
    if done.exists():
        return json.loads(done.read_text())
    if fingerprint not in (None, current):
        raise amorphdb.InputError(f"{formula} under {preset} {fingerprint}: no summary {done} (not finished)")
    fingerprint = current
    result = amorphdb.run(formula, preset=_base(preset), engine=engine, db=out / f"{_base(preset)}.sqlite",
                          workdir=out / "runs", progress=False, **overrides)
    summary = {
        "formula": formula, "preset": preset, "scale": scale, "fingerprint": fingerprint, "source": result.source,
        **_steps(result.workdir), "temperatures": {
            f"{t.temperature:g}": _record(result.workdir / f"T{t.temperature:g}", preset, scale, {
                "density": t.production.density, "production_steps": t.production.n_steps,
                "converged": t.production.converged, "bulk_modulus": t.bulk_modulus, "run_id": t.run_id,
                "D": t.diffusion["Li"].D if "Li" in t.diffusion else None,
                "D_err": t.diffusion["Li"].D_err if "Li" in t.diffusion else None})
            for t in result.temperatures},
        "Ea": None if "Li" not in result.arrhenius else [result.arrhenius["Li"].Ea, result.arrhenius["Li"].Ea_err],
    }
    records.mkdir(parents=True, exist_ok=True)
    done.write_text(json.dumps(summary, indent=1))
    return summary


def _record(directory: Path, preset: str, scale: str, stored: dict) -> dict:
    """``stored`` (density, D(Li), ... of the production run in ``directory``, a ``T<K>`` folder) with what the
    comparison needs from its files, so that a summary stands without them: the production's mean pressure
    (kbar, the paper's convention) and its standard error (None: unknown, the run too short for its own
    correlation time), the partial RDFs over RDF_FRAMES frames of its second half, and the MSD fit of Li
    (``DiffusionResult.to_dict``: D, its window, the log-log slope above the plateau) over the preset's own window
    and, under `paper`, over `fast`'s (its ``fit_start_ps`` to half the run), and the R² of the RDFs of its own
    third and fourth quarters (the noise the comparison of RDFs cannot go below)."""
    settings = settings_for(_base(preset), **_overrides(preset, scale))
    run = MDResult(**json.loads((directory / "production-0.result.json").read_text()))
    frames = read(run.path, index=":")
    n = len(frames)
    rdf = partial_rdfs([frames[i] for i in evenly_spaced(n // 2, n - 1, RDF_FRAMES)])
    # the RDF's own noise: R² between its third and fourth quarters (RDF_FRAMES each), each as long as the second
    # half of a ~5000-step `fast` production, whose RDF is compared with this one
    quarters = [partial_rdfs([frames[i] for i in evenly_spaced(a, b, RDF_FRAMES)])
                for a, b in ((n // 2, 3 * n // 4 - 1), (3 * n // 4, n - 1))]
    dt_ps = settings.timestep * settings.frame_interval / 1000
    starts = {"li_fit": settings.fit_start_ps}
    if _base(preset) == "paper":
        starts["li_fit_fast_window"] = settings_for("fast", **_overrides("fast", scale)).fit_start_ps
    fits = {key: diffusion_from_trajectory(frames, dt_ps=dt_ps, species=["Li"], t_start=start).get("Li")
            for key, start in starts.items()}
    err = run.pressure_err(settings.pressure_convention)
    return {**stored, "pressure": run.pressure(settings.pressure_convention),
            "pressure_err": err if err is not None and math.isfinite(err) else None,
            **{key: fit.to_dict() if fit else None for key, fit in fits.items()},
            "rdf": rdf.round(5).to_dict(orient="list"), "rdf_r2_self": compare_rdfs(*quarters).r2}


def _overrides(preset: str, scale: str) -> dict:
    scaled = {} if scale == "full" else {**SMALL, **(FAST_SMALL if preset == "fast" else {})}
    return {**scaled, **{"fast": FAST_SET, "replica": REPLICA_SET}.get(preset, {})}


def _base(preset: str) -> str:
    """The package preset that ``preset`` (paper, fast, or replica: paper from another seed) runs."""
    return "paper" if preset == "replica" else preset


def _steps(workdir: Path) -> dict:
    """Steps per stage of the finished MD runs in ``workdir``, and the steps and seconds of those that kept their
    wall time (``MDResult.wall_s``; runs finished before it was kept have none)."""
    steps, timed_steps, timed_s = dict.fromkeys(STAGES, 0), 0, 0.0
    per_temperature: dict[str, int] = {}
    for path in workdir.glob("T*/*.result.json"):
        run = json.loads(path.read_text())
        steps[path.name.split("-")[0]] += run["n_steps"]
        t = path.parent.name[1:]
        per_temperature[t] = per_temperature.get(t, 0) + run["n_steps"]
        if math.isfinite(run.get("wall_s", math.nan)):
            timed_steps, timed_s = timed_steps + run["n_steps"], timed_s + run["wall_s"]
    return {"steps": steps, "steps_per_temperature": per_temperature, "timed_steps": timed_steps,
            "timed_s": timed_s}


def progress(formula: str, preset: str, scale: str, engine: str, out: Path, fingerprint: str | None = None) -> dict:
    """The summary of what ``formula`` under ``preset`` (the definition of ``fingerprint``, default the present
    one) has finished so far (``--status``): steps of the finished runs, and per temperature whose production
    is analysed its record (:func:`_record`); no Ea."""
    settings = settings_for(_base(preset), **_overrides(preset, scale))
    source = f"mlip-{engine}"
    temperatures = {}
    fingerprint = fingerprint or settings.fingerprint()
    workdir = _workdir(out, formula, source, fingerprint)
    if (out / f"{_base(preset)}.sqlite").exists():
        with Database(out / f"{_base(preset)}.sqlite") as db:
            rows = db.query(source=source)
        rows = rows[(rows.formula == formula) & (rows.stage == "production") & (rows.status == "done")
                    & rows.key.str.startswith(fingerprint)]
        for r in rows.itertuples():
            directory = workdir / f"T{r.temperature:g}"
            result = json.loads((directory / "production-0.result.json").read_text())
            temperatures[f"{r.temperature:g}"] = _record(directory, preset, scale, {
                "density": r.density, "production_steps": result["n_steps"], "converged": None, "D": r.D,
                "D_err": r.D_err, "run_id": r.run_id,
                "bulk_modulus": _eos_modulus(directory, settings.pressure_convention)})
    return {"formula": formula, "preset": preset, "source": source, "fingerprint": fingerprint, **_steps(workdir),
            "temperatures": temperatures, "Ea": None}


def _eos_modulus(directory: Path, convention: str) -> float | None:
    """The bulk modulus (kbar) of the EOS fit of the volume runs in ``directory`` (None without a bracketed
    zero: no EOS runs, as in a quench of ``fast``), as the search computed it."""
    runs = [MDResult(**json.loads(p.read_text())) for p in directory.glob("volume-*.result.json")]
    pressures = [r.pressure(convention) for r in runs]
    if not runs or min(pressures) > 0 or max(pressures) < 0:
        return None
    return fit_zero_pressure_volume([r.volume for r in runs], pressures).bulk_modulus


def _workdir(out: Path, formula: str, source: str, fingerprint: str) -> Path:
    """The work directory of ``formula``'s runs under the settings of ``fingerprint`` (as ``amorphdb.run`` names it)."""
    return out / "runs" / f"{parse_formula(formula).reduced_formula}-{source}-{fingerprint}"


def agreement(formula: str, paper: dict, fast: dict, found: dict[str, tuple[float, float, float]]) -> list[str]:
    """Markdown rows from the two summaries: per temperature the density difference beside the part of it that
    the two productions' pressures explain, D difference in combined σ, the same with `paper`'s D refitted over
    `fast`'s MSD window, RDF R² (and `paper`'s own, third quarter against fourth); ``found``: :func:`_differences`
    per temperature finished under both."""
    rows = []
    for t, (density, d_sigmas, r2) in found.items():
        a, b = paper["temperatures"][t], fast["temperatures"][t]  # (--status: those finished under both)
        windowed = a["li_fit_fast_window"] or {"D": None, "D_err": None}
        w_sigmas = _sigmas(windowed["D"], windowed["D_err"], b["D"], b["D_err"])
        # the density band the pressure tolerance allows: tolerance / B of the paper preset's search
        modulus = _modulus(a, b)
        band = f"±{100 * TOLERANCE / modulus:.0f}" if modulus else "-"
        explained = "-" if (from_p := _from_pressure(a, b)) is None else f"{from_p:+.1f}"
        rows.append(f"| {formula} | {t} | {a['production_steps'] or '-'} / {b['production_steps'] or '-'} | "
                    f"{density:+.1f} | {band} | {_pressure(a)} / {_pressure(b)} | {explained} | "
                    f"{a['D'] or math.nan:.2e} ± {a['D_err'] or math.nan:.1e} | "
                    f"{b['D'] or math.nan:.2e} ± {b['D_err'] or math.nan:.1e} | {d_sigmas:.2f} | "
                    f"{windowed['D'] or math.nan:.2e} | {w_sigmas:.2f} | {_slope(a)} / {_slope(b)} | {r2:.3f} | "
                    f"{_self_r2(a)} |")
    return rows


def criteria(formula: str, paper: dict, fast: dict, found: dict[str, tuple[float, float, float]],
             ea_sigmas: float | None) -> str:
    """A markdown row: at how many of the temperatures finished under both (``found``: :func:`_differences` of
    each) the issue's criteria hold (density within 2 %, D(Li) within the combined 1σ, RDF R² > 0.99), beside
    them the density at zero pressure within 2 % (the difference less the part the two productions' pressures
    make, :func:`_from_pressure`) and the RDF against `paper`'s own noise (R² at least `paper`'s Q3/Q4 R² − 0.01),
    and Ea within its combined error (``ea_sigmas``: |ΔEa|/σ, None without both Ea)."""
    own = {t: paper["temperatures"][t].get("rdf_r2_self") for t in found}
    from_p = {t: _from_pressure(paper["temperatures"][t], fast["temperatures"][t]) for t in found}
    counts = [(sum(abs(density) <= 2 for density, _, _ in found.values()), len(found)),
              (sum(abs(found[t][0] - p) <= 2 for t, p in from_p.items() if p is not None),
               sum(p is not None for p in from_p.values())),
              (sum(d <= 1 for _, d, _ in found.values()), len(found)),
              (sum(r2 > 0.99 for _, _, r2 in found.values()), len(found)),
              (sum(r2 >= own[t] - 0.01 for t, (_, _, r2) in found.items() if own[t] is not None),
               sum(r2 is not None for r2 in own.values()))]
    ea = "-" if ea_sigmas is None else "yes" if ea_sigmas <= 1 else "no"
    return f"| {formula} | " + " | ".join(f"{held} / {n}" for held, n in counts) + f" | {ea} |"


def d_chi2(sigmas: list[float]) -> str:
    """D(Li) over all temperatures as one test: Σ(ΔD/σ)² is χ² with one degree of freedom per temperature when the
    two presets differ only by the runs' noise (two seeds of one protocol), so its p-value is then uniform in 0–1;
    a small p says they differ beyond it, though each |ΔD|/σ may look ordinary. Temperatures without both D
    (NaN) are left out, and counted."""
    known = [d for d in sigmas if math.isfinite(d)]
    if not known:
        return "D(Li): no temperature with D under both"
    total = sum(d * d for d in known)
    missing = f"; {len(sigmas) - len(known)} without both D left out" if len(known) < len(sigmas) else ""
    return (f"D(Li) at {len(known)} temperatures: Σ(ΔD/σ)² = {total:.1f}, χ² p = {chi2.sf(total, len(known)):.3g} "
            f"(uniform in 0–1 when the presets differ only by the runs' noise){missing}")


def _modulus(a: dict, b: dict) -> float | None:
    """The bulk modulus (kbar) that converts pressure to density at a temperature: that of the paper preset's
    EOS fit (``a``), else the other's."""
    return a.get("bulk_modulus") or b.get("bulk_modulus")


def _from_pressure(a: dict, b: dict) -> float | None:
    """The density difference (% of ``a``'s) that the two productions' mean pressures alone make, (P_b − P_a) / B:
    a run at P > 0 is denser than at zero pressure by P / B (None without a B)."""
    modulus = _modulus(a, b)
    return 100 * (b["pressure"] - a["pressure"]) / modulus if modulus else None


def _differences(a: dict, b: dict) -> tuple[float, float, float]:
    """Of two summaries' records of one temperature: the density difference (% of ``a``'s), the D(Li) difference
    in combined σ, and the RDF R² of ``b`` against ``a``."""
    density = 100 * (b["density"] - a["density"]) / a["density"]
    r2 = compare_rdfs(pd.DataFrame(a["rdf"]), pd.DataFrame(b["rdf"])).r2
    return density, _sigmas(a["D"], a["D_err"], b["D"], b["D_err"]), r2


def _sigmas(a: float | None, a_err: float | None, b: float | None, b_err: float | None) -> float:
    """|b − a| in combined standard errors (NaN where a value or an error is missing)."""
    return abs(b - a) / math.hypot(a_err, b_err) if a and b and a_err and b_err else math.nan


def _slope(temperature: dict) -> str:
    """The log-log slope of Li's MSD above its plateau over the run's own fit window (1: diffusive)."""
    slope = (temperature["li_fit"] or {}).get("loglog_slope")
    return "-" if slope is None else f"{slope:.2f}"


def _self_r2(temperature: dict) -> str:
    """RDF R² of a production's third quarter against its fourth ("-": a summary made before it was kept)."""
    r2 = temperature.get("rdf_r2_self")
    return "-" if r2 is None else f"{r2:.3f}"


def _pressure(temperature: dict) -> str:
    """A production's mean pressure ± its standard error (kbar; "?": unknown, shorter than its correlation time)."""
    err = temperature["pressure_err"]
    return f"{temperature['pressure']:+.1f} ± {'?' if err is None else f'{err:.1f}'}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("formulas", nargs="+")
    p.add_argument("--scale", choices=("full", "small"), default="full")
    p.add_argument("--engine", default="chgnet")
    p.add_argument("--out", type=Path, default=None, help="runs and databases; default /tmp/bench_presets-<scale>")
    p.add_argument("--records", type=Path, default=None,
                   help="finished summaries; default docs/validation/presets (full scale, kept in the repository), "
                        "else <out>")
    p.add_argument("--preset", choices=("paper", "fast", "replica"), help="run only this preset (no table)")
    p.add_argument("--status", action="store_true",
                   help="run nothing: the table of what both presets have finished so far (steps of finished runs)")
    p.add_argument("--fast-fingerprint", metavar="FP",
                   help="the table or status of an earlier definition of fast (its fingerprint) against paper")
    p.add_argument("--fast-set", metavar="NAME=VALUE", action="append", default=[],
                   help="a setting of a candidate fast definition, e.g. density_target=0.01 (repeatable): runs and "
                        "compares that definition instead of the preset's")
    p.add_argument("--replica", metavar="SEED", type=int,
                   help="compare paper with paper from this seed instead of with fast (the reference's own scatter)")
    args = p.parse_args()
    for item in args.fast_set:
        name, _, value = item.partition("=")
        FAST_SET[name] = json.loads(value)
    if args.replica is not None:
        REPLICA_SET["seed"] = args.replica
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")  # a line per stage
    out = args.out or Path(f"/tmp/bench_presets-{args.scale}")
    out.mkdir(parents=True, exist_ok=True)
    records = args.records or (RECORDS if args.scale == "full" else out)
    if args.preset:
        for formula in args.formulas:
            try:
                run_preset(formula, args.preset, args.scale, args.engine, out, records)
            except amorphdb.AmorphDBError as exc:  # a failed search or MD: the next composition still runs
                logging.error("%s under %s failed: %s", formula, args.preset, exc)
        return
    steps_rows, temperature_rows, agree_rows, ea_rows, criteria_rows = [], [], [], [], []
    d_sigmas: list[float] = []  # |ΔD(Li)|/σ at every temperature of every composition
    side = "fast" if args.replica is None else "replica"  # the runs compared with paper's
    side_settings = settings_for(_base(side), **_overrides(side, args.scale))
    for formula in args.formulas:
        try:
            paper, fast = (progress(formula, preset, args.scale, args.engine, out, fingerprint) if args.status else
                           run_preset(formula, preset, args.scale, args.engine, out, records, fingerprint)
                           for preset, fingerprint in (("paper", None), (side, args.fast_fingerprint)))
        except amorphdb.AmorphDBError as exc:
            steps_rows.append(f"| {formula} | failed: {exc} | | | | | |")
            continue
        a, b = paper["steps"], fast["steps"]
        total_a, total_b = sum(a.values()), sum(b.values())
        hours = [total * (run["timed_s"] / run["timed_steps"] if run["timed_steps"] else math.nan) / 3600
                 for total, run in ((total_a, paper), (total_b, fast))]
        steps_rows.append(f"| {formula} | " + " | ".join(f"{a[s]} / {b[s]}" for s in STAGES)
                          + f" | {total_a} / {total_b} | {total_b / total_a if total_a else math.nan:.2f} | "
                          f"{hours[0]:.1f} / {hours[1]:.1f} |")
        per_a, per_b = paper["steps_per_temperature"], fast["steps_per_temperature"]
        temperature_rows += [
            f"| {formula} | {t} | {per_a[t]} / {per_b[t]} | {per_b[t] / per_a[t]:.2f} | "
            f"{'yes' if t in paper['temperatures'] and t in fast['temperatures'] else 'no'} |"
            for t in sorted(per_a.keys() & per_b.keys(), key=float, reverse=True)]
        found = {t: _differences(paper["temperatures"][t], fast["temperatures"][t]) for t in sorted(
            paper["temperatures"].keys() & fast["temperatures"].keys(), key=float, reverse=True)}  # hottest first
        agree_rows += agreement(formula, paper, fast, found)
        ea_sigmas = None
        if paper["Ea"] and fast["Ea"]:
            (ea, ea_err), (eb, eb_err) = paper["Ea"], fast["Ea"]
            ea_sigmas = abs(eb - ea) / math.hypot(ea_err, eb_err)
            ea_rows.append(f"| {formula} | {ea:.3f} ± {ea_err:.3f} | {eb:.3f} ± {eb_err:.3f} | {ea_sigmas:.2f} |")
        criteria_rows.append(criteria(formula, paper, fast, found, ea_sigmas))
        d_sigmas += [d for _, d, _ in found.values()]
    fingerprint = args.fast_fingerprint or side_settings.fingerprint()
    table = "\n".join([
        f"scale: {args.scale}; engine {args.engine}; {side} {fingerprint}; steps paper / {side}"
        + ("; so far (--status): finished runs only" if args.status else ""),
        "", f"| composition | volume | check | production | all | {side}/paper | MD hours (one core) |",
        "| --- | --- | --- | --- | --- | --- | --- |", *steps_rows,
        "", f"| composition | T (K) | steps paper / {side} | {side}/paper | both productions done |",
        "| --- | --- | --- | --- | --- |", *temperature_rows,
        "", "| composition | T (K) | production steps | density Δ % | tolerance band % | production P (kbar) | "
            f"Δ % from P | D(Li) paper | D(Li) {side} | |ΔD|/σ | D(Li) paper, fast's window | |ΔD|/σ there | "
            f"MSD slope paper / {side} | RDF R² | RDF R² paper, Q3 / Q4 |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |", *agree_rows,
        "", f"| composition | Ea paper (eV) | Ea {side} (eV) | |ΔEa|/σ |", "| --- | --- | --- | --- |", *ea_rows,
        "", "temperatures where each criterion holds:", "",
        "| composition | density within 2 % | at zero pressure (less Δ % from P) | D(Li) within 1σ | RDF R² > 0.99 | "
        "RDF R² ≥ paper's Q3/Q4 − 0.01 | Ea within 1σ |", "| --- | --- | --- | --- | --- | --- | --- |",
        *criteria_rows, "", d_chi2(d_sigmas)])
    (out / ("status.md" if args.status else "table.md")).write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
