"""Commands of the analysis: diffusion, arrhenius, rdf, rdf-compare, features."""

from __future__ import annotations

from . import _database, arg, command, plot_file


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
         arg("--plot", metavar="PNG", type=plot_file, help="write the MSD curves and fits to this PNG"),
         arg("--json", action="store_true", help="print JSON: species -> D, D_err, diffusive, ..."))
def _cmd_diffusion(args):
    import json

    from ..analysis.conductivity import parse_charges, transport_from_trajectory

    result = transport_from_trajectory(args.trajectory, species=args.species,
                                       charges=parse_charges(args.charge or []), temperature=args.temperature,
                                       dt_ps=args.dt_ps, t_start=args.t_start, t_end=args.t_end, format=args.format)
    results, sigma = result.diffusion, result.conductivity
    if args.plot:
        from ..reports.plots import plot_msd, save_figure

        save_figure(plot_msd(results, title=str(args.trajectory)), args.plot)
    if args.json:
        print(json.dumps(result.to_dict(), indent=1))
        return 0
    for s, r in results.items():
        window = f"fit {r.t_fit[0]:.3g}-{r.t_fit[1]:.3g} ps, {r.n_atoms} atoms"
        if r.diffusive:
            print(f"{s:3s} D = {r.D:.3e} ± {r.D_err:.1e} cm²/s  ({window})")
        else:
            print(f"{s:3s} not diffusive: {r.reason}  ({window})")
    for s, (value, err) in sigma.items():
        flag = (f"  (without {', '.join(result.excluded)}: not diffusive)" if s == "total" and result.excluded
                else "" if s == "total" or results[s].diffusive else "  (not diffusive: an upper bound)")
        print(f"sigma({s}) = {value:.3e} ± {err:.1e} S/cm  (Nernst-Einstein, {result.temperature:g} K, "
              f"{result.volume:.1f} Å³){flag}")
    if args.plot:
        print(f"wrote {args.plot}")
    return 0


@command("arrhenius", "Fit Ea and D0 to the stored D(T) of a composition, extrapolate to 300 K, store the fit.",
         arg("formula"),
         arg("--source", help="runs of this source, e.g. mlip-chgnet or paper-aimd (default: the one source with "
                              "D of the species; an error naming them when there are several)"),
         arg("--species", default="Li", help="diffusing species (default Li)"),
         arg("--charge", type=float, metavar="Z", help="ionic charge of the species (e): adds the Nernst-Einstein "
             "conductivity at 300 K, at the stored density of the coldest fitted run"),
         arg("--plot", metavar="PNG", type=plot_file, help="write ln D against 1/T with the fit to this PNG"),
         arg("--json", action="store_true", help="print the fit as JSON"))
def _cmd_arrhenius(args):
    import json

    result = _database(args).fit_arrhenius(args.formula, species=args.species, source=args.source,
                                           charge=args.charge)
    fit, excluded = result.fit, result.excluded
    if args.plot:
        from ..reports.plots import plot_arrhenius, save_figure

        T, D, D_err = zip(*result.points)
        save_figure(plot_arrhenius(T, D, D_err if result.weighted else None, fit, [(t, d) for t, d, _ in excluded],
                                   title=f"{result.formula} {args.species} ({result.source})"), args.plot)
    out = result.to_dict()
    if args.json:
        print(json.dumps(out, indent=1))
        return 0
    print(f"{result.formula} {args.species} ({result.source}, {len(result.points)} runs, {fit.t_min:g}-{fit.t_max:g} K"
          f"{', unweighted: some D have no error' if not result.weighted else ''})")
    print(f"Ea = {fit.Ea:.3f} ± {fit.Ea_err:.3f} eV")
    print(f"D0 = {fit.prefactor:.3e} ± {fit.prefactor_err:.1e} cm²/s")
    low, high = out["D_300K_1sigma"]
    print(f"D(300 K) = {out['D_300K']:.3e} cm²/s, 1σ range {low:.2e}-{high:.2e} (extrapolated)")
    if result.conductivity is not None:
        sigma = result.conductivity.estimate
        print(f"sigma(300 K) = {sigma.sigma:.3e} S/cm, 1σ range {sigma.low:.2e}-{sigma.high:.2e} (Nernst-Einstein, "
              f"z = {args.charge:g}, density {sigma.density:.4g} g/cm³ of the "
              f"{result.conductivity.density_temperature:g} K run)")
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
         arg("--plot", metavar="PNG", type=plot_file, help="write the partial RDFs to this PNG"))
