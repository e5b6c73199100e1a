"""Sending an edition: fill the ledger, then claim, deliver and record, batch by batch.

:func:`send_edition` first *enqueues* the edition's recipients — every active
subscriber of its language and frequency, streamed from the store a page at
a time; a subscriber with topics gets a ``skipped`` row unless the edition
holds one of those sections. Then one or more workers *claim* batches of
rows and deliver them: the loop is :func:`broadsheet.emails.delivery.ledger.deliver_queued`,
run in this process or, with ``workers`` above one, in worker processes
(:mod:`broadsheet.emails.delivery.workers`). Each process builds its message factory once from
the stored edition with ``broadsheet.emails.edition.compose.PreparedEdition``
(:func:`edition_factory`), and sends over ``delivery.connections`` transports
at once (:func:`broadsheet.emails.delivery.ledger.deliver_over`).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as time_of_day
from zoneinfo import ZoneInfo

from broadsheet.config import Settings
from broadsheet.emails.delivery import giving
from broadsheet.emails.delivery.brake import BrakeLimits
from broadsheet.emails.delivery.holds import hold_for_send
from broadsheet.emails.delivery.ledger import (
    Budget,
    MessageFactory,
    Progress,
    deliver_over,
    deliver_queued,
)
from broadsheet.emails.delivery.protocol import Wait
from broadsheet.emails.delivery.transports import Transport, TransportUnavailable, make_transport
from broadsheet.emails.delivery.workers import FactoryMaker, SendJob, run_processes, send_clock
from broadsheet.errors import DeliveryError
from broadsheet.model import EditionRecord, Frequency, SendState, Subscriber
from broadsheet.store import Store
from broadsheet.zones import zones_at

__all__ = [
    "FactoryMaker",
    "MessageFactory",
    "Progress",
    "SendReport",
    "deliver_queued",
    "enqueue_edition",
    "retry_deferred",
    "send_all",
    "send_edition",
    "sent_per_language",
    "wants_edition",
]

log = logging.getLogger(__name__)

_PAGE = 1000
"""Subscribers read (and ledger rows written) per transaction while enqueueing."""


def edition_factory(
    edition: EditionRecord, settings: Settings, secret: str, now: datetime
) -> MessageFactory:
    """The message factory of a stored edition: ``PreparedEdition(...).message``.

    ``now`` is the start of the send, the messages' Date: an edition sent
    (or finished) a day after it was built says so.
    """
    from broadsheet.emails.edition.compose import PreparedEdition

    prepared = PreparedEdition.from_record(edition, settings, secret=secret, now=now)
    factory: MessageFactory = prepared.message
    return factory


# --- reports -----------------------------------------------------------------


@dataclass
class SendReport:
    """What a send did.

    Attributes:
        edition_id: the edition.
        language: its language.
        sent: messages delivered by this run (for a dry run: that would be).
        failed: messages that failed for now (a later run retries them).
        bounced: addresses refused for good by this run; now marked bounced.
        skipped: subscribers passed over by this run (topics, or no longer
            active when their turn came).
        already_sent: messages found delivered before this run.
        queued: ledger rows this run added.
        remaining: rows still to send after this run (queued, sending, and
            failed ones with tries left).
        given_up: failed rows tried ``delivery.retries + 1`` times; no run
            sends them again.
        deferred: messages refused for now (4xx) by this run; they wait for
            a later try (``delivery.retry_for``).
        waiting: deferred rows after the run (counted in ``remaining`` too).
        held: what stopped the edition (``"paused: complaint rate …"``,
            ``"cancelled: …"``); nothing more is sent while it holds.
        resumed: why the edition had been paused, when this run resumed it.
        ledger: rows per state after the run.
        stopped: the run ended early (stop requested, or ``limit`` reached).
        dry_run: nothing was delivered or recorded.
        seconds: time the run took.
    """

    edition_id: str
    language: str = ""
    sent: int = 0
    failed: int = 0
    bounced: int = 0
    skipped: int = 0
    already_sent: int = 0
    queued: int = 0
    remaining: int = 0
    given_up: int = 0
    deferred: int = 0
    waiting: int = 0
    held: str = ""
    resumed: str = ""
    ledger: dict[str, int] = field(default_factory=dict)
    stopped: bool = False
    dry_run: bool = False
    seconds: float = 0.0

    def add(self, tally: Progress) -> None:
        """Fold a worker's counts into the report."""
        self.sent += tally.sent
        self.failed += tally.failed
        self.bounced += tally.bounced
        self.skipped += tally.skipped
        self.already_sent += tally.already_sent
        self.deferred += tally.deferred
        self.held = self.held or tally.held

    @property
    def rate(self) -> float:
        """Messages delivered per second."""
        return self.sent / self.seconds if self.seconds > 0 else 0.0


