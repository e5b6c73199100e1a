"""Consent records, their export, erasure on request and the purge of unconfirmed addresses.

Consent is read from each subscription's events (``subscriber_events``):
the form records ``requested`` and ``confirmed`` (double opt-in), a CSV
import ``imported``, ``subscribers add`` ``added``; each may carry the
version of the consent wording shown (``detail.wording``) and the client's
network, truncated (``detail.network``). A subscription stored before
events were kept falls back to its own columns (its source, creation and
confirmation times).

``subscribers export`` writes one row per subscription with the columns of
:data:`COLUMNS` (CSV), or one object per address with its subscriptions
(the same fields) and its whole event history (JSON).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from broadsheet.config import Settings
from broadsheet.model import EventKind, SubscriberEvent
from broadsheet.store import Store
from broadsheet.store.privacy import AddressRecord, Erased, Purged, SubscriptionRecord
from broadsheet.store.suppressions import forget_digest, forget_key

COLUMNS = (
    "email",
    "name",
    "language",
    "frequency",
    "topics",
    "timezone",
    "status",
    "consent",
    "requested",
    "requested_from",
    "confirmed",
    "confirmed_from",
    "wording",
    "created",
    "unsubscribed",
)
"""The columns of ``subscribers export --format csv`` (documented in docs/privacy.md)."""

FORMATS = ("csv", "json")
"""What ``subscribers export`` writes."""

GRANTS = {
    EventKind.CONFIRMED: "form",
    EventKind.IMPORTED: "import",
    EventKind.ADDED: "command",
}
"""Events that give consent, and the ``consent`` they stand for."""

_SOURCES = {"web": "form", "form": "form", "csv": "import", "import": "import"}
"""A subscription's stored source as a ``consent`` value (anything else: ``command``)."""


def _time(moment: datetime | None) -> str:
    """A UTC time as ISO 8601 (``2026-12-03T18:40:02Z``); empty for none."""
    if moment is None:
        return ""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _detail(event: SubscriberEvent | None, *names: str) -> str:
    if event is None:
        return ""
    for name in names:
        value = event.detail.get(name)
        if value not in (None, ""):
            return str(value)
    return ""


def consent_row(
    subscription: SubscriptionRecord, events: Sequence[SubscriberEvent]
) -> dict[str, str]:
    """One subscription's export row: what it is and how consent to it was given.

    Args:
        subscription: the subscription.
        events: the events of its address, oldest first; those of other
            subscriptions are passed over (events naming none count for all).
    """
    own = [e for e in events if e.subscriber_id in (None, subscription.id)]
    grant = next((e for e in reversed(own) if e.kind in GRANTS), None)
    requests = [e for e in own if e.kind is EventKind.REQUESTED]
    if grant is not None:
        requests = [e for e in requests if e.time <= grant.time]
    request = requests[-1] if requests else None
    if grant is not None:
        consent = GRANTS[grant.kind]
    elif request is not None:
        consent = "form"
    else:
        consent = _SOURCES.get(subscription.source, "command")
    requested = request.time if request is not None else None
    if requested is None and grant is None and consent == "form":
        requested = subscription.created
    confirmed = grant.time if grant is not None else subscription.confirmed
    return {
        "email": subscription.email,
        "name": subscription.name,
        "language": subscription.language,
        "frequency": subscription.frequency,
        "topics": ";".join(subscription.topics),
        "timezone": subscription.timezone or "",
        "status": subscription.status,
        "consent": consent,
        "requested": _time(requested),
        "requested_from": _detail(request, "network", "client_network"),
        "confirmed": _time(confirmed),
        "confirmed_from": _detail(grant, "network", "client_network")
        if grant is not None and grant.kind is EventKind.CONFIRMED
        else "",
        "wording": _detail(request, "wording", "wording_version")
        or _detail(grant, "wording", "wording_version"),
        "created": _time(subscription.created),
        "unsubscribed": _time(subscription.unsubscribed),
    }


def event_json(event: SubscriberEvent) -> dict[str, Any]:
    """One event as the JSON export writes it."""
    return {
        "kind": str(event.kind),
        "time": _time(event.time),
        "source": event.source,
        "subscription": event.subscriber_id,
        "edition": event.edition_id,
        "message_id": event.message_id or None,
        "detail": dict(event.detail),
    }


def _addresses(store: Store, *, page: int) -> Iterator[AddressRecord]:
    after = ""
    while True:
        with store.read() as tx:
            batch = tx.privacy.page(after=after, limit=page)
        yield from batch
        if len(batch) < page:
            return
        after = batch[-1].email


def export_chunks(store: Store, *, format: str, page: int = 500) -> Iterator[str]:
    """``subscribers export`` as pieces of text, a page of addresses at a time.

    Args:
        format: ``csv`` (one row per subscription, :data:`COLUMNS`) or
            ``json`` (``{"subscribers": [{"email", "subscriptions", "events"}]}``).
        page: addresses read per transaction.
    """
    if format not in FORMATS:
        raise ValueError(f"unknown export format {format!r}")  # a bug in the caller
    if format == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for record in _addresses(store, page=page):
            for subscription in record.subscriptions:
                writer.writerow(consent_row(subscription, record.events))
            if buffer.tell() > 65536:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()
        return
    yield '{"subscribers": ['
    first = True
    for record in _addresses(store, page=page):
        item = {
            "email": record.email,
            "subscriptions": [
                {
                    name: value
                    for name, value in consent_row(s, record.events).items()
                    if name != "email"
                }
                for s in record.subscriptions
            ],
            "events": [event_json(event) for event in record.events],
        }
        yield ("\n  " if first else ",\n  ") + json.dumps(item, ensure_ascii=False, sort_keys=False)
        first = False
    yield "\n]}\n" if not first else "]}\n"


@dataclass(frozen=True)
class Forgotten:
    """What ``subscribers forget`` did.

    Attributes:
        erased: rows deleted, per kind.
        already: the address had been forgotten before.
    """

    erased: Erased
    already: bool


def forget(store: Store, settings: Settings, email: str, *, now: datetime) -> Forgotten:
    """Erase a (normalised) address everywhere it is stored, keeping only its keyed digest.

    One transaction: the address is gone from every table and its digest
    kept, or nothing changed.
    """
    secret = store.link_secret(settings.secret(), env_name=settings.links.secret_env)
    digest = forget_digest(forget_key(secret), email)
    with store.write() as tx:
        erased = tx.privacy.erase(email)
        new = tx.suppressions.remember_forgotten(digest, now=now)
    store.checkpoint()
    return Forgotten(erased=erased, already=not new)


def unforget(store: Store, settings: Settings, email: str) -> bool:
    """Let a forgotten address be added again (its owner asked); whether it was forgotten."""
    with store.read() as tx:
        if not tx.suppressions.any_forgotten():
            return False
    secret = store.link_secret(settings.secret(), env_name=settings.links.secret_env)
    with store.write() as tx:
        return tx.suppressions.unforget(forget_digest(forget_key(secret), email))


def purge_unconfirmed(store: Store, settings: Settings, *, now: datetime) -> Purged | None:
    """Delete subscriptions never confirmed after ``inbound.purge_unconfirmed_days``.

    Returns:
        What was deleted (counts only), or ``None`` when the setting is 0 (never).
    """
    days = settings.inbound.purge_unconfirmed_days
    if days <= 0:
        return None
    with store.write() as tx:
        return tx.privacy.purge_unconfirmed(before=now - timedelta(days=days))
