"""The figures of ``broadsheet report``: per edition, and subscriptions over time.

Everything is counted from what the store already keeps, and nothing here
knows a reader by more than a subscription id: the send ledger (one row per
edition and subscription), the subscriber events that come back (bounces,
complaints, unsubscribes), the subscriptions' own times, and the counted
links' clicks (per edition and link, never per reader).

Per edition (:func:`edition_figures`):

==================  ============================================================
audience            ledger rows of the edition (every subscription it was for)
sent                rows ``sent`` (a server took the message)
bounced             distinct addresses refused at delivery (rows ``bounced``)
                    or reported by a hard bounce naming the edition
complaints          distinct addresses with a complaint naming the edition
unsubscribed        subscriptions the edition was sent to that left within
                    seven days of their message (or with an unsubscribe
                    naming the edition)
clicks              counted-link clicks by block, and the donation block's by
                    appeal variant (``[links] count_clicks``)
==================  ============================================================

Over time (:func:`weekly_figures`), week by week (weeks start on Monday, in
UTC): the subscriptions active at the end of each week by language and
frequency, those that began (confirmed, imported or added) and ended
(unsubscribed, bounced, suspended) in it, and churn: ended over active at
the start of the week. An address erased by ``subscribers forget`` is gone
from these figures too.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Select, func, select, union

from broadsheet.model import EventKind, SendState, SubscriberStatus
from broadsheet.store.schema import edition_links as links_table
from broadsheet.store.schema import editions as editions_table
from broadsheet.store.schema import send_ledger as ledger_table
from broadsheet.store.schema import subscriber_events as events_table
from broadsheet.store.schema import subscribers as subscribers_table

if TYPE_CHECKING:
    from broadsheet.store import Tx

__all__ = [
    "UNSUBSCRIBE_WINDOW",
    "EditionFigures",
    "WeekFigures",
    "edition_figures",
    "edition_ids",
    "newsletters",
    "weekly_figures",
]

UNSUBSCRIBE_WINDOW = timedelta(days=7)
"""An unsubscribe counts against an edition when it comes this soon after its message."""


@dataclass(frozen=True)
class EditionFigures:
    """What happened to one edition.

    Attributes:
        id: the edition.
        language: its language.
        frequency: ``daily`` or ``weekly`` (a campaign has its audience's).
        slot: the time it belongs to (UTC).
        subject: its subject line.
        campaign: whether it is a one-off campaign.
        audience: ledger rows (subscriptions it was for).
        sent: messages a server took.
        waiting: rows not done yet (queued, sending, deferred, failed).
        skipped: rows skipped (topics, no longer active, cancelled).
        bounced: distinct addresses refused or reported as hard bounces.
        complaints: distinct addresses that reported it as spam.
        unsubscribed: subscriptions that left within seven days of their message.
        window_open: the seven days have not all passed yet (the figure may grow).
        clicks: counted-link clicks by block, in the message's order.
        donate_clicks: clicks on the donation block by appeal variant.
        counted: whether its links were counted at all.
    """

    id: str
    language: str
    frequency: str
    slot: datetime
    subject: str
    campaign: bool
    audience: int
    sent: int
    waiting: int
    skipped: int
    bounced: int
    complaints: int
    unsubscribed: int
    window_open: bool
    clicks: dict[str, int] = field(default_factory=dict)
    donate_clicks: dict[str, int] = field(default_factory=dict)
    counted: bool = False

    @property
    def total_clicks(self) -> int:
        """Every counted click of the edition."""
        return sum(self.clicks.values())


@dataclass(frozen=True)
class WeekFigures:
    """Subscriptions in one week.

    Attributes:
        start: the week's Monday.
        active: subscriptions active at the week's end, by ``(language, frequency)``.
        began: subscriptions that began in the week.
        ended: subscriptions that ended in the week.
        churn: ``ended`` over the subscriptions active when the week began (0 when none were).
    """

    start: date
    active: dict[tuple[str, str], int]
    began: int
    ended: int
    churn: float

    @property
    def total(self) -> int:
        """Every subscription active at the week's end."""
        return sum(self.active.values())

    @property
    def growth(self) -> int:
        """Net change over the week."""
        return self.began - self.ended


_BLOCK_ORDER = (
    "masthead",
    "lead",
    "read_also",
    "new",
    "top_reads",
    "donation",
    "other_editions",
    "web_copy",
    "archive",
)
_WAITING = (SendState.QUEUED, SendState.SENDING, SendState.DEFERRED, SendState.FAILED)


def edition_ids(tx: Tx, *, limit: int | None = None) -> list[str]:
    """The stored editions, newest first (by slot, then id)."""
    conn = tx.conn
    query = select(editions_table.c.id).order_by(
        editions_table.c.slot.desc(), editions_table.c.id.desc()
    )
    if limit is not None:
        query = query.limit(limit)
    return list(conn.execute(query).scalars())


def _states(conn: Connection, edition_id: str) -> Counter[str]:
    query = (
        select(ledger_table.c.state, func.count())
        .where(ledger_table.c.edition_id == edition_id)
        .group_by(ledger_table.c.state)
    )
    return Counter({state: int(count) for state, count in conn.execute(query)})


def _distinct_addresses(conn: Connection, edition_id: str) -> tuple[int, int]:
    """``(bounced, complaints)``: distinct addresses, as the brake counts them."""
    refused = (
        select(func.lower(subscribers_table.c.email).label("email"))
        .select_from(
            ledger_table.join(
                subscribers_table, subscribers_table.c.id == ledger_table.c.subscriber_id
            )
        )
        .where(
            ledger_table.c.edition_id == edition_id,
            ledger_table.c.state == str(SendState.BOUNCED),
        )
    )

    def reported(kind: EventKind) -> Select[tuple[str]]:
        return select(func.lower(events_table.c.email).label("email")).where(
            events_table.c.edition_id == edition_id, events_table.c.kind == str(kind)
        )

    bounced = union(refused, reported(EventKind.HARD_BOUNCE)).subquery()
    complained = reported(EventKind.COMPLAINT).distinct().subquery()
    bounces = conn.execute(select(func.count()).select_from(bounced)).scalar_one()
    complaints = conn.execute(select(func.count()).select_from(complained)).scalar_one()
    return int(bounces), int(complaints)


def _unsubscribed(conn: Connection, edition_id: str) -> int:
    """Subscriptions the edition reached that left within the window of their message."""
    events = events_table
    ledger = ledger_table
    after_message = (
        select(ledger.c.subscriber_id, ledger.c.sent, events.c.time)
        .select_from(ledger.join(events, events.c.subscriber_id == ledger.c.subscriber_id))
        .where(
            ledger.c.edition_id == edition_id,
            ledger.c.sent.is_not(None),
            events.c.kind == str(EventKind.UNSUBSCRIBED),
            events.c.time >= ledger.c.sent,
        )
    )
    left = {
        subscriber
        for subscriber, sent, time in conn.execute(after_message)
        if time - sent <= UNSUBSCRIBE_WINDOW
    }
    named = select(events.c.subscriber_id, events.c.email).where(
        events.c.edition_id == edition_id, events.c.kind == str(EventKind.UNSUBSCRIBED)
    )
    for subscriber, email in conn.execute(named):
        left.add(subscriber if subscriber is not None else email)
    return len(left)


def _clicks(conn: Connection, edition_id: str) -> tuple[dict[str, int], dict[str, int], bool]:
    """Clicks by block and the donation block's by variant; whether any link was counted."""
    query = (
        select(links_table.c.block, links_table.c.variant, func.sum(links_table.c.clicks))
        .where(links_table.c.edition_id == edition_id)
        .group_by(links_table.c.block, links_table.c.variant)
    )
    by_block: Counter[str] = Counter()
    by_variant: Counter[str] = Counter()
    counted = False
    for block, variant, clicks in conn.execute(query):
        counted = True
        by_block[block] += int(clicks or 0)
        if block == "donation":
            by_variant[variant or "appeal"] += int(clicks or 0)

    def rank(block: str) -> tuple[int, str]:
        known = block in _BLOCK_ORDER
        return (_BLOCK_ORDER.index(block) if known else len(_BLOCK_ORDER), block)

    blocks = {block: by_block[block] for block in sorted(by_block, key=rank)}
    variants = dict(sorted(by_variant.items()))
    return blocks, variants, counted


def edition_figures(tx: Tx, edition_id: str, *, now: datetime) -> EditionFigures | None:
    """The figures of ``edition_id`` as of ``now``, or ``None`` when it is not stored."""
    conn = tx.conn
    row = conn.execute(
        select(
            editions_table.c.id,
            editions_table.c.language,
            editions_table.c.frequency,
            editions_table.c.slot,
            editions_table.c.subject,
            editions_table.c.extra,
        ).where(editions_table.c.id == edition_id)
    ).first()
    if row is None:
        return None
    states = _states(conn, edition_id)
    bounced, complaints = _distinct_addresses(conn, edition_id)
    clicks, donate, counted = _clicks(conn, edition_id)
    last_sent = conn.execute(
        select(func.max(ledger_table.c.sent)).where(ledger_table.c.edition_id == edition_id)
    ).scalar_one()
    extra = row.extra if isinstance(row.extra, dict) else {}
    return EditionFigures(
        id=row.id,
        language=row.language,
        frequency=row.frequency,
        slot=row.slot,
        subject=row.subject,
        campaign=extra.get("kind") == "campaign",
        audience=sum(states.values()),
        sent=states[str(SendState.SENT)],
        waiting=sum(states[str(state)] for state in _WAITING),
        skipped=states[str(SendState.SKIPPED)],
        bounced=bounced,
        complaints=complaints,
        unsubscribed=_unsubscribed(conn, edition_id),
        window_open=last_sent is None or now - last_sent < UNSUBSCRIBE_WINDOW,
        clicks=clicks,
        donate_clicks=donate,
        counted=counted,
    )


def _monday(moment: datetime) -> date:
    day = moment.date()
    return day - timedelta(days=day.weekday())


def weekly_figures(tx: Tx, *, now: datetime, weeks: int) -> list[WeekFigures]:
    """Subscriptions week by week, the last ``weeks`` weeks up to the one holding ``now``.

    A subscription is active from its confirmation (an import or a command
    confirms at once) until it is unsubscribed, bounced or suspended (a
    suspension's time is the subscription's last change).
    """
    now = now.astimezone(UTC)
    table = subscribers_table
    rows = tx.conn.execute(
        select(
            table.c.language,
            table.c.frequency,
            table.c.status,
            table.c.confirmed,
            table.c.unsubscribed,
            table.c.bounced,
            table.c.changed,
        ).where(table.c.confirmed.is_not(None))
    )
    # Per newsletter, the sorted times its subscriptions began and ended: how
    # many are active at t is (began by t) - (ended by t), found by bisection,
    # so the weeks cost no more than sorting the subscriptions once.
    began_at: dict[tuple[str, str], list[datetime]] = {}
    ended_at: dict[tuple[str, str], list[datetime]] = {}
    for language, frequency, status, confirmed, unsubscribed, bounced, changed in rows:
        ends = [moment for moment in (unsubscribed, bounced) if moment is not None]
        if status == str(SubscriberStatus.SUSPENDED):
            ends.append(changed)
        end = min(ends) if ends else None
        if end is not None and end < confirmed:
            # Active again: it left once, then subscribed anew; otherwise an
            # empty span (it never was active after its confirmation).
            end = None if status == str(SubscriberStatus.ACTIVE) else confirmed
        key = (language, frequency)
        began_at.setdefault(key, []).append(confirmed)
        if end is not None:
            ended_at.setdefault(key, []).append(end)
    for times in (*began_at.values(), *ended_at.values()):
        times.sort()
    every_start = sorted(moment for times in began_at.values() for moment in times)
    every_end = sorted(moment for times in ended_at.values() for moment in times)

    def active_at(moment: datetime) -> dict[tuple[str, str], int]:
        counts = {
            key: bisect_right(times, moment) - bisect_right(ended_at.get(key, []), moment)
            for key, times in began_at.items()
        }
        return {key: count for key, count in sorted(counts.items()) if count}

    def between(times: list[datetime], begin: datetime, finish: datetime) -> int:
        return bisect_right(times, finish) - bisect_right(times, begin)

    last = _monday(now)
    out: list[WeekFigures] = []
    for back in range(weeks - 1, -1, -1):
        start = last - timedelta(weeks=back)
        begin = datetime(start.year, start.month, start.day, tzinfo=UTC)
        finish = min(begin + timedelta(days=7), now)
        at_start = sum(active_at(begin).values())
        ended = between(every_end, begin, finish)
        out.append(
            WeekFigures(
                start=start,
                active=active_at(finish),
                began=between(every_start, begin, finish),
                ended=ended,
                churn=ended / at_start if at_start else 0.0,
            )
        )
    return out


def newsletters(weeks: Sequence[WeekFigures]) -> list[tuple[str, str]]:
    """Every ``(language, frequency)`` that had subscriptions in ``weeks``, sorted."""
    return sorted({key for week in weeks for key in week.active})
