"""The ``run`` command: the melt-quench protocol of one composition, results into the database."""

from __future__ import annotations

from ..protocol.settings import PRESETS, setting_info
from . import _database, arg, command


def _setting_options() -> list[tuple[tuple[str, ...], dict]]:
    """One ``--name`` option per field of ProtocolSettings, built from its type and help (default None: the
    preset's value)."""
    return [arg("--" + info.name.replace("_", "-"), type=info.kind, choices=info.choices,
                nargs="+" if info.many else None, help=info.text().replace("%", "%%"),
                metavar=None if info.choices else "N" if info.kind is int else "X")
            for info in setting_info()]


#: the options of one composition's protocol, shared by ``run`` and ``campaign``
PROTOCOL_OPTIONS = (
    arg("--preset", choices=list(PRESETS), default="quick", help="quick: small cell, short runs; "
        "paper: ~100 atoms, 4 ps volume runs, 20 ps production; fast: the paper's cell, statistical checks, "
        "runs that stop when their answer is known; predict: amorphdb predict's (default quick)"),
    arg("--engine", default="chgnet", help="chgnet (default), sevennet, or module:factory of an ASE calculator"),
    arg("--device", default=None, help="cpu or cuda (default: the GPU when torch sees one)"),
    arg("--workdir", help="directory for trajectories and checkpoints "
        "(default $AMORPHDB_WORKDIR or ~/.local/share/amorphdb/runs)"),
    arg("--no-analysis", action="store_true", help="skip diffusion, RDFs, features and the Arrhenius fit"),
    arg("--no-progress", action="store_true", help="no progress bars"),
    *_setting_options(),
)


def protocol_kwargs(args) -> dict:
    """The keyword arguments of ``amorphdb.run`` (and ``run_campaign``) from the PROTOCOL_OPTIONS; a setting
    left out is None: the preset's value (settings_for)."""
    return dict(preset=args.preset, engine=args.engine, workdir=args.workdir, device=args.device,
                analyse=not args.no_analysis, progress=not args.no_progress,
                **{info.name: getattr(args, info.name) for info in setting_info()})


@command("run", "Melt-quench MD of one composition (MPMorph protocol) at 5000 K and the quench temperatures, "
         "with D, RDFs, features and Ea, all into the database.",
         arg("formula"), *PROTOCOL_OPTIONS)
def _cmd_run(args):
    import time

    from ..workflows.melt_quench import run

    start = time.perf_counter()
    result = run(args.formula, db=_database(args), **protocol_kwargs(args))
    print(result.table())
    print(f"work directory: {result.workdir}")
    print(f"wall time: {time.perf_counter() - start:.0f} s")
    return 0
