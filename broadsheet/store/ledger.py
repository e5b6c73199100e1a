"""The send ledger: one row per edition and subscriber.

A row moves through these states::

    queued ──claim──► sending ──► sent
       ▲                 │  ├───► failed   (temporary trouble; a later run retries it)
       └─────release─────┘  └───► bounced  (the address was refused; never mailed again)
    skipped                           (topics filter, or no longer active when claimed)

A sender *claims* a batch of rows in one transaction (``SELECT … FOR UPDATE
SKIP LOCKED`` on PostgreSQL, so senders on several machines take disjoint
batches; on SQLite the write transaction itself is exclusive), delivers them
one by one and commits each outcome before the next delivery. A claim names
its worker and time; a batch whose worker died is claimed again once the
claim is older than the timeout (or at once, when the worker ran on this
machine and its process is gone). Only rows still ``sending`` are reclaimed,
so at most the one message in flight at a crash can be delivered twice.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    Connection,
    Dialect,
    Row,
    and_,
    case,
    false,
    func,
    or_,
    select,
    text,
    union,
)
from sqlalchemy.dialects import postgresql, sqlite

from broadsheet.model import EventKind, SendState, Subscriber, SubscriberStatus
from broadsheet.store.schema import editions as editions_table
from broadsheet.store.schema import send_ledger as table
from broadsheet.store.schema import subscriber_events as events_table
from broadsheet.store.schema import subscribers as subscribers_table
from broadsheet.store.subscribers import subscriber_from_row
from broadsheet.store.suppressions import suppressed

_CHUNK = 500
"""Rows per multi-row statement: well under every backend's parameter limit."""

# A sender runs this once per message. It goes to the driver as it is:
# SQLAlchemy's own work per execution (building, caching, binding) costs
# more than the database takes to run the update. Times are converted by the
# column type itself, so they are stored exactly as every other write does.
_MARK_SQL = (
    "UPDATE send_ledger SET state = ?, last_reply = ?, attempts = attempts + 1, "
    "message_id = COALESCE(NULLIF(?, ''), message_id), claimed_by = NULL, claimed_at = NULL, "
    "changed = ?, sent = COALESCE(?, sent), next_attempt = NULL "
    "WHERE edition_id = ? AND subscriber_id = ? AND state = 'sending'"
)


_ZONE_AFTER = (
    "SELECT min(timezone) FROM subscribers "
    "WHERE status = :status AND language = :l AND frequency = :f AND timezone > "
)
# A loose index scan: each step seeks the next zone name in the index.
_ZONES_WALK = text(
    "WITH RECURSIVE zones(name) AS ("
    f"SELECT ({_ZONE_AFTER}'') "
    f"UNION ALL SELECT ({_ZONE_AFTER}zones.name) FROM zones WHERE zones.name IS NOT NULL"
    ") SELECT name FROM zones WHERE name IS NOT NULL"
)
_NO_ZONE = text(
    "SELECT 1 FROM subscribers WHERE status = :status AND language = :l AND frequency = :f "
    "AND (timezone IS NULL OR timezone = '') LIMIT 1"
)


@cache
def _mark_statement(dialect: Dialect) -> tuple[str, Callable[[datetime], Any]]:
    """The update in the driver's placeholder style, and the time converter."""
    processor = table.c.changed.type.bind_processor(dialect)
    assert processor is not None
    sql = _MARK_SQL if dialect.paramstyle == "qmark" else _MARK_SQL.replace("?", "%s")
    return sql, processor


SUPPRESSED = "suppressed"
"""The reason kept on a row skipped because its address or domain is suppressed."""

_RETRYING = table.c.state.in_([str(SendState.DEFERRED), str(SendState.SENDING)])
"""Rows a retry may take: deferred, or held by a retry (with their next attempt)."""

