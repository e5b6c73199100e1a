"""The delivery loop: claim queued ledger rows, deliver each message, record its outcome.

For each message the outcome (sent, failed, bounced) is committed before the
next message goes, so a sender killed at any instant leaves at most the one
message in flight undecided:

- with a Maildir, the next run finds that message's file (its name comes
  from the Message-ID) and records it as sent without writing it again;
- with SMTP, the next run sends it again with the same Message-ID.

**Several connections** (``delivery.connections``, :func:`deliver_over`): a
process runs one :func:`deliver_queued` per connection, each on a thread of
its own with its own transport, store connection, worker name, claims and
recorder. To the ledger each of them is simply one more worker, like another
process or machine: claims are disjoint (``BEGIN IMMEDIATE`` on SQLite,
``FOR UPDATE SKIP LOCKED`` on PostgreSQL), an outcome is only written to a
row its writer holds as ``sending``, and each thread's barrier keeps at most
*its* one message delivered and unrecorded. So nothing new needs proving: a
process with N connections killed at any instant leaves at most N messages
undecided (each sent again with the same Message-ID over SMTP; found by name
in a Maildir), and none of them can be recorded twice. The threads share
only the message factory (which only reads) and, under a lock, the
``--limit`` budget and the outcome callback.

The loop itself (:func:`deliver_queued`) is generic over a message factory,
``Callable[[Subscriber], Message]``; :func:`broadsheet.emails.delivery.sender.send_edition` builds
it once per process from the stored edition with
``broadsheet.emails.edition.compose.PreparedEdition``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from broadsheet.emails.delivery import giving
from broadsheet.emails.delivery.brake import (
    CANCELLED,
    BrakeLimits,
    check_brake_in,
    held_by,
    pause_reason,
)
from broadsheet.emails.delivery.claimants import LIVE_TOKENS, dead_workers, worker_name
from broadsheet.emails.delivery.protocol import Wait, plain_wait
from broadsheet.emails.delivery.retry import deferral, is_temporary
from broadsheet.emails.delivery.transports import DeliveryResult, DeliveryStatus, Message, Transport
from broadsheet.model import SendState, Subscriber, SubscriberStatus
from broadsheet.store import Store, Tx
from broadsheet.store.ledger import Claimed

log = logging.getLogger(__name__)

__all__ = [
    "Budget",
    "MessageFactory",
    "Progress",
    "StopSignal",
    "deliver_over",
    "deliver_queued",
]

MessageFactory = Callable[[Subscriber], Message]
"""Builds one subscriber's message (``PreparedEdition.message``)."""


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
    deferred: int = 0
    held: str = ""
    """What stopped the send, when its edition was paused or cancelled meanwhile."""

    @property
    def done(self) -> int:
        """Messages dealt with so far."""
        return self.sent + self.failed + self.bounced + self.already_sent + self.deferred

    def count(self, outcome: str) -> None:
        """Add one outcome (``sent``, ``failed``, ``bounced``, ``skipped``, ``already``,
        ``deferred``)."""
        name = "already_sent" if outcome == DeliveryStatus.ALREADY else outcome
        setattr(self, name, getattr(self, name) + 1)


class Budget:
    """How many more messages this run may send (``--limit``), shared by workers."""

    def __init__(self, limit: int | None, shared: Any = None) -> None:
        self._shared = shared
        self._left = -1 if limit is None else limit
        self._lock = threading.Lock()  # the connections of one process share it

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
        with self._lock:
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
        with self._lock:
            if self._left >= 0:
                self._left += count


class StopSignal(Protocol):
    """What the loop needs of a stop flag (``threading.Event`` fits)."""

    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


class _EitherStop:
    """Set when the caller's stop is, or when another connection of this process failed."""

    def __init__(self, outer: StopSignal | None) -> None:
        self._outer = outer
        self.halt = threading.Event()

    def is_set(self) -> bool:
        return self.halt.is_set() or bool(self._outer and self._outer.is_set())

    def wait(self, timeout: float | None = None) -> bool:
        deadline = time.monotonic() + (timeout or 0.0)
        while not self.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.halt.wait(min(left, 0.2))
        return True


