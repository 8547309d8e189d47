"""Campaigns: the melt-quench protocol of many compositions on Dask distributed, into one shared database.

The unit of work is one MD stage chain of :mod:`.melt_quench`: per composition a **melt** task (the packed start and
the melt), one **quench** task per temperature (they start as soon as the melt is done and run in parallel with each
other; with ``quench_start`` previous or trend one after another, hottest first) and the **fit** (Arrhenius, per
species) when all of its temperatures are done; opt-in, the **limit** (:func:`.amorphous_limit.amorphous_limit`,
same engine) from the production run of the coldest quench temperature (of the melt when there are none) when that
task is done.
Each task records its state in the database's task book (:mod:`amorphdb.database.tasks`); its MD runs are
found again and resumed through the run keys and MD checkpoints, exactly as ``amorphdb run`` does. Hence:

- a worker killed in the middle of a task: the scheduler gives the task to another worker, and the MD run it
  was in resumes from its last checkpoint;
- the whole campaign killed: the same call again takes every finished run from the database and its files
  (no row duplicated, no finished run redone) and goes on;
- the client killed while its workers go on (a cluster's scheduler keeps them): a task of the same call again
  that meets an MD run a worker of the first still holds waits for it, then takes it from its files;
- a task that fails (no volume convergence, blow-up, an element the engine does not cover, ...) is marked
  failed with its one-line reason; the rest of the campaign goes on; a rerun leaves failed tasks alone
  unless ``retry_failed``.

The cluster: a ``LocalCluster`` of single-threaded worker processes (as many as the free cores), an existing
scheduler by address, or SLURM/PBS through dask-jobqueue configured by Dask's config (``docs/campaign.md``).
Times in s, temperatures in K.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..composition import parse_formula, scale_composition
from ..database.api import Database
from ..database.tasks import TaskBook, TaskRow
from ..engines import engine_name, load_engine
from ..engines.base import Potential
from ..errors import AmorphDBError, InputError, RunBusyError, first_line
from ..md.files import load_checkpoint, run_files
from ..paths import default_runs_dir
from ..protocol.results import TemperatureResult
from ..protocol.settings import ProtocolSettings, settings_for
from .amorphous_limit import MAX_STEPS, reference_structure, snapshot_stride
from .amorphous_limit import amorphous_limit as compute_limit
from .melt_quench import (ENV_WORKDIR, CompositionRun, check_production_frames, fit_composition_arrhenius,
                          prepare, run_melt, run_quench)
from .stopping import production_stop

log = logging.getLogger(__name__)

#: kinds of cluster a campaign can start itself (the jobqueue ones read Dask's ``jobqueue.<kind>`` config)
CLUSTERS = ("local", "slurm", "pbs")
#: a running task whose MD files and record have not changed for this long is shown as interrupted (s)
STALE_AFTER_S = 900.0
#: how long to wait for a scheduler given by address (s)
SCHEDULER_TIMEOUT_S = 10.0
#: the task name of a composition's amorphous limit
LIMIT_TASK = "limit"
#: how often a task waiting for an MD run that another process holds tries again, and for how long in all (s)
BUSY_POLL_S = 30.0
BUSY_MAX_WAIT_S = 24 * 3600.0


# ---------------------------------------------------------------------------------------------------------
# input
# ---------------------------------------------------------------------------------------------------------

def read_formula_file(path: str | os.PathLike[str]) -> list[str]:
    """The formulas of a text file: one per line; ``#`` starts a comment; blank lines are skipped.
    An unknown formula is an :class:`InputError` naming its line."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read formula file {path}: {getattr(exc, 'strerror', None) or exc}") from None
    out = []
    for number, line in enumerate(lines, 1):
        text = line.split("#", 1)[0].strip()
        if text:
            try:
                parse_formula(text)
            except InputError as exc:
                raise InputError(f"{path}, line {number}: {exc}") from None
            out.append(text)
    if not out:
        raise InputError(f"formula file {path} has no formulas")
    return out