# --- who gets an edition -----------------------------------------------------


def wants_topics(topics: Sequence[str], sections: Iterable[str]) -> bool:
    """Whether a subscriber with these topics wants an edition with these sections.

    No topics means everything; otherwise one shared section is enough.
    Section names compare without regard to case or spacing.
    """
    if not topics:
        return True
    held = {" ".join(s.split()).casefold() for s in sections}
    return any(" ".join(t.split()).casefold() in held for t in topics)


def wants_edition(subscriber: Subscriber, sections: Iterable[str]) -> bool:
    """Whether ``subscriber``'s topics let an edition with these sections through."""
    return wants_topics(subscriber.topics, sections)


def audience(edition: EditionRecord) -> tuple[tuple[str, ...], Callable[[Sequence[str]], bool]]:
    """Who ``edition`` is for: the subscriber frequencies it reaches, and a topics test.

    A daily or weekly edition reaches its own frequency's subscribers whose
    topics share a section with it. A campaign keeps its audience in
    ``extra["audience"]``: ``frequency`` (``daily``, ``weekly`` or ``any``) and
    ``topics`` (none means every reader; otherwise a reader with one of them,
    or with no topics, gets it).
    """
    stored = edition.extra.get("audience")
    if isinstance(stored, Mapping):
        chosen = str(stored.get("frequency", "any"))
        frequencies = ("daily", "weekly") if chosen == "any" else (chosen,)
        topics = tuple(str(t) for t in stored.get("topics") or ())

        def campaign_wants(held: Sequence[str]) -> bool:
            return not topics or wants_topics(held, topics)

        return frequencies, campaign_wants
    sections = tuple(edition.sections)

    def edition_wants(held: Sequence[str]) -> bool:
        return wants_topics(held, sections)

    return (str(edition.frequency),), edition_wants


def local_audience(
    store: Store, edition: EditionRecord
) -> tuple[list[str | None] | None, list[str]]:
    """Which zones an edition in readers' local time is for, and its same-day editions.

    An edition built for readers' local time (``extra["local"]``, see
    :mod:`broadsheet.scheduler.localtime`) reaches the readers whose zone
    (none: the site's) puts its send time on its local date at its slot,
    read from the store now, when it is queued. Every daily or weekly edition
    is sent once per reader and local date: a reader with a row in another
    edition of the same newsletter and date (``daily-en-2026-12-03``,
    ``daily-en-2026-12-03+1000``, …) that is not ``skipped`` is skipped.

    Returns:
        ``(zones, same_day)``: the zone names to queue (``None``: every
        reader) and the ids of the other editions of that day.
    """
    stored = edition.extra.get("local")
    if edition.extra.get("audience") is not None or edition.extra.get("kind") == "campaign":
        return None, []
    with store.read() as tx:
        if not isinstance(stored, Mapping):
            return None, tx.ledger.same_day(edition.id, edition.id)
        newsletter = (edition.language, str(edition.frequency))
        names = tx.ledger.reader_zones([newsletter])[newsletter]
        same_day = tx.ledger.same_day(edition.id, str(stored["base"]))
    zones = zones_at(
        names,
        day=date.fromisoformat(str(stored["day"])),
        at=time_of_day.fromisoformat(str(stored["at"])),
        slot=edition.slot,
        default=ZoneInfo(str(stored["site_zone"])),
    )
    return zones, same_day


