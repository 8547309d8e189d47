"""Commands of the database: import-paper, query, show, export, import."""

from __future__ import annotations

from . import _database, _json_records, _print_table, arg, command


@command("import-paper", "Load the paper's published data (ml_features.csv and rdf/) into the database.",
         arg("directory", nargs="?", help="the paper's data directory in the published layout (default: the copy "
             "shipped with amorphdb)"))
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
        print(json.dumps(info.to_dict(), indent=1))
        return
    print(f"{info.formula}  elements: {' '.join(info.elements)}  "
          f"composition: {' '.join(f'{k}{v}' for k, v in info.composition.items())}")
    runs = pd.DataFrame([{"id": r.id, "source": r.source, "key": r.key, "T (K)": r.temperature, "stage": r.stage,
                          "status": r.status, "engine": r.engine,
                          "density": float("nan") if r.density is None else r.density,
                          **{f"D_{sp} (cm2/s)": vals[-1].D for sp, vals in r.diffusivity.items()},
                          "features": len(r.features)} for r in info.runs])
    print(f"\nruns ({len(runs)}):")
    _print_table(runs)
    for r in info.runs:
        if r.status == "failed":
            print(f"  failed: {r.source} {r.key}: {r.message or '(no message)'}")
    print("\nArrhenius fits:")
    _print_table(pd.DataFrame([a.to_dict() for a in info.arrhenius]), "(none)")
    with_features = [r for r in info.runs if r.features]
    print("\nfeatures:")
    _print_table(pd.DataFrame({f"{r.source} {r.temperature:g} K": r.features for r in with_features}), "(none)",
                 index=True)
    sources = dict.fromkeys(r.element_data for r in with_features if r.element_data)
    if sources:
        print("element data: " + "; ".join(sources))
    print("\nRDFs:")
    print("\n".join(f"  {r.source} {r.temperature:g} K: {', '.join(r.pairs)}" for r in info.rdfs) or "  (none)")
    if info.structures:
        print("\nstructures:")
        print("\n".join(f"  {s.source} {s.key}: {', '.join(s.labels)}" for s in info.structures))
    if info.amorphous_limits:
        print("\namorphous limits:")
        print("\n".join(limit.text() for limit in info.amorphous_limits))


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