def paper_formulas() -> list[str]:
    """Every composition of the published table shipped with the package (165), in its order."""
    import pandas as pd

    from ..data import PAPER_TABLE

    return list(dict.fromkeys(pd.read_csv(PAPER_TABLE, usecols=["formula"])["formula"]))


def check_formulas(formulas: Iterable[str]) -> list[str]:
    """The reduced formulas of ``formulas`` in order; :class:`InputError` for none, an unknown one, or two that
    are the same composition (``Li2S`` and ``Li4S2``)."""
    seen: dict[str, str] = {}
    for formula in formulas:
        reduced = parse_formula(formula).reduced_formula
        if reduced in seen:
            same = "" if seen[reduced] == formula else f" (as {seen[reduced]!r})"
            raise InputError(f"duplicate formula {formula!r}: {reduced} is already in the list{same}")
        seen[reduced] = formula
    if not seen:
        raise InputError("no formulas: give FORMULA..., --file FILE or --from-paper")
    return list(seen)


def free_cores() -> int:
    """Cores this process may use (its CPU affinity) less the current load (1-minute average), at least 1."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    return max(1, min(cores, round(cores - load)))


def _check_workdir(workdir: str | os.PathLike[str] | None) -> Path:
    """The campaign's base work directory (made, absolute); :class:`InputError` when it cannot be written."""
    base = Path(workdir or os.environ.get(ENV_WORKDIR) or default_runs_dir()).expanduser().resolve()
    try:
        base.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=base, prefix=".amorphdb-write-test-"):
            pass
    except OSError as exc:
        raise InputError(f"work directory {base} is not writable: {exc.strerror or exc}") from None
    return base


@dataclass(frozen=True)
class LimitSettings:
    """The amorphous-limit task of a campaign (:func:`.amorphous_limit.amorphous_limit`): ``snapshots``
    ``spacing_ps`` ps apart, relaxed to ``fmax`` eV/Å in at most ``max_steps`` steps; ``references``: element ->
    structure file, for elements without a built-in reference."""

    snapshots: int = 10
    spacing_ps: float = 2.0
    fmax: float = 0.05
    max_steps: int = MAX_STEPS
    references: dict[str, str] = field(default_factory=dict)

    def check(self, settings: ProtocolSettings, formulas: Sequence[str]) -> None:
        """:class:`InputError` when the snapshots do not fit the shortest production run of ``settings``
        (length and frame spacing; with ``--target-d-error`` a run may stop at its minimum) or an element of
        ``formulas`` has no reference."""
        frame_ps = settings.frame_interval * settings.timestep / 1000.0
        run_ps = settings.shortest_production_ps()
        checks = [(self.snapshots >= 1, f"limit snapshots must be at least 1, got {self.snapshots}"),
                  (0 < self.fmax < math.inf, f"limit fmax must be positive (eV/Å), got {self.fmax}"),
                  (self.max_steps >= 1, f"limit max_steps must be at least 1, got {self.max_steps}")]
        for ok, message in checks:
            if not ok:
                raise InputError(message)
        snapshot_stride(self.spacing_ps, frame_ps, what="a limit spacing")
        if (self.snapshots - 1) * self.spacing_ps > run_ps * (1 + 1e-9):
            raise InputError(f"{self.snapshots} limit snapshots {self.spacing_ps:g} ps apart need "
                             f"{(self.snapshots - 1) * self.spacing_ps:g} ps; a production run is {run_ps:g} ps: "
                             "lower --limit-snapshots or --limit-spacing-ps")
        for element in sorted({el.symbol for f in formulas for el in parse_formula(f).elements}):
            reference_structure(element, self.references)


# ---------------------------------------------------------------------------------------------------------
# tasks (they run on the workers)
# ---------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CampaignSpec:
    """What every task of a campaign needs, as plain data (sent to the workers)."""

    name: str
    db_url: str
    workdir: str  # base folder; each composition gets its own folder in it
    preset: str
    engine: str  # spec for load_engine
    device: str | None
    analyse: bool
    settings: ProtocolSettings
    log_level: int = logging.WARNING  # of amorphdb's loggers on the workers (forwarded to the client)
    limit: LimitSettings | None = None  # the amorphous-limit task, or none

    @property
    def fingerprint(self) -> str:
        return self.settings.fingerprint()