def enqueue_edition(store: Store, edition: EditionRecord, *, now: datetime) -> tuple[int, int]:
    """Put every recipient of ``edition`` in the ledger (rows already there stay).

    Subscribers are streamed by id a page at a time, one transaction per
    page, so memory stays flat whatever their number. An edition in readers'
    local time reaches the readers of its zones only, and nobody gets two
    editions of one newsletter for one local date (:func:`local_audience`).

    Returns:
        ``(queued, skipped)``: rows added as queued, and as skipped (topics,
        or the day's edition already had).
    """
    frequencies, wants = audience(edition)
    zones, same_day = local_audience(store, edition)
    queued = skipped = 0
    for frequency in frequencies:
        after = 0
        while True:
            with store.write() as tx:
                after, added, passed = tx.ledger.enqueue_page(
                    edition.id,
                    language=edition.language,
                    frequency=frequency,
                    wants=wants,
                    after_id=after,
                    limit=_PAGE,
                    now=now,
                    zones=zones,
                    once_with=same_day,
                    # An address taking both newsletters gets a campaign once.
                    once_per_address=len(frequencies) > 1,
                )
            queued += added
            skipped += passed
            if not after:
                break
    return queued, skipped


# --- the whole send -------------------------------------------------------------


def _load(store: Store, edition_id: str) -> EditionRecord:
    with store.read() as tx:
        edition = tx.editions.get(edition_id)
    if edition is None:
        raise DeliveryError(
            f"no edition {edition_id!r} in the store; build it first with "
            "`broadsheet edition build --language LANG --frequency daily|weekly`"
        )
    return edition


def _dry_run(
    store: Store,
    edition: EditionRecord,
    factory: MessageFactory,
    report: SendReport,
    *,
    limit: int | None,
) -> None:
    """Count what a send would do and render each message, changing nothing."""
    frequencies, wants = audience(edition)
    zones, _ = local_audience(store, edition)
    for frequency in frequencies:
        _dry_run_page(
            store,
            edition,
            factory,
            report,
            limit=limit,
            frequency=frequency,
            wants=wants,
            zones=zones,
        )


def _dry_run_page(
    store: Store,
    edition: EditionRecord,
    factory: MessageFactory,
    report: SendReport,
    *,
    limit: int | None,
    frequency: str,
    wants: Callable[[Sequence[str]], bool],
    zones: Sequence[str | None] | None = None,
) -> None:
    """:func:`_dry_run` over the active subscribers of one frequency."""
    after = 0
    while True:
        with store.read() as tx:
            page = tx.subscribers.active_page(
                edition.language, Frequency(frequency), after_id=after, limit=_PAGE
            )
            states = tx.ledger.states(edition.id, [p.id for p in page])
            page = giving.readers(tx, page)
        for person in page:
            if zones is not None and (person.timezone or None) not in zones:
                continue  # another offset's edition is for this reader
            state = states.get(person.id)
            if state is SendState.SENT:
                report.already_sent += 1
            elif state in (SendState.SKIPPED, SendState.BOUNCED) or (
                state is None and not wants(person.topics)
            ):
                report.skipped += 1
            elif limit is not None and report.sent >= limit:
                report.stopped = True
            else:
                try:
                    factory(person)  # rendered to prove it can be, then dropped
                except ValueError as exc:
                    log.error(
                        "%s would be skipped: no message can be written: %s", person.email, exc
                    )
                    report.skipped += 1
                    continue
                report.sent += 1
        if len(page) < _PAGE:
            return
        after = page[-1].id