def _cmd_rdf(args):
    from ..analysis.rdf import partial_rdfs, write_rdf_csv
    from ..analysis.trajectory import read_trajectory

    df = partial_rdfs(read_trajectory(args.trajectory, format=args.format), r_max=args.r_max, dr=args.dr,
                      sigma=args.sigma, max_frames=args.max_frames)
    write_rdf_csv(df, args.out)
    print(f"wrote {args.out}: {', '.join(c for c in df.columns if c != 'r')}")
    if args.plot:
        from ..reports.plots import plot_rdf, save_figure

        save_figure(plot_rdf({str(args.trajectory): df}), args.plot)
        print(f"wrote {args.plot}")
    return 0


@command("rdf-compare", "R² of a candidate RDF against a reference (all common pairs and bins pooled).",
         arg("reference", metavar="REFERENCE.csv", help="RDF file in the paper's layout, or a source with --formula"),
         arg("candidate", metavar="CANDIDATE.csv", help="RDF file, or a source with --formula"),
         arg("--formula", help="compare the database's RDFs of this composition: REFERENCE and CANDIDATE are "
             "sources, e.g. paper-aimd mlip-chgnet"),
         arg("--temperature", type=float, metavar="K", help="with --formula: the runs at this temperature "
             "(default: the highest that has RDFs)"),
         arg("--plot", metavar="PNG", type=plot_file, help="write both RDFs overlaid to this PNG"),
         arg("--json", action="store_true", help="print JSON: r2 and r2 per pair"))
def _cmd_rdf_compare(args):
    import json
    from pathlib import Path

    from ..analysis.rdf import compare_rdfs, read_rdf_csv

    if args.formula is None:
        ref, cand = read_rdf_csv(args.reference), read_rdf_csv(args.candidate)
        labels = Path(args.reference).stem, Path(args.candidate).stem
        result = compare_rdfs(ref, cand)
    else:
        stored = _database(args).compare_rdfs(args.formula, args.reference, args.candidate, args.temperature)
        ref, cand, result = stored.reference_rdf, stored.candidate_rdf, stored.comparison
        labels = args.reference, args.candidate
    if args.plot:
        from ..reports.plots import plot_rdf, save_figure

        save_figure(plot_rdf(dict(zip(labels, (ref, cand))),
                             title=f"{args.formula + ': ' if args.formula else ''}R² = {result.r2:.3f}"), args.plot)
    if args.json:
        print(json.dumps(result.to_dict(), indent=1))
        return 0
    print(f"R2 = {result.r2:.4f}  ({len(result.pairs)} pairs)")
    for pair, value in result.pairs.items():
        print(f"  {pair:8s} {value:.4f}")
    for name, pairs in (("reference", result.only_in_reference), ("candidate", result.only_in_candidate)):
        if pairs:
            print(f"  not compared, only in the {name}: {', '.join(pairs)}")
    if args.plot:
        print(f"wrote {args.plot}")
    return 0


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

    from ..analysis.features import features_of

    result = features_of(args.structure, formula=args.formula, frames=args.frames, mode=args.mode,
                         compositional=args.compositional, temperature=args.temperature)
    if args.json:
        print(json.dumps(result.to_dict(), indent=1))
        return 0
    for name, value in result.values.items():
        print(f"{name:30s} {value:.10g}")
    sources = result.element_data
    for source in sorted(set(sources.values())):
        print(f"# B, G, E_coh from {source} for {', '.join(e for e, s in sources.items() if s == source)}")
    return 0
