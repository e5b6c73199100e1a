"""What a recognised notification does to the subscribers it names.

Each function runs inside one write transaction and returns the outcome
recorded for the message (``hard-bounce``, ``complaint``…, or
``unmatched: why``).

Mapping a notification to one ledger row, in order of trust:

1. the **return-path token** (:mod:`~broadsheet.emails.edition.returnpath`) in
   the address the notification was sent to (the envelope recipient,
   X-Original-To, Delivered-To, To) or in the quoted original's
   Return-Path: it names the subscription and the edition;
2. the quoted original's **List-Unsubscribe token** (signed) naming the
   subscription, with its **Message-ID** naming the row;
3. the quoted original's **Message-ID** alone, looked up in its edition.

A row must exist and have been sent (``sent`` or already ``bounced``): a
notification about a message never sent changes nothing.

Policies:

* **hard bounce** (a failed 5.x.x): every subscription of the address
  becomes ``bounced`` at once (those already ``unsubscribed`` stay so); the
  ledger row becomes ``bounced``.
* **soft bounce** (a failed 4.x.x): recorded. An address with
  ``soft_bounce_limit`` counted soft bounces within ``soft_bounce_days`` is
  ``suspended``. *A later delivery resets the count*: of the messages that
  bounced softly within the window, only those sent after the last message
  that reached the address (sent, and never bounced; any of its
  newsletters) before the newest of them count. So bounce, delivery,
  bounce counts one; three editions bouncing in a row count three. (A
  message sent after the newest bounce does not reset it yet: its own
  bounce may still be on the way.)
* **complaint** (ARF): every subscription of the address is
  ``unsubscribed`` and the address is added to the suppression list
  (reason ``complaint``), so no form request can subscribe it again.
* **mailto unsubscribe**: the one subscription the signed token names is
  ``unsubscribed`` at once.
* A DSN reporting only ``delayed`` (or delivered) recipients changes nothing.

Every event is recorded in ``subscriber_events`` with its time, kind, the
source ``inbox`` (``mailto`` for unsubscribe requests) and the Message-ID of
the notification.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from broadsheet.config import Settings
from broadsheet.emails.edition import returnpath, tokens
from broadsheet.emails.inbound.detect import Failure, Kind, Notification
from broadsheet.model import EventKind, SendState, Subscriber, SubscriberEvent, SubscriberStatus
from broadsheet.store import Tx
from broadsheet.store.ledger import LedgerEntry

log = logging.getLogger(__name__)

__all__ = ["apply"]

NO_EXPIRY = 100 * 365 * 86400
"""Signed tokens quoted by a complaint are accepted whatever their age."""

SENT_STATES = (SendState.SENT, SendState.BOUNCED)
"""Ledger states of a message that left: only these can bounce."""


@dataclass(frozen=True, slots=True)
class Target:
    """The subscription and ledger row a notification is about."""

    subscriber: Subscriber
    entry: LedgerEntry


def apply(
    tx: Tx, notification: Notification, settings: Settings, *, secret: str, now: datetime
) -> tuple[str, str | None]:
    """Act on ``notification``; the outcome to record and the edition concerned."""
    kind = notification.kind
    if kind is Kind.UNSUBSCRIBE:
        return _unsubscribe(tx, notification, settings, secret=secret, now=now), None
    if kind not in (Kind.BOUNCE, Kind.COMPLAINT):
        return str(kind), None
    found = find_target(tx, notification, settings, secret=secret)
    if isinstance(found, str):
        return f"unmatched: {found}", None
    edition_id = found.entry.edition_id
    if kind is Kind.COMPLAINT:
        return _complaint(tx, notification, found, now=now), edition_id
    return _bounce(tx, notification, found, settings, now=now), edition_id


def find_target(
    tx: Tx, notification: Notification, settings: Settings, *, secret: str
) -> Target | str:
    """The ledger row a bounce or complaint is about, or why there is none."""
    problem = "names no message of ours"
    bounce_address = settings.inbound.bounce_address
    for address in notification.return_tokens:
        token = returnpath.token_in(address, bounce_address)
        if token is None:
            continue
        named = returnpath.verify(secret, token)
        if named is None:
            problem = "a forged or altered return-path token"
            continue
        subscriber = tx.subscribers.get(named.subscriber_id)
        if subscriber is None:
            return f"subscriber #{named.subscriber_id} does not exist (any more)"
        for entry in tx.inbound.sent_to([subscriber.id]):
            if returnpath.edition_digest(entry.edition_id) == named.edition_digest:
                if entry.state not in SENT_STATES:
                    return f"edition {entry.edition_id} was never sent to #{subscriber.id}"
                return Target(subscriber, entry)
        return f"no edition sent to #{subscriber.id} matches the return path"
    ids = set(notification.original_ids)
    for token in notification.unsubscribe_tokens:
        try:
            subscriber_id = tokens.verify(secret, token, "unsubscribe", NO_EXPIRY)
        except tokens.BadToken:
            problem = "a forged or altered List-Unsubscribe token"
            continue
        subscriber = tx.subscribers.get(subscriber_id)
        if subscriber is None:
            return f"subscriber #{subscriber_id} does not exist (any more)"
        for entry in tx.inbound.sent_to([subscriber.id]):
            if entry.message_id in ids and entry.state in SENT_STATES:
                return Target(subscriber, entry)
        problem = f"no message sent to #{subscriber.id} has the quoted Message-ID"
    for message_id in notification.original_ids:
        local, _, domain = message_id.strip("<>").rpartition("@")
        edition_id = local.rpartition(".")[0]
        if domain.lower() != settings.site.domain.lower() or not edition_id:
            continue
        quoted = tx.inbound.by_message_id(edition_id, message_id)
        if quoted is None or quoted.state not in SENT_STATES:
            problem = f"the quoted Message-ID {message_id} was never sent"
            continue
        subscriber = tx.subscribers.get(quoted.subscriber_id)
        if subscriber is not None:
            return Target(subscriber, quoted)
    return problem


def _event(
    notification: Notification,
    subscriber: Subscriber,
    kind: EventKind,
    now: datetime,
    *,
    edition_id: str | None,
    source: str = "inbox",
    detail: dict[str, object] | None = None,
) -> SubscriberEvent:
    return SubscriberEvent(
        email=subscriber.email,
        kind=kind,
        time=now,
        source=source,
        subscriber_id=subscriber.id,
        edition_id=edition_id,
        message_id=notification.message_id[:900],
        detail=detail or {},
    )


def _worst(failures: tuple[Failure, ...]) -> Failure | None:
    hard = [f for f in failures if f.hard]
    if hard:
        return hard[0]
    return failures[0] if failures else None


def _bounce(
    tx: Tx, notification: Notification, target: Target, settings: Settings, *, now: datetime
) -> str:
    failure = _worst(notification.failures)
    person, entry = target.subscriber, target.entry
    if failure is None:
        return "delayed"
    detail: dict[str, object] = {"status": failure.status}
    if failure.diagnostic:
        detail["diagnostic"] = failure.diagnostic
    if failure.address and failure.address != person.email:
        detail["reported"] = failure.address
    if failure.hard:
        tx.events.record(
            _event(
                notification,
                person,
                EventKind.HARD_BOUNCE,
                now,
                edition_id=entry.edition_id,
                detail=detail,
            )
        )
        reply = f"{failure.status} {failure.diagnostic}".strip()
        tx.inbound.mark_bounced(entry.edition_id, person.id, reply=reply, now=now)
        changed = tx.subscribers.set_status_for_address(
            person.email, SubscriberStatus.BOUNCED, now=now, reason=f"hard bounce {failure.status}"
        )
        log.info(
            "%s bounced (%s, %s): %d subscription(s) marked bounced",
            person.email,
            failure.status,
            entry.edition_id,
            len(changed),
        )
        return "hard-bounce"
    tx.events.record(
        _event(
            notification,
            person,
            EventKind.SOFT_BOUNCE,
            now,
            edition_id=entry.edition_id,
            detail=detail,
        )
    )
    counted = soft_bounces(tx, person.email, now=now, days=settings.inbound.soft_bounce_days)
    limit = settings.inbound.soft_bounce_limit
    if counted < limit:
        log.info("%s soft bounce %d of %d (%s)", person.email, counted, limit, failure.status)
        return "soft-bounce"
    changed = tx.subscribers.set_status_for_address(
        person.email,
        SubscriberStatus.SUSPENDED,
        now=now,
        reason=f"{counted} soft bounces in {settings.inbound.soft_bounce_days} days",
    )
    for subscription in changed:
        tx.events.record(
            _event(
                notification,
                subscription,
                EventKind.SUSPENDED,
                now,
                edition_id=entry.edition_id,
                detail={"soft_bounces": counted},
            )
        )
    log.info("%s suspended after %d soft bounces", person.email, counted)
    return "soft-bounce"


def soft_bounces(tx: Tx, email: str, *, now: datetime, days: int) -> int:
    """Soft bounces of ``email`` that count now (see the module's policies).

    The messages that bounced softly within ``days`` are ordered by the time
    they were sent; the last message delivered (sent, never bounced) before
    the newest of them resets the count: only bounced messages sent after it
    count.
    """
    since = now - timedelta(days=days)
    entries = tx.inbound.sent_to([s.id for s in tx.subscribers.of_address(email)])
    sent_at = {(e.subscriber_id, e.edition_id): e.sent or e.queued for e in entries}
    history = tx.events.history(email)
    bounced_ever = {
        (e.subscriber_id or 0, e.edition_id or "")
        for e in history
        if e.kind in (EventKind.SOFT_BOUNCE, EventKind.HARD_BOUNCE)
    }
    delivered = [
        sent_at[(e.subscriber_id, e.edition_id)]
        for e in entries
        if e.state is SendState.SENT and (e.subscriber_id, e.edition_id) not in bounced_ever
    ]
    counted: dict[tuple[int, str], datetime] = {}
    for event in history:
        if event.kind is not EventKind.SOFT_BOUNCE or event.time < since:
            continue
        key = (event.subscriber_id or 0, event.edition_id or "")
        if key in sent_at:
            counted[key] = sent_at[key]
    if not counted:
        return 0
    newest = max(counted.values())
    reset = max((when for when in delivered if when < newest), default=None)
    return sum(1 for when in counted.values() if reset is None or when > reset)


def _complaint(tx: Tx, notification: Notification, target: Target, *, now: datetime) -> str:
    person, entry = target.subscriber, target.entry
    tx.events.record(
        _event(
            notification,
            person,
            EventKind.COMPLAINT,
            now,
            edition_id=entry.edition_id,
            detail={"feedback_type": notification.feedback_type},
        )
    )
    changed = tx.subscribers.set_status_for_address(
        person.email,
        SubscriberStatus.UNSUBSCRIBED,
        now=now,
        reason="complaint",
        only=(SubscriberStatus.ACTIVE, SubscriberStatus.PENDING, SubscriberStatus.SUSPENDED),
    )
    for subscription in changed:
        tx.events.record(
            _event(
                notification,
                subscription,
                EventKind.UNSUBSCRIBED,
                now,
                edition_id=entry.edition_id,
                detail={"reason": "complaint"},
            )
        )
    if tx.suppressions.add(person.email, "complaint", "inbox", now):
        tx.events.record(
            _event(
                notification,
                person,
                EventKind.SUPPRESSED,
                now,
                edition_id=entry.edition_id,
                detail={"reason": "complaint"},
            )
        )
    log.info(
        "%s complained (%s): %d subscription(s) unsubscribed, address suppressed",
        person.email,
        entry.edition_id,
        len(changed),
    )
    return "complaint"


def _unsubscribe(
    tx: Tx, notification: Notification, settings: Settings, *, secret: str, now: datetime
) -> str:
    max_age = settings.links.unsubscribe_max_age_days * 86400
    for token in notification.unsubscribe_tokens:
        try:
            subscriber_id = tokens.verify(secret, token, "unsubscribe", max_age)
        except tokens.BadToken as exc:
            return f"unmatched: {exc}"
        person = tx.subscribers.get(subscriber_id)
        if person is None:
            return f"unmatched: subscriber #{subscriber_id} does not exist (any more)"
        if person.status in (
            SubscriberStatus.ACTIVE,
            SubscriberStatus.PENDING,
            SubscriberStatus.SUSPENDED,
        ):
            tx.subscribers.set_status(
                person.id, SubscriberStatus.UNSUBSCRIBED, now=now, reason="mailto"
            )
            tx.events.record(
                _event(
                    notification,
                    person,
                    EventKind.UNSUBSCRIBED,
                    now,
                    edition_id=None,
                    source="mailto",
                    detail={"newsletter": f"{person.language} {person.frequency}"},
                )
            )
            log.info("%s unsubscribed (mailto)", person.email)
        return "unsubscribe"
    return "unmatched: no unsubscribe token"