def send_edition(
    store: Store,
    settings: Settings,
    edition_id: str,
    *,
    now: datetime,
    transport: str | Transport | None = None,
    dry_run: bool = False,
    limit: int | None = None,
    workers: int = 1,
    stop: threading.Event | None = None,
    progress: Callable[[Progress], None] | None = None,
    make_factory: FactoryMaker = edition_factory,
    resume: bool = False,
    deferred_only: bool = False,
) -> SendReport:
    """Deliver an edition to every subscriber it is for, exactly once each.

    Safe to run again at any time, also after a crash or alongside senders
    on other machines sharing a PostgreSQL store: what is recorded as sent
    is never sent again.

    Args:
        store: the publication's store.
        settings: the publication's settings.
        edition_id: e.g. ``weekly-en-2026-11-23``.
        now: the current time (the run's timestamps advance from it).
        transport: ``"maildir"`` or ``"smtp"`` (default ``delivery.transport``),
            or a transport object such as
            :class:`~broadsheet.emails.delivery.memory.MemoryTransport` (it is
            closed at the end; only with one worker, as objects do not cross
            processes).
        dry_run: render and count, deliver nothing and leave the ledger alone.
        limit: send at most this many messages in this run.
        workers: sending processes; 1 sends from this process.
        stop: set it (e.g. on SIGTERM) to stop between messages.
        progress: called with the running counts after every message.
        make_factory: builds the per-subscriber message factory.
        resume: resume the edition if the brake paused it (``broadsheet send``
            by hand); otherwise a paused edition sends nothing and the report
            says why (``held``).
        deferred_only: only retry the deferred rows that are due (the
            scheduler's retries): no new readers are queued, nothing queued
            or failed is sent.

    Returns:
        The counts of this run and the ledger's state afterwards.

    Raises:
        DeliveryError: no such edition, a cancelled edition, a transport
            that cannot deliver (the undelivered messages stay queued), or a
            failed worker.
    """
    if transport is not None and not isinstance(transport, str) and workers > 1:
        raise DeliveryError(
            "a transport object sends from this process only: use workers=1, "
            "or name the transport ('maildir' or 'smtp')"
        )
    started = time.monotonic()
    edition = _load(store, edition_id)
    report = SendReport(edition_id=edition.id, language=edition.language, dry_run=dry_run)
    secret = store.link_secret(settings.secret(), env_name=settings.links.secret_env)
    if dry_run:
        _dry_run(store, edition, make_factory(edition, settings, secret, now), report, limit=limit)
        report.seconds = time.monotonic() - started
        return report
    report.held, report.resumed = hold_for_send(
        store, edition.id, now=now, resume=resume, refuse=not deferred_only
    )
    max_attempts = settings.delivery.retries + 1
    if report.held:
        _finish_report(store, report, max_attempts=max_attempts, limit=None, stop=None)
        report.seconds = time.monotonic() - started
        return report
    if not deferred_only:
        report.queued, report.skipped = enqueue_edition(store, edition, now=now)
    with store.write() as tx:
        if not deferred_only:
            tx.ledger.requeue_failed(edition.id, max_attempts=max_attempts, now=now)
        before = tx.ledger.counts(edition.id)
    report.already_sent = before[SendState.SENT]
    total = before[SendState.QUEUED] + before[SendState.SENDING]
    if deferred_only:
        total = before[SendState.DEFERRED]
    tally = Progress(total=min(total, limit) if limit is not None else total)
    if progress is not None:
        progress(tally)
    errors: list[str] = []
    if workers <= 1:
        factory = make_factory(edition, settings, secret, now)
        signal_stop = stop or threading.Event()
        named = transport is None or isinstance(transport, str)
        # A transport object is one connection: it cannot be copied.
        connections = settings.delivery.connections if named else 1
        given = transport

        def make(wait: Wait) -> Transport:
            if given is None or isinstance(given, str):
                return make_transport(settings, given, wait=wait, rate_share=connections)
            return given

        def counted(outcome: str) -> None:
            tally.count(outcome)
            if progress is not None:
                progress(tally)

        try:
            deliver_over(
                store,
                edition.id,
                factory,
                make,
                connections=connections,
                clock=send_clock(now, started),
                batch_size=settings.delivery.batch_size,
                claim_timeout=settings.delivery.claim_timeout_seconds,
                stop=signal_stop,
                budget=Budget(limit),
                on_outcome=counted,
                retry_for=timedelta(seconds=settings.retry_for_seconds),
                brake=BrakeLimits.from_settings(settings),
                deferred_only=deferred_only,
            )
        except TransportUnavailable as exc:
            errors.append(str(exc))
    else:
        job = SendJob(
            config_path=str(settings.path),
            edition_id=edition.id,
            transport=transport if isinstance(transport, str) else None,
            secret=secret,
            make_factory=make_factory,
            workers=workers,
            batch_size=max(
                1,
                min(
                    settings.delivery.batch_size,
                    -(-tally.total // (workers * settings.delivery.connections)),
                ),
            ),
            start=now,
            start_monotonic=started,
            parent=os.getpid(),
            deferred_only=deferred_only,
        )
        errors = run_processes(job, limit=limit, stop=stop, progress=tally, on_progress=progress)
    report.add(tally)
    if not report.held:
        # Another worker process may have met the hold: the store says.
        with store.read() as tx:
            hold, reason = tx.editions.hold(edition.id)
        report.held = f"{hold}: {reason}" if hold else ""
    _finish_report(store, report, max_attempts=max_attempts, limit=limit, stop=stop)
    report.seconds = time.monotonic() - started
    if errors:
        unique = list(dict.fromkeys(errors))
        raise DeliveryError(
            "; ".join(unique)
            + f" ({report.sent} sent before stopping; run `broadsheet send {edition.id}` again"
            " to send the rest)"
        )
    return report


def _finish_report(
    store: Store,
    report: SendReport,
    *,
    max_attempts: int,
    limit: int | None,
    stop: threading.Event | None,
) -> None:
    """Fill in the ledger's state after a send."""
    with store.read() as tx:
        after = tx.ledger.counts(report.edition_id)
        report.given_up = tx.ledger.given_up(report.edition_id, max_attempts=max_attempts)
    report.ledger = {str(state): count for state, count in after.items()}
    report.waiting = after[SendState.DEFERRED]
    report.remaining = (
        after[SendState.QUEUED]
        + after[SendState.SENDING]
        + after[SendState.FAILED]
        + after[SendState.DEFERRED]
        - report.given_up
    )
    report.stopped = (
        bool(stop and stop.is_set())
        or bool(report.held)
        or (limit is not None and after[SendState.QUEUED] > 0)
    )


def retry_deferred(
    store: Store,
    settings: Settings,
    *,
    now: datetime,
    stop: threading.Event | None = None,
    transport: str | Transport | None = None,
) -> dict[str, SendReport]:
    """Try again every deferred message whose next attempt has come, once each.

    The scheduler runs this at every tick. Each edition with due rows is
    sent with ``deferred_only``: only those rows are claimed (by one sender
    at a time, like any row), nobody new is queued, and a paused or
    cancelled edition is left alone.

    Returns:
        The reports by edition id.
    """
    with store.read() as tx:
        due = tx.ledger.due_editions(now)
    reports: dict[str, SendReport] = {}
    for edition_id in due:
        if stop is not None and stop.is_set():
            break
        reports[edition_id] = send_edition(
            store,
            settings,
            edition_id,
            now=now,
            stop=stop,
            transport=transport,
            deferred_only=True,
        )
    return reports


def send_all(
    store: Store,
    settings: Settings,
    edition_ids: Iterable[str],
    *,
    now: datetime,
    transport: str | Transport | None = None,
) -> dict[str, SendReport]:
    """Send several editions one after another; reports by edition id.

    ``sum(r.sent for r in reports.values() if r.language == "en")`` is what
    went out in English.
    """
    return {
        edition_id: send_edition(store, settings, edition_id, now=now, transport=transport)
        for edition_id in edition_ids
    }


def sent_per_language(reports: Iterable[SendReport]) -> dict[str, int]:
    """Messages sent by these reports, per edition language."""
    totals: dict[str, int] = {}
    for report in reports:
        totals[report.language] = totals.get(report.language, 0) + report.sent
    return totals
