"""What each kind of job does when it runs.

An action takes a :class:`JobContext` and returns an :class:`ActionResult`;
the runner records it. Raising is how an action fails. The real actions
import the feeds and emails packages only when they run, and tests can hand
the runner other actions (say, ones that count their calls) under the same
kinds: ``"feeds"``, ``"edition"`` and ``"campaign"``.
"""

from __future__ import annotations

import threading
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from broadsheet.config import Settings
from broadsheet.scheduler.jobs import CampaignJob, EditionJob, FeedsJob, Job
from broadsheet.scheduler.purge import PurgeJob
from broadsheet.scheduler.retries import RetryJob
from broadsheet.store import Store

SEND_COUNTS = ("sent", "failed", "bounced", "skipped", "already_sent")
"""The counts of a send report that a run records."""


@dataclass(frozen=True)
class JobContext:
    """Everything an action may use.

    Attributes:
        store: the publication's store.
        settings: its settings.
        job: the job being run.
        slot: the slot being run (UTC).
        now: the tick's time (UTC); may be later than ``slot`` on catch-up.
        stop: set when the scheduler is asked to stop; long actions check it
            between units of work (the sender between messages) and return
            with ``interrupted`` set.
    """

    store: Store
    settings: Settings
    job: Job
    slot: datetime
    now: datetime
    stop: threading.Event | None = None

    @property
    def stopping(self) -> bool:
        """Whether a stop was asked for."""
        return self.stop is not None and self.stop.is_set()


@dataclass(frozen=True)
class ActionResult:
    """What an action did.

    Attributes:
        counts: numbers worth a log line (``{"sent": 120, "failed": 0}``).
        note: what a person wants to know (the edition id).
        skipped: why there was nothing to do (an empty edition), else ``None``.
        interrupted: a stop came before the work was done; the slot stays
            due and the next run takes it up where it was left.
    """

    counts: Mapping[str, int] = field(default_factory=lambda: types.MappingProxyType({}))
    note: str = ""
    skipped: str | None = None
    interrupted: bool = False


Action = Callable[[JobContext], ActionResult]
"""An action: does one job's work for one slot."""


def build_feeds(ctx: JobContext) -> ActionResult:
    """The ``feeds`` job: every feed rebuilt from the articles live at the tick's time."""
    from broadsheet.feeds import build_feeds_from_store

    report = build_feeds_from_store(ctx.store, ctx.settings, ctx.now)
    counts = {
        "articles": report.articles,
        "written": len(report.written),
        "unchanged": len(report.unchanged),
    }
    return ActionResult(counts=counts, note=str(report.out))


def send_edition(ctx: JobContext) -> ActionResult:
    """An ``edition`` job: select and build the slot's edition, then send it.

    Building an edition whose id exists returns it unchanged, and the send
    ledger skips every subscriber already sent to, so taking up an
    interrupted run finishes the same edition without repeating a message.
    An edition over ``emails.clip_limit`` however much is left out of it
    is not sent: the run fails with the reason, which `broadsheet status` shows.
    """
    from broadsheet.emails import refuse_oversize
    from broadsheet.emails import send_edition as send
    from broadsheet.scheduler.editions import build_edition

    job = ctx.job
    if not isinstance(job, EditionJob):
        raise TypeError(f"{job.name} is not an edition job")  # a bug in the caller
    if job.local:
        return send_local_editions(ctx, job)
    outcome = build_edition(
        ctx.store,
        ctx.settings,
        language=job.language,
        frequency=job.frequency,
        now=ctx.now,
        slot=ctx.slot,
    )
    if outcome.edition is None:
        return ActionResult(skipped=outcome.skipped or "nothing to send")
    edition_id = outcome.edition.id
    # Over emails.clip_limit even clipped: not sent, and the run fails saying why.
    refuse_oversize(outcome.edition)
    if ctx.stopping:
        return ActionResult(note=edition_id, interrupted=True)
    report = send(
        ctx.store,
        ctx.settings,
        edition_id,
        now=ctx.now,
        stop=ctx.stop,
        workers=ctx.settings.delivery.workers,
    )
    counts = {name: int(getattr(report, name)) for name in SEND_COUNTS}
    ledger = report.ledger
    unsent = ledger.get("queued", 0) + ledger.get("sending", 0)
    if ctx.stopping and unsent:
        # Stopped between messages with readers still queued: the slot stays
        # due, and taking it up again sends to those readers only.
        return ActionResult(counts=counts, note=edition_id, interrupted=True)
    note = edition_id
    if report.failed or ledger.get("failed", 0):
        note += (
            f"; {ledger.get('failed', report.failed)} failed for now: "
            f"`broadsheet send {edition_id}` tries them again"
        )
    if report.waiting:
        note += f"; {report.waiting} deferred: the retries job tries them when due"
    if report.held:
        note += f"; {report.held}"
    return ActionResult(counts=counts, note=note)