def deliver_over(
    store: Store,
    edition_id: str,
    factory: MessageFactory,
    make_transport: Callable[[Wait], Transport],
    *,
    connections: int,
    clock: Callable[[], datetime],
    batch_size: int = 200,
    claim_timeout: float = 600.0,
    stop: StopSignal | None = None,
    budget: Budget | None = None,
    on_outcome: Callable[[str], None] | None = None,
    retry_for: timedelta = timedelta(0),
    brake: BrakeLimits | None = None,
    deferred_only: bool = False,
) -> Progress:
    """:func:`deliver_queued` over ``connections`` transports at once, a thread each.

    Args:
        make_transport: makes one connection's transport, given the wait to
            use between retries (it returns early when the send stops).
        connections: how many transports deliver at the same time; with one,
            this is :func:`deliver_queued` in the calling thread.

    The other arguments are :func:`deliver_queued`'s. When one connection
    fails (its error is raised once all have stopped), the others finish the
    message in hand, give their batches back and stop.

    Returns:
        The counts of all the connections together.
    """
    if connections <= 1:
        transport = make_transport(stop.wait if stop is not None else plain_wait)
        return deliver_queued(
            store,
            edition_id,
            factory,
            transport,
            clock=clock,
            batch_size=batch_size,
            claim_timeout=claim_timeout,
            stop=stop,
            budget=budget,
            on_outcome=on_outcome,
            retry_for=retry_for,
            brake=brake,
            deferred_only=deferred_only,
        )
    either = _EitherStop(stop)
    shared_budget = budget or Budget(None)
    lock = threading.Lock()
    report = on_outcome or (lambda _outcome: None)

    def counted(outcome: str) -> None:
        with lock:
            report(outcome)

    tallies: list[Progress] = []
    errors: list[BaseException] = []
    writes = threading.Lock() if store.engine.dialect.name == "sqlite" else None

    def run() -> None:
        try:
            tally = deliver_queued(
                store,
                edition_id,
                factory,
                make_transport(either.wait),
                clock=clock,
                batch_size=batch_size,
                claim_timeout=claim_timeout,
                stop=either,
                budget=shared_budget,
                on_outcome=counted,
                writes=writes,
                retry_for=retry_for,
                brake=brake,
                deferred_only=deferred_only,
            )
        except BaseException as exc:
            either.halt.set()
            with lock:
                errors.append(exc)
            return
        with lock:
            tallies.append(tally)

    threads = [
        threading.Thread(target=run, name=f"broadsheet-connection-{n + 1}", daemon=True)
        for n in range(connections)
    ]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join()
    except BaseException:
        # Ctrl-C in the calling thread: the connections stop between messages.
        either.halt.set()
        for thread in threads:
            thread.join()
        raise
    if errors:
        raise errors[0]
    total = Progress(total=0)
    for tally in tallies:
        for name in ("sent", "failed", "bounced", "skipped", "already_sent", "deferred"):
            setattr(total, name, getattr(total, name) + getattr(tally, name))
        total.held = total.held or tally.held
    return total


class _Session:
    """One connection kept for a worker's many short transactions.

    ``writes``, shared by the connections of one process on SQLite, lets one
    write transaction at a time in: otherwise they meet SQLite's lock and its
    busy handler, which sleeps a millisecond and more before each new try.
    """

    def __init__(self, store: Store, writes: threading.Lock | None = None) -> None:
        self._conn = store.engine.connect().execution_options(broadsheet_write=True)
        self._writes = writes

    def write(self) -> Any:
        return _Transaction(self._conn, self._writes)

    def close(self) -> None:
        self._conn.close()


