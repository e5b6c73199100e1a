"""What outside probes of ``broadsheet serve`` found, each held down by a test.

Link scanners and previews fetch every link in a message, so no GET or HEAD
may change anything; malformed fields are 400s naming the field.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import datetime
from typing import cast
from urllib.parse import urljoin

import pytest

from broadsheet.config import Settings
from broadsheet.emails.edition import tokens
from broadsheet.model import Subscriber, SubscriberStatus
from broadsheet.store import Store
from broadsheet.web.app import RateLimit
from tests.delivery.helpers import add_subscribers
from tests.web.conftest import SECRET, Web
from tests.web.test_flows import _link, _mail_to, _status


def _form(page: str) -> tuple[str, dict[str, str]]:
    """The action and the fields of the one POST form on ``page``."""
    forms = re.findall(r'<form method="post" action="([^"]*)">(.*?)</form>', page, re.S)
    assert len(forms) == 1, page
    action, inside = forms[0]
    fields = {
        html.unescape(name): html.unescape(value)
        for name, value in re.findall(
            r'<input type="hidden" name="([^"]*)" value="([^"]*)">', inside
        )
    }
    assert "<button" in inside
    return html.unescape(action), fields


def _person(store: Store, address: str) -> Subscriber:
    with store.read() as tx:
        found = tx.subscribers.by_email(address)
    assert found is not None
    return found


def test_get_and_head_on_the_confirm_link_leave_the_address_pending(
    serve: Callable[..., Web], settings: Settings, store: Store
) -> None:
    web = serve(settings, store)
    answer = web.client.post("/subscribe", data={"email": "pat@example.org"})
    assert answer.status_code == 200
    (message,) = _mail_to(settings, "pat@example.org")
    token = _link(message, "confirm")
    for _ in range(3):  # a mail scanner, a link preview, the reader
        assert web.client.head("/confirm", params={"token": token}).status_code == 200
        page = web.client.get("/confirm", params={"token": token})
        assert page.status_code == 200
        assert page.headers["cache-control"] == "no-store"
        assert web.client.get(
            "/confirm", params={"token": token}, headers={"accept": "application/json"}
        ).json() == {"status": "pending"}
    assert _status(store, "pat@example.org") is SubscriberStatus.PENDING
    assert "pat@example.org" in page.text
    # The reader presses the button: a plain form POST, no JavaScript.
    assert "<script" not in page.text
    action, fields = _form(page.text)
    target = urljoin(str(page.url), action)
    pressed = web.client.post(target, data=fields)
    assert pressed.status_code == 200 and "Subscription confirmed" in pressed.text
    assert _status(store, "pat@example.org") is SubscriberStatus.ACTIVE
    # Once confirmed, the link's page says so and offers no button.
    after = web.client.get("/confirm", params={"token": token})
    assert after.status_code == 200 and "<form" not in after.text
    assert "Subscription confirmed" in after.text


def test_no_get_or_head_changes_state(
    serve: Callable[..., Web], settings: Settings, store: Store
) -> None:
    """RFC 8058-style: every state-changing route refuses GET and HEAD or ignores them."""
    from starlette.applications import Starlette
    from starlette.routing import Route

    web = serve(settings, store)
    answer = web.client.post("/subscribe", data={"email": "lee@example.org"})
    assert answer.status_code == 200
    (message,) = _mail_to(settings, "lee@example.org")
    token = _link(message, "confirm")
    app = cast(Starlette, web.server.server.config.app)
    routes = [r for r in app.routes if isinstance(r, Route)]
    safe = {r.path for r in routes if r.methods and r.methods <= {"GET", "HEAD"}}
    changing = {r.path for r in routes if r.methods and "POST" in r.methods}
    assert changing == {"/subscribe", "/confirm", "/unsubscribe", "/preferences"}
    with store.read() as tx:
        lee = tx.subscribers.by_email("lee@example.org")
    assert lee is not None
    signed = [token] + [tokens.sign(SECRET, purpose, lee.id) for purpose in sorted(tokens.PURPOSES)]
    for path in sorted(safe | changing):
        for method in ("GET", "HEAD"):
            for each in signed:
                query = {"token": each, "email": "x@example.org", "frequency": "daily"}
                assert web.client.request(method, path, params=query).status_code < 500
    after = _person(store, "lee@example.org")
    assert after.status is SubscriberStatus.PENDING and after.frequency is lee.frequency
    assert _status(store, "x@example.org") is None


ENCODED_BREAKS = [
    "=?utf-8?q?X=0D=0ABcc:_evil@evil.example?=",
    "=?UTF-8?B?WA0KQmNjOiBldmlsQGV2aWwuZXhhbXBsZQ==?=",
    "Anna =?iso-8859-1?q?=0A?= Smith",
    "Anna\u2028Bcc: evil@evil.example",
]


def test_names_that_decode_to_line_breaks_are_400_and_store_nothing(
    serve: Callable[..., Web], settings: Settings, store: Store
) -> None:
    web = serve(settings, store)
    for number, name in enumerate(ENCODED_BREAKS):
        address = f"enc{number}@example.org"
        answer = web.client.post("/subscribe", json={"email": address, "name": name})
        assert answer.status_code == 400, answer.text
        assert answer.json()["field"] == "name"
        page = web.client.post("/subscribe", data={"email": address, "name": name})
        assert page.status_code == 400 and "Name (optional)" in page.text
        assert _status(store, address) is None
    assert not settings.delivery.maildir.exists()  # no confirmation went anywhere


def test_malformed_json_fields_are_400_naming_the_field(
    serve: Callable[..., Web], settings: Settings, store: Store, fixed_now: datetime
) -> None:
    (person,) = add_subscribers(store, 1, now=fixed_now)
    web = serve(settings, store)
    json_type = {"content-type": "application/json"}
    lone_surrogate = b'{"email": "s@example.org", "name": "Ann\\ud800e"}'
    answer = web.client.post("/subscribe", content=lone_surrogate, headers=json_type)
    assert answer.status_code == 400 and answer.json()["field"] == "name", answer.text
    assert _status(store, "s@example.org") is None
    wrong = {
        "email": {"email": ["w@example.org"]},
        "name": {"email": "w@example.org", "name": 5},
        "language": {"email": "w@example.org", "language": ["en"]},
        "frequency": {"email": "w@example.org", "frequency": 7},
        "topics": {"email": "w@example.org", "topics": [1, 2]},
    }
    for field, body in wrong.items():
        answer = web.client.post("/subscribe", json=body)
        assert answer.status_code == 400, (field, answer.text)
        assert answer.json()["field"] == field
    assert _status(store, "w@example.org") is None
    prefs = tokens.sign(SECRET, "preferences", person)
    for field, body in {
        "frequency": {"frequency": ["daily"]},
        "topics": {"topics": {"a": 1}},
        "resume": {"resume": [True]},
    }.items():
        answer = web.client.post("/preferences", params={"token": prefs}, json=body)
        assert answer.status_code == 400, (field, answer.text)
        assert answer.json()["field"] == field
    answer = web.client.post(
        "/preferences",
        params={"token": prefs},
        content=b'{"language": "en\\udc80"}',
        headers=json_type,
    )
    assert answer.status_code == 400 and answer.json()["field"] == "language"
    unsubscribe = web.client.post("/unsubscribe", content=b'{"token": 5}', headers=json_type)
    assert unsubscribe.status_code == 400 and unsubscribe.json()["field"] == "token"
    assert _person(store, "reader0@example.org").status is SubscriberStatus.ACTIVE


def test_the_client_limit_covers_a_whole_ipv6_64(
    serve: Callable[..., Web], settings: Settings, store: Store
) -> None:
    """One /64 is one client (a household, a server): 14 of its addresses got 14 requests in."""
    web = serve(settings, store, subscribe_limit=RateLimit(3, 3600))

    def subscribe(client: str, number: int) -> int:
        # The test server trusts X-Forwarded-For from 127.0.0.1, as behind a proxy.
        answer = web.client.post(
            "/subscribe",
            json={"email": f"v6-{number}@example.org"},
            headers={"x-forwarded-for": client},
        )
        return answer.status_code

    codes = [subscribe(f"2001:db8:1:2:{n:x}::{n}", n) for n in range(1, 15)]
    assert codes == [202] * 3 + [429] * 11
    assert subscribe("2001:db8:1:3::1", 20) == 202  # the next /64 is someone else
    assert [subscribe(f"192.0.2.{n}", 30 + n) for n in range(1, 5)] == [202] * 4


def test_the_ipv6_prefix_is_configurable(
    serve: Callable[..., Web], make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings("[links]\nclient_ipv6_prefix = 128\nclient_ipv4_prefix = 24\n")
    store = Store.open(settings.store.url)
    try:
        web = serve(settings, store, subscribe_limit=RateLimit(1, 3600))
        codes = [
            web.client.post(
                "/subscribe",
                json={"email": f"p{number}@example.org"},
                headers={"x-forwarded-for": client},
            ).status_code
            for number, client in enumerate(
                ["2001:db8::1", "2001:db8::2", "198.51.100.1", "198.51.100.2", "198.51.101.1"]
            )
        ]
        assert codes == [202, 202, 202, 429, 202]
    finally:
        store.close()


def test_the_address_limit_sees_through_letter_case_and_subaddresses(
    serve: Callable[..., Web], settings: Settings, store: Store
) -> None:
    """Confirmations to one inbox are limited, whichever spelling of it is asked for."""
    web = serve(settings, store, address_limit=RateLimit(2, 3600))
    spellings = ["inbox@example.org", "Inbox+1@Example.org", "inbox+news@example.org"]
    codes = [
        web.client.post(
            "/subscribe", json={"email": address}, headers={"x-forwarded-for": f"192.0.2.{n}"}
        ).status_code
        for n, address in enumerate(spellings)
    ]
    assert codes == [202, 202, 429]
    assert len(_mail_to(settings, "inbox@example.org")) == 1


def test_limits_are_shared_by_servers_on_one_postgresql_store(
    serve: Callable[..., Web], pg_settings: Settings
) -> None:
    """Two servers (processes or machines) of one publication: one limit, not two."""
    first_store = Store.open(pg_settings.store.url)
    second_store = Store.open(pg_settings.store.url)
    try:
        limits = {"subscribe_limit": RateLimit(4, 3600), "address_limit": RateLimit(2, 3600)}
        servers = [
            serve(pg_settings, first_store, **limits),
            serve(pg_settings, second_store, **limits),
        ]
        codes = [
            servers[n % 2]
            .client.post(
                "/subscribe",
                json={"email": f"pg{n}@example.org"},
                headers={"x-forwarded-for": f"2001:db8:5::{n + 1}"},
            )
            .status_code
            for n in range(8)
        ]
        assert codes == [202] * 4 + [429] * 4
        inbox = [
            servers[n % 2]
            .client.post(
                "/subscribe",
                json={"email": "shared@example.org"},
                headers={"x-forwarded-for": f"192.0.2.{n + 1}"},
            )
            .status_code
            for n in range(4)
        ]
        assert inbox == [202, 202, 429, 429]
    finally:
        first_store.close()
        second_store.close()


def test_store_buckets_refill_and_forget(any_store_url: str, fixed_now: datetime) -> None:
    """The store's buckets behave as the in-memory ones: a burst, then an even refill."""
    from datetime import timedelta

    from broadsheet.emails.subscriptions.ratelimit import StoreBucket

    store = Store.open(any_store_url)
    try:
        moment = [fixed_now]
        bucket = StoreBucket(store, "test", RateLimit(2, 60), clock=lambda: moment[0])
        assert [bucket.take("a"), bucket.take("a")] == [0.0, 0.0]
        assert bucket.take("a") == pytest.approx(30.0)
        assert bucket.take("b") == 0.0
        moment[0] = fixed_now + timedelta(seconds=30)
        assert bucket.take("a") == 0.0
        moment[0] = fixed_now + timedelta(hours=1)
        bucket.take("c")  # every other key's bucket is full again: their rows go
        with store.read() as tx:
            from sqlalchemy import select

            from broadsheet.store.schema import rate_limits

            keys = tx.conn.execute(select(rate_limits.c.key)).scalars().all()
        assert keys == ["c"]
    finally:
        store.close()


def test_store_buckets_hold_under_concurrent_takes(pg_url: str, fixed_now: datetime) -> None:
    """Servers taking at the same moment cannot share out more than the limit."""
    from concurrent.futures import ThreadPoolExecutor

    from broadsheet.emails.subscriptions.ratelimit import StoreBucket

    stores = [Store.open(pg_url) for _ in range(4)]
    try:
        buckets = [
            StoreBucket(store, "race", RateLimit(10, 3600), clock=lambda: fixed_now)
            for store in stores
        ]
        with ThreadPoolExecutor(8) as pool:
            waits = list(pool.map(lambda n: buckets[n % 4].take("2001:db8::/64"), range(40)))
        assert sum(1 for wait in waits if wait == 0.0) == 10
    finally:
        for store in stores:
            store.close()