@dataclass
class TaskOutcome:
    """How one task ended: ``done`` (with its temperature's result) or ``failed`` (with the reason); wall time
    of the task and of its MD runs, CPU time of the task (s; 0 for what was found finished)."""

    formula: str
    task: str
    status: str
    message: str | None = None
    result: TemperatureResult | None = None
    seconds: float = 0.0
    md_seconds: float = 0.0
    cpu_seconds: float = 0.0  # CPU time of the worker process during the task (user + system)


_CACHE: dict[tuple, Any] = {}  # per worker process (and thread): engines and databases, made once


def _cached(key: tuple, make: Callable[[], Any]) -> Any:
    key = (*key, threading.get_ident())
    if key not in _CACHE:
        _CACHE[key] = make()
    return _CACHE[key]


def _job(spec: CampaignSpec, formula: str) -> CompositionRun:
    engine: Potential = _cached(("engine", spec.engine, spec.device), lambda: load_engine(spec.engine, spec.device))
    db: Database = _cached(("db", spec.db_url), lambda: Database(spec.db_url))
    values = {f.name: getattr(spec.settings, f.name) for f in fields(ProtocolSettings)}
    return prepare(formula, preset=spec.preset, engine=engine, db=db, workdir=spec.workdir, progress=False,
                   analyse=spec.analyse, **values)


def _book(url: str) -> TaskBook:
    return _cached(("book", url), lambda: TaskBook(url))


def _reason(exc: BaseException) -> str:
    """One line: our own errors as they are, anything else with its type."""
    return first_line(exc) if isinstance(exc, AmorphDBError) else f"{type(exc).__name__}: {first_line(exc)}"


def _execute(spec: CampaignSpec, formula: str, task: str, work: Callable[[CompositionRun], Any],
             blocked: str | None = None) -> TaskOutcome:
    """Run ``work`` on the composition's prepared protocol as task ``task``, recording its state; a task
    recorded as failed (kept by :meth:`TaskBook.plan` unless retried) is not run again."""
    logging.getLogger("amorphdb").setLevel(spec.log_level)
    book = _book(spec.db_url)
    row = book.get(spec.name, formula, task)
    if row is not None and row.status == "failed":  # not run: its outcome says why, and how to run it again
        return TaskOutcome(formula, task, "failed", f"failed before, not run again (--retry-failed): {row.message}")
    if blocked is not None:
        book.set(spec.name, formula, task, status="failed", message=blocked)
        return TaskOutcome(formula, task, "failed", blocked)
    book.set(spec.name, formula, task, status="running", message=None)
    start, cpu_start = time.perf_counter(), time.process_time()
    job: CompositionRun | None = None
    try:
        job = _job(spec, formula)
        book.set(spec.name, formula, task, source=job.ctx.source)  # campaign status finds its MD runs by it
        result = _when_free(job, work, lambda message: book.set(spec.name, formula, task, message=message))
    except Exception as exc:  # anything a task raises stays with the task: the campaign goes on
        outcome = TaskOutcome(formula, task, "failed", _reason(exc))
    else:
        outcome = TaskOutcome(formula, task, "done", result=result if isinstance(result, TemperatureResult) else None,
                              message=result if isinstance(result, str) else None)
    outcome.seconds, outcome.cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    outcome.md_seconds = job.ctx.md_seconds if job is not None else 0.0
    book.set(spec.name, formula, task, status=outcome.status, message=outcome.message,
             source=job.ctx.source if job is not None else None, seconds=outcome.seconds,
             md_seconds=outcome.md_seconds)
    return outcome


