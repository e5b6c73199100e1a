"""Sending an edition: fill the ledger, then claim, deliver and record, batch by batch.

:func:`send_edition` first *enqueues* the edition's recipients — every active
subscriber of its language and frequency, streamed from the store a page at
a time; a subscriber with topics gets a ``skipped`` row unless the edition
holds one of those sections. Then one or more workers *claim* batches of
rows and deliver them. For each message the outcome (sent, failed, bounced)
is committed before the next message goes, so a sender killed at any
instant leaves at most the one message in flight undecided:

- with a Maildir, the next run finds that message's file (its name comes
  from the Message-ID) and records it as sent without writing it again;
- with SMTP, the next run sends it again with the same Message-ID.

The loop itself (:func:`deliver_queued`) is generic over a message factory,
``Callable[[Subscriber], Message]``; :func:`send_edition` builds it once per
process from the stored edition with ``emails.compose.PreparedEdition``.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue as queue_module
import secrets
import signal
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from broadsheet.config import Settings
from broadsheet.errors import BroadsheetError, DeliveryError
from broadsheet.model import EditionRecord, SendState, Subscriber, SubscriberStatus
from broadsheet.store import Store, Tx
from broadsheet.store.ledger import Claimed
from emails.transports import (
    DeliveryResult,
    DeliveryStatus,
    Message,
    Transport,
    TransportUnavailable,
    make_transport,
)

log = logging.getLogger(__name__)

__all__ = [
    "FactoryMaker",
    "MessageFactory",
    "Progress",
    "SendReport",
    "deliver_queued",
    "enqueue_edition",
    "send_all",
    "send_edition",
    "sent_per_language",
    "wants_edition",
]

MessageFactory = Callable[[Subscriber], Message]
"""Builds one subscriber's message (``PreparedEdition.message``)."""

FactoryMaker = Callable[[EditionRecord, Settings, str, datetime], MessageFactory]
"""Builds a :data:`MessageFactory` from an edition, the settings and the link secret.

Worker processes call it themselves, so it must be a module-level function.
"""

_PAGE = 1000
"""Subscribers read (and ledger rows written) per transaction while enqueueing."""


def edition_factory(
    edition: EditionRecord, settings: Settings, secret: str, now: datetime
) -> MessageFactory:
    """The message factory of a stored edition: ``PreparedEdition(...).message``.

    ``now`` is the start of the send, the messages' Date: an edition sent
    (or finished) a day after it was built says so.
    """
    from emails.compose import PreparedEdition

    prepared = PreparedEdition.from_record(edition, settings, secret=secret, now=now)
    factory: MessageFactory = prepared.message
    return factory


# --- reports -----------------------------------------------------------------


@dataclass
class Progress:
    """Where a send stands; handed to the progress callback after every message.

    Attributes:
        total: messages this run expects to deliver (the queued and resumed rows,
            or the limit when lower).
    """

    total: int
    sent: int = 0
    failed: int = 0
    bounced: int = 0
    skipped: int = 0
    already_sent: int = 0

    @property
    def done(self) -> int:
        """Messages dealt with so far."""
        return self.sent + self.failed + self.bounced + self.already_sent

    def count(self, outcome: str) -> None:
        """Add one outcome (``sent``, ``failed``, ``bounced``, ``skipped``, ``already``)."""
        name = "already_sent" if outcome == DeliveryStatus.ALREADY else outcome
        setattr(self, name, getattr(self, name) + 1)


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
        remaining: rows still to send after this run (queued, sending, failed).
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


def enqueue_edition(store: Store, edition: EditionRecord, *, now: datetime) -> tuple[int, int]:
    """Put every recipient of ``edition`` in the ledger (rows already there stay).

    Subscribers are streamed by id a page at a time, one transaction per
    page, so memory stays flat whatever their number.

    Returns:
        ``(queued, skipped)``: rows added as queued, and as skipped (topics).
    """
    sections = tuple(edition.sections)

    def wants(topics: Sequence[str]) -> bool:
        return wants_topics(topics, sections)

    queued = skipped = 0
    after = 0
    while True:
        with store.write() as tx:
            after, added, passed = tx.ledger.enqueue_page(
                edition.id,
                language=edition.language,
                frequency=str(edition.frequency),
                wants=wants,
                after_id=after,
                limit=_PAGE,
                now=now,
            )
        queued += added
        skipped += passed
        if not after:
            return queued, skipped


# --- workers -----------------------------------------------------------------


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()[:8]
    except OSError:
        return "0"


