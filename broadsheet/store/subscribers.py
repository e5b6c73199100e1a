"""Subscribers in the store: one row per subscription.

A subscription is an address and one newsletter (language × frequency); an
address may hold several, each with its own status, topics and id (the id
is what signed links carry). Upserts are keyed by address, language and
frequency. Status changes apply to one subscription (:meth:`Subscribers.set_status`)
or to every subscription of an address (:meth:`Subscribers.set_status_for_address`:
bounces, complaints, ``subscribers remove`` without a newsletter).

A subscription that unsubscribed or bounced is never made active again by
an import or by the command line; only the subscriber's own confirmed
request (double opt-in through `broadsheet serve`) brings it back.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, func, or_, select

from broadsheet.model import Frequency, Subscriber, SubscriberDetails, SubscriberStatus
from broadsheet.store.schema import subscribers as table

FINAL = (SubscriberStatus.UNSUBSCRIBED, SubscriberStatus.BOUNCED)
"""Statuses that imports and the command line never change back to active."""


def subscriber_from_row(row: Row[Any]) -> Subscriber:
    return Subscriber(
        id=row.id,
        email=row.email,
        name=row.name,
        language=row.language,
        frequency=Frequency(row.frequency),
        topics=tuple(row.topics),
        status=SubscriberStatus(row.status),
        created=row.created,
        confirmed=row.confirmed,
        unsubscribed=row.unsubscribed,
        timezone=row.timezone,
    )


def _differs(column: Any, value: str | None) -> Any:
    """SQL for ``column`` not holding ``value`` (NULL-aware)."""
    if value is None:
        return column.is_not(None)
    return or_(column.is_(None), column != value)


def _details(details: SubscriberDetails) -> dict[str, Any]:
    return {
        "name": details.name,
        "language": details.language,
        "frequency": str(details.frequency),
        "topics": list(details.topics),
    }


class Subscribers:
    """Repository of :class:`~broadsheet.model.Subscriber` bound to one transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, subscriber_id: int) -> Subscriber | None:
        """The subscriber with this id."""
        row = self.conn.execute(select(table).where(table.c.id == subscriber_id)).one_or_none()
        return subscriber_from_row(row) if row else None

    def of_address(self, email: str) -> list[Subscriber]:
        """Every subscription of one (normalised) address, by language then frequency."""
        query = (
            select(table)
            .where(table.c.email == email)
            .order_by(table.c.language, table.c.frequency, table.c.id)
        )
        return [subscriber_from_row(row) for row in self.conn.execute(query)]

    def subscription(self, email: str, language: str, frequency: Frequency) -> Subscriber | None:
        """The subscription of ``email`` to one newsletter, if any."""
        row = self.conn.execute(
            select(table).where(
                table.c.email == email,
                table.c.language == language,
                table.c.frequency == str(frequency),
            )
        ).one_or_none()
        return subscriber_from_row(row) if row else None

    def by_email(self, email: str) -> Subscriber | None:
        """The address's first subscription (lowest id), if any.

        An address may hold several subscriptions: code that acts on an
        address uses :meth:`of_address`; this is for callers that only ask
        whether the address is known, or stores holding one per address.
        """
        row = self.conn.execute(
            select(table).where(table.c.email == email).order_by(table.c.id).limit(1)
        ).one_or_none()
        return subscriber_from_row(row) if row else None

    def _bounced(self, email: str) -> bool:
        """Whether a subscription of the address bounced (which stands for the address)."""
        query = select(table.c.id).where(
            table.c.email == email, table.c.status == str(SubscriberStatus.BOUNCED)
        )
        return self.conn.execute(query.limit(1)).first() is not None

    def addresses(self) -> int:
        """How many distinct addresses hold a subscription."""
        query = select(func.count(func.distinct(table.c.email)))
        return int(self.conn.execute(query).scalar_one())

    def upsert_active(
        self,
        details: SubscriberDetails,
        *,
        source: str,
        now: datetime,
        keep: Collection[str] = (),
        timezone: str | None = None,
    ) -> str:
        """Add or update an active subscription the publisher vouches for (CSV, CLI).

        The subscription is the one of ``details.email`` to
        ``details.language`` and ``details.frequency``; the address's other
        subscriptions are left as they are.

        Args:
            keep: fields (``name``, ``topics``) an existing subscription
                keeps as stored: those the input did not give. A new one
                gets them from ``details``.
            timezone: the reader's IANA zone; ``None`` keeps what is stored.

        Returns:
            ``"added"``, ``"updated"``, ``"unchanged"``, or ``"skipped"`` when
            the subscription unsubscribed or bounced earlier (it stays that way),
            or when it is new and another subscription of the address bounced.
        """
        email = details.email
        current = self.subscription(email, details.language, details.frequency)
        if current is not None and keep:
            kept = {name: getattr(current, name) for name in keep if name in ("name", "topics")}
            details = dataclasses.replace(details, **kept)
        values = _details(details)
        if timezone is not None:
            values["timezone"] = timezone
        if current is None and self._bounced(email):
            return "skipped"  # bounces are the address's: no newsletter is added to it
        if current is None:
            self.conn.execute(
                table.insert().values(
                    email=email,
                    status=str(SubscriberStatus.ACTIVE),
                    source=source,
                    created=now,
                    changed=now,
                    confirmed=now,
                    status_reason="",
                    **values,
                )
            )
            return "added"
        if current.status in FINAL:
            return "skipped"
        same = (
            current.status is SubscriberStatus.ACTIVE
            and current.name == details.name
            and current.language == details.language
            and current.frequency == details.frequency
            and current.topics == tuple(details.topics)
            and (timezone is None or current.timezone == timezone)
        )
        if same:
            return "unchanged"
        update = dict(values, changed=now, status=str(SubscriberStatus.ACTIVE))
        if current.status is SubscriberStatus.PENDING:
            update["confirmed"] = now
        self.conn.execute(table.update().where(table.c.id == current.id).values(**update))
        return "updated"

    def add_pending(
        self,
        details: SubscriberDetails,
        *,
        source: str,
        now: datetime,
        timezone: str | None = None,
    ) -> Subscriber:
        """Record a request to subscribe to one newsletter that waits for confirmation.

        A new subscription becomes pending with ``details``, and a pending
        one takes the new details. Anything else is left as it is: an active
        subscription until it confirms, an unsubscribed or bounced one because
        anybody can type an address into a form, and only its owner may
        bring it back (by confirming, or on its preferences page).
        """
        email = details.email
        current = self.subscription(email, details.language, details.frequency)
        values = dict(_details(details), changed=now)
        if timezone is not None:
            values["timezone"] = timezone
        if current is None:
            self.conn.execute(
                table.insert().values(
                    email=email,
                    status=str(SubscriberStatus.PENDING),
                    source=source,
                    created=now,
                    status_reason="",
                    **values,
                )
            )
        elif current.status is SubscriberStatus.PENDING:
            self.conn.execute(
                table.update()
                .where(table.c.id == current.id)
                .values(status=str(SubscriberStatus.PENDING), **values)
            )
        found = self.subscription(email, details.language, details.frequency)
        assert found is not None
        return found

    def set_status(
        self, subscriber_id: int, status: SubscriberStatus, *, now: datetime, reason: str = ""
    ) -> bool:
        """Change a subscriber's status; returns whether it changed."""
        current = self.get(subscriber_id)
        if current is None or current.status is status:
            return False
        values: dict[str, Any] = {"status": str(status), "changed": now, "status_reason": reason}
        stamp = {
            SubscriberStatus.ACTIVE: "confirmed",
            SubscriberStatus.UNSUBSCRIBED: "unsubscribed",
            SubscriberStatus.BOUNCED: "bounced",
        }.get(status)
        if stamp:
            values[stamp] = now
        self.conn.execute(table.update().where(table.c.id == subscriber_id).values(**values))
        return True

    def set_status_for_address(
        self,
        email: str,
        status: SubscriberStatus,
        *,
        now: datetime,
        reason: str = "",
        only: Collection[SubscriberStatus] | None = None,
    ) -> list[Subscriber]:
        """Change the status of every subscription of an address (bounces, complaints).

        Args:
            only: the statuses a subscription must have to change; by
                default every status but the final ones (unsubscribed,
                bounced), so a bounce never turns a reader's own
                unsubscription into something else, and nothing final is
                undone. Pass every status to change them all.

        Returns:
            The subscriptions that changed, as stored afterwards.
        """
        allowed = set(only) if only is not None else set(SubscriberStatus) - set(FINAL)
        changed = [
            s.id
            for s in self.of_address(email)
            if s.status is not status
            and s.status in allowed
            and self.set_status(s.id, status, now=now, reason=reason)
        ]
        return [s for s in self.of_address(email) if s.id in changed]

    def set_timezone(self, email: str, timezone: str | None, *, now: datetime) -> int:
        """Set the reader's time zone on every subscription of an address; how many changed."""
        done = self.conn.execute(
            table.update()
            .where(table.c.email == email, _differs(table.c.timezone, timezone))
            .values(timezone=timezone, changed=now)
        )
        return int(done.rowcount)

    def set_topics(self, subscriber_id: int, topics: Sequence[str], *, now: datetime) -> bool:
        """Change the sections one subscription receives; whether they changed."""
        current = self.get(subscriber_id)
        if current is None or current.topics == tuple(topics):
            return False
        self.conn.execute(
            table.update()
            .where(table.c.id == subscriber_id)
            .values(topics=list(topics), changed=now)
        )
        return True

    def claim_welcome(self, subscriber_id: int, *, now: datetime) -> bool:
        """Mark an active subscriber as welcomed; whether this call did it.

        One statement, so two requests confirming the same address at once
        cannot both claim the welcome: only the one that gets ``True`` sends it.
        """
        done = self.conn.execute(
            table.update()
            .where(
                table.c.id == subscriber_id,
                table.c.welcomed.is_(None),
                table.c.status == str(SubscriberStatus.ACTIVE),
            )
            .values(welcomed=now)
        )
        return done.rowcount == 1

    def unclaim_welcome(self, subscriber_id: int) -> None:
        """Forget a welcome claimed by :meth:`claim_welcome` whose message was not delivered."""
        self.conn.execute(table.update().where(table.c.id == subscriber_id).values(welcomed=None))

    def welcomed(self, subscriber_id: int) -> datetime | None:
        """When the subscriber was sent the welcome message, if ever."""
        return self.conn.execute(
            select(table.c.welcomed).where(table.c.id == subscriber_id)
        ).scalar_one_or_none()

    def set_preferences(
        self,
        subscriber_id: int,
        *,
        language: str,
        frequency: Frequency,
        topics: Sequence[str],
        now: datetime,
    ) -> None:
        """Change what one subscription receives.

        Changing the language or frequency moves the subscription to another
        newsletter; the address must not already hold that one (the store
        refuses a second row for the same newsletter).
        """
        self.conn.execute(
            table.update()
            .where(table.c.id == subscriber_id)
            .values(language=language, frequency=str(frequency), topics=list(topics), changed=now)
        )

    def listing(self, *, status: SubscriberStatus | None = None) -> list[Subscriber]:
        """Every subscription (optionally of one status), by address, language, frequency."""
        query = select(table).order_by(table.c.email, table.c.language, table.c.frequency)
        if status is not None:
            query = query.where(table.c.status == str(status))
        return [subscriber_from_row(row) for row in self.conn.execute(query)]

    def active_page(
        self, language: str, frequency: Frequency, *, after_id: int, limit: int
    ) -> list[Subscriber]:
        """Up to ``limit`` active subscribers with ids above ``after_id``, by id.

        Paging by id (keyset) lets a sender stream any number of subscribers
        in constant memory.
        """
        query = (
            select(table)
            .where(
                table.c.status == str(SubscriberStatus.ACTIVE),
                table.c.language == language,
                table.c.frequency == str(frequency),
                table.c.id > after_id,
            )
            .order_by(table.c.id)
            .limit(limit)
        )
        return [subscriber_from_row(row) for row in self.conn.execute(query)]

    def iter_active(
        self, language: str, frequency: Frequency, *, page: int = 1000
    ) -> Iterator[Subscriber]:
        """Every active subscriber of one language and frequency, streamed by id."""
        after = 0
        while True:
            batch = self.active_page(language, frequency, after_id=after, limit=page)
            yield from batch
            if len(batch) < page:
                return
            after = batch[-1].id

    def counts(self) -> dict[str, int]:
        """Number of subscribers per status."""
        rows = self.conn.execute(select(table.c.status, func.count()).group_by(table.c.status))
        return {row[0]: row[1] for row in rows}