def _when_free(job: CompositionRun, work: Callable[[CompositionRun], Any], note: Callable[[str], None]) -> Any:
    """``work(job)``; while an MD run of it is held by another process (a worker of an earlier call of the same
    campaign), note that and try again every :data:`BUSY_POLL_S` s: the run is then taken from its files, or
    resumed from its checkpoint when that process died (the lock goes with it). After :data:`BUSY_MAX_WAIT_S`
    the task fails with the reason (a holder that hangs, or a lock a network file system keeps)."""
    deadline = time.monotonic() + BUSY_MAX_WAIT_S
    while True:
        try:
            return work(job)
        except RunBusyError as exc:
            if time.monotonic() > deadline:
                raise RunBusyError(f"gave up after waiting {BUSY_MAX_WAIT_S / 3600:g} h: {first_line(exc)}") from None
            note(f"waiting: {first_line(exc)}")
            log.info("%s: waiting for another process (%s)", job.ctx.formula, first_line(exc))
            time.sleep(BUSY_POLL_S)


def melt_task(spec: CampaignSpec, formula: str) -> TaskOutcome:
    """Task ``melt``: the packed start and the melt of ``formula`` (:func:`.melt_quench.run_melt`)."""
    return _execute(spec, formula, "melt", run_melt)


def quench_task(spec: CampaignSpec, formula: str, melted: TaskOutcome, temperature: float,
                *hotter: TaskOutcome) -> TaskOutcome:
    """Task ``T<K>``: one quench temperature from the finished melt (:func:`.melt_quench.run_quench`), at a
    volume from those of ``hotter`` (the hotter quenches' tasks, hottest first, ``quench_start`` previous or
    trend) that are done; the melt's when none is."""
    blocked = None if melted.status == "done" else f"the melt failed: {melted.message}"
    done = [h.result for h in hotter if h.status == "done"]
    return _execute(spec, formula, quench_name(temperature),
                    lambda job: run_quench(job, melted.result, temperature, done), blocked)


def fit_task(spec: CampaignSpec, formula: str, melted: TaskOutcome, *quenched: TaskOutcome) -> TaskOutcome:
    """Task ``fit``: the Arrhenius fit per species over the finished quench temperatures (the melt when there
    are none, as ``amorphdb run``)."""
    done = [q.result for q in quenched if q.status == "done"]
    if not quenched and melted.status == "done":
        done = [melted.result]
    blocked = None if done else ("no quench temperature finished" if quenched else f"the melt failed: {melted.message}")

    def fit(job: CompositionRun) -> str | None:
        fits = fit_composition_arrhenius(job, done)
        if not job.analyse:
            return "no analysis (--no-analysis)"
        if not fits:
            return "too few diffusive temperatures for a fit"
        return "Ea " + ", ".join(f"{sp} {f.Ea:.3f} eV" for sp, f in fits.items())

    return _execute(spec, formula, "fit", fit, blocked)


def limit_task(spec: CampaignSpec, formula: str, sampled: TaskOutcome) -> TaskOutcome:
    """Task ``limit``: the amorphous limit of ``formula`` from the production run of the finished task
    ``sampled`` (the coldest quench, or the melt), relaxed with the campaign's engine."""
    limit = spec.limit
    assert limit is not None
    blocked = None if sampled.status == "done" else f"the {sampled.task} task failed: {sampled.message}"

    def relax(job: CompositionRun) -> str:
        view = compute_limit(formula, run_id=sampled.result.run_id, snapshots=limit.snapshots,
                             spacing_ps=limit.spacing_ps, engine=job.ctx.engine, fmax=limit.fmax,
                             max_steps=limit.max_steps, db=job.db,
                             references=limit.references or None, progress=False)
        err = f" ± {view.limit_err:.4f}" if view.limit_err is not None else ""
        return f"{view.limit:.4f}{err} eV/atom ({view.n_snapshots} snapshots at {sampled.result.temperature:g} K)"

    return _execute(spec, formula, LIMIT_TASK, relax, blocked)


def quench_name(temperature: float) -> str:
    """The task name of a quench temperature: ``T1000``."""
    return f"T{temperature:g}"


def task_list(formulas: Sequence[str], settings: ProtocolSettings,
              limit: bool = False) -> list[tuple[str, str, float | None]]:
    """(formula, task, temperature K) of every task of a campaign, in order (``limit``: with the amorphous
    limit's)."""
    return [row for f in formulas for row in ((f, "melt", settings.melt_temperature),
                                              *((f, quench_name(t), t) for t in settings.temperatures),
                                              (f, "fit", None), *(((f, LIMIT_TASK, None),) if limit else ()))]