_MACHINE = f"{os.uname().nodename}/{_boot_id()}"
_LIVE_TOKENS: set[str] = set()
"""Tokens of the workers running in this process (claims under other tokens of
this process's pid are left over from an interrupted run)."""


def _worker_name() -> str:
    token = secrets.token_hex(4)
    _LIVE_TOKENS.add(token)
    return f"{_MACHINE}:{os.getpid()}:{token}"


def _process_gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            # The state follows the command name in parentheses; Z is a zombie.
            state = handle.read().rpartition(b")")[2].split()[0]
        return state in (b"Z", b"X")
    except FileNotFoundError:
        return True
    except (OSError, IndexError):
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def dead_workers(names: Iterable[str]) -> list[str]:
    """The workers among ``names`` that ran on this machine and are gone.

    Their claims can be taken over at once; a worker on another machine is
    only presumed dead when its claim outlives ``delivery.claim_timeout_seconds``.
    """
    dead = []
    for name in names:
        parts = name.split(":")
        if len(parts) != 3 or parts[0] != _MACHINE:
            continue
        machine, pid_text, token = parts
        try:
            pid = int(pid_text)
        except ValueError:
            continue
        if pid == os.getpid():
            if token not in _LIVE_TOKENS:
                dead.append(name)
        elif _process_gone(pid):
            dead.append(name)
    return dead


class Budget:
    """How many more messages this run may send (``--limit``), shared by workers."""

    def __init__(self, limit: int | None, shared: Any = None) -> None:
        self._shared = shared
        self._left = -1 if limit is None else limit

    def take(self, want: int) -> int:
        """Reserve up to ``want`` messages; returns how many were granted."""
        if self._shared is not None:
            with self._shared.get_lock():
                left = self._shared.value
                if left < 0:
                    return want
                granted = min(want, left)
                self._shared.value = left - granted
                return int(granted)
        if self._left < 0:
            return want
        granted = min(want, self._left)
        self._left -= granted
        return granted

    def give(self, count: int) -> None:
        """Return reserved messages that were not sent."""
        if count <= 0:
            return
        if self._shared is not None:
            with self._shared.get_lock():
                if self._shared.value >= 0:
                    self._shared.value += count
            return
        if self._left >= 0:
            self._left += count


class StopSignal(Protocol):
    """What the loop needs of a stop flag (``threading.Event`` fits)."""

    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


class _Session:
    """One connection kept for a worker's many short transactions."""

    def __init__(self, store: Store) -> None:
        self._conn = store.engine.connect().execution_options(broadsheet_write=True)

    def write(self) -> Any:
        return _Transaction(self._conn)

    def close(self) -> None:
        self._conn.close()


class _Transaction:
    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self._tx: Any = None

    def __enter__(self) -> Tx:
        self._tx = self._conn.begin()
        return Tx(self._conn)

    def __exit__(self, kind: Any, value: Any, trace: Any) -> None:
        if kind is None:
            self._tx.commit()
        else:
            self._tx.rollback()


class _Recorder:
    """Records outcomes on a thread of its own, one at a time, in order.

    :meth:`record` returns at once; :meth:`wait` blocks until the last outcome
    is committed (and raises what the commit raised). The sender passes
    :meth:`wait` to the transport as its barrier, so the next message can be
    built and its envelope accepted while the previous outcome is being
    written, yet it cannot be delivered before that outcome is durable.
    """

    def __init__(self, session: _Session) -> None:
        self._session = session
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="broadsheet-ledger")
        self._pending: Any = None

    def record(
        self,
        edition_id: str,
        person: Subscriber,
        result: DeliveryResult,
        message_id: str,
        now: datetime,
    ) -> None:
        self.wait()
        self._pending = self._pool.submit(
            _record, self._session, edition_id, person, result, message_id, now
        )

    def wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def close(self) -> None:
        try:
            self.wait()
        finally:
            self._pool.shutdown(wait=True)


_STATE = {
    DeliveryStatus.SENT: SendState.SENT,
    DeliveryStatus.ALREADY: SendState.SENT,
    DeliveryStatus.FAILED: SendState.FAILED,
    DeliveryStatus.BOUNCED: SendState.BOUNCED,
}