def send_local_editions(ctx: JobContext, job: EditionJob) -> ActionResult:
    """An edition job in readers' local time: every edition of the slot, in turn.

    One edition per local date whose ``send_time`` falls on the slot
    (:func:`broadsheet.scheduler.localtime.local_editions`), each cut off at
    the slot itself, so a replay builds the same edition, and each sent to
    the readers of its zones only. Counts add up over the slot's editions.
    """
    from broadsheet.emails import refuse_oversize
    from broadsheet.emails import send_edition as send
    from broadsheet.scheduler.editions import build_edition
    from broadsheet.scheduler.localtime import local_editions

    counts = dict.fromkeys(SEND_COUNTS, 0)
    notes: list[str] = []
    skipped: list[str] = []
    for local in local_editions(job, ctx.slot):
        outcome = build_edition(
            ctx.store,
            ctx.settings,
            language=job.language,
            frequency=job.frequency,
            now=ctx.slot,
            slot=ctx.slot,
            local=local,
        )
        if outcome.edition is None:
            skipped.append(outcome.skipped or "nothing to send")
            continue
        edition_id = outcome.edition.id
        refuse_oversize(outcome.edition)
        if ctx.stopping:
            return ActionResult(
                counts=counts, note=", ".join([*notes, edition_id]), interrupted=True
            )
        report = send(
            ctx.store,
            ctx.settings,
            edition_id,
            now=ctx.now,
            stop=ctx.stop,
            workers=ctx.settings.delivery.workers,
        )
        for name in SEND_COUNTS:
            counts[name] += int(getattr(report, name))
        ledger = report.ledger
        note = edition_id
        if report.failed or ledger.get("failed", 0):
            note += (
                f"; {ledger.get('failed', report.failed)} failed for now: "
                f"`broadsheet send {edition_id}` tries them again"
            )
        notes.append(note)
        if ctx.stopping and ledger.get("queued", 0) + ledger.get("sending", 0):
            return ActionResult(counts=counts, note=", ".join(notes), interrupted=True)
    if not notes:
        return ActionResult(skipped="; ".join(skipped) or "nothing to send")
    return ActionResult(counts=counts, note=", ".join(notes))