# ---------------------------------------------------------------------------------------------------------
# the client
# ---------------------------------------------------------------------------------------------------------

def load_dask_config(path: str | os.PathLike[str]) -> dict:
    """Read a YAML file of Dask settings (e.g. ``jobqueue: slurm: ...``) and apply it to ``dask.config``;
    returns the mapping. :class:`InputError` for a missing or malformed file."""
    import dask.config
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise InputError(f"cannot read Dask config {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise InputError(f"Dask config {path} is not valid YAML: {first_line(exc)}") from None
    if not isinstance(data, dict):
        raise InputError(f"Dask config {path} must be a mapping (e.g. 'jobqueue: slurm: ...')")
    dask.config.update(dask.config.config, data, priority="new")
    return data


#: Environment of the worker processes a campaign starts. Dask's nannies set ``MALLOC_TRIM_THRESHOLD_=65536``
#: (``distributed.nanny.pre-spawn-environ``); any fixed value turns off glibc's adaptive mmap threshold, and
#: PyTorch then maps and unmaps its large buffers anew at every force call: a CHGNet step of 64 atoms took 0.58 s
#: instead of 0.24 s (docs/campaign.md, "Worker memory"). A fixed mmap threshold of 32 MiB (glibc's adaptive
#: maximum) keeps those buffers on the heap again.
WORKER_ENVIRON = {"MALLOC_MMAP_THRESHOLD_": "33554432"}


def jobqueue_cluster(kind: str):
    """The dask-jobqueue cluster of ``kind`` (``slurm`` or ``pbs``) as Dask's ``jobqueue.<kind>`` settings
    describe its jobs (``~/.config/dask/jobqueue.yaml``, or :func:`load_dask_config`), with no job submitted
    yet; :class:`InputError` when a setting it needs is missing."""
    import dask_jobqueue

    classes = {"slurm": dask_jobqueue.SLURMCluster, "pbs": dask_jobqueue.PBSCluster}
    if kind not in classes:
        raise InputError(f"unknown job queue {kind!r} (use {' or '.join(classes)})")
    import dask.config

    prologue = list(dask.config.get(f"jobqueue.{kind}.job-script-prologue", None) or [])
    prologue += [f"export {k}={v}" for k, v in WORKER_ENVIRON.items()]
    try:
        return classes[kind](job_script_prologue=prologue)
    except ValueError as exc:  # dask-jobqueue names the missing setting (cores, memory, ...)
        raise InputError(f"{kind} cluster: {first_line(exc)} (set jobqueue.{kind} in Dask's config, "
                         "see docs/campaign.md)") from None


def make_cluster(kind: str = "local", workers: int | None = None, dashboard_address: str | None = ":8787"):
    """A Dask cluster of ``workers`` single-threaded worker processes (default: :func:`free_cores`):
    ``local``, a ``LocalCluster`` on this machine, or ``slurm``/``pbs``, :func:`jobqueue_cluster` scaled to
    ``workers`` worker processes (jobs are submitted as the scheduler asks for them)."""
    workers = free_cores() if workers is None else workers
    if workers < 1:
        raise InputError(f"workers must be at least 1, got {workers}")
    if kind == "local":
        import dask.config
        from distributed import LocalCluster

        environ = {f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in WORKER_ENVIRON.items()}
        with dask.config.set(environ):
            return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                dashboard_address=dashboard_address)
    if kind not in CLUSTERS:
        raise InputError(f"unknown cluster {kind!r} (use {', '.join(CLUSTERS)})")
    cluster = jobqueue_cluster(kind)
    cluster.scale(n=workers)
    return cluster


def _connect(scheduler: str | None, cluster: str, workers: int | None):
    """(client, cluster we started or None); :class:`InputError` when the scheduler cannot be reached."""
    from distributed import Client

    if scheduler:
        try:
            return Client(scheduler, timeout=SCHEDULER_TIMEOUT_S), None
        except (OSError, TimeoutError, ValueError) as exc:
            raise InputError(f"cannot reach the Dask scheduler at {scheduler}: {first_line(exc)}") from None
    started = make_cluster(cluster, workers)
    return Client(started), started