def deliver_queued(
    store: Store,
    edition_id: str,
    factory: MessageFactory,
    transport: Transport,
    *,
    clock: Callable[[], datetime],
    batch_size: int = 200,
    claim_timeout: float = 600.0,
    stop: StopSignal | None = None,
    budget: Budget | None = None,
    on_outcome: Callable[[str], None] | None = None,
) -> Progress:
    """Claim and deliver an edition's queued rows until none is left (one worker).

    Args:
        store: the store holding the ledger.
        edition_id: the edition whose rows are sent.
        factory: builds each subscriber's message.
        transport: where messages go.
        clock: the current time (claims and outcomes are stamped with it).
        batch_size: rows claimed at a time.
        claim_timeout: seconds after which another worker's claim is taken over.
        stop: checked between messages; when set, the batch is given back.
        budget: how many messages may still be sent (``--limit``).
        on_outcome: called after each row with ``sent``, ``already``,
            ``failed``, ``bounced`` or ``skipped``.

    Returns:
        This worker's counts.

    Raises:
        TransportUnavailable: the transport cannot deliver; rows not
            delivered are given back to the queue first.
    """
    tally = Progress(total=0)
    budget = budget or Budget(None)
    report = on_outcome or (lambda _outcome: None)
    worker = _worker_name()
    session = _Session(store)
    refresh_every = claim_timeout / 3
    try:
        while not (stop and stop.is_set()):
            want = budget.take(batch_size)
            if want == 0:
                break
            now = clock()
            with session.write() as tx:
                dead = dead_workers(tx.ledger.claimants(edition_id))
                batch = tx.ledger.claim(
                    edition_id,
                    worker=worker,
                    limit=want,
                    now=now,
                    stale_before=now - timedelta(seconds=claim_timeout),
                    dead_workers=dead,
                )
            budget.give(want - len(batch.items))
            for _ in range(batch.skipped):
                tally.count("skipped")
                report("skipped")
            if not batch.items:
                if batch.skipped:
                    continue
                break
            _deliver_batch(
                session,
                edition_id,
                batch.items,
                factory,
                transport,
                worker=worker,
                clock=clock,
                refresh_every=refresh_every,
                stop=stop,
                budget=budget,
                tally=tally,
                report=report,
            )
    finally:
        _LIVE_TOKENS.discard(worker.rpartition(":")[2])
        session.close()
        transport.close()
    return tally


def _deliver_batch(
    session: _Session,
    edition_id: str,
    items: Sequence[Claimed],
    factory: MessageFactory,
    transport: Transport,
    *,
    worker: str,
    clock: Callable[[], datetime],
    refresh_every: float,
    stop: StopSignal | None,
    budget: Budget,
    tally: Progress,
    report: Callable[[str], None],
) -> None:
    """Deliver one claimed batch; each outcome is committed before the next delivery."""
    last_refresh = time.monotonic()
    position = 0
    recorder = _Recorder(session)
    try:
        while position < len(items):
            if stop and stop.is_set():
                break
            if time.monotonic() - last_refresh > refresh_every:
                # Keep the claim fresh so no other sender takes over rows this
                # one still means to send; drop any it lost meanwhile.
                recorder.wait()
                rest = [item.subscriber.id for item in items[position:]]
                with session.write() as tx:
                    held = tx.ledger.refresh(edition_id, rest, worker=worker, now=clock())
                lost = len(rest) - len(held)
                last_refresh = time.monotonic()
                if lost:
                    log.warning("%d claimed messages were taken over by another sender", lost)
                    kept = [i for i in items[position:] if i.subscriber.id in held]
                    items = [*items[:position], *kept]
                    budget.give(lost)
                    continue
            item = items[position]
            person = item.subscriber
            message = factory(person)
            result = transport.deliver(
                message, recipient=person.email, resumed=item.resumed, barrier=recorder.wait
            )
            position += 1
            recorder.record(edition_id, person, result, message.message_id, clock())
            outcome = str(result.status)
            tally.count(outcome)
            report(outcome)
            if result.status is DeliveryStatus.ALREADY:
                budget.give(1)
    finally:
        try:
            recorder.close()
        finally:
            rest = [item.subscriber.id for item in items[position:]]
            if rest:
                with session.write() as tx:
                    tx.ledger.release(edition_id, rest, worker=worker, now=clock())
                budget.give(len(rest))


def _record(
    session: _Session,
    edition_id: str,
    person: Subscriber,
    result: DeliveryResult,
    message_id: str,
    now: datetime,
) -> None:
    with session.write() as tx:
        tx.ledger.mark(
            edition_id,
            person.id,
            _STATE[result.status],
            now=now,
            reply=result.reply,
            message_id=message_id,
        )
        if result.status is DeliveryStatus.BOUNCED:
            # Refused for good: no later edition is sent to this address.
            tx.subscribers.set_status(
                person.id, SubscriberStatus.BOUNCED, now=now, reason=result.reply
            )
            log.warning("%s bounced: %s", person.email, result.reply)
        elif result.status is DeliveryStatus.FAILED:
            log.warning("%s failed for now: %s", person.email, result.reply)


