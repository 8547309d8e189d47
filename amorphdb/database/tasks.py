"""The task book of campaigns: one row per task (a composition's melt, one quench temperature, its fit) with
its state, in the campaign's database, so that every worker writes to it and ``amorphdb campaign status``
reads it from anywhere.

The table ``campaign_tasks`` is bookkeeping, not data: it is made on first use (outside the schema version,
which an older amorphdb therefore still opens), is not exported, and a campaign can be rerun without it.
States: ``queued``, ``running``, ``done``, ``failed`` (with a one-line message). Times in s.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import DateTime, Double, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from ..errors import InputError
from .connection import Connection, upsert
from .schema import Material, Run, prepare, utcnow

STATES = ("queued", "running", "done", "failed")
#: the fields of a task that :meth:`TaskBook.set` changes
SETTABLE = ("status", "message", "source", "seconds", "md_seconds")


class _TaskBase(DeclarativeBase):
    type_annotation_map = {float: Double, datetime: DateTime(timezone=True)}


class CampaignTask(_TaskBase):
    """One task of a campaign: ``task`` is ``melt``, ``T<K>`` (a quench temperature) or ``fit``."""

    __tablename__ = "campaign_tasks"
    __table_args__ = (UniqueConstraint("campaign", "formula", "task"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign: Mapped[str] = mapped_column(String, index=True)
    formula: Mapped[str] = mapped_column(String)  # reduced formula
    task: Mapped[str] = mapped_column(String)
    position: Mapped[int] = mapped_column(Integer)  # order within the campaign (formula, then task)
    temperature: Mapped[float | None] = mapped_column()  # K; None for the fit
    fingerprint: Mapped[str] = mapped_column(String)  # of the protocol settings
    source: Mapped[str | None] = mapped_column(String)  # mlip-<engine>, set by the worker
    status: Mapped[str] = mapped_column(String)
    message: Mapped[str | None] = mapped_column(Text)
    seconds: Mapped[float | None] = mapped_column()  # wall time of the task's last execution
    md_seconds: Mapped[float | None] = mapped_column()  # of which in MD runs
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


@dataclass(frozen=True)
class TaskRow:
    """A task as stored (times in s)."""

    campaign: str
    formula: str
    task: str
    temperature: float | None
    fingerprint: str
    source: str | None
    status: str
    message: str | None
    seconds: float | None
    md_seconds: float | None
    updated_at: datetime


@dataclass(frozen=True)
class RunningRun:
    """The MD run a running task is in: its key, stage, length (steps) and trajectory file."""

    key: str
    stage: str
    n_steps: int | None
    trajectory_path: str | None


def _row(task: CampaignTask) -> TaskRow:
    return TaskRow(task.campaign, task.formula, task.task, task.temperature, task.fingerprint, task.source,
                   task.status, task.message, task.seconds, task.md_seconds, task.updated_at)


class TaskBook:
    """The ``campaign_tasks`` table of the database at ``url`` (a URL the workers can open too)."""

    def __init__(self, url: str | os.PathLike | None) -> None:
        self._conn = Connection(url)
        self.safe_url = self._conn.safe_url  # the URL without its password

    def close(self) -> None:
        self._conn.close()

    def create(self) -> None:
        """Make the table when the database has none (once, by the campaign's client, before its workers); an
        empty database gets amorphdb's schema first, any other must be amorphdb's (:func:`.schema.prepare`)."""
        def write(session: Session) -> None:
            prepare(session, self._conn.safe_url)
            CampaignTask.__table__.create(session.connection(), checkfirst=True)

        self._conn.write(write)

    def exists(self) -> bool:
        from sqlalchemy import inspect

        return self._conn.read(lambda session: inspect(session.connection()).has_table(CampaignTask.__tablename__))

    def plan(self, campaign: str, tasks: list[tuple[str, str, float | None]], fingerprint: str,
             retry_failed: bool = False) -> None:
        """Queue ``tasks`` (formula, task, temperature K) of ``campaign`` in this order. A task of the same
        settings that is done stays done, one that failed stays failed unless ``retry_failed``; every other
        (new, running when a campaign was killed, other settings) becomes ``queued``. Tasks of the campaign
        that are not in ``tasks`` (a composition or temperature dropped from the call) leave the book; their
        MD runs stay in the database."""
        def write(session: Session) -> None:
            stored = {(t.formula, t.task): t for t in session.scalars(
                select(CampaignTask).where(CampaignTask.campaign == campaign))}
            planned = {(formula, task) for formula, task, _ in tasks}
            for key, old in stored.items():
                if key not in planned:
                    session.delete(old)
            session.flush()
            rows = []
            for position, (formula, task, temperature) in enumerate(tasks):
                old = stored.get((formula, task))
                keep = old is not None and old.fingerprint == fingerprint and (
                    old.status == "done" or (old.status == "failed" and not retry_failed))
                state = {"status": old.status, "message": old.message} if keep else {"status": "queued",
                                                                                       "message": None}
                rows.append({"campaign": campaign, "formula": formula, "task": task, "position": position,
                             "temperature": temperature, "fingerprint": fingerprint, **state,
                             "updated_at": old.updated_at if keep else utcnow()})
            upsert(session, CampaignTask, rows, ["campaign", "formula", "task"])

        self._conn.write(write)

    def get(self, campaign: str, formula: str, task: str) -> TaskRow | None:
        stmt = select(CampaignTask).where(CampaignTask.campaign == campaign, CampaignTask.formula == formula,
                                          CampaignTask.task == task)
        return self._conn.read(lambda s: next((_row(t) for t in s.scalars(stmt)), None))

    def set(self, campaign: str, formula: str, task: str, **fields: object) -> None:
        """Change fields of one task (:data:`SETTABLE`: ``status`` one of :data:`STATES`, ``message``,
        ``source``, ``seconds``, ``md_seconds``); InputError for another field, state or an unknown task."""
        if unknown := [name for name in fields if name not in SETTABLE]:
            raise InputError(f"cannot set task field(s) {', '.join(unknown)} (settable: {', '.join(SETTABLE)})")
        if "status" in fields and fields["status"] not in STATES:
            raise InputError(f"unknown task state {fields['status']!r} (one of {', '.join(STATES)})")

        def write(session: Session) -> None:
            row = session.scalars(select(CampaignTask).where(
                CampaignTask.campaign == campaign, CampaignTask.formula == formula,
                CampaignTask.task == task)).one_or_none()
            if row is None:
                raise InputError(f"campaign {campaign!r} has no task {task!r} of {formula}")
            for name, value in fields.items():
                setattr(row, name, value)
            row.updated_at = utcnow()

        self._conn.write(write)

    def tasks(self, campaign: str) -> list[TaskRow]:
        """Every task of ``campaign`` in its order."""
        stmt = (select(CampaignTask).where(CampaignTask.campaign == campaign)
                .order_by(CampaignTask.position, CampaignTask.id))
        return self._conn.read(lambda s: [_row(t) for t in s.scalars(stmt)])

    def campaigns(self) -> list[str]:
        """The names of the campaigns in the book, in the order they were first planned."""
        stmt = select(CampaignTask.campaign, CampaignTask.id).order_by(CampaignTask.id)
        rows = self._conn.read(lambda s: s.execute(stmt).all())
        return list(dict.fromkeys(name for name, _ in rows))

    def running_run(self, formula: str, source: str, key_prefix: str) -> RunningRun | None:
        """The latest run of ``formula`` from ``source`` whose key starts with ``key_prefix`` and that is
        ``running`` (None when there is none)."""
        stmt = (select(Run.key, Run.stage, Run.n_steps, Run.trajectory_path).join(Material)
                .where(Material.formula == formula, Run.source == source, Run.status == "running",
                       Run.key.startswith(key_prefix, autoescape=True))
                .order_by(Run.id.desc()).limit(1))
        found = self._conn.read(lambda s: s.execute(stmt).first())
        return None if found is None else RunningRun(*found)