@dataclass
class CampaignResult:
    """What a campaign did: every task's outcome, wall time (s), the workers and the dashboard it used."""

    name: str
    outcomes: list[TaskOutcome]
    wall_seconds: float
    n_workers: int
    dashboard: str | None = None
    compositions: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[str]:
        """The compositions with a failed task."""
        return sorted({o.formula for o in self.outcomes if o.status == "failed"})

    @property
    def exit_status(self) -> int:
        """The exit status of ``amorphdb campaign run``: the number of failed compositions (at most 125)."""
        return min(len(self.failed), 125)

    @property
    def md_seconds(self) -> float:
        """The sum of the tasks' MD wall times (s)."""
        return sum(o.md_seconds for o in self.outcomes)

    def summary(self) -> str:
        """Totals as one line, then one line per failed composition and its first reason."""
        n_done = len(self.compositions) - len(self.failed)
        lines = [f"campaign {self.name}: {n_done} of {len(self.compositions)} compositions done, "
                 f"{len(self.failed)} failed; {len(self.outcomes)} tasks in {self.wall_seconds:.0f} s on "
                 f"{self.n_workers} worker(s) (MD {self.md_seconds:.0f} s)"]
        for formula in self.failed:
            first = next(o for o in self.outcomes if o.formula == formula and o.status == "failed")
            lines.append(f"  failed {formula} ({first.task}): {first.message}")
        return "\n".join(lines)


