"""Several subscriptions per address: keys, status per subscription and per address."""

from __future__ import annotations

from datetime import UTC, datetime

from broadsheet.model import Frequency, SubscriberDetails, SubscriberStatus
from broadsheet.store import Store

NOW = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)
ANNA = "anna@example.org"


def _two(store: Store) -> None:
    with store.write() as tx:
        assert (
            tx.subscribers.upsert_active(
                SubscriberDetails(ANNA, "Anna", "en", Frequency.WEEKLY), source="csv", now=NOW
            )
            == "added"
        )
        assert (
            tx.subscribers.upsert_active(
                SubscriberDetails(ANNA, "Анна", "ru", Frequency.DAILY, ("Economy",)),
                source="csv",
                now=NOW,
                timezone="Asia/Yerevan",
            )
            == "added"
        )


def test_one_address_holds_several_newsletters(any_store: Store) -> None:
    _two(any_store)
    with any_store.read() as tx:
        held = tx.subscribers.of_address(ANNA)
        assert [(s.language, s.frequency) for s in held] == [
            ("en", Frequency.WEEKLY),
            ("ru", Frequency.DAILY),
        ]
        ru = tx.subscribers.subscription(ANNA, "ru", Frequency.DAILY)
        assert ru is not None and ru.topics == ("Economy",) and ru.timezone == "Asia/Yerevan"
        assert tx.subscribers.subscription(ANNA, "ru", Frequency.WEEKLY) is None
        assert tx.subscribers.addresses() == 1
        assert [s.email for s in tx.subscribers.iter_active("en", Frequency.WEEKLY)] == [ANNA]
        assert [s.email for s in tx.subscribers.iter_active("ru", Frequency.DAILY)] == [ANNA]


def test_status_of_one_subscription_leaves_the_others(any_store: Store) -> None:
    _two(any_store)
    with any_store.write() as tx:
        en = tx.subscribers.subscription(ANNA, "en", Frequency.WEEKLY)
        assert en is not None
        tx.subscribers.set_status(en.id, SubscriberStatus.UNSUBSCRIBED, now=NOW)
        # The upsert of the same newsletter is skipped; the other is untouched.
        again = SubscriberDetails(ANNA, "Anna", "en", Frequency.WEEKLY)
        assert tx.subscribers.upsert_active(again, source="csv", now=NOW) == "skipped"
    with any_store.read() as tx:
        statuses = {(s.language, s.status) for s in tx.subscribers.of_address(ANNA)}
    assert statuses == {("en", SubscriberStatus.UNSUBSCRIBED), ("ru", SubscriberStatus.ACTIVE)}


def test_status_for_address_changes_every_live_subscription(any_store: Store) -> None:
    _two(any_store)
    with any_store.write() as tx:
        en = tx.subscribers.subscription(ANNA, "en", Frequency.WEEKLY)
        assert en is not None
        tx.subscribers.set_status(en.id, SubscriberStatus.UNSUBSCRIBED, now=NOW)
        changed = tx.subscribers.set_status_for_address(
            ANNA, SubscriberStatus.BOUNCED, now=NOW, reason="550 5.1.1"
        )
        assert [(s.language, s.status) for s in changed] == [("ru", SubscriberStatus.BOUNCED)]
        # The reader's own unsubscription stays what it was.
        assert tx.subscribers.get(en.id).status is SubscriberStatus.UNSUBSCRIBED  # type: ignore[union-attr]
        everything = set(SubscriberStatus)
        gone = tx.subscribers.set_status_for_address(
            ANNA, SubscriberStatus.UNSUBSCRIBED, now=NOW, only=everything
        )
        assert [s.language for s in gone] == ["ru"]
        assert (
            tx.subscribers.set_status_for_address(
                "nobody@example.org", SubscriberStatus.BOUNCED, now=NOW
            )
            == []
        )


def test_time_zone_and_topics(any_store: Store) -> None:
    _two(any_store)
    with any_store.write() as tx:
        assert tx.subscribers.set_timezone(ANNA, "Europe/Berlin", now=NOW) == 2
        assert tx.subscribers.set_timezone(ANNA, "Europe/Berlin", now=NOW) == 0
        en = tx.subscribers.subscription(ANNA, "en", Frequency.WEEKLY)
        assert en is not None
        assert tx.subscribers.set_topics(en.id, ["Economy"], now=NOW)
        assert not tx.subscribers.set_topics(en.id, ["Economy"], now=NOW)
    with any_store.read() as tx:
        held = tx.subscribers.of_address(ANNA)
    assert {s.timezone for s in held} == {"Europe/Berlin"}
    assert held[0].topics == ("Economy",)