class _Transaction:
    def __init__(self, conn: Any, writes: threading.Lock | None = None) -> None:
        self._conn = conn
        self._tx: Any = None
        self._writes = writes

    def __enter__(self) -> Tx:
        if self._writes is not None:
            self._writes.acquire()
        try:
            self._tx = self._conn.begin()
        except BaseException:
            if self._writes is not None:
                self._writes.release()
            raise
        return Tx(self._conn)

    def __exit__(self, kind: Any, value: Any, trace: Any) -> None:
        try:
            self._end(kind)
        finally:
            if self._writes is not None:
                self._writes.release()

    def _end(self, kind: Any) -> None:
        if kind is None:
            try:
                self._tx.commit()
            except BaseException:
                # A commit that failed (connection lost, disk full) still leaves
                # the transaction open: close it, so the session can give the
                # batch's rows back and the store's error is what is reported.
                self._tx.rollback()
                raise
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
        next_attempt: datetime | None = None,
    ) -> None:
        self.wait()
        self._pending = self._pool.submit(
            _record, self._session, edition_id, person, result, message_id, now, next_attempt
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


HOLD_CHECK_SECONDS = 2.0
"""How often a sender reads its edition's hold within a batch (a cancel or a
pause stops it this long after, at most, plus the message in flight)."""

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
    writes: threading.Lock | None = None,
    retry_for: timedelta = timedelta(0),
    brake: BrakeLimits | None = None,
    deferred_only: bool = False,
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
        writes: a lock this worker holds through each of its write
            transactions (shared by the connections of one process on SQLite).
        retry_for: how long a message refused for now (4xx) is deferred
            for later tries (:mod:`broadsheet.emails.delivery.retry`); zero
            records it as ``failed`` at once.
        brake: the thresholds checked before each batch
            (:mod:`broadsheet.emails.delivery.brake`); the edition's hold is
            checked before each batch in any case, and a paused or cancelled
            edition claims nothing more.
        deferred_only: claim only deferred rows that are due (the scheduler's
            retries), not queued ones.

    Returns:
        This worker's counts (``held`` says why it stopped early, if it did).

    Raises:
        TransportUnavailable: the transport cannot deliver; rows not
            delivered are given back to the queue first.
    """
    tally = Progress(total=0)
    budget = budget or Budget(None)
    report = on_outcome or (lambda _outcome: None)
    worker = worker_name()
    session = _Session(store, writes)
    refresh_every = claim_timeout / 3

    def hold_now() -> str:
        with store.read() as tx:
            return held_by(tx, edition_id)

    try:
        while not (stop and stop.is_set()):
            want = budget.take(batch_size)
            if want == 0:
                break
            now = clock()
            if brake is not None:
                # The rates are counted outside the claim's write transaction;
                # only a pause writes.
                with store.read() as tx:
                    why = pause_reason(tx, brake, edition_id)
                if why is not None:
                    with session.write() as tx:
                        check_brake_in(tx, brake, edition_id, now)
            with session.write() as tx:
                held = _held(tx, edition_id, now)
                if held:
                    tally.held = held
                    batch = None
                else:
                    dead = dead_workers(tx.ledger.claimants(edition_id))
                    batch = tx.ledger.claim(
                        edition_id,
                        worker=worker,
                        limit=want,
                        now=now,
                        stale_before=now - timedelta(seconds=claim_timeout),
                        dead_workers=dead,
                        deferred_only=deferred_only,
                    )
                    batch = giving.claimed(tx, batch)
            if batch is None:
                budget.give(want)
                log.warning("%s is held, no more messages go: %s", edition_id, tally.held)
                break
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
                hold_now=hold_now,
                stop=stop,
                budget=budget,
                tally=tally,
                report=report,
                retry_for=retry_for,
            )
    finally:
        LIVE_TOKENS.discard(worker.rpartition(":")[2])
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
    retry_for: timedelta = timedelta(0),
    hold_now: Callable[[], str] | None = None,
) -> None:
    """Deliver one claimed batch; each outcome is committed before the next delivery.

    Every :data:`HOLD_CHECK_SECONDS` the edition's hold is read (``hold_now``):
    once it is paused or cancelled, the rest of the batch is given back.
    """
    last_refresh = last_hold_check = time.monotonic()
    position = 0
    recorder = _Recorder(session)
    try:
        while position < len(items):
            if stop and stop.is_set():
                break
            if hold_now is not None and time.monotonic() - last_hold_check > HOLD_CHECK_SECONDS:
                last_hold_check = time.monotonic()
                held = hold_now()
                if held:
                    tally.held = held
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
            try:
                message = factory(person)
            except ValueError as exc:
                # One address or name no message can carry (e.g. stored before
                # such addresses were refused) must not hold up the rest.
                position += 1
                recorder.wait()
                reason = f"no message can be written to this subscriber: {exc}"
                with session.write() as tx:
                    tx.ledger.mark(
                        edition_id, person.id, SendState.SKIPPED, now=clock(), reply=reason
                    )
                log.error("%s skipped: %s", person.email, reason)
                tally.count("skipped")
                report("skipped")
                budget.give(1)
                continue
            result = transport.deliver(
                message, recipient=person.email, resumed=item.resumed, barrier=recorder.wait
            )
            position += 1
            now = clock()
            next_attempt = None
            if result.status is DeliveryStatus.FAILED and is_temporary(result.code):
                wait = deferral(item.attempts, retry_for)
                if wait is not None:
                    next_attempt = now + wait
            recorder.record(edition_id, person, result, message.message_id, now, next_attempt)
            outcome = "deferred" if next_attempt is not None else str(result.status)
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
    next_attempt: datetime | None = None,
) -> None:
    if next_attempt is not None:
        with session.write() as tx:
            tx.ledger.defer(
                edition_id,
                person.id,
                now=now,
                next_attempt=next_attempt,
                reply=result.reply,
                message_id=message_id,
            )
        log.info(
            "%s deferred until %s: %s",
            person.email,
            next_attempt.isoformat(timespec="seconds"),
            result.reply,
        )
        return
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


def _held(tx: Tx, edition_id: str, now: datetime) -> str:
    """What holds the edition now (``""``: nothing); a cancel sweeps its queued rows."""
    held = held_by(tx, edition_id)
    if held.startswith(CANCELLED):
        # Rows another sender gave back after the cancel are swept here.
        tx.ledger.cancel(edition_id, now=now, reason="edition cancelled")
    return held