def run_campaign(formulas: Sequence[str], *, name: str = "default", preset: str = "quick",
                 engine: str = "chgnet", temperatures: list[float] | None = None,
                 db: str | os.PathLike[str] | None = None, workdir: str | os.PathLike[str] | None = None,
                 device: str | None = None, analyse: bool = True, workers: int | None = None,
                 scheduler: str | None = None, cluster: str = "local", retry_failed: bool = False,
                 progress: bool = True, worker_log_level: int = logging.WARNING,
                 amorphous_limit: bool | LimitSettings = False, **overrides: Any) -> CampaignResult:
    """The protocol of every composition of ``formulas`` on Dask, into the database ``db`` (URL, path or None:
    the default database), trajectories under ``workdir`` (a shared file system on a cluster).

    The protocol options are those of :func:`amorphdb.run` (``preset``, ``engine`` spec, ``temperatures`` K,
    ``overrides``: fields of :class:`ProtocolSettings`). ``workers``: worker processes of the cluster we start
    (default: the free cores); ``scheduler``: the address of a running Dask scheduler instead; ``cluster``:
    ``local``, ``slurm`` or ``pbs`` (dask-jobqueue, configured by Dask's config). ``name`` identifies the
    campaign in the task book (``campaign status``); ``retry_failed`` runs its failed tasks again.
    ``amorphous_limit``: True (default :class:`LimitSettings`) or settings add each composition's ``limit``
    task after its coldest quench (after the melt without quench temperatures); a done limit task stays done.
    Everything is checked before any MD: formulas (unknown, duplicate), settings, the database, the work
    directory, the engine spec and the scheduler (:class:`InputError`/:class:`DatabaseError`, one line).
    Running it again after a kill goes on where it stopped.
    """
    from distributed import as_completed
    from tqdm.auto import tqdm

    names = check_formulas(formulas)
    if temperatures is not None:
        overrides["temperatures"] = temperatures
    settings = settings_for(preset, **overrides)
    if analyse:
        check_production_frames(settings)
    for formula in names:
        production_stop(settings, scale_composition(formula, settings.atoms, mode="ceil"))  # --target-d-species
    limit = LimitSettings() if amorphous_limit is True else amorphous_limit or None
    if limit is not None:
        limit.check(settings, names)
    if not name.strip():
        raise InputError("a campaign needs a name")
    database = Database(db)
    if database.url.endswith(":memory:") or database.url.rstrip("/") == "sqlite:":
        raise InputError("a campaign needs a database its workers can open: not an in-memory SQLite database")
    base = _check_workdir(workdir)
    engine_name(engine)  # the spec is checked here (once per process), before any worker starts
    spec = CampaignSpec(name, database.url, str(base), preset, engine, device, analyse, settings, worker_log_level,
                        limit)
    tasks = task_list(names, settings, limit is not None)
    book = TaskBook(database.url)
    book.create()
    client, started = _connect(scheduler, cluster, workers)
    start = time.perf_counter()
    try:
        book.plan(name, tasks, spec.fingerprint, retry_failed)
        client.forward_logging("amorphdb", level=worker_log_level)
        n_workers = len(client.scheduler_info(n_workers=-1)["workers"]) if scheduler else len(started.workers)
        dashboard = client.dashboard_link
        log.info("campaign %s: %d compositions x %d tasks on %s (%d workers); Dask dashboard: %s", name,
                 len(names), len(tasks) // len(names), scheduler or cluster, n_workers, dashboard)
        futures = _submit(client, spec, names)
        outcomes = []
        with tqdm(total=len(futures), desc=f"campaign {name}", unit="task", disable=not progress) as bar:
            for future in as_completed(list(futures)):
                formula, task = futures[future]
                outcome = _outcome(future, formula, task, book, spec)
                outcomes.append(outcome)
                bar.update(1)
                log.info("%s %s: %s in %.0f s%s", formula, task, outcome.status, outcome.seconds,
                         f" ({outcome.message})" if outcome.message else "")
    finally:
        client.close()
        if started is not None:
            started.close()
        book.close()
        database.close()
    order = {(f, t): i for i, (f, t, _) in enumerate(tasks)}
    outcomes.sort(key=lambda o: order[(o.formula, o.task)])
    return CampaignResult(name, outcomes, time.perf_counter() - start, n_workers, dashboard, names)


def _submit(client, spec: CampaignSpec, formulas: list[str]) -> dict:
    """Submit every task: future -> (formula, task). A composition's later tasks come first (priority), so
    that compositions finish one after another rather than all at the end."""
    token = uuid.uuid4().hex[:8]
    futures = {}
    for formula in formulas:
        melted = client.submit(melt_task, spec, formula, key=f"melt-{formula}-{token}", priority=0)
        futures[melted] = (formula, "melt")
        by_temperature, chained = {}, spec.settings.quench_start != "melt"
        for t in spec.settings.quench_order():  # each after the hotter ones with quench_start previous or trend
            hotter = list(by_temperature.values()) if chained else []
            future = client.submit(quench_task, spec, formula, melted, t, *hotter,
                                   key=f"quench-{formula}-{t:g}-{token}", priority=1)
            futures[future] = (formula, quench_name(t))
            by_temperature[t] = future
        quenched = [by_temperature[t] for t in spec.settings.temperatures]
        futures[client.submit(fit_task, spec, formula, melted, *quenched, key=f"fit-{formula}-{token}",
                              priority=2)] = (formula, "fit")
        if spec.limit is not None:  # from the coldest quench temperature, or the melt without any
            coldest = quenched[spec.settings.temperatures.index(min(spec.settings.temperatures))] \
                if quenched else melted
            futures[client.submit(limit_task, spec, formula, coldest, key=f"limit-{formula}-{token}",
                                  priority=2)] = (formula, LIMIT_TASK)
    return futures


def _outcome(future, formula: str, task: str, book: TaskBook, spec: CampaignSpec) -> TaskOutcome:
    """The outcome of a finished future; a task Dask gave up on (its workers kept dying) is recorded failed."""
    try:
        return future.result()
    except Exception as exc:  # KilledWorker, or a dependency's: the tasks themselves return their failures
        outcome = TaskOutcome(formula, task, "failed", f"Dask gave up: {_reason(exc)}")
        book.set(spec.name, formula, task, status="failed", message=outcome.message)
        return outcome


# ---------------------------------------------------------------------------------------------------------
# status
# ---------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TaskStatus:
    """One task as ``campaign status`` shows it: state ``queued``, ``running``, ``interrupted`` (running, but
    nothing changed for :data:`STALE_AFTER_S`: its campaign was killed), ``done`` or ``failed``; ``detail``:
    the MD run and step of a running task, the reason of a failed one, the fit of a done fit."""

    formula: str
    task: str
    temperature: float | None
    state: str
    detail: str | None
    step: int | None = None
    n_steps: int | None = None
    seconds: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class CampaignStatus:
    """Every task of a campaign with its state, in order."""

    name: str
    tasks: list[TaskStatus]

    def totals(self) -> dict[str, int]:
        """Tasks per state, and compositions done (every task done) and failed (a task failed)."""
        out = {state: sum(t.state == state for t in self.tasks)
               for state in ("queued", "running", "interrupted", "done", "failed")}
        by_formula: dict[str, list[str]] = {}
        for t in self.tasks:
            by_formula.setdefault(t.formula, []).append(t.state)
        out["compositions"] = len(by_formula)
        out["compositions_done"] = sum(all(s == "done" for s in states) for states in by_formula.values())
        out["compositions_failed"] = sum("failed" in states for states in by_formula.values())
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"campaign": self.name, "totals": self.totals(), "tasks": [t.to_dict() for t in self.tasks]}

    def table(self) -> str:
        """One line per task, then the totals."""
        lines = [f"campaign {self.name}", f"{'formula':<16} {'task':<8} {'state':<12} detail"]
        for t in self.tasks:
            lines.append(f"{t.formula:<16} {t.task:<8} {t.state:<12} {t.detail or ''}".rstrip())
        totals = self.totals()
        lines.append(", ".join(f"{totals[k]} {k}" for k in ("queued", "running", "interrupted", "done", "failed")
                               if totals[k] or k in ("done", "failed")) + " tasks; "
                     f"{totals['compositions_done']} of {totals['compositions']} compositions done, "
                     f"{totals['compositions_failed']} failed")
        return "\n".join(lines)


