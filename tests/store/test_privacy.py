"""Suppressions, erasure and the purge of unconfirmed addresses, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from broadsheet.config import Settings
from broadsheet.model import EventKind, Frequency, SendState, SubscriberEvent
from broadsheet.store import Store
from broadsheet.store.schema import (
    TABLES,
    donations,
    rate_limits,
    send_ledger,
    subscriber_events,
    subscribers,
)
from broadsheet.store.suppressions import forget_digest, forget_key, suppressed
from tests.delivery.helpers import add_subscribers, save_edition

EDITION = "weekly-en-2026-11-23"


def _subscription(
    store: Store,
    email: str,
    *,
    now: datetime,
    status: str = "active",
    language: str = "en",
    frequency: str = "weekly",
    changed: datetime | None = None,
) -> int:
    with store.write() as tx:
        done = tx.conn.execute(
            subscribers.insert().values(
                email=email,
                name="Anna",
                language=language,
                frequency=frequency,
                topics=[],
                status=status,
                source="web",
                created=changed or now,
                changed=changed or now,
                confirmed=now if status == "active" else None,
                status_reason="",
            )
        )
        key = done.inserted_primary_key
        assert key is not None
        return int(key[0])


def _event(store: Store, email: str, kind: EventKind, *, now: datetime, sid: int | None) -> None:
    with store.write() as tx:
        tx.events.record(
            SubscriberEvent(
                email=email,
                kind=kind,
                time=now,
                source="form",
                subscriber_id=sid,
                detail={"network": "192.0.2.0/24"},
            )
        )


def _donation(store: Store, email: str, *, now: datetime, key: str) -> None:
    with store.write() as tx:
        tx.conn.execute(
            donations.insert().values(
                email=email,
                given=now,
                amount_minor=500,
                currency="EUR",
                recurring=False,
                source="gifts.csv",
                row_key=key,
                imported=now,
            )
        )


def test_patterns_cover_their_address_or_their_whole_domain(
    any_store: Store, fixed_now: datetime
) -> None:
    with any_store.write() as tx:
        assert tx.suppressions.add("anna@mail.example", "complaint", "inbox", fixed_now)
        assert tx.suppressions.add("@spam.example", "manual", "command", fixed_now)
        assert not tx.suppressions.add("@spam.example", "other", "command", fixed_now)
    with any_store.read() as tx:
        assert tx.suppressions.matches("anna@mail.example") == "anna@mail.example"
        assert tx.suppressions.matches("boris@mail.example") is None
        assert tx.suppressions.matches("boris@spam.example") == "@spam.example"
        # A domain is that domain, not its subdomains.
        assert tx.suppressions.matches("boris@eu.spam.example") is None
        assert tx.suppressions.covering(["x@spam.example", "y@ok.example"]) == {
            "x@spam.example": "@spam.example"
        }
        listed = tx.suppressions.listing()
        assert [s.pattern for s in listed] == ["@spam.example", "anna@mail.example"]
        assert listed[0].reason == "manual"  # the first reason stays
    with any_store.write() as tx:
        assert tx.suppressions.remove("@spam.example")
        assert not tx.suppressions.remove("@spam.example")
    with any_store.read() as tx:
        assert tx.suppressions.matches("boris@spam.example") is None


def test_the_suppressed_condition_is_one_query_over_any_number(
    any_store: Store, fixed_now: datetime
) -> None:
    add_subscribers(any_store, 30, now=fixed_now)  # reader0@example.org …
    add_subscribers(any_store, 5, now=fixed_now, prefix="other", frequency=Frequency.DAILY)
    _subscription(any_store, "someone@blocked.example", now=fixed_now)
    with any_store.write() as tx:
        tx.suppressions.add("reader7@example.org", "manual", "command", fixed_now)
        tx.suppressions.add("@blocked.example", "manual", "command", fixed_now)
        tx.suppressions.add("@example", "manual", "command", fixed_now)  # no false match
    with any_store.read() as tx:
        condition = suppressed(subscribers.c.email, any_store.dialect)
        hit = set(tx.conn.execute(select(subscribers.c.email).where(condition)).scalars())
        missed = tx.conn.execute(select(subscribers.c.email).where(~condition)).scalars().all()
    assert hit == {"reader7@example.org", "someone@blocked.example"}
    assert len(missed) == 34


def _rows_naming(store: Store, email: str) -> list[str]:
    """Every row of every table whose text mentions ``email``."""
    found = []
    with store.read() as tx:
        for table in TABLES:
            for row in tx.conn.execute(select(table)):
                if email in repr(tuple(row)):
                    found.append(f"{table.name}: {tuple(row)!r}")
    return found


def test_erase_leaves_no_row_naming_the_address(any_store: Store, fixed_now: datetime) -> None:
    save_edition(any_store, now=fixed_now)
    gone, kept = "anna@mail.example", "boris@mail.example"
    ids = {
        email: [
            _subscription(any_store, email, now=fixed_now, frequency=frequency)
            for frequency in ("weekly", "daily")
        ]
        for email in (gone, kept)
    }
    for email, subscription_ids in ids.items():
        _event(any_store, email, EventKind.CONFIRMED, now=fixed_now, sid=subscription_ids[0])
        _donation(any_store, email, now=fixed_now, key=email.split("@")[0])
    with any_store.write() as tx:
        queued = [(i, SendState.QUEUED, "") for i in (ids[gone][0], ids[kept][0])]
        tx.ledger.enqueue(EDITION, queued, now=fixed_now)
        tx.suppressions.add(gone, "complaint", "inbox", fixed_now)
        tx.suppressions.add("@mail.example", "manual", "command", fixed_now)
        tx.conn.execute(
            rate_limits.insert().values(
                bucket="subscribe-inbox", key=gone, tokens=1.0, updated=fixed_now
            )
        )
    assert _rows_naming(any_store, gone)
    with any_store.write() as tx:
        erased = tx.privacy.erase(gone)
    assert (erased.subscriptions, erased.ledger_rows, erased.events) == (2, 1, 1)
    assert (erased.donations, erased.suppressions, erased.rate_limits) == (1, 1, 1)
    assert _rows_naming(any_store, gone) == []
    with any_store.read() as tx:
        assert tx.privacy.stored(gone) == 0
        # The other address and the domain entry are untouched.
        assert tx.privacy.stored(kept) == 4
        assert tx.suppressions.matches(gone) == "@mail.example"
        assert len(tx.conn.execute(select(send_ledger)).all()) == 1


def test_digests_are_keyed() -> None:
    one = forget_digest(forget_key("secret one"), "anna@mail.example")
    assert len(one) == 64 and one == forget_digest(forget_key("secret one"), "anna@mail.example")
    assert one != forget_digest(forget_key("secret two"), "anna@mail.example")
    assert one != hashlib.sha256(b"anna@mail.example").hexdigest()


def test_purge_takes_old_unconfirmed_subscriptions_only(
    any_store: Store, fixed_now: datetime
) -> None:
    old = fixed_now - timedelta(days=40)
    lone = _subscription(
        any_store, "never@mail.example", now=fixed_now, status="pending", changed=old
    )
    fresh = _subscription(any_store, "fresh@mail.example", now=fixed_now, status="pending")
    mixed_active = _subscription(any_store, "mixed@mail.example", now=fixed_now)
    mixed_pending = _subscription(
        any_store,
        "mixed@mail.example",
        now=fixed_now,
        status="pending",
        frequency="daily",
        changed=old,
    )
    _event(any_store, "never@mail.example", EventKind.REQUESTED, now=old, sid=lone)
    _event(any_store, "never@mail.example", EventKind.PREFERENCES, now=old, sid=None)
    _event(any_store, "fresh@mail.example", EventKind.REQUESTED, now=fixed_now, sid=fresh)
    _event(any_store, "mixed@mail.example", EventKind.CONFIRMED, now=old, sid=mixed_active)
    _event(any_store, "mixed@mail.example", EventKind.REQUESTED, now=old, sid=mixed_pending)
    with any_store.write() as tx:
        purged = tx.privacy.purge_unconfirmed(before=fixed_now - timedelta(days=30), batch=1)
    assert (purged.subscriptions, purged.addresses, purged.events) == (2, 1, 3)
    with any_store.read() as tx:
        left = sorted(tx.conn.execute(select(subscribers.c.id)).scalars())
        events = tx.conn.execute(select(subscriber_events.c.email, subscriber_events.c.kind)).all()
    assert left == sorted([fresh, mixed_active])
    assert sorted(tuple(e) for e in events) == [
        ("fresh@mail.example", "requested"),
        ("mixed@mail.example", "confirmed"),
    ]


def test_forget_on_sqlite_leaves_no_bytes_of_the_address(
    settings: Settings, fixed_now: datetime
) -> None:
    from broadsheet.content.privacy import forget

    store = Store.open(settings.store.url)
    try:
        add_subscribers(store, 300, now=fixed_now)
        sid = _subscription(store, "secret-reader@mail.example", now=fixed_now)
        _event(store, "secret-reader@mail.example", EventKind.CONFIRMED, now=fixed_now, sid=sid)
        _donation(store, "secret-reader@mail.example", now=fixed_now, key="k1")
        add_subscribers(store, 300, now=fixed_now, prefix="late")
        database = Path(store.where)

        def on_disk() -> bytes:
            return b"".join(
                p.read_bytes() for p in database.parent.glob(database.name + "*") if p.is_file()
            )

        assert b"secret-reader@mail.example" in on_disk()
        forget(store, settings, "secret-reader@mail.example", now=fixed_now)
        assert b"secret-reader" not in on_disk()
        assert b"reader299@example.org" in on_disk()
    finally:
        store.close()


def test_the_ledger_skips_suppressed_readers_when_queueing_and_claiming(
    any_store: Store, fixed_now: datetime
) -> None:
    save_edition(any_store, now=fixed_now)
    ids = add_subscribers(any_store, 6, now=fixed_now)  # reader0..5@example.org
    with any_store.write() as tx:
        tx.suppressions.add("reader1@example.org", "complaint", "inbox", fixed_now)
        last, queued, skipped = tx.ledger.enqueue_page(
            EDITION,
            language="en",
            frequency="weekly",
            wants=lambda topics: True,
            after_id=0,
            limit=100,
            now=fixed_now,
        )
    assert (last, queued, skipped) == (ids[-1], 5, 1)
    with any_store.write() as tx:
        # A complaint read mid-send: the whole domain is suppressed now.
        tx.suppressions.add("@example.org", "manual", "command", fixed_now)
        batch = tx.ledger.claim(
            EDITION, worker="w", limit=10, now=fixed_now, stale_before=fixed_now
        )
        reasons = tx.ledger.reasons(EDITION)
    assert batch.items == [] and batch.skipped == 5
    assert reasons == {"suppressed": 6}


def test_export_pages_through_every_address(any_store: Store, fixed_now: datetime) -> None:
    from broadsheet.content.privacy import export_chunks

    add_subscribers(any_store, 7, now=fixed_now)
    add_subscribers(any_store, 7, now=fixed_now, frequency=Frequency.DAILY)
    _event(any_store, "reader3@example.org", EventKind.CONFIRMED, now=fixed_now, sid=None)
    text = "".join(export_chunks(any_store, format="csv", page=3))
    lines = text.splitlines()
    assert len(lines) == 1 + 14
    assert [line.split(",")[0] for line in lines[1:]] == sorted(
        f"reader{i}@example.org" for i in range(7) for _ in range(2)
    )
    people = json.loads("".join(export_chunks(any_store, format="json", page=2)))
    assert len(people["subscribers"]) == 7
    (three,) = [p for p in people["subscribers"] if p["email"] == "reader3@example.org"]
    assert [e["kind"] for e in three["events"]] == ["confirmed"]
    assert {s["consent"] for s in three["subscriptions"]} == {"form"}