# --- worker processes ----------------------------------------------------------


@dataclass(frozen=True)
class _Job:
    """Everything a worker process needs (picklable: the settings are reloaded)."""

    config_path: str
    edition_id: str
    transport: str | None
    secret: str
    make_factory: FactoryMaker
    workers: int
    start: datetime
    start_monotonic: float
    parent: int


class _ChildStop:
    """Stop when the parent says so, on SIGTERM, or when the parent is gone."""

    def __init__(self, shared: Any, parent: int) -> None:
        self._shared = shared
        self._parent = parent
        self._local = threading.Event()

    def set(self) -> None:
        self._local.set()

    def is_set(self) -> bool:
        return self._local.is_set() or self._shared.is_set() or os.getppid() != self._parent

    def wait(self, timeout: float | None = None) -> bool:
        deadline = time.monotonic() + (timeout or 0.0)
        while not self.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._local.wait(min(left, 0.2))
        return True


def _clock(start: datetime, start_monotonic: float) -> Callable[[], datetime]:
    """A clock that starts at ``start`` and advances with the monotonic clock."""
    return lambda: start + timedelta(seconds=time.monotonic() - start_monotonic)


def _child_main(job: _Job, events: Any, shared_stop: Any, shared_budget: Any) -> None:
    """A worker process: reload the settings, open the store, deliver, report."""
    from broadsheet.config import load_settings

    # Ctrl-C reaches the whole process group: the parent turns it into a stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stop = _ChildStop(shared_stop, job.parent)
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    try:
        settings = load_settings(job.config_path)
        store = Store.open(settings.store.url, migrate=False)
        try:
            with store.read() as tx:
                edition = tx.editions.get(job.edition_id)
            if edition is None:
                raise DeliveryError(f"edition {job.edition_id!r} disappeared from the store")
            factory = job.make_factory(edition, settings, job.secret, job.start)
            transport = make_transport(
                settings, job.transport, wait=stop.wait, rate_share=job.workers
            )
            deliver_queued(
                store,
                job.edition_id,
                factory,
                transport,
                clock=_clock(job.start, job.start_monotonic),
                batch_size=settings.delivery.batch_size,
                claim_timeout=settings.delivery.claim_timeout_seconds,
                stop=stop,
                budget=Budget(None, shared_budget),
                on_outcome=lambda outcome: events.put(("outcome", outcome)),
            )
        finally:
            store.close()
    except BroadsheetError as exc:
        events.put(("error", str(exc)))
    except Exception as exc:  # a bug: keep enough to find it
        log.exception("sending worker failed")
        events.put(("error", f"worker failed: {type(exc).__name__}: {exc}"))
    events.put(("done", os.getpid()))


