"""What recognised notifications do to the subscribers they name.

A :class:`Batch` acts on a batch of notifications inside one write
transaction: it reads everything they name in a few statements (the
subscriptions, their ledger rows, their addresses' bounce history), decides
each message in turn in memory (so two bounces for one address in one batch
see each other), and writes every change back at once. Each message gets
the outcome recorded for it (``hard-bounce``, ``soft-bounce``, ``delayed``,
``complaint``, ``unsubscribe``, ``auto-replies``, ``human``, or
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

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from broadsheet.config import Settings
from broadsheet.emails.edition import returnpath, tokens
from broadsheet.emails.inbound.detect import Failure, Kind, Notification
from broadsheet.model import EventKind, SendState, Subscriber, SubscriberEvent, SubscriberStatus
from broadsheet.store import Tx
from broadsheet.store.inbound import SentRow

log = logging.getLogger(__name__)

__all__ = ["Batch", "soft_bounce_count"]

NO_EXPIRY = 100 * 365 * 86400
"""Signed tokens quoted by a complaint are accepted whatever their age."""

SENT_STATES = (SendState.SENT, SendState.BOUNCED)
"""Ledger states of a message that left: only these can bounce."""

OPEN = (SubscriberStatus.ACTIVE, SubscriberStatus.PENDING, SubscriberStatus.SUSPENDED)
"""Statuses a bounce, a suspension or a complaint changes; unsubscribed and
bounced are final and stay as they are."""


@dataclass(frozen=True, slots=True)
class Target:
    """The subscription and ledger row a notification is about."""

    subscriber: Subscriber
    entry: SentRow


class Batch:
    """Notifications acted on together, in one transaction.

    Args:
        tx: the write transaction.
        notes: the notifications (their order is the order they are decided in).
        settings: the publication's settings.
        secret: the link-signing secret (tokens are verified with it).
        now: the time recorded.
    """

    def __init__(
        self,
        tx: Tx,
        notes: Sequence[Notification],
        settings: Settings,
        *,
        secret: str,
        now: datetime,
    ) -> None:
        self.tx = tx
        self.settings = settings
        self.secret = secret
        self.now = now
        self.bounce_address = settings.inbound.bounce_address
        self.events: list[SubscriberEvent] = []
        self.statuses: dict[int, tuple[SubscriberStatus, str]] = {}
        self.bounced_rows: list[tuple[str, int, str]] = []
        self._verified: dict[str, returnpath.ReturnToken | str | None] = {}
        self._load(notes)

    # --- reading ------------------------------------------------------------------

    def _load(self, notes: Sequence[Notification]) -> None:
        ids: set[int] = set()
        self._quoted: dict[str, SentRow | None] = {}
        for note in notes:
            if note.kind in (Kind.BOUNCE, Kind.COMPLAINT):
                for address in note.return_tokens:
                    returned = self._return_token(address)
                    if isinstance(returned, returnpath.ReturnToken):
                        ids.add(returned.subscriber_id)
                for token in note.unsubscribe_tokens:
                    subscriber_id = self._unsubscribe_token(token, NO_EXPIRY)
                    if subscriber_id is not None:
                        ids.add(subscriber_id)
                if not self._has_tokens(note):
                    for message_id in note.original_ids:
                        entry = self._by_message_id(message_id)
                        if entry is not None:
                            ids.add(entry.subscriber_id)
            elif note.kind is Kind.UNSUBSCRIBE:
                max_age = self.settings.links.unsubscribe_max_age_days * 86400
                for token in note.unsubscribe_tokens:
                    subscriber_id = self._unsubscribe_token(token, max_age)
                    if subscriber_id is not None:
                        ids.add(subscriber_id)
        self.subs: dict[int, Subscriber] = self.tx.inbound.subscriptions_of(ids) if ids else {}
        emails = {s.email for s in self.subs.values()}
        self.by_email: dict[str, list[int]] = {}
        for subscription in sorted(self.subs.values(), key=lambda s: s.id):
            self.by_email.setdefault(subscription.email, []).append(subscription.id)
        self.entries: dict[int, list[SentRow]] = {}
        for entry in self.tx.inbound.sent_to(list(self.subs)) if self.subs else []:
            self.entries.setdefault(entry.subscriber_id, []).append(entry)
        self.history: dict[str, list[SubscriberEvent]] = {}
        for event in self.tx.inbound.bounce_events(emails) if emails else []:
            self.history.setdefault(event.email, []).append(event)

    def _return_token(self, address: str) -> returnpath.ReturnToken | str | None:
        if address in self._verified:
            return self._verified[address]
        token = returnpath.token_in(address, self.bounce_address)
        named: returnpath.ReturnToken | str | None = None
        if token is not None:
            named = returnpath.verify(self.secret, token) or "a forged or altered return-path token"
        self._verified[address] = named
        return named

    def _has_tokens(self, note: Notification) -> bool:
        """Whether a report carries a token of ours (then its Message-ID alone is not trusted)."""
        return bool(note.unsubscribe_tokens) or any(
            self._return_token(address) is not None for address in note.return_tokens
        )

    def _unsubscribe_token(self, token: str, max_age: int) -> int | None:
        try:
            return tokens.verify(self.secret, token, "unsubscribe", max_age)
        except tokens.BadToken:
            return None

    def _by_message_id(self, message_id: str) -> SentRow | None:
        if message_id not in self._quoted:
            local, _, domain = message_id.strip("<>").rpartition("@")
            edition_id = local.rpartition(".")[0]
            found = None
            if domain.lower() == self.settings.site.domain.lower() and edition_id:
                found = self.tx.inbound.by_message_id(edition_id, message_id)
            self._quoted[message_id] = found
        return self._quoted[message_id]

    # --- deciding -----------------------------------------------------------------

    def apply(self, note: Notification) -> tuple[str, str | None]:
        """Decide one notification; the outcome to record and the edition concerned."""
        kind = note.kind
        if kind is Kind.UNSUBSCRIBE:
            return self._unsubscribe(note), None
        if kind not in (Kind.BOUNCE, Kind.COMPLAINT):
            return str(kind), None
        found = self.find_target(note)
        if isinstance(found, str):
            return f"unmatched: {found}", None
        if kind is Kind.COMPLAINT:
            return self._complaint(note, found), found.entry.edition_id
        return self._bounce(note, found), found.entry.edition_id

    def find_target(self, note: Notification) -> Target | str:
        """The ledger row a bounce or complaint is about, or why there is none."""
        problem = "names no message of ours"
        for address in note.return_tokens:
            named = self._return_token(address)
            if named is None:
                continue
            if isinstance(named, str):
                problem = named
                continue
            subscriber = self.subs.get(named.subscriber_id)
            if subscriber is None:
                return f"subscriber #{named.subscriber_id} does not exist (any more)"
            for entry in self.entries.get(subscriber.id, []):
                if returnpath.edition_digest(entry.edition_id) == named.edition_digest:
                    if entry.state not in SENT_STATES:
                        return f"edition {entry.edition_id} was never sent to #{subscriber.id}"
                    return Target(subscriber, entry)
            return f"no edition sent to #{subscriber.id} matches the return path"
        ids = set(note.original_ids)
        for token in note.unsubscribe_tokens:
            subscriber_id = self._unsubscribe_token(token, NO_EXPIRY)
            if subscriber_id is None:
                problem = "a forged or altered List-Unsubscribe token"
                continue
            subscriber = self.subs.get(subscriber_id)
            if subscriber is None:
                return f"subscriber #{subscriber_id} does not exist (any more)"
            for entry in self.entries.get(subscriber.id, []):
                if entry.message_id in ids and entry.state in SENT_STATES:
                    return Target(subscriber, entry)
            problem = f"no message sent to #{subscriber.id} has the quoted Message-ID"
        if not self._has_tokens(note):
            for message_id in note.original_ids:
                quoted = self._by_message_id(message_id)
                if quoted is None or quoted.state not in SENT_STATES:
                    problem = f"the quoted Message-ID {message_id} was never sent"
                    continue
                subscriber = self.subs.get(quoted.subscriber_id)
                if subscriber is not None:
                    return Target(subscriber, self._current(quoted))
        return problem

    def _current(self, entry: SentRow) -> SentRow:
        for known in self.entries.get(entry.subscriber_id, []):
            if known.edition_id == entry.edition_id:
                return known
        return entry

    def _event(
        self,
        note: Notification,
        subscriber: Subscriber,
        kind: EventKind,
        *,
        edition_id: str | None,
        source: str = "inbox",
        detail: dict[str, object] | None = None,
    ) -> SubscriberEvent:
        event = SubscriberEvent(
            email=subscriber.email,
            kind=kind,
            time=self.now,
            source=source,
            subscriber_id=subscriber.id,
            edition_id=edition_id,
            message_id=note.message_id[:900],
            detail=detail or {},
        )
        self.events.append(event)
        if kind in (EventKind.SOFT_BOUNCE, EventKind.HARD_BOUNCE):
            self.history.setdefault(subscriber.email, []).append(event)
        return event

    def _set_status(self, email: str, status: SubscriberStatus, reason: str) -> list[Subscriber]:
        """Every open subscription of ``email`` to ``status``; those that changed."""
        changed = []
        for subscriber_id in self.by_email.get(email, []):
            current = self.subs[subscriber_id]
            if current.status is status or current.status not in OPEN:
                continue
            self.statuses[subscriber_id] = (status, reason)
            self.subs[subscriber_id] = dataclasses.replace(current, status=status)
            changed.append(self.subs[subscriber_id])
        return changed

    def _bounce(self, note: Notification, target: Target) -> str:
        failure = _worst(note.failures)
        person, entry = target.subscriber, target.entry
        if failure is None:
            return "delayed"
        detail: dict[str, object] = {"status": failure.status}
        if failure.diagnostic:
            detail["diagnostic"] = failure.diagnostic
        if failure.address and failure.address != person.email:
            detail["reported"] = failure.address
        if failure.hard:
            self._event(
                note, person, EventKind.HARD_BOUNCE, edition_id=entry.edition_id, detail=detail
            )
            if entry.state is SendState.SENT:
                reply = f"{failure.status} {failure.diagnostic}".strip()
                self.bounced_rows.append((entry.edition_id, person.id, reply))
                rows = self.entries[person.id]
                rows[rows.index(entry)] = dataclasses.replace(entry, state=SendState.BOUNCED)
            changed = self._set_status(
                person.email, SubscriberStatus.BOUNCED, f"hard bounce {failure.status}"
            )
            log.info(
                "%s bounced (%s, %s): %d subscription(s) marked bounced",
                person.email,
                failure.status,
                entry.edition_id,
                len(changed),
            )
            return "hard-bounce"
        self._event(note, person, EventKind.SOFT_BOUNCE, edition_id=entry.edition_id, detail=detail)
        days = self.settings.inbound.soft_bounce_days
        entries = [e for i in self.by_email.get(person.email, []) for e in self.entries.get(i, [])]
        counted = soft_bounce_count(
            self.history.get(person.email, []), entries, now=self.now, days=days
        )
        limit = self.settings.inbound.soft_bounce_limit
        if counted < limit:
            log.info("%s soft bounce %d of %d (%s)", person.email, counted, limit, failure.status)
            return "soft-bounce"
        changed = self._set_status(
            person.email, SubscriberStatus.SUSPENDED, f"{counted} soft bounces in {days} days"
        )
        for subscription in changed:
            self._event(
                note,
                subscription,
                EventKind.SUSPENDED,
                edition_id=entry.edition_id,
                detail={"soft_bounces": counted},
            )
        if changed:
            log.info("%s suspended after %d soft bounces", person.email, counted)
        return "soft-bounce"

    def _complaint(self, note: Notification, target: Target) -> str:
        person, entry = target.subscriber, target.entry
        self._event(
            note,
            person,
            EventKind.COMPLAINT,
            edition_id=entry.edition_id,
            detail={"feedback_type": note.feedback_type},
        )
        changed = self._set_status(person.email, SubscriberStatus.UNSUBSCRIBED, "complaint")
        for subscription in changed:
            self._event(
                note,
                subscription,
                EventKind.UNSUBSCRIBED,
                edition_id=entry.edition_id,
                detail={"reason": "complaint"},
            )
        if self.tx.suppressions.add(person.email, "complaint", "inbox", self.now):
            self._event(
                note,
                person,
                EventKind.SUPPRESSED,
                edition_id=entry.edition_id,
                detail={"reason": "complaint"},
            )
        log.info(
            "%s complained (%s): %d subscription(s) unsubscribed, address suppressed",
            person.email,
            entry.edition_id,
            len(changed),
        )
        return "complaint"

    def _unsubscribe(self, note: Notification) -> str:
        max_age = self.settings.links.unsubscribe_max_age_days * 86400
        for token in note.unsubscribe_tokens:
            try:
                subscriber_id = tokens.verify(self.secret, token, "unsubscribe", max_age)
            except tokens.BadToken as exc:
                return f"unmatched: {exc}"
            person = self.subs.get(subscriber_id)
            if person is None:
                return f"unmatched: subscriber #{subscriber_id} does not exist (any more)"
            if person.status in OPEN:
                self.statuses[person.id] = (SubscriberStatus.UNSUBSCRIBED, "mailto")
                self.subs[person.id] = dataclasses.replace(
                    person, status=SubscriberStatus.UNSUBSCRIBED
                )
                self._event(
                    note,
                    person,
                    EventKind.UNSUBSCRIBED,
                    edition_id=None,
                    source="mailto",
                    detail={"newsletter": f"{person.language} {person.frequency}"},
                )
                log.info("%s unsubscribed (mailto)", person.email)
            return "unsubscribe"
        return "unmatched: no unsubscribe token"

    # --- writing ------------------------------------------------------------------

    def write(self) -> None:
        """Write every decided change (in the batch's transaction)."""
        inbound = self.tx.inbound
        if self.statuses:
            inbound.set_statuses(self.statuses, now=self.now)
        if self.bounced_rows:
            inbound.mark_bounced(self.bounced_rows, now=self.now)
        if self.events:
            inbound.record_events(self.events)


def _worst(failures: tuple[Failure, ...]) -> Failure | None:
    hard = [f for f in failures if f.hard]
    if hard:
        return hard[0]
    return failures[0] if failures else None


def soft_bounce_count(
    history: Sequence[SubscriberEvent],
    entries: Sequence[SentRow],
    *,
    now: datetime,
    days: int,
) -> int:
    """Soft bounces of one address that count now (see the module's policies).

    Args:
        history: the address's bounce events (soft and hard), oldest first.
        entries: the ledger rows of every subscription of the address.
        now: the time of the count.
        days: ``inbound.soft_bounce_days``.

    The messages that bounced softly within ``days`` are ordered by the time
    they were sent; the last message delivered (sent, never bounced) before
    the newest of them resets the count: only bounced messages sent after it
    count.
    """
    since = now - timedelta(days=days)
    sent_at = {(e.subscriber_id, e.edition_id): e.sent or e.queued for e in entries}
    bounced_ever = {(e.subscriber_id or 0, e.edition_id or "") for e in history}
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
