"""Requests no browser sends: each gets a 4xx answer and changes nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from broadsheet.config import Settings
from broadsheet.store import Store
from broadsheet.web.requests import MAX_BODY
from tests.delivery.helpers import RecordingHandler, SmtpServer, smtp_config
from tests.web.conftest import Web


def _stored(store: Store, address: str) -> bool:
    with store.read() as tx:
        return tx.subscribers.by_email(address) is not None


def test_an_internationalised_mailbox_is_refused_not_a_server_error(
    serve: Callable[..., Web], settings: Settings, store: Store
) -> None:
    web = serve(settings, store)
    answer = web.client.post("/subscribe", json={"email": "юзер@example.org"})
    assert answer.status_code == 400 and answer.json()["field"] == "email"
    assert "before the @-sign" in answer.json()["message"]
    assert not _stored(store, "юзер@example.org")


def test_a_name_too_long_for_a_header_is_refused(
    serve: Callable[..., Web], settings: Settings, store: Store
) -> None:
    web = serve(settings, store)
    answer = web.client.post("/subscribe", json={"email": "a@example.org", "name": "n" * 5000})
    assert answer.status_code == 400 and answer.json()["field"] == "name"
    assert not _stored(store, "a@example.org")


def test_deeply_nested_json_is_a_bad_request(
    serve: Callable[..., Web], settings: Settings, store: Store
) -> None:
    web = serve(settings, store)
    nested = b"[" * 50_000 + b"]" * 50_000
    answer = web.client.post(
        "/subscribe", content=nested[: MAX_BODY - 1], headers={"content-type": "application/json"}
    )
    assert answer.status_code == 400
    deep = b'{"a":' * 20_000 + b"1" + b"}" * 20_000
    again = web.client.post(
        "/subscribe", content=deep[: MAX_BODY - 1], headers={"content-type": "application/json"}
    )
    assert again.status_code == 400


def test_a_chunked_body_is_cut_off_at_the_limit(
    serve: Callable[..., Web], settings: Settings, store: Store
) -> None:
    web = serve(settings, store)
    sent: list[int] = []

    def chunks() -> Iterator[bytes]:
        # No Content-Length: the server must count what arrives.
        yield b"email=big%40example.org&name="
        for _ in range(4 * MAX_BODY // 1024):
            sent.append(1024)
            yield b"n" * 1024

    answer = web.client.post(
        "/subscribe",
        content=chunks(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 413
    assert not _stored(store, "big@example.org")


@pytest.mark.parametrize(
    ("body", "kind", "problem"),
    [
        (b"email=a%40example.org&name=%FF%FE", "application/x-www-form-urlencoded", "not UTF-8"),
        (b"email=a@example.org&name=\xd0\x91", "application/x-www-form-urlencoded", "raw non"),
        (b'{"email": "a@example.org", "name": "\xff"}', "application/json", "not UTF-8"),
        (b"email=a@example.org", "text/plain", "expected a form or JSON"),
    ],
)
def test_bodies_that_are_not_utf8_forms_or_json_are_refused(
    serve: Callable[..., Web],
    settings: Settings,
    store: Store,
    body: bytes,
    kind: str,
    problem: str,
) -> None:
    web = serve(settings, store)
    answer = web.client.post("/subscribe", content=body, headers={"content-type": kind})
    assert answer.status_code in (400, 415) and problem in answer.text
    assert not _stored(store, "a@example.org")


def test_repeated_topics_in_a_form_are_all_kept(
    serve: Callable[..., Web], settings: Settings, store: Store
) -> None:
    from tests.conftest import DEMO_NOW, make_article

    with store.write() as tx:
        tx.articles.save(make_article(id="e", section="Economy"), now=DEMO_NOW)
        tx.articles.save(make_article(id="s", section="Society"), now=DEMO_NOW)
    web = serve(settings, store)
    answer = web.client.post(
        "/subscribe",
        content=b"email=t%40example.org&topics=Economy&topics=Society&name=%D0%91",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 200
    with store.read() as tx:
        person = tx.subscribers.by_email("t@example.org")
    assert person is not None and person.topics == ("Economy", "Society") and person.name == "Б"


def test_json_answers_are_never_cached(
    serve: Callable[..., Web], settings: Settings, store: Store
) -> None:
    web = serve(settings, store)
    for answer in (
        web.client.post("/subscribe", json={"email": "c@example.org"}),
        web.client.get("/confirm?token=bad", headers={"accept": "application/json"}),
        web.client.post("/subscribe", json=[1]),
    ):
        assert answer.headers["cache-control"] == "no-store", answer.text
    assert answer.status_code == 400


@pytest.fixture
def refusing_smtp() -> Iterator[SmtpServer]:
    handler = RecordingHandler(
        refuse={
            "gone@example.org": "550 5.1.1 No such user",
            "later@example.org": "450 4.2.1 Mailbox busy, try later",
        }
    )
    server = SmtpServer(handler).start()
    yield server
    server.stop()


def test_a_refused_confirmation_is_not_reported_as_sent(
    serve: Callable[..., Web], make_settings: Callable[..., Settings], refusing_smtp: SmtpServer
) -> None:
    settings = make_settings(smtp_config(refusing_smtp.port, retries=1))
    store = Store.open(settings.store.url)
    try:
        web = serve(settings, store)
        refused = web.client.post("/subscribe", json={"email": "gone@example.org"})
        assert refused.status_code == 400 and refused.json()["field"] == "email"
        assert "No such user" in refused.json()["message"]
        busy = web.client.post("/subscribe", json={"email": "later@example.org"})
        assert busy.status_code == 503 and busy.json()["error"] == "unavailable"
        page = web.client.post("/subscribe", data={"email": "gone@example.org"})
        assert page.status_code == 400 and "No such user" in page.text
        fine = web.client.post("/subscribe", json={"email": "fine@example.org"})
        assert fine.status_code == 202
        assert refusing_smtp.handler.per_recipient() == {"fine@example.org": 1}
    finally:
        store.close()