def test_pending_request_for_a_second_newsletter_leaves_the_first(any_store: Store) -> None:
    _two(any_store)
    with any_store.write() as tx:
        asked = tx.subscribers.add_pending(
            SubscriberDetails(ANNA, "Anna", "en", Frequency.DAILY), source="web", now=NOW
        )
        assert asked.status is SubscriberStatus.PENDING
        kept = tx.subscribers.add_pending(
            SubscriberDetails(ANNA, "X", "en", Frequency.WEEKLY), source="web", now=NOW
        )
        assert kept.status is SubscriberStatus.ACTIVE and kept.name == "Anna"
        assert len(tx.subscribers.of_address(ANNA)) == 3


def test_a_store_of_revision_0004_keeps_every_subscriber_when_upgraded(
    any_store_url: str,
) -> None:
    """Each address of a 0004 store becomes one subscription, with every field kept."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine, text

    from broadsheet.store import migrations

    engine = create_engine(any_store_url.replace("postgresql://", "postgresql+psycopg://"))
    people = [
        (
            f"reader{n}@example.org",
            f"Reader {n}",
            "ru" if n % 3 else "en",
            ("daily", "weekly")[n % 2],
        )
        for n in range(25)
    ]
    statuses = ["active", "pending", "unsubscribed", "bounced", "active"]
    try:
        with engine.begin() as conn:
            config = Config()
            config.set_main_option("script_location", str(migrations.SCRIPTS))
            config.attributes["connection"] = conn
            command.upgrade(config, "0004")
            for n, (email, name, language, frequency) in enumerate(people):
                conn.execute(
                    text(
                        "INSERT INTO subscribers (email, name, language, frequency, topics,"
                        " status, source, created, changed, status_reason)"
                        " VALUES (:email, :name, :language, :frequency, :topics, :status,"
                        " 'csv', :now, :now, '')"
                    ),
                    {
                        "email": email,
                        "name": name,
                        "language": language,
                        "frequency": frequency,
                        "topics": '["Economy"]' if n % 4 == 0 else "[]",
                        "status": statuses[n % len(statuses)],
                        "now": NOW.replace(tzinfo=None) if "sqlite" in any_store_url else NOW,
                    },
                )
    finally:
        engine.dispose()
    store = Store.open(any_store_url, migrate=False)
    try:
        done = store.upgrade()
        assert done.before == "0004" and done.after == migrations.head()
        with store.read() as tx:
            stored = tx.subscribers.listing()
        assert sorted((s.email, s.name, s.language, str(s.frequency)) for s in stored) == sorted(
            people
        )
        assert [str(s.status) for s in sorted(stored, key=lambda s: int(s.email[6:-12]))] == [
            statuses[n % len(statuses)] for n in range(25)
        ]
        assert all(s.timezone is None for s in stored)
        assert stored[0].topics in ((), ("Economy",))
        # The upgraded store takes a second newsletter for an address.
        first = people[0]
        other = "ru" if first[2] == "en" else "en"
        with store.write() as tx:
            added = tx.subscribers.upsert_active(
                SubscriberDetails(first[0], first[1], other, Frequency(first[3])),
                source="csv",
                now=NOW,
            )
        assert added == "added"
        with store.read() as tx:
            assert len(tx.subscribers.of_address(first[0])) == 2
            assert tx.subscribers.addresses() == 25
    finally:
        store.close()


def test_a_bounced_address_takes_no_new_newsletter(any_store: Store) -> None:
    _two(any_store)
    with any_store.write() as tx:
        tx.subscribers.set_status_for_address(ANNA, SubscriberStatus.BOUNCED, now=NOW)
        more = SubscriberDetails(ANNA, "Anna", "en", Frequency.DAILY)
        assert tx.subscribers.upsert_active(more, source="csv", now=NOW) == "skipped"
        assert len(tx.subscribers.of_address(ANNA)) == 2
