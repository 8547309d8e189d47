"""Commands of the amorphous limit (Aykol et al., Sci. Adv. 2018): amorphous-limit, synthesizability."""

from __future__ import annotations

from . import _database, arg, command

_ENGINE = arg("--engine", default="chgnet", help="chgnet (default), sevennet, or module:factory of an ASE calculator")
_DEVICE = arg("--device", default=None, help="cpu or cuda (default: the GPU when torch sees one)")
_FMAX = arg("--fmax", type=float, default=0.05,
            help="relax until the largest force is below this, eV/Å (default 0.05)")
_STEPS = arg("--max-steps", type=int, default=500, help="step limit of each relaxation (default 500)")


def _quietly(call, *args, **kwargs):
    """``call(*args, **kwargs)`` with what libraries print (CHGNet's banner) sent to stderr: stdout holds only
    the result, so that ``--json`` is valid JSON."""
    import contextlib
    import sys

    with contextlib.redirect_stdout(sys.stderr):
        return call(*args, **kwargs)


def _references(items: list[str] | None) -> dict[str, str]:
    """``["S=alpha-S.cif", ...]`` as ``{"S": "alpha-S.cif"}``."""
    from ..errors import InputError

    out = {}
    for item in items or []:
        element, sep, path = item.partition("=")
        if not sep or not element.strip() or not path.strip():
            raise InputError(f"--reference takes ELEMENT=FILE, got {item!r}")
        out[element.strip()] = path.strip()
    return out


@command("amorphous-limit", "Relax MD snapshots of a composition and store its amorphous limit (the lowest "
         "formation energy of the relaxed snapshots, eV/atom; Aykol et al. 2018) with mean and spread.",
         arg("formula"),
         arg("--temperature", type=float, help="production run at this temperature, K (default: the lowest)"),
         arg("--source", help="source of the production run, e.g. mlip-chgnet (default: the only one)"),
         arg("--trajectory", metavar="FILE", help="take the frames from this file instead of a stored run"),
         arg("--run-id", type=int, help="take the frames from this stored production run (an id of "
                                        "`amorphdb show`; default: chosen by --temperature and --source)"),
         arg("--frame-dt-ps", type=float, help="time between the file's frames, ps (when the frames do not say)"),
         arg("--snapshots", type=int, default=10, help="snapshots to relax (default 10)"),
         arg("--spacing-ps", type=float, default=2.0, help="time between snapshots, ps (default 2)"),
         _ENGINE, _FMAX, _STEPS, _DEVICE,
         arg("--reference", action="append", metavar="EL=FILE",
             help="structure file of an element's reference (needed for elements ASE has no crystal of, e.g. "
                  "S=alpha-S.cif); repeatable"),
         arg("--no-progress", action="store_true", help="no progress bar"),
         arg("--json", action="store_true", help="print the stored limit as JSON"))
def _cmd_amorphous_limit(args):
    import json
    import time

    from ..workflows.amorphous_limit import amorphous_limit

    start = time.perf_counter()
    limit = _quietly(amorphous_limit, args.formula, temperature=args.temperature, snapshots=args.snapshots,
                     spacing_ps=args.spacing_ps, engine=args.engine, fmax=args.fmax, max_steps=args.max_steps,
                     db=_database(args), trajectory=args.trajectory, source=args.source,
                     references=_references(args.reference), frame_dt_ps=args.frame_dt_ps, run_id=args.run_id,
                     device=args.device,
                     progress=not args.no_progress)
    if args.json:
        print(json.dumps(limit.to_dict(), indent=1))
        return
    print(limit.text())
    print(f"wall time: {time.perf_counter() - start:.0f} s")


@command("synthesizability", "Relax crystals and compare each with the stored amorphous limit of its "
         "composition: below (may be made) or above (unlikely), margin in meV/atom.",
         arg("crystal_files", nargs="+", metavar="CRYSTAL_FILE", help="CIF, POSCAR, any file ASE or pymatgen reads"),
         arg("--limit-from", metavar="FORMULA|DB", default=None,
             help="DB (default): the stored limit of each crystal's composition; FORMULA: that composition's"),
         arg("--temperature", type=float,
             help="the limit from MD at this temperature, K (default: the coldest stored)"),
         _ENGINE, _FMAX, _STEPS, _DEVICE,
         arg("--json", action="store_true", help="one JSON record per crystal"))
def _cmd_synthesizability(args):
    import json

    from ..workflows.amorphous_limit import synthesizability

    verdicts = _quietly(synthesizability, args.crystal_files, limit_from=args.limit_from, engine=args.engine,
                        fmax=args.fmax, max_steps=args.max_steps, db=_database(args), device=args.device,
                        temperature=args.temperature)
    if args.json:
        print(json.dumps([v.to_dict() for v in verdicts], indent=1))
        return
    for v in verdicts:
        print(v.text())