def campaign_status(name: str | None = None, db: str | os.PathLike[str] | None = None,
                    stale_after: float = STALE_AFTER_S) -> CampaignStatus:
    """The state of every task of campaign ``name`` (default: the latest one) in the database ``db``; a running
    task shows the MD run it is in and its step (from the run's checkpoint)."""
    book = TaskBook(db)  # read only: no schema is made in a database that has none
    try:
        known = book.campaigns() if book.exists() else []
        if not known:
            raise InputError(f"no campaign in {book.safe_url}")
        name = name or known[-1]
        if name not in known:
            raise InputError(f"no campaign {name!r} in {book.safe_url} (known: {', '.join(known)})")
        return CampaignStatus(name, [_task_status(book, row, stale_after) for row in book.tasks(name)])
    finally:
        book.close()


def _task_status(book: TaskBook, row: TaskRow, stale_after: float) -> TaskStatus:
    base = dict(formula=row.formula, task=row.task, temperature=row.temperature, seconds=row.seconds)
    if row.status != "running":
        return TaskStatus(state=row.status, detail=row.message, **base)
    latest = row.updated_at.replace(tzinfo=row.updated_at.tzinfo or timezone.utc).timestamp()
    running = None
    if row.source and row.temperature is not None:
        running = book.running_run(row.formula, row.source, f"{row.fingerprint}/T{row.temperature:g}/")
    if running is None:
        detail, step = "relaxing snapshots" if row.task == LIMIT_TASK else "preparing or analysing", None
    else:
        traj, ckpt, _ = run_files(running.trajectory_path) if running.trajectory_path else (None, None, None)
        loaded = load_checkpoint(ckpt) if ckpt is not None else None
        step = int(loaded[0].step) if loaded is not None else 0
        if traj is not None and traj.exists():
            latest = max(latest, traj.stat().st_mtime)
        run_name = running.key.split("/", 2)[-1]
        detail = f"{run_name}: step {step} of {running.n_steps}"
    stale = datetime.now(timezone.utc).timestamp() - latest > stale_after
    return TaskStatus(state="interrupted" if stale else "running", detail=detail,
                      step=None if running is None else step, n_steps=None if running is None else running.n_steps,
                      **base)
