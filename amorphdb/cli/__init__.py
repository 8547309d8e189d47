"""The ``amorphdb`` command line: a thin layer over the Python API, one command per public function.

Each command is declared once with :func:`command`; ``--db URL`` and ``-v`` are added to every command.
Errors a user can cause (:class:`amorphdb.errors.AmorphDBError`) are printed as one line, exit status 2.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from typing import Any

from ..errors import AmorphDBError

_COMMANDS: dict[str, tuple[str, tuple, Callable[[argparse.Namespace], Any]]] = {}


def arg(*names: str, **kwargs: Any) -> tuple[tuple[str, ...], dict[str, Any]]:
    """One ``add_argument`` call, written as ``arg("--json", action="store_true")``."""
    return names, kwargs


def command(name: str, help: str, *args: tuple[tuple[str, ...], dict[str, Any]]):
    """Register the decorated function as the sub-command ``name`` with the given arguments."""

    def deco(func: Callable[[argparse.Namespace], Any]):
        _COMMANDS[name] = (help, args, func)
        return func

    return deco


def _database(args: argparse.Namespace):
    from ..database import Database

    return Database(args.db)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="amorphdb", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (help_, args, func) in _COMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        p.add_argument("--db", metavar="URL", default=None,
                       help="database URL (default: $AMORPHDB_URL or the SQLite file in the user data dir)")
        p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
        for names, kwargs in args:
            p.add_argument(*names, **kwargs)
        p.set_defaults(func=func)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    try:
        result = args.func(args)
    except AmorphDBError as exc:
        print(f"amorphdb: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and closed early
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("amorphdb: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


# ---------------------------------------------------------------------------------------------------
# Commands. Each block below belongs to one module of the package; keep them in data-flow order:
# database/import → run (protocol) → analysis (diffusion, arrhenius, rdf, features) → learning.
# ---------------------------------------------------------------------------------------------------


# --- database (amorphdb/database.py) -------------------------------------------------------------------


def _print_table(table, empty: str = "(no rows)", index: bool = False) -> None:
    text_columns = table.select_dtypes(include="object").columns  # None there prints as "None", not na_rep
    table = table.assign(**{c: table[c].fillna("-") for c in text_columns})
    print(empty if table.empty else table.to_string(index=index, na_rep="-", float_format=lambda x: f"{x:.4g}"))


def _json_records(table) -> str:
    import json

    import pandas as pd

    return json.dumps([{k: (None if isinstance(v, float) and pd.isna(v) else v) for k, v in row.items()}
                       for row in table.to_dict(orient="records")], indent=1, default=str)


@command("import-paper", "Load the paper's published data (ml_features.csv and rdf/) into the database.",
         arg("directory", help="the paper's data directory, e.g. ../shared/data/paper"))
def _cmd_import_paper(args):
    db = _database(args)
    summary = db.import_paper(args.directory)
    print(f"database: {db.safe_url}")
    _print_table(summary)


@command("query", "List runs filtered by elements, temperature, diffusivity (of Li by default) and source.",
         arg("--elements", help="comma-separated elements the material must contain, e.g. Li,S"),
         arg("--exclude", help="comma-separated elements the material must not contain, e.g. O"),
         arg("--temperature", type=float, help="temperature (K)"),
         arg("--t-min", type=float, help="lowest temperature (K)"),
         arg("--t-max", type=float, help="highest temperature (K)"),
         arg("--d-min", type=float, help="lowest D of --species (cm²/s)"),
         arg("--d-max", type=float, help="highest D of --species (cm²/s)"),
         arg("--species", default="Li", help="the species whose D is listed and filtered (default Li)"),
         arg("--source", help="e.g. paper-aimd, paper-m3gnet, mlip-chgnet"),
         arg("--json", action="store_true", help="print JSON records instead of a table"))
def _cmd_query(args):
    table = _database(args).query(elements=args.elements, exclude=args.exclude, temperature=args.temperature,
                                  t_min=args.t_min, t_max=args.t_max, d_min=args.d_min, d_max=args.d_max,
                                  source=args.source, species=args.species)
    if args.json:
        print(_json_records(table))
        return
    _print_table(table.drop(columns=["run_id"]), "no run matches")
    print(f"{len(table)} runs, {table['formula'].nunique()} compositions")


@command("show", "Print everything known about one composition.", arg("formula"),
         arg("--json", action="store_true", help="print the full record as JSON"))
def _cmd_show(args):
    import json

    import pandas as pd

    info = _database(args).show(args.formula)
    if args.json:
        print(json.dumps(info, indent=1, default=str))
        return
    print(f"{info['formula']}  elements: {' '.join(info['elements'])}  "
          f"composition: {' '.join(f'{k}{v}' for k, v in info['composition'].items())}")
    runs = pd.DataFrame([{"source": r["source"], "key": r["key"], "T (K)": r["temperature"], "stage": r["stage"],
                          "status": r["status"], "engine": r["engine"],
                          "density": float("nan") if r["density"] is None else r["density"],
                          **{f"D_{sp} (cm2/s)": vals[-1]["D"] for sp, vals in r["diffusivity"].items()},
                          "features": len(r["features"])} for r in info["runs"]])
    print(f"\nruns ({len(runs)}):")
    _print_table(runs)
    for r in info["runs"]:
        if r["status"] == "failed":
            print(f"  failed: {r['source']} {r['key']}: {r.get('message') or '(no message)'}")
    print("\nArrhenius fits:")
    _print_table(pd.DataFrame(info["arrhenius"]), "(none)")
    features = pd.DataFrame({f"{r['source']} {r['temperature']:g} K": r["features"] for r in info["runs"]
                             if r["features"]})
    print("\nfeatures:")
    _print_table(features, "(none)", index=True)
    print("\nRDFs:")
    print("\n".join(f"  {r['source']} {r['temperature']:g} K: {', '.join(r['pairs'])}" for r in info["rdfs"])
          or "  (none)")
    if info["structures"]:
        print("\nstructures:")
        print("\n".join(f"  {s['source']} {s['key']}: {', '.join(s['labels'])}" for s in info["structures"]))


@command("export", "Write the whole database to one JSON or CSV file (read back by 'amorphdb import').",
         arg("--format", choices=["json", "csv"], default="json"),
         arg("--out", required=True, metavar="FILE", help="output file"))
def _cmd_export(args):
    counts = _database(args).export(args.out, format=args.format)
    print(f"wrote {args.out}: " + ", ".join(f"{n} {table}" for table, n in counts.items()))


@command("import", "Read a file written by 'amorphdb export' into the database (merging, no duplicates).",
         arg("file", help="a JSON or CSV export"))
def _cmd_import(args):
    counts = _database(args).import_file(args.file)
    print(f"read {args.file}: " + ", ".join(f"{n} {table}" for table, n in counts.items()))


# --- run (amorphdb/protocol.py) -------------------------------------------------------------------------------
# Every number of ProtocolSettings as an option (tests/test_protocol.py checks that none is missing);
# listed here rather than read from the dataclass so that `amorphdb --help` does not import ASE.
_RUN_NUMBERS: tuple[tuple[str, type, str], ...] = (
    ("atoms", int, "atoms in the cell (nearest multiple of the formula unit)"),
    ("melt_temperature", float, "melt temperature, K"),
    ("volume_steps", int, "steps of each EOS volume run"),
    ("check_steps", int, "steps of each convergence check run"),
    ("production_steps", int, "steps of the production run"),
    ("timestep", float, "MD timestep, fs"),
    ("tdamp", float, "Nose-Hoover chain damping time, fs"),
    ("frame_interval", int, "write every n-th step"),
    ("checkpoint_interval", int, "steps between MD checkpoints"),
    ("pressure_tolerance", float, "converged when |P| is below, kbar"),
    ("energy_tolerance", float, "converged when the relative energy drift is below"),
    ("rescale_beta", float, "V -> V exp(beta P), 1/bar"),
    ("max_rescales", int, "volume rescales before failing"),
    ("max_energy_reruns", int, "energy-only reruns before production"),
    ("max_eos_extensions", int, "extra EOS runs when zero pressure is outside the explored range"),
    ("density", float, "density of the packed start, g/cm3 (default: guessed)"),
    ("packing_tolerance", float, "PACKMOL pair distance, Å"),
    ("max_temperature_factor", float, "blow-up: mean T above this x target"),
    ("min_distance", float, "blow-up: atoms closer than this, Å"),
    ("analysis_frames", int, "production frames averaged for RDFs and features"),
    ("seed", int, "PACKMOL and velocity seed"),
)


@command("run", "Melt-quench MD of one composition (MPMorph protocol) at 5000 K and the quench temperatures, "
         "with D, RDFs, features and Ea, all into the database.",
         arg("formula"),
         arg("--preset", choices=["quick", "paper"], default="quick", help="quick: small cell, short runs; "
             "paper: ~100 atoms, 4 ps volume runs, 20 ps production (default quick)"),
         arg("--engine", default="chgnet", help="chgnet (default), sevennet, or module:factory of an ASE calculator"),
         arg("--device", default=None, help="cpu or cuda (default: the GPU when torch sees one)"),
         arg("--temperatures", nargs="+", type=float, metavar="K", help="quench temperatures (default 1000 1500 2000 2500)"),
         arg("--scales", nargs="+", type=float, metavar="X", help="volume factors of the EOS runs (default 0.8 1.0 1.2)"),
         arg("--pressure-convention", choices=["virial", "total"], help="pressure driven to zero (default virial, the paper's)"),
         arg("--workdir", help="directory for trajectories and checkpoints "
             "(default $AMORPHDB_WORKDIR or ~/.local/share/amorphdb/runs)"),
         arg("--no-analysis", action="store_true", help="skip diffusion, RDFs, features and the Arrhenius fit"),
         arg("--no-progress", action="store_true", help="no progress bars"),
         *(arg("--" + name.replace("_", "-"), type=kind, metavar="N" if kind is int else "X", help=text)
           for name, kind, text in _RUN_NUMBERS))
def _cmd_run(args):
    import time

    from ..protocol import run

    overrides = {name: getattr(args, name) for name, _, _ in _RUN_NUMBERS}
    overrides.update(scales=args.scales, pressure_convention=args.pressure_convention)
    start = time.perf_counter()
    result = run(args.formula, preset=args.preset, engine=args.engine, temperatures=args.temperatures,
                 db=_database(args), workdir=args.workdir, device=args.device, analyse=not args.no_analysis,
                 progress=not args.no_progress, **overrides)  # None: the preset's value (settings_for)
    print(result.table())
    print(f"work directory: {result.workdir}")
    print(f"wall time: {time.perf_counter() - start:.0f} s")
    return 0


# --- diffusion, arrhenius, rdf (amorphdb/diffusion.py, amorphdb/rdf.py) ---------------------------------

@command("diffusion", "Print the tracer diffusivity D ± error (cm²/s) of each species in a trajectory.",
         arg("trajectory", metavar="TRAJ", help="any file ASE reads: .traj, extxyz, XDATCAR, LAMMPS dump"),
         arg("--species", action="append", help="only this species (repeatable), e.g. --species Li"),
         arg("--dt-ps", type=float, help="time between frames (ps); needed when the file does not store it"),
         arg("--t-start", type=float, help="start of the fit window (ps; default 10%% of the run)"),
         arg("--t-end", type=float, help="end of the fit window (ps; default 50%% of the run)"),
         arg("--format", help="ASE format name when the file name does not tell, e.g. lammps-dump-text"),
         arg("--charge", action="append", metavar="SPECIES=Z",
             help="ionic charge (e) of a species, e.g. Li=1 (repeatable): adds its Nernst-Einstein conductivity"),
         arg("--temperature", type=float, metavar="K", help="temperature of the run for the conductivity "
             "(default: the target temperature of an amorphdb MD run)"),
         arg("--plot", metavar="PNG", help="write the MSD curves and fits to this PNG"),
         arg("--json", action="store_true", help="print JSON: species -> D, D_err, diffusive, ..."))
def _cmd_diffusion(args):
    import json

    from ..analysis.diffusion import conductivities, diffusion_from_trajectory, parse_charges, read_trajectory
    from ..errors import InputError

    charges = parse_charges(args.charge or [])
    traj = read_trajectory(args.trajectory, format=args.format)
    temperature = args.temperature if args.temperature is not None else traj.temperature
    if charges and temperature is None:
        raise InputError("the conductivity needs the temperature of the run: give --temperature K")
    species = None if args.species is None else list(dict.fromkeys(args.species + list(charges)))
    results = diffusion_from_trajectory(traj, dt_ps=args.dt_ps, species=species,
                                        t_start=args.t_start, t_end=args.t_end)
    sigma = conductivities(results, charges, temperature, traj.volume) if charges else {}
    if args.plot:
        from ..report.plots import plot_msd

        plot_msd(results, args.plot, title=str(args.trajectory))
    if args.json:
        out = {s: r.to_dict() for s, r in results.items()}
        for s, (value, err) in sigma.items():
            out.setdefault(s, {}).update(sigma_S_cm=value, sigma_err_S_cm=err)
        if sigma:
            out["total"].update(temperature=temperature, volume=traj.volume)
        print(json.dumps(out, indent=1))
        return 0
    for s, r in results.items():
        window = f"fit {r.t_fit[0]:.3g}-{r.t_fit[1]:.3g} ps, {r.n_atoms} atoms"
        if r.diffusive:
            print(f"{s:3s} D = {r.D:.3e} ± {r.D_err:.1e} cm²/s  ({window})")
        else:
            print(f"{s:3s} not diffusive: {r.reason}  ({window})")
    for s, (value, err) in sigma.items():
        flag = "" if s == "total" or results[s].diffusive else "  (not diffusive: an upper bound)"
        print(f"sigma({s}) = {value:.3e} ± {err:.1e} S/cm  (Nernst-Einstein, {temperature:g} K, "
              f"{traj.volume:.1f} Å³){flag}")
    if args.plot:
        print(f"wrote {args.plot}")
    return 0


@command("arrhenius", "Fit Ea and D0 to the stored D(T) of a composition, extrapolate to 300 K, store the fit.",
         arg("formula"),
         arg("--source", default="mlip-chgnet", help="runs of this source (default mlip-chgnet; paper-aimd, ...)"),
         arg("--species", default="Li", help="diffusing species (default Li)"),
         arg("--charge", type=float, metavar="Z", help="ionic charge of the species (e): adds the Nernst-Einstein "
             "conductivity at 300 K, at the stored density of the coldest fitted run"),
         arg("--plot", metavar="PNG", help="write ln D against 1/T with the fit to this PNG"),
         arg("--json", action="store_true", help="print the fit as JSON"))
def _cmd_arrhenius(args):
    import json

    from pymatgen.core import Composition

    from ..analysis.diffusion import arrhenius_fit, conductivity
    from ..errors import InputError
    from ..structure import volume_for_density

    db = _database(args)
    info = db.show(args.formula)
    points, excluded, densities = [], [], {}
    for run in info["runs"]:
        values = run["diffusivity"].get(args.species)
        if run["source"] != args.source or run["stage"] not in ("production", "imported") or not values:
            continue
        d = values[-1]
        (points if d["diffusive"] is not False else excluded).append((run["temperature"], d["D"], d["D_err"]))
        if d["diffusive"] is not False and run["density"]:
            densities[run["temperature"]] = run["density"]
    if len({t for t, _, _ in points}) < 2:
        raise InputError(f"{info['formula']}: fewer than 2 temperatures with a diffusive {args.species} D "
                         f"from source {args.source!r} ({len(excluded)} non-diffusive left out)")
    T, D, D_err = zip(*points)
    weighted = all(e is not None and e > 0 for e in D_err)
    fit = arrhenius_fit(T, D, D_err if weighted else None, species=args.species)
    db.add_arrhenius(info["formula"], args.source, args.species, fit.Ea, fit.Ea_err, fit.prefactor,
                     fit.prefactor_err, fit.t_min, fit.t_max)
    if args.plot:
        from ..report.plots import plot_arrhenius

        plot_arrhenius(T, D, D_err if weighted else None, fit, args.plot, [(t, d) for t, d, _ in excluded],
                       title=f"{info['formula']} {args.species} ({args.source})")
    out = {"formula": info["formula"], "source": args.source, "n_points": len(points),
           "n_excluded": len(excluded), **fit.to_dict()}
    if args.charge is not None:
        if not densities:
            raise InputError(f"{info['formula']}: no density stored for the fitted runs of {args.source!r}: "
                             "the conductivity needs one")
        t_cold = min(densities)
        comp = Composition(info["formula"])
        volume = volume_for_density(comp, densities[t_cold])  # Å³ per formula unit
        out.update({f"sigma_300K{k}": conductivity(v, 300.0, comp[args.species], volume, args.charge) for k, v in
                    (("", out["D_300K"]), ("_err", out["D_300K_err"]), ("_1sigma", out["D_300K_1sigma"]))},
                   sigma_density=densities[t_cold], sigma_density_temperature=t_cold)
        out["sigma_300K_1sigma"] = list(out["sigma_300K_1sigma"])
    if args.json:
        print(json.dumps(out, indent=1))
        return 0
    print(f"{info['formula']} {args.species} ({args.source}, {len(points)} runs, {fit.t_min:g}-{fit.t_max:g} K"
          f"{', unweighted: some D have no error' if not weighted else ''})")
    print(f"Ea = {fit.Ea:.3f} ± {fit.Ea_err:.3f} eV")
    print(f"D0 = {fit.prefactor:.3e} ± {fit.prefactor_err:.1e} cm²/s")
    low, high = out["D_300K_1sigma"]
    print(f"D(300 K) = {out['D_300K']:.3e} cm²/s, 1σ range {low:.2e}-{high:.2e} (extrapolated)")
    if args.charge is not None:
        low, high = out["sigma_300K_1sigma"]
        print(f"sigma(300 K) = {out['sigma_300K']:.3e} S/cm, 1σ range {low:.2e}-{high:.2e} (Nernst-Einstein, "
              f"z = {args.charge:g}, density {out['sigma_density']:.4g} g/cm³ of the "
              f"{out['sigma_density_temperature']:g} K run)")
    if excluded:
        print(f"left out (not diffusive): {', '.join(f'{t:g} K' for t, _, _ in excluded)}")
    if args.plot:
        print(f"wrote {args.plot}")
    return 0


@command("rdf", "Write the partial g(r) of a trajectory (frame average) in the paper's CSV layout.",
         arg("trajectory", metavar="TRAJ", help="any file ASE reads (or a single structure)"),
         arg("--out", required=True, metavar="CSV", help="output CSV (paper layout: pairs, then r)"),
         arg("--r-max", type=float, default=10.0, help="largest r (Å, default 10)"),
         arg("--dr", type=float, default=0.1, help="grid step (Å, default 0.1)"),
         arg("--sigma", type=float, default=0.1, help="Gaussian smoothing (Å, default 0.1 as the paper; 0: none)"),
         arg("--max-frames", type=int, default=1000, help="use at most this many evenly spaced frames"),
         arg("--format", help="ASE format name when the file name does not tell, e.g. lammps-dump-text"),
         arg("--plot", metavar="PNG", help="write the partial RDFs to this PNG"))
def _cmd_rdf(args):
    from ..analysis.diffusion import read_trajectory
    from ..analysis.rdf import partial_rdfs, write_rdf_csv

    df = partial_rdfs(read_trajectory(args.trajectory, format=args.format), r_max=args.r_max, dr=args.dr,
                      sigma=args.sigma, max_frames=args.max_frames)
    write_rdf_csv(df, args.out)
    print(f"wrote {args.out}: {', '.join(c for c in df.columns if c != 'r')}")
    if args.plot:
        from ..report.plots import plot_rdf

        plot_rdf({str(args.trajectory): df}, args.plot)
        print(f"wrote {args.plot}")
    return 0


@command("rdf-compare", "R² of a candidate RDF against a reference (all common pairs and bins pooled).",
         arg("reference", metavar="REFERENCE.csv", help="RDF file in the paper's layout, or a source with --formula"),
         arg("candidate", metavar="CANDIDATE.csv", help="RDF file, or a source with --formula"),
         arg("--formula", help="compare the database's RDFs of this composition: REFERENCE and CANDIDATE are "
             "sources, e.g. paper-aimd mlip-chgnet"),
         arg("--temperature", type=float, metavar="K", help="with --formula: the runs at this temperature "
             "(default: the highest that has RDFs)"),
         arg("--plot", metavar="PNG", help="write both RDFs overlaid to this PNG"),
         arg("--json", action="store_true", help="print JSON: r2 and r2 per pair"))
def _cmd_rdf_compare(args):
    import json
    from pathlib import Path

    from ..errors import InputError
    from ..analysis.rdf import pair_key, read_rdf_csv, rdf_r2, validate_rdf

    if args.formula is None:
        ref, cand = read_rdf_csv(args.reference), read_rdf_csv(args.candidate)
        labels = Path(args.reference).stem, Path(args.candidate).stem
    else:
        db, tables = _database(args), []
        at = "" if args.temperature is None else f" at {args.temperature:g} K"
        for source in (args.reference, args.candidate):
            table = db.rdf(args.formula, source, args.temperature)
            if table is None:
                raise InputError(f"no RDF of {args.formula} from source {source!r}{at} in the database")
            tables.append(validate_rdf(table, f"{args.formula} {source}"))
        ref, cand = tables
        labels = args.reference, args.candidate
    r2 = rdf_r2(ref, cand)
    per_pair = {}
    for pair in (c for c in ref.columns if c != "r"):
        try:
            per_pair[pair] = rdf_r2(ref, cand, pairs=[pair])
        except AmorphDBError:  # pair absent from the candidate or constant in the reference
            continue
    unmatched = {name: [c for c in df.columns if c != "r" and pair_key(c) not in
                        {pair_key(o) for o in other.columns if o != "r"}]
                 for name, df, other in (("reference", ref, cand), ("candidate", cand, ref))}
    if args.plot:
        from ..report.plots import plot_rdf

        plot_rdf(dict(zip(labels, (ref, cand))), args.plot,
                 title=f"{args.formula + ': ' if args.formula else ''}R² = {r2:.3f}")
    if args.json:
        print(json.dumps({"r2": r2, "pairs": per_pair, "only_in": unmatched}, indent=1))
        return 0
    print(f"R2 = {r2:.4f}  ({len(per_pair)} pairs)")
    for pair, value in per_pair.items():
        print(f"  {pair:8s} {value:.4f}")
    for name, pairs in unmatched.items():
        if pairs:
            print(f"  not compared, only in the {name}: {', '.join(pairs)}")
    if args.plot:
        print(f"wrote {args.plot}")
    return 0


# --- features (amorphdb/features.py) ----------------------------------------------------------------

@command("features", "Print the paper's feature columns of a structure file, or the compositional ones of a formula.",
         arg("structure", nargs="?", metavar="STRUCTURE_FILE",
             help="any file ASE or pymatgen reads: CIF, POSCAR, extxyz, .traj (last frame)"),
         arg("--formula", help="compositional features of this formula (no structure needed)"),
         arg("--compositional", action="store_true", help="only the 21 compositional columns"),
         arg("--temperature", type=float, metavar="K", help="add the temperature column (K)"),
         arg("--mode", choices=["paper", "physical"], default="paper",
             help="paper: the published table's conventions (default); physical: their evident intent"),
         arg("--frames", type=int, default=1, metavar="N", help="average the structural columns over N evenly "
             "spaced frames of a trajectory file (default 1: its last frame)"),
         arg("--json", action="store_true", help="one JSON object: column -> value, plus element_data sources"))
def _cmd_features(args):
    import json

    from ..analysis import features as feat
    from ..errors import InputError

    if (args.structure is None) == (args.formula is None):
        raise InputError("give either a STRUCTURE_FILE or --formula FORMULA")
    if args.frames < 1:
        raise InputError(f"--frames must be at least 1, got {args.frames}")
    if args.formula is not None:
        formula, values = args.formula, feat.compositional_features(args.formula)
    elif args.frames > 1 and not args.compositional:
        frames = feat.read_frames(args.structure)
        formula = frames[0].get_chemical_formula()
        values = feat.trajectory_features(frames, n_samples=args.frames, mode=args.mode)
    else:
        atoms = feat.read_structure(args.structure)
        formula = atoms.get_chemical_formula()
        values = (feat.compositional_features(formula) if args.compositional
                  else feat.features(atoms, mode=args.mode))
    if args.temperature is not None:
        values["temperature"] = float(args.temperature)
    sources = feat.element_data_sources(formula)
    if args.json:
        print(json.dumps({**values, "element_data": sources}, indent=1))
        return 0
    for name, value in values.items():
        print(f"{name:30s} {value:.10g}")
    for source in sorted(set(sources.values())):
        print(f"# B, G, E_coh from {source} for {', '.join(e for e, s in sources.items() if s == source)}")
    return 0


# --- learning (train, predict, evaluate) and trends (report) ---------------------------------------
_DATA_ARGS = (arg("--data", metavar="CSV", help="training table with the columns of ml_features.csv "
                  "(default: the database's training table)"),
              arg("--source", default="paper-aimd", help="provenance tag of the database's training table"))


def _training_table(args):
    from ..learning import load_table

    return load_table(args.data, None if args.data else _database(args), source=args.source)


@command("train", "Fit a diffusivity model (rf, xgb, sisso, sisso-paper, arrhenius, gbm-mono, stack, best), "
         "print its 5-fold CV scores and save it.", *_DATA_ARGS,
         arg("--model", default="best", help="model kind (default best)"),
         arg("--out", required=True, metavar="FILE", help="where to save the model (joblib)"),
         arg("--seed", type=int, default=62), arg("--no-cv", action="store_true", help="skip cross-validation"),
         arg("--n-members", type=int, default=20, help="ensemble size of the uncertainty (ln-D models)"),
         arg("--n-bootstrap", type=int, default=100, help="bootstrap models of xgb's uncertainty"),
         arg("--max-dim", type=int, help="sisso: largest descriptor dimension (default 4)"),
         arg("--dim", type=int, help="sisso: use this dimension (default: chosen by composition-grouped CV)"),
         arg("--n-sis", type=int, help="sisso: features screened per dimension (default 50; the d-D search "
             "runs over all d-subsets of d*n_sis features, keep it small above 4-D)"))
def _cmd_train(args):
    from ..learning import train

    sisso = {k: v for k, v in (("max_dim", args.max_dim), ("dim", args.dim), ("n_sis", args.n_sis))
             if v is not None}
    if sisso and args.model != "sisso":
        raise AmorphDBError("--max-dim, --dim and --n-sis apply to --model sisso only")
    table = _training_table(args)
    trained = train(table, args.model, seed=args.seed, cv=not args.no_cv, n_members=args.n_members,
                    n_bootstrap=args.n_bootstrap, **sisso)
    trained.metadata["data"] = args.data or f"database {args.db or 'default'} source {args.source}"
    for e in trained.metadata.get("sisso", {}).get("equations", []):
        mark = "*" if e["dim"] == trained.metadata["sisso"]["dim"] else " "
        print(f"{mark}{e['dim']}-D  RMSE(ln D) train {e['rmse_train']:.3f}  grouped CV {e['rmse_grouped_cv']:.3f}  "
              f"{e['equation']}")
    for protocol, s in trained.metadata.get("cv", {}).items():
        print(f"{args.model} {protocol:10s} RMSE(D) {s['rmse_D']:.3e} cm2/s  MAE(D) {s['mae_D']:.3e}  "
              f"R2(D) {s['r2_D']:.3f}  RMSE(ln D) {s['rmse_lnD']:.3f}  R2(ln D) {s['r2_lnD']:.3f}")
    path = trained.save(args.out)
    if not args.data or args.db:
        model_id = _database(args).add_model(path.stem, args.model, path.resolve(), trained.metadata)
        print(f"recorded as model {model_id} ({path.stem}) in the database")
    print(f"saved {path}")
    return 0


@command("predict", "Predict Li D(T): for the rows of a feature table (--data), or for a new FORMULA "
         "(quick MLIP melt-quench, features, then the model).",
         arg("formula", nargs="?", help="new composition: runs the quick protocol first"),
         arg("--model", default="best", help="saved model file, or a kind trained on demand from --data / the "
             "database (default best)"),
         arg("--data", metavar="CSV", help="without FORMULA: the rows to predict; with FORMULA: the training "
             "table for a model trained on demand"),
         arg("--source", default="paper-aimd", help="database training table for a model trained on demand"),
         arg("--out", metavar="CSV", help="write the predictions here (default: print them)"),
         arg("--temperatures", type=float, nargs="+", default=[1000.0, 1500.0, 2000.0, 2500.0],
             help="K, with FORMULA"),
         arg("--engine", default="chgnet", help="MLIP of the quick run, with FORMULA"),
         arg("--preset", default="quick", help="protocol preset, with FORMULA"),
         arg("--workdir", help="work directory of the MD runs"), arg("--device", help="torch device"),
         arg("--plot", metavar="PNG", help="with FORMULA: D(T) of the model (band: ±1σ) and of the MD runs"))
def _cmd_predict(args):
    from pathlib import Path

    from ..learning import MODEL_KINDS, load_model, load_table, predict, predict_formula, train

    if args.formula is None and not args.data:
        raise AmorphDBError("give a FORMULA, or --data with the feature rows to predict")
    if Path(args.model).is_file():
        model = load_model(args.model)
    elif args.model in MODEL_KINDS and args.formula is not None:
        print(f"training a {args.model} model on demand (save one with 'amorphdb train' to skip this)")
        model = train(_training_table(args), args.model, cv=False)
    else:
        raise AmorphDBError(f"model file {args.model} does not exist (a kind name trains on demand only with FORMULA)")
    if args.formula is not None:
        result = predict_formula(args.formula, args.temperatures, model, engine=args.engine, preset=args.preset,
                                 db=_database(args), workdir=args.workdir, device=args.device)
        print(result.text())
        table = result.table.assign(formula=result.formula)[["formula", *result.table.columns]]
        if args.plot:
            from ..report.plots import plot_arrhenius_model

            t = table["temperature"]
            title = f"{result.formula}: {model.kind} on the {args.engine} structures"
            plot_arrhenius_model(title, t, table["D_md"], table["D_md_err"], t, table["D"], table["ln_D_err"],
                                 args.plot, data_label=f"{args.engine} MD")
            print(f"wrote {args.plot}")
    else:
        table = predict(model, load_table(args.data))
    if args.out:
        table.to_csv(args.out, index=False)
        print(f"wrote {len(table)} rows to {args.out}")
    elif args.formula is None:
        _print_table(table)
    return 0


@command("evaluate", "Score model kinds on the same folds: the paper's split and CV, composition-grouped CV, "
         "leave one temperature out; tables and plots into a directory.", *_DATA_ARGS,
         arg("--models", default="rf,xgb,sisso,sisso-paper,arrhenius,gbm-mono,stack,best",
             help="comma-separated model kinds"),
         arg("--out", default="evaluation", metavar="DIR", help="directory of the CSV, Markdown and PNG files"),
         arg("--curves", nargs="*", default=[], metavar="FORMULA",
             help="compositions whose held-out Arrhenius curves are drawn (rf and best)"),
         arg("--seed", type=int, default=62), arg("--n-members", type=int, default=20),
         arg("--n-bootstrap", type=int, default=100))
def _cmd_evaluate(args):
    from ..learning import evaluate, write_evaluation

    table = _training_table(args)
    kinds = [k.strip() for k in args.models.split(",") if k.strip()]
    absent = sorted(set(args.curves) - set(table["formula"]))
    if absent:
        raise AmorphDBError(f"--curves: {', '.join(absent)} not in the training table")
    ev = evaluate(table, kinds, seed=args.seed, n_members=args.n_members, n_bootstrap=args.n_bootstrap)
    paths = write_evaluation(ev, table, args.out, seed=args.seed, curves=args.curves,
                             n_members=args.n_members, n_bootstrap=args.n_bootstrap)
    print(paths["markdown"].read_text())
    print(f"wrote {len(paths)} files to {args.out}")
    return 0


@command("report", "Trends: D and Ea by anion, Ea of binary Li-X against Li fraction, radius and group of X, "
         "Pearson r of the features with D (CSV and PNG).", *_DATA_ARGS,
         arg("--out", default="report", metavar="DIR", help="directory of the CSV and PNG files"),
         arg("--temperature", type=float, help="K of the D distributions (default: the most common)"))
def _cmd_report(args):
    import pandas as pd

    from ..report.trends import report

    paths = report(_training_table(args), args.out, temperature=args.temperature)
    groups = pd.read_csv(paths["anions"])
    _print_table(groups[groups["n"] >= 3].round(4))
    for name, path in paths.items():
        print(f"{name:14s} {path}")
    return 0