def _run_processes(
    job: _Job,
    *,
    limit: int | None,
    stop: threading.Event | None,
    progress: Progress,
    on_progress: Callable[[Progress], None] | None,
) -> list[str]:
    """Run ``job.workers`` worker processes to the end; returns their errors."""
    context = multiprocessing.get_context("spawn")
    events = context.Queue()
    shared_stop = context.Event()
    shared_budget = context.Value("q", -1 if limit is None else limit)
    processes = [
        context.Process(
            target=_child_main,
            args=(job, events, shared_stop, shared_budget),
            name=f"broadsheet-send-{i + 1}",
        )
        for i in range(job.workers)
    ]
    for process in processes:
        process.start()
    errors: list[str] = []
    finished = 0
    try:
        while finished < len(processes):
            if stop is not None and stop.is_set():
                shared_stop.set()
            try:
                kind, value = events.get(timeout=0.2)
            except queue_module.Empty:
                if not any(p.is_alive() for p in processes):
                    # A worker died without saying so (killed): stop waiting.
                    break
                continue
            if kind == "outcome":
                progress.count(value)
                if on_progress is not None:
                    on_progress(progress)
            elif kind == "error":
                errors.append(value)
            elif kind == "done":
                finished += 1
    except BaseException:
        shared_stop.set()
        raise
    finally:
        for process in processes:
            process.join()
        # Outcomes a worker queued just before dying still count.
        while True:
            try:
                kind, value = events.get_nowait()
            except queue_module.Empty:
                break
            if kind == "outcome":
                progress.count(value)
            elif kind == "error":
                errors.append(value)
        events.close()
    for process in processes:
        if process.exitcode not in (0, None) and not errors:
            errors.append(f"a sending worker exited with status {process.exitcode}")
    return errors


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
    after = 0
    while True:
        with store.read() as tx:
            page = tx.subscribers.active_page(
                edition.language, edition.frequency, after_id=after, limit=_PAGE
            )
            states = tx.ledger.states(edition.id, [p.id for p in page])
        for person in page:
            state = states.get(person.id)
            if state is SendState.SENT:
                report.already_sent += 1
            elif state in (SendState.SKIPPED, SendState.BOUNCED) or (
                state is None and not wants_edition(person, edition.sections)
            ):
                report.skipped += 1
            elif limit is not None and report.sent >= limit:
                report.stopped = True
            else:
                factory(person)  # rendered to prove it can be, then dropped
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
    transport: str | None = None,
    dry_run: bool = False,
    limit: int | None = None,
    workers: int = 1,
    stop: threading.Event | None = None,
    progress: Callable[[Progress], None] | None = None,
    make_factory: FactoryMaker = edition_factory,
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
        transport: ``"maildir"`` or ``"smtp"``; default ``delivery.transport``.
        dry_run: render and count, deliver nothing and leave the ledger alone.
        limit: send at most this many messages in this run.
        workers: sending processes; 1 sends from this process.
        stop: set it (e.g. on SIGTERM) to stop between messages.
        progress: called with the running counts after every message.
        make_factory: builds the per-subscriber message factory.

    Returns:
        The counts of this run and the ledger's state afterwards.

    Raises:
        DeliveryError: no such edition, a transport that cannot deliver
            (the undelivered messages stay queued), or a failed worker.
    """
    started = time.monotonic()
    edition = _load(store, edition_id)
    report = SendReport(edition_id=edition.id, language=edition.language, dry_run=dry_run)
    secret = store.link_secret(settings.secret(), env_name=settings.links.secret_env)
    if dry_run:
        _dry_run(store, edition, make_factory(edition, settings, secret, now), report, limit=limit)
        report.seconds = time.monotonic() - started
        return report
    report.queued, report.skipped = enqueue_edition(store, edition, now=now)
    with store.write() as tx:
        tx.ledger.requeue_failed(edition.id, max_attempts=settings.delivery.retries + 1, now=now)
        before = tx.ledger.counts(edition.id)
    report.already_sent = before[SendState.SENT]
    total = before[SendState.QUEUED] + before[SendState.SENDING]
    tally = Progress(total=min(total, limit) if limit is not None else total)
    if progress is not None:
        progress(tally)
    errors: list[str] = []
    if workers <= 1:
        factory = make_factory(edition, settings, secret, now)
        signal_stop = stop or threading.Event()
        chosen = make_transport(settings, transport, wait=signal_stop.wait)

        def counted(outcome: str) -> None:
            tally.count(outcome)
            if progress is not None:
                progress(tally)

        try:
            deliver_queued(
                store,
                edition.id,
                factory,
                chosen,
                clock=_clock(now, started),
                batch_size=settings.delivery.batch_size,
                claim_timeout=settings.delivery.claim_timeout_seconds,
                stop=signal_stop,
                budget=Budget(limit),
                on_outcome=counted,
            )
        except TransportUnavailable as exc:
            errors.append(str(exc))
    else:
        job = _Job(
            config_path=str(settings.path),
            edition_id=edition.id,
            transport=transport,
            secret=secret,
            make_factory=make_factory,
            workers=workers,
            start=now,
            start_monotonic=started,
            parent=os.getpid(),
        )
        errors = _run_processes(job, limit=limit, stop=stop, progress=tally, on_progress=progress)
    report.add(tally)
    with store.read() as tx:
        after = tx.ledger.counts(edition.id)
    report.ledger = {str(state): count for state, count in after.items()}
    report.remaining = after[SendState.QUEUED] + after[SendState.SENDING] + after[SendState.FAILED]
    report.stopped = bool(stop and stop.is_set()) or (
        limit is not None and after[SendState.QUEUED] > 0
    )
    report.seconds = time.monotonic() - started
    if errors:
        unique = list(dict.fromkeys(errors))
        raise DeliveryError(
            "; ".join(unique)
            + f" ({report.sent} sent before stopping; run `broadsheet send {edition.id}` again"
            " to send the rest)"
        )
    return report


def send_all(
    store: Store,
    settings: Settings,
    edition_ids: Iterable[str],
    *,
    now: datetime,
    transport: str | None = None,
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