DONE = (SendState.SENT, SendState.BOUNCED, SendState.SKIPPED)
"""States a sender never leaves."""


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One ledger row."""

    edition_id: str
    subscriber_id: int
    state: SendState
    attempts: int
    message_id: str
    last_reply: str
    claimed_by: str | None
    claimed_at: datetime | None
    queued: datetime
    sent: datetime | None
    changed: datetime
    next_attempt: datetime | None = None


@dataclass(frozen=True, slots=True)
class Deferred:
    """Deferred rows that share a last reply (``send --status``).

    Attributes:
        reply: the server's last reply (``451 4.7.1 Greylisted…``).
        count: rows waiting with it.
        next_attempt: the earliest of their next attempts.
    """

    reply: str
    count: int
    next_attempt: datetime | None


@dataclass(frozen=True, slots=True)
class Claimed:
    """A row a sender now holds, with the subscriber to deliver to.

    Attributes:
        subscriber: the subscriber as stored now (still active).
        attempts: the delivery this one will be: 1 + the outcomes recorded
            before (a claim its worker died with, untried, does not count).
        resumed: the row was ``sending`` under a worker that died: an earlier
            attempt may already have delivered the message.
    """

    subscriber: Subscriber
    attempts: int
    resumed: bool


@dataclass(frozen=True, slots=True)
class Batch:
    """What one claim took.

    Attributes:
        items: the rows now held, by subscriber id.
        skipped: rows found whose subscriber is no longer active; they were
            marked ``skipped`` instead.
    """

    items: list[Claimed]
    skipped: int = 0


def _entry(row: Row[Any]) -> LedgerEntry:
    return LedgerEntry(
        edition_id=row.edition_id,
        subscriber_id=row.subscriber_id,
        state=SendState(row.state),
        attempts=row.attempts,
        message_id=row.message_id,
        last_reply=row.last_reply,
        claimed_by=row.claimed_by,
        claimed_at=row.claimed_at,
        queued=row.queued,
        sent=row.sent,
        changed=row.changed,
        next_attempt=row.next_attempt,
    )


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Ledger:
    """Repository of send-ledger rows bound to one transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # --- filling --------------------------------------------------------------

    def enqueue(
        self,
        edition_id: str,
        rows: Iterable[tuple[int, SendState, str]],
        *,
        now: datetime,
    ) -> int:
        """Add rows that are not there yet; rows already present stay as they are.

        Args:
            edition_id: the edition.
            rows: ``(subscriber_id, state, reason)`` with state ``queued`` or
                ``skipped``; ``reason`` is kept as the row's last reply.
            now: the time recorded as queued.

        Returns:
            How many rows were added (enqueueing twice adds nothing).
        """
        wanted = {subscriber_id: (state, reason) for subscriber_id, state, reason in rows}
        if not wanted:
            return 0
        present: set[int] = set()
        for chunk in _chunks(sorted(wanted)):
            present.update(
                self.conn.execute(
                    select(table.c.subscriber_id).where(
                        table.c.edition_id == edition_id,
                        table.c.subscriber_id.in_(list(chunk)),
                    )
                ).scalars()
            )
        values = [
            {
                "edition_id": edition_id,
                "subscriber_id": subscriber_id,
                "state": str(state),
                "attempts": 0,
                "message_id": "",
                "last_reply": reason,
                "claimed_by": None,
                "claimed_at": None,
                "queued": now,
                "sent": None,
                "changed": now,
            }
            for subscriber_id, (state, reason) in wanted.items()
            if subscriber_id not in present
        ]
        if values:
            dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
            # A sender on another machine may be adding the same rows: theirs win.
            self.conn.execute(dialect.insert(table).on_conflict_do_nothing(), values)
        return len(values)

    def enqueue_page(
        self,
        edition_id: str,
        *,
        language: str,
        frequency: str,
        wants: Callable[[Sequence[str]], bool],
        after_id: int,
        limit: int,
        now: datetime,
        zones: Collection[str | None] | None = None,
        once_with: Collection[str] = (),
        once_per_address: bool = False,
    ) -> tuple[int, int, int]:
        """Enqueue one page of an edition's recipients, streamed by subscriber id.

        Reads the active subscribers of ``language`` and ``frequency`` with ids
        above ``after_id`` (at most ``limit``), and adds a ``queued`` row for
        each whose topics ``wants`` accepts, a ``skipped`` row for the others.

        Args:
            zones: when given, only readers whose ``timezone`` is one of these
                names (``None``: readers without one) are read.
            once_with: editions of the same newsletter and local date (the
                other offsets' editions of that day): a reader with a row in
                one of them that is not ``skipped`` gets a ``skipped`` row here.
            once_per_address: an edition read for several newsletters (a
                campaign to daily and weekly readers): a subscription whose
                address already has a row in it that is not ``skipped``
                (through its other newsletter) gets a ``skipped`` row.

        Returns:
            ``(last_id, queued, skipped)``: the last subscriber id read (0 when
            the page was empty) and the rows added in each state.
        """
        # Suppressed addresses and domains are skipped in the same query (two
        # primary-key probes of the suppression list per reader).
        barred = suppressed(subscribers_table.c.email, self.conn.dialect.name)
        query = select(
            subscribers_table.c.id, subscribers_table.c.topics, barred, subscribers_table.c.email
        ).where(
            subscribers_table.c.status == str(SubscriberStatus.ACTIVE),
            subscribers_table.c.language == language,
            subscribers_table.c.frequency == frequency,
            subscribers_table.c.id > after_id,
        )
        if zones is not None:
            named = sorted({name for name in zones if name})
            column = subscribers_table.c.timezone
            either: list[Any] = [column.in_(named)] if named else []
            if None in zones or "" in zones:
                either += [column.is_(None), column == ""]
            query = query.where(or_(*either) if either else false())
        people = self.conn.execute(query.order_by(subscribers_table.c.id).limit(limit)).all()
        if not people:
            return 0, 0, 0
        had: dict[int, str] = {}
        if once_with:
            had = dict(
                self.conn.execute(
                    select(table.c.subscriber_id, func.min(table.c.edition_id))
                    .where(
                        table.c.edition_id.in_(sorted(once_with)),
                        table.c.subscriber_id.in_([row[0] for row in people]),
                        table.c.state != str(SendState.SKIPPED),
                    )
                    .group_by(table.c.subscriber_id)
                ).all()
            )
        reached: set[str] = set()
        if once_per_address:
            reached = set(
                self.conn.execute(
                    select(subscribers_table.c.email)
                    .join(table, table.c.subscriber_id == subscribers_table.c.id)
                    .where(
                        table.c.edition_id == edition_id,
                        table.c.state != str(SendState.SKIPPED),
                        subscribers_table.c.email.in_(sorted({row[3] for row in people})),
                    )
                ).scalars()
            )
        todo = []
        passed = []
        for subscriber_id, topics, suppressed_now, email in people:
            if suppressed_now:
                passed.append((subscriber_id, SendState.SKIPPED, SUPPRESSED))
            elif email in reached:
                passed.append((subscriber_id, SendState.SKIPPED, "address had it"))
            elif subscriber_id in had:
                passed.append((subscriber_id, SendState.SKIPPED, f"had {had[subscriber_id]}"))
            elif wants(tuple(topics or ())):
                todo.append((subscriber_id, SendState.QUEUED, ""))
            else:
                passed.append((subscriber_id, SendState.SKIPPED, "topics not in this edition"))
        queued = self.enqueue(edition_id, todo, now=now)
        skipped = self.enqueue(edition_id, passed, now=now)
        return people[-1][0], queued, skipped

    def reader_zones(
        self, newsletters: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], list[str | None]]:
        """``(language, frequency)`` -> the distinct zones of its active readers.

        ``None`` stands for readers without a zone. For each newsletter one
        statement walks the index on ``(status, language, frequency,
        timezone)`` from one zone to the next, so the cost grows with the
        number of distinct zones, not of readers.
        """
        out: dict[tuple[str, str], list[str | None]] = {}
        for language, frequency in sorted(set(newsletters)):
            values = {"status": str(SubscriberStatus.ACTIVE), "l": language, "f": frequency}
            names: list[str | None] = list(self.conn.execute(_ZONES_WALK, values).scalars())
            if self.conn.execute(_NO_ZONE, values).first() is not None:
                names.insert(0, None)
            out[(language, frequency)] = names
        return out

    def same_day(self, edition_id: str, base: str) -> list[str]:
        """The other editions whose id is ``base`` or starts with it (``daily-en-2026-12-03``).

        They are one newsletter's editions of one local date: the site-time
        edition and one per offset in readers' local time.
        """
        rows = self.conn.execute(
            select(editions_table.c.id).where(
                editions_table.c.id.startswith(base, autoescape=True),
                editions_table.c.id != edition_id,
            )
        ).scalars()
        return sorted(rows)

    # --- claiming -------------------------------------------------------------

    def claim(
        self,
        edition_id: str,
        *,
        worker: str,
        limit: int,
        now: datetime,
        stale_before: datetime,
        dead_workers: Collection[str] = (),
        deferred_only: bool = False,
    ) -> Batch:
        """Take up to ``limit`` rows to deliver: old claims, due deferred rows, queued ones.

        Rows claimed by a worker listed in ``dead_workers``, or claimed before
        ``stale_before``, are taken over; ``deferred`` rows are taken once
        their ``next_attempt`` is not after ``now``. With ``deferred_only``
        (the scheduler's retries) only due deferred rows are taken. Rows whose
        subscriber is no longer active become ``skipped`` here and are not
        returned. The caller commits the transaction before delivering anything.
        """
        if limit <= 0:
            return Batch([])
        stale = and_(table.c.state == str(SendState.SENDING), table.c.claimed_at < stale_before)
        if dead_workers:
            stale = or_(
                stale,
                and_(
                    table.c.state == str(SendState.SENDING),
                    table.c.claimed_by.in_(list(dead_workers)),
                ),
            )
        due = and_(table.c.state == str(SendState.DEFERRED), table.c.next_attempt <= now)
        if deferred_only:
            # A retry killed mid-way leaves deferred rows ``sending`` (they
            # keep their next attempt): the next retry takes them over.
            conditions: tuple[Any, ...] = (and_(stale, table.c.next_attempt.is_not(None)), due)
        else:
            conditions = (stale, due, table.c.state == str(SendState.QUEUED))
        picked: list[tuple[int, str, int]] = []
        for condition in conditions:
            want = limit - len(picked)
            if want <= 0:
                break
            query = (
                select(table.c.subscriber_id, table.c.state, table.c.attempts)
                .where(table.c.edition_id == edition_id, condition)
                .order_by(table.c.subscriber_id)
                .limit(want)
                # Several senders (on several machines) claim from one ledger:
                # each skips the rows another is claiming instead of waiting.
                .with_for_update(skip_locked=True)
            )
            picked.extend((row[0], row[1], row[2]) for row in self.conn.execute(query))
        if not picked:
            return Batch([])
        ids = [subscriber_id for subscriber_id, _state, _attempts in picked]
        people: dict[int, Subscriber] = {}
        # An address suppressed after its row was queued (a complaint read
        # mid-send) is skipped here.
        barred_now = suppressed(subscribers_table.c.email, self.conn.dialect.name).label("barred")
        barred: set[int] = set()
        for chunk in _chunks(ids):
            rows = self.conn.execute(
                select(subscribers_table, barred_now).where(subscribers_table.c.id.in_(list(chunk)))
            )
            for row in rows:
                people[row.id] = subscriber_from_row(row)
                if row.barred:
                    barred.add(row.id)
        claimed: list[Claimed] = []
        gone: list[int] = []
        stopped: list[int] = []
        for subscriber_id, state, attempts in picked:
            person = people.get(subscriber_id)
            if person is None or person.status is not SubscriberStatus.ACTIVE:
                gone.append(subscriber_id)
                continue
            if subscriber_id in barred:
                stopped.append(subscriber_id)
                continue
            claimed.append(
                Claimed(person, attempts=attempts + 1, resumed=state == str(SendState.SENDING))
            )
        for reason, rows_ in (("subscriber no longer active", gone), (SUPPRESSED, stopped)):
            for chunk in _chunks(rows_):
                self.conn.execute(
                    table.update()
                    .where(table.c.edition_id == edition_id, table.c.subscriber_id.in_(list(chunk)))
                    .values(
                        state=str(SendState.SKIPPED),
                        last_reply=reason,
                        claimed_by=None,
                        claimed_at=None,
                        changed=now,
                    )
                )
        taken = [item.subscriber.id for item in claimed]
        for chunk in _chunks(taken):
            self.conn.execute(
                table.update()
                .where(table.c.edition_id == edition_id, table.c.subscriber_id.in_(list(chunk)))
                .values(
                    state=str(SendState.SENDING),
                    claimed_by=worker,
                    claimed_at=now,
                    changed=now,
                )
            )
        return Batch(claimed, skipped=len(gone) + len(stopped))

    def claimants(self, edition_id: str) -> list[str]:
        """Workers holding rows of this edition in ``sending``."""
        query = (
            select(table.c.claimed_by)
            .where(table.c.edition_id == edition_id, table.c.state == str(SendState.SENDING))
            .distinct()
        )
        return [name for name in self.conn.execute(query).scalars() if name]

    def refresh(
        self, edition_id: str, subscriber_ids: Sequence[int], *, worker: str, now: datetime
    ) -> set[int]:
        """Renew ``worker``'s claim on these rows; returns the ids it still holds.

        A long batch keeps its claim fresh so that no other sender takes it
        over while it is being worked through.
        """
        held: set[int] = set()
        for chunk in _chunks(list(subscriber_ids)):
            statement = (
                table.update()
                .where(
                    table.c.edition_id == edition_id,
                    table.c.subscriber_id.in_(list(chunk)),
                    table.c.state == str(SendState.SENDING),
                    table.c.claimed_by == worker,
                )
                .values(claimed_at=now)
                .returning(table.c.subscriber_id)
            )
            held.update(self.conn.execute(statement).scalars())
        return held

    def release(
        self, edition_id: str, subscriber_ids: Sequence[int], *, worker: str, now: datetime
    ) -> int:
        """Give back rows ``worker`` claimed but did not deliver.

        They become queued again, or deferred (due at once) when they were
        deferred rows taken by a retry.
        """
        released = 0
        for chunk in _chunks(list(subscriber_ids)):
            released += self.conn.execute(
                table.update()
                .where(
                    table.c.edition_id == edition_id,
                    table.c.subscriber_id.in_(list(chunk)),
                    table.c.state == str(SendState.SENDING),
                    table.c.claimed_by == worker,
                )
                .values(
                    state=case(
                        (table.c.next_attempt.is_(None), str(SendState.QUEUED)),
                        else_=str(SendState.DEFERRED),
                    ),
                    claimed_by=None,
                    claimed_at=None,
                    changed=now,
                )
            ).rowcount
        return released

    # --- outcomes -------------------------------------------------------------

    def mark(
        self,
        edition_id: str,
        subscriber_id: int,
        state: SendState,
        *,
        now: datetime,
        reply: str = "",
        message_id: str = "",
    ) -> bool:
        """Record the outcome of a delivery; returns whether the row was ``sending``.

        Only a row being sent changes, so a late outcome never overwrites a
        row another sender has finished meanwhile.
        """
        sql, stamp = _mark_statement(self.conn.dialect)
        done = self.conn.exec_driver_sql(
            sql,
            (
                str(state),
                reply,
                message_id,
                stamp(now),
                stamp(now) if state is SendState.SENT else None,
                edition_id,
                subscriber_id,
            ),
        )
        return done.rowcount == 1

    def defer(
        self,
        edition_id: str,
        subscriber_id: int,
        *,
        now: datetime,
        next_attempt: datetime,
        reply: str,
        message_id: str = "",
    ) -> bool:
        """Record a temporary failure: the row waits for ``next_attempt``.

        Like :meth:`mark`, only a row being sent changes; returns whether it did.
        """
        values: dict[str, Any] = {
            "state": str(SendState.DEFERRED),
            "last_reply": reply,
            "attempts": table.c.attempts + 1,
            "claimed_by": None,
            "claimed_at": None,
            "changed": now,
            "next_attempt": next_attempt,
        }
        if message_id:
            values["message_id"] = message_id
        done = self.conn.execute(
            table.update()
            .where(
                table.c.edition_id == edition_id,
                table.c.subscriber_id == subscriber_id,
                table.c.state == str(SendState.SENDING),
            )
            .values(**values)
        )
        return done.rowcount == 1

    def deferred(self, edition_id: str) -> list[Deferred]:
        """An edition's deferred rows per last reply, the most first."""
        rows = self.conn.execute(
            select(table.c.last_reply, func.count(), func.min(table.c.next_attempt))
            .where(table.c.edition_id == edition_id, table.c.state == str(SendState.DEFERRED))
            .group_by(table.c.last_reply)
        )
        found = [Deferred(str(row[0] or ""), int(row[1]), row[2]) for row in rows]
        return sorted(found, key=lambda item: (-item.count, item.reply))

    def due_editions(self, now: datetime) -> list[str]:
        """Editions with deferred rows whose next attempt has come, by id (and those
        with deferred rows a retry holds ``sending``, in case its sender died)."""
        query = (
            select(table.c.edition_id)
            .where(_RETRYING, table.c.next_attempt <= now)
            .distinct()
            .order_by(table.c.edition_id)
        )
        return list(self.conn.execute(query).scalars())

    def next_deferred(self) -> datetime | None:
        """The earliest next attempt of any deferred row (``None``: nothing waits),
        counting deferred rows a retry holds ``sending``."""
        query = select(func.min(table.c.next_attempt)).where(_RETRYING)
        value: datetime | None = self.conn.execute(query).scalar_one()
        return value

    def cancel(self, edition_id: str, *, now: datetime, reason: str) -> dict[SendState, int]:
        """Turn an edition's ``queued`` and ``deferred`` rows into ``skipped`` with ``reason``.

        Rows being sent are left to their sender, which stops at its next
        batch and sweeps what it gave back. Returns the rows changed per
        former state.
        """
        changed: dict[SendState, int] = {}
        for state in (SendState.QUEUED, SendState.DEFERRED):
            changed[state] = self.conn.execute(
                table.update()
                .where(table.c.edition_id == edition_id, table.c.state == str(state))
                .values(
                    state=str(SendState.SKIPPED),
                    last_reply=reason,
                    next_attempt=None,
                    changed=now,
                )
            ).rowcount
        return changed

    def brake_counts(self, edition_id: str) -> tuple[int, int, int]:
        """``(handed over, bounced, complaints)`` of one edition, for the brake.

        Handed over: rows ``sent`` or ``bounced`` (messages a server took or
        refused). Bounced: distinct addresses refused at delivery (rows
        ``bounced``) or reported by a hard-bounce event naming the edition.
        Complaints: distinct addresses with a complaint event naming it.
        """
        handed = self.conn.execute(
            select(func.count()).where(
                table.c.edition_id == edition_id,
                table.c.state.in_([str(SendState.SENT), str(SendState.BOUNCED)]),
            )
        ).scalar_one()
        refused = (
            select(func.lower(subscribers_table.c.email).label("email"))
            .select_from(
                table.join(subscribers_table, subscribers_table.c.id == table.c.subscriber_id)
            )
            .where(table.c.edition_id == edition_id, table.c.state == str(SendState.BOUNCED))
        )

        def reported(kind: EventKind) -> Any:
            return select(func.lower(events_table.c.email).label("email")).where(
                events_table.c.edition_id == edition_id, events_table.c.kind == str(kind)
            )

        bounced = union(refused, reported(EventKind.HARD_BOUNCE)).subquery()
        complained = reported(EventKind.COMPLAINT).distinct().subquery()
        bounces = self.conn.execute(select(func.count()).select_from(bounced)).scalar_one()
        complaints = self.conn.execute(select(func.count()).select_from(complained)).scalar_one()
        return int(handed), int(bounces), int(complaints)

    def given_up(self, edition_id: str, *, max_attempts: int) -> int:
        """``failed`` rows tried ``max_attempts`` times: no run sends them again."""
        return int(
            self.conn.execute(
                select(func.count()).where(
                    table.c.edition_id == edition_id,
                    table.c.state == str(SendState.FAILED),
                    table.c.attempts >= max_attempts,
                )
            ).scalar_one()
        )

    def requeue_failed(self, edition_id: str, *, max_attempts: int, now: datetime) -> int:
        """Queue ``failed`` rows again for a new run, unless tried ``max_attempts`` times."""
        return self.conn.execute(
            table.update()
            .where(
                table.c.edition_id == edition_id,
                table.c.state == str(SendState.FAILED),
                table.c.attempts < max_attempts,
            )
            .values(state=str(SendState.QUEUED), changed=now)
        ).rowcount

    # --- reading --------------------------------------------------------------

    def get(self, edition_id: str, subscriber_id: int) -> LedgerEntry | None:
        """One row."""
        row = self.conn.execute(
            select(table).where(
                table.c.edition_id == edition_id, table.c.subscriber_id == subscriber_id
            )
        ).one_or_none()
        return _entry(row) if row else None

    def entries(
        self,
        edition_id: str,
        *,
        state: SendState | None = None,
        after_id: int = 0,
        limit: int = 1000,
    ) -> list[LedgerEntry]:
        """Rows of one edition by subscriber id, a page at a time."""
        query = (
            select(table)
            .where(table.c.edition_id == edition_id, table.c.subscriber_id > after_id)
            .order_by(table.c.subscriber_id)
            .limit(limit)
        )
        if state is not None:
            query = query.where(table.c.state == str(state))
        return [_entry(row) for row in self.conn.execute(query)]

    def states(self, edition_id: str, subscriber_ids: Sequence[int]) -> dict[int, SendState]:
        """The state of each of these subscribers' rows (absent rows are left out)."""
        found: dict[int, SendState] = {}
        for chunk in _chunks(list(subscriber_ids)):
            rows = self.conn.execute(
                select(table.c.subscriber_id, table.c.state).where(
                    table.c.edition_id == edition_id, table.c.subscriber_id.in_(list(chunk))
                )
            )
            found.update((row[0], SendState(row[1])) for row in rows)
        return found

    def counts(self, edition_id: str) -> dict[SendState, int]:
        """Rows of one edition per state (every state present, zeros included)."""
        rows = self.conn.execute(
            select(table.c.state, func.count())
            .where(table.c.edition_id == edition_id)
            .group_by(table.c.state)
        )
        counts = dict.fromkeys(SendState, 0)
        counts.update((SendState(row[0]), row[1]) for row in rows)
        return counts

    def reasons(self, edition_id: str, state: SendState = SendState.SKIPPED) -> dict[str, int]:
        """Rows of one edition in ``state`` per stored reason (last reply), most first."""
        rows = self.conn.execute(
            select(table.c.last_reply, func.count())
            .where(table.c.edition_id == edition_id, table.c.state == str(state))
            .group_by(table.c.last_reply)
        )
        found = [(str(row[0] or ""), int(row[1])) for row in rows]
        return dict(sorted(found, key=lambda item: (-item[1], item[0])))

    def editions(self) -> list[str]:
        """Ids of the editions that have ledger rows."""
        return list(self.conn.execute(select(table.c.edition_id).distinct()).scalars())