def send_campaign(ctx: JobContext) -> ActionResult:
    """A ``campaign`` job: send the stored campaign to its audience, once each.

    The ledger skips every reader already sent to, so a run taken up again
    after an interruption sends to the others only.
    """
    from broadsheet.emails import refuse_oversize
    from broadsheet.emails import send_edition as send

    job = ctx.job
    if not isinstance(job, CampaignJob):
        raise TypeError(f"{job.name} is not a campaign job")  # a bug in the caller
    with ctx.store.read() as tx:
        record = tx.editions.get(job.edition_id)
        hold, reason = tx.editions.hold(job.edition_id)
    if record is None:
        return ActionResult(skipped=f"campaign {job.edition_id} is no longer in the store")
    if hold == "cancelled":
        return ActionResult(skipped=f"campaign {job.edition_id} was cancelled ({reason})")
    refuse_oversize(record)
    report = send(
        ctx.store,
        ctx.settings,
        job.edition_id,
        now=ctx.now,
        stop=ctx.stop,
        workers=ctx.settings.delivery.workers,
    )
    counts = {name: int(getattr(report, name)) for name in SEND_COUNTS}
    ledger = report.ledger
    if ctx.stopping and ledger.get("queued", 0) + ledger.get("sending", 0):
        return ActionResult(counts=counts, note=job.edition_id, interrupted=True)
    note = job.edition_id
    if report.failed or ledger.get("failed", 0):
        note += (
            f"; {ledger.get('failed', report.failed)} failed for now: "
            f"`broadsheet send {job.edition_id}` tries them again"
        )
    if report.held:
        note += f"; {report.held}"
    return ActionResult(counts=counts, note=note)


def retry_deferred(ctx: JobContext) -> ActionResult:
    """The ``retries`` job: deferred messages whose next attempt has come are tried again.

    Each edition's due messages are claimed and sent once (see
    :func:`broadsheet.emails.retry_deferred`); a paused or cancelled
    edition is left alone, and the brake is checked as they go.
    """
    from broadsheet.emails import retry_deferred as retry

    if not isinstance(ctx.job, RetryJob):
        raise TypeError(f"{ctx.job.name} is not the retries job")  # a bug in the caller
    reports = retry(ctx.store, ctx.settings, now=ctx.now, stop=ctx.stop)
    counts = dict.fromkeys((*SEND_COUNTS, "deferred"), 0)
    notes = []
    for edition_id, report in reports.items():
        for name in counts:
            counts[name] += int(getattr(report, name))
        note = edition_id
        if report.waiting:
            note += f": {report.waiting} still deferred"
        if report.held:
            note += f" ({report.held})"
        notes.append(note)
    if not reports:
        return ActionResult(skipped="no deferred message is due")
    if ctx.stopping and any(r.stopped and not r.held for r in reports.values()):
        return ActionResult(counts=counts, note="; ".join(notes), interrupted=True)
    return ActionResult(counts=counts, note="; ".join(notes))


def purge_unconfirmed(ctx: JobContext) -> ActionResult:
    """The ``purge`` job: subscriptions never confirmed after ``inbound.purge_unconfirmed_days``
    are deleted, with their events (see :mod:`broadsheet.scheduler.purge`).

    The run records counts only, never an address.
    """
    from broadsheet.content.privacy import purge_unconfirmed as purge

    if not isinstance(ctx.job, PurgeJob):
        raise TypeError(f"{ctx.job.name} is not the purge job")  # a bug in the caller
    done = purge(ctx.store, ctx.settings, now=ctx.now)
    if done is None:
        return ActionResult(skipped="inbound.purge_unconfirmed_days is 0: nothing is purged")
    counts = {
        "subscriptions": done.subscriptions,
        "addresses": done.addresses,
        "events": done.events,
    }
    return ActionResult(counts=counts)


DEFAULT_ACTIONS: Mapping[str, Action] = types.MappingProxyType(
    {
        "feeds": build_feeds,
        "edition": send_edition,
        "campaign": send_campaign,
        "retries": retry_deferred,
        "purge": purge_unconfirmed,
    }
)
"""The real actions, by kind of job."""


def kind(job: Job) -> str:
    """The key of the job's action: ``"feeds"``, ``"edition"``, ``"campaign"``, ``"retries"``…"""
    if isinstance(job, FeedsJob):
        return "feeds"
    if isinstance(job, PurgeJob):
        return "purge"
    if isinstance(job, RetryJob):
        return "retries"
    return "campaign" if isinstance(job, CampaignJob) else "edition"
