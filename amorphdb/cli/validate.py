"""The ``validate`` command: our engine against the AIMD reference on published compositions."""

from __future__ import annotations

from ..protocol.settings import PRESETS
from . import _database, arg, command
from .run import _setting_options


@command("validate", "Run the protocol for compositions of the AIMD reference and compare: RDF R² against DFT and "
         "M3GNet at 5000 K, density and D(Li) ratios per temperature, Ea difference, and their distribution.",
         arg("formulas", nargs="*", metavar="FORMULA", help="compositions of the reference"),
         arg("--from-paper", type=int, metavar="N", help="the first N compositions of the reference instead"),
         arg("--reference", metavar="DIR", help="directory in the published layout (ml_features.csv, "
             "rdf/DFT_RDF_X.csv, rdf/M3GNet_RDF_X.csv); default: the copy shipped with the package"),
         arg("--engine", default="chgnet", help="chgnet (default), sevennet, or module:factory"),
         arg("--preset", choices=list(PRESETS), default="paper", help="protocol preset (default paper)"),
         arg("--device", default=None, help="cpu or cuda (default: the GPU when torch sees one)"),
         arg("--workdir", help="directory for trajectories and checkpoints"),
         arg("--melt-only", action="store_true", help="5000 K only: RDFs, no D or Ea"),
         arg("--stored", action="store_true", help="run no MD: compare the runs of this engine already stored"),
         arg("--json", action="store_true", help="one JSON record per composition"),
         arg("--out", metavar="DIR", help="write validation.md, validation.json, rdf_r2.png and parity.png here"),
         arg("--workers", type=int, metavar="N", help="worker processes of the campaign (default: the free cores)"),
         arg("--no-progress", action="store_true", help="no progress bars"),
         *_setting_options())
def _cmd_validate(args):
    import json
    import sys

    from ..protocol.settings import setting_info
    from ..reports.validation import summarise, validation_markdown, write_validation
    from ..workflows.validation import validate

    overrides = {info.name: getattr(args, info.name) for info in setting_info()}
    records = validate(args.formulas, from_paper=args.from_paper, reference=args.reference, engine=args.engine,
                       preset=args.preset, melt_only=args.melt_only, stored=args.stored, db=_database(args),
                       workdir=args.workdir, device=args.device, workers=args.workers,
                       progress=not args.no_progress, **overrides)
    dicts = [r.to_dict() for r in records]
    if args.json:
        print(json.dumps(dicts, indent=1))
    else:
        print(validation_markdown(dicts, summarise(dicts), label=args.engine), end="")
    if args.out:
        for path in write_validation(dicts, args.out, label=args.engine):
            print(f"wrote {path}", file=sys.stderr)  # stdout stays the JSON or the table
    return 0
