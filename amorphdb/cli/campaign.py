"""The ``campaign`` command: ``campaign run`` (many compositions on Dask into one database) and ``campaign status``."""

from __future__ import annotations

from . import arg, command
from .run import PROTOCOL_OPTIONS, protocol_kwargs


@command("campaign", "run: the melt-quench protocol of many compositions in parallel on Dask (a local cluster, "
         "a scheduler or SLURM/PBS), all into one database, resumable; status: the state of every task.",
         arg("action", choices=["run", "status"], help="run the campaign, or show its status"),
         arg("formulas", nargs="*", metavar="FORMULA", help="compositions to run (run)"),
         arg("--file", help="a file of formulas, one per line, '#' comments (run)"),
         arg("--from-paper", action="store_true", help="every composition of the published table (run)"),
         arg("--name", default=None, help="the campaign's name in the database (run: default 'default'; "
             "status: default the latest campaign)"),
         arg("--workers", type=int, default=None, help="worker processes (default: the free cores)"),
         arg("--scheduler", metavar="ADDRESS", help="address of a running Dask scheduler (tcp://host:8786)"),
         arg("--cluster", choices=["local", "slurm", "pbs"], default="local",
             help="the cluster to start when no --scheduler: local processes, or SLURM/PBS jobs by "
                  "dask-jobqueue (configured in Dask's config, see docs/campaign.md; default local)"),
         arg("--dask-config", metavar="YAML", help="a YAML file of Dask settings (e.g. jobqueue: slurm: ...)"),
         arg("--retry-failed", action="store_true", help="run the tasks that failed before again"),
         arg("--json", action="store_true", help="status as JSON"),
         arg("--stale-after", type=float, default=900.0, metavar="S",
             help="status: a running task whose files have not changed for this many seconds is shown as "
                  "interrupted (default 900)"),
         arg("--amorphous-limit", action="store_true",
             help="per composition, its amorphous limit after the coldest quench (docs/amorphous_limit.md)"),
         arg("--limit-snapshots", type=int, default=10, help="snapshots of the limit (default 10)"),
         arg("--limit-spacing-ps", type=float, default=2.0, help="time between the limit's snapshots, ps (default 2)"),
         arg("--limit-fmax", type=float, default=0.05, help="relax the snapshots to this force, eV/Å (default 0.05)"),
         arg("--limit-max-steps", type=int, default=500, help="step limit of each relaxation (default 500)"),
         arg("--reference", action="append", metavar="EL=FILE",
             help="structure file of an element's reference for the limit (e.g. S=alpha-S.cif); repeatable"),
         *PROTOCOL_OPTIONS)
def _cmd_campaign(args):
    import json
    import logging

    from ..workflows import campaign
    from .limit import _references

    if args.action == "status":
        status = campaign.campaign_status(args.name, args.db, stale_after=args.stale_after)
        print(json.dumps(status.to_dict(), indent=1, default=str) if args.json else status.table())
        return 0
    formulas = list(args.formulas)
    if args.file:
        formulas += campaign.read_formula_file(args.file)
    if args.from_paper:
        formulas += campaign.paper_formulas()
    if not args.verbose:  # Dask's own INFO lines (workers starting, closing) drown the campaign's
        import distributed  # noqa: F401  (it sets its loggers' levels when imported)

        logging.getLogger("distributed").setLevel(logging.WARNING)
    if args.dask_config:
        campaign.load_dask_config(args.dask_config)
    result = campaign.run_campaign(
        formulas, name=args.name or "default", db=args.db, workers=args.workers, scheduler=args.scheduler,
        cluster=args.cluster, retry_failed=args.retry_failed,
        worker_log_level=logging.INFO if args.verbose else logging.WARNING,
        amorphous_limit=campaign.LimitSettings(args.limit_snapshots, args.limit_spacing_ps, args.limit_fmax,
                                               args.limit_max_steps, _references(args.reference))
        if args.amorphous_limit else False, **protocol_kwargs(args))
    print(result.summary())
    return result.exit_status
