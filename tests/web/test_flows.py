"""Subscribe, confirm, unsubscribe and preferences over real HTTP (uvicorn + httpx)."""

from __future__ import annotations

import email.policy
import mailbox
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from broadsheet.config import Settings
from broadsheet.emails.delivery.sender import send_edition
from broadsheet.emails.edition import tokens
from broadsheet.model import Frequency, SubscriberDetails, SubscriberStatus
from broadsheet.store import Store
from broadsheet.web.app import RateLimit, TokenBucket
from tests.delivery.helpers import add_subscribers, save_edition
from tests.web.conftest import SECRET, Web

FORM = {"content-type": "application/x-www-form-urlencoded"}


def _mail_to(settings: Settings, address: str) -> list[email.message.EmailMessage]:
    box = mailbox.Maildir(settings.delivery.maildir, create=False)
    found = []
    for key in box.iterkeys():
        raw = box.get_bytes(key)
        message = email.message_from_bytes(raw, policy=email.policy.default)
        if message["Delivered-To"] == address:
            found.append(message)
    return found


def _link(message: email.message.EmailMessage, path: str) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    match = re.search(rf"https://news\.example/newsletter/{path}\?token=([\w.\-]+)", text)
    assert match, text
    return match.group(1)


def _status(store: Store, address: str) -> SubscriberStatus | None:
    with store.read() as tx:
        found = tx.subscribers.by_email(address)
    return found.status if found else None


def test_subscribe_confirm_receive_and_one_click_unsubscribe(
    serve: Callable[..., Web], settings: Settings, store: Store, fixed_now: datetime
) -> None:
    web = serve(settings, store)
    form = web.client.get("/subscribe")
    assert form.status_code == 200 and 'action="subscribe"' in form.text
    answer = web.client.post(
        "/subscribe",
        data={"email": "Anna@Example.ORG", "name": "Anna", "frequency": "weekly"},
    )
    assert answer.status_code == 200
    assert "Check your inbox" in answer.text
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert _status(store, "anna@example.org") is SubscriberStatus.PENDING
    (confirmation,) = _mail_to(settings, "anna@example.org")
    assert confirmation["Subject"] == "Confirm your subscription to Test Weekly"
    token = _link(confirmation, "confirm")
    # A pending address gets no edition.
    save_edition(store, now=fixed_now)
    assert send_edition(store, settings, "weekly-en-2026-11-23", now=fixed_now).sent == 0
    confirmed = web.client.post("/confirm", params={"token": token})
    assert confirmed.status_code == 200 and "Subscription confirmed" in confirmed.text
    assert _status(store, "anna@example.org") is SubscriberStatus.ACTIVE
    again = web.client.post("/confirm", params={"token": token})
    assert again.status_code == 200
    # Now the edition goes out, with a one-click unsubscribe link.
    save_edition(store, now=fixed_now, edition_id="weekly-en-2026-11-30")
    assert send_edition(store, settings, "weekly-en-2026-11-30", now=fixed_now).sent == 1
    # Besides the confirmation and the welcome message, which has no Feedback-ID.
    edition = [m for m in _mail_to(settings, "anna@example.org") if m["Feedback-ID"]]
    assert edition and all(m["List-Unsubscribe"] for m in edition)
    (letter,) = edition
    assert letter["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = re.search(r"<(https://[^>]+/unsubscribe\?token=[^>]+)>", letter["List-Unsubscribe"])
    assert url
    one_click = url.group(1).replace("https://news.example/newsletter", web.url)
    # What a mailbox provider sends for RFC 8058: no cookie, this exact body.
    response = web.client.post(one_click, content=b"List-Unsubscribe=One-Click", headers=FORM)
    assert response.status_code == 200
    assert "You are unsubscribed" in response.text
    assert _status(store, "anna@example.org") is SubscriberStatus.UNSUBSCRIBED
    save_edition(store, now=fixed_now, edition_id="weekly-en-2026-12-07")
    assert send_edition(store, settings, "weekly-en-2026-12-07", now=fixed_now).sent == 0


def test_unsubscribe_page_asks_first(
    serve: Callable[..., Web], settings: Settings, store: Store, fixed_now: datetime
) -> None:
    (person,) = add_subscribers(store, 1, now=fixed_now)
    web = serve(settings, store)
    token = tokens.sign(SECRET, "unsubscribe", person)
    for _ in range(3):  # link scanners, previews, the reader
        page = web.client.get("/unsubscribe", params={"token": token})
        assert page.status_code == 200
        assert "Stop sending the Test Weekly newsletter to reader0@example.org?" in page.text
    assert _status(store, "reader0@example.org") is SubscriberStatus.ACTIVE
    action = re.search(r'<form method="post" action="([^"]+)">', page.text)
    assert action and action.group(1) == f"unsubscribe?token={token}"
    pressed = web.client.post(
        "/" + action.group(1).replace("&amp;", "&"), data={"List-Unsubscribe": "One-Click"}
    )
    assert pressed.status_code == 200
    assert _status(store, "reader0@example.org") is SubscriberStatus.UNSUBSCRIBED
    # After that, the page says so instead of asking again; a second POST is fine.
    assert "You are unsubscribed" in web.client.get("/unsubscribe?token=" + token).text
    assert web.client.post("/unsubscribe?token=" + token).status_code == 200


def _forgeries(secret: str, purpose: str, person: int) -> dict[str, str]:
    """Tokens that must not work for ``purpose``, each made a different way."""
    good = tokens.sign(secret, purpose, person)
    payload, _, signature = good.rpartition(".")
    middle = len(signature) // 2
    swap = "A" if signature[middle] != "A" else "B"
    flipped = signature[:middle] + swap + signature[middle + 1 :]
    other_id = tokens.sign(secret, purpose, person + 1).split(".")[0]
    forged = {
        "altered signature": f"{payload}.{flipped}",
        "other payload": f"{other_id}.{good.split('.', 1)[1]}",
        "other secret": tokens.sign("not-the-secret", purpose, person),
        "garbage": "not-a-token",
        "empty": "",
        "truncated": good[:-5],
        "non-ASCII signature": f"{payload}.{'é' * len(signature)}",
        # Signed with the secret, yet no store holds such an id.
        "id beyond any store": tokens.sign(secret, purpose, 2**64),
    }
    for other in sorted(tokens.PURPOSES - {purpose}):
        forged[f"{other} purpose"] = tokens.sign(secret, other, person)
    return forged


def test_bad_tokens_get_400_and_change_nothing(
    serve: Callable[..., Web], settings: Settings, store: Store, fixed_now: datetime
) -> None:
    ids = add_subscribers(store, 2, now=fixed_now)
    with store.write() as tx:
        pending = tx.subscribers.add_pending(
            SubscriberDetails("pending@example.org", "", "en", Frequency.WEEKLY),
            source="web",
            now=fixed_now,
        )
    web = serve(settings, store)
    checks = (
        ("GET", "/confirm", "confirm", pending.id),
        ("POST", "/confirm", "confirm", pending.id),
        ("GET", "/unsubscribe", "unsubscribe", ids[0]),
        ("POST", "/unsubscribe", "unsubscribe", ids[0]),
        ("GET", "/preferences", "preferences", ids[0]),
        ("POST", "/preferences", "preferences", ids[0]),
    )
    tried = 0
    for method, path, purpose, person in checks:
        for kind, token in _forgeries(SECRET, purpose, person).items():
            response = web.client.request(
                method,
                path,
                params={"token": token},
                data={"List-Unsubscribe": "One-Click", "frequency": "daily"}
                if method == "POST"
                else None,
            )
            assert response.status_code == 400, (kind, method, path)
            assert "This link does not work" in response.text
            tried += 1
    # Eight forgeries, and a token of each other purpose.
    assert tried == 6 * (8 + len(tokens.PURPOSES) - 1)
    with store.read() as tx:
        people = [tx.subscribers.get(i) for i in ids]
        still_pending = tx.subscribers.get(pending.id)
    assert all(p is not None and p.status is SubscriberStatus.ACTIVE for p in people)
    assert all(p is not None and p.frequency is Frequency.WEEKLY for p in people)
    assert still_pending is not None and still_pending.status is SubscriberStatus.PENDING


def test_expired_tokens_get_400(
    serve: Callable[..., Web], make_settings: Callable[..., Settings], fixed_now: datetime
) -> None:
    settings = make_settings("[links]\nconfirm_max_age_hours = 1\nunsubscribe_max_age_days = 2\n")
    store = Store.open(settings.store.url)
    try:
        (person,) = add_subscribers(store, 1, now=fixed_now)
        web = serve(settings, store)
        with time_machine.travel(datetime.now().astimezone() - timedelta(days=3), tick=False):
            old_unsubscribe = tokens.sign(SECRET, "unsubscribe", person)
        with time_machine.travel(datetime.now().astimezone() - timedelta(hours=2), tick=False):
            old_confirm = tokens.sign(SECRET, "confirm", person)
        fresh = tokens.sign(SECRET, "unsubscribe", person)
        assert web.client.post("/unsubscribe", params={"token": old_unsubscribe}).status_code == 400
        assert web.client.get("/confirm", params={"token": old_confirm}).status_code == 400
        assert _status(store, "reader0@example.org") is SubscriberStatus.ACTIVE
        assert web.client.post("/unsubscribe", params={"token": fresh}).status_code == 200
        assert _status(store, "reader0@example.org") is SubscriberStatus.UNSUBSCRIBED
    finally:
        store.close()


def test_json_subscribe_and_validation(
    serve: Callable[..., Web], settings: Settings, store: Store
) -> None:
    web = serve(settings, store)
    ok = web.client.post(
        "/subscribe",
        json={
            "email": "boris@example.org",
            "name": "Борис",
            "language": "ru",
            "frequency": "daily",
            "topics": ["Economy", "Society"],
        },
    )
    assert ok.status_code == 202 and ok.json() == {"status": "pending"}
    with store.read() as tx:
        boris = tx.subscribers.by_email("boris@example.org")
    assert boris is not None and boris.language == "ru" and boris.frequency is Frequency.DAILY
    assert boris.topics == ("Economy", "Society") and boris.status is SubscriberStatus.PENDING
    (message,) = _mail_to(settings, "boris@example.org")
    assert message["Subject"] == "Подтвердите подписку на рассылку Test Weekly"
    # Anyone can ask for a confirmation to any address: the name is not echoed to it.
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    assert text.startswith("Здравствуйте!") and "Борис" not in text
    assert message["To"] == "boris@example.org"
    bad = web.client.post("/subscribe", json={"email": "not an address"})
    assert bad.status_code == 400 and bad.json()["field"] == "email"
    wrong_language = web.client.post(
        "/subscribe", json={"email": "c@example.org", "language": "de"}
    )
    assert wrong_language.status_code == 400 and wrong_language.json()["field"] == "language"
    broken = web.client.post(
        "/subscribe", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert broken.status_code == 400
    huge = web.client.post("/subscribe", json={"email": "x@example.org", "name": "n" * 70000})
    assert huge.status_code == 413
    form_error = web.client.post("/subscribe", data={"email": "nope"})
    assert form_error.status_code == 400 and 'value="nope"' in form_error.text


def test_already_active_address_gets_its_preferences_link(
    serve: Callable[..., Web], settings: Settings, store: Store, fixed_now: datetime
) -> None:
    add_subscribers(store, 1, now=fixed_now)
    web = serve(settings, store)
    answer = web.client.post("/subscribe", data={"email": "reader0@example.org", "name": "X"})
    # The same answer as for a new address: nobody learns who subscribes.
    assert answer.status_code == 200 and "Check your inbox" in answer.text
    (message,) = _mail_to(settings, "reader0@example.org")
    assert message["Subject"] == "Your Test Weekly newsletter subscription"
    token = _link(message, "preferences")
    assert web.client.get("/preferences", params={"token": token}).status_code == 200
    with store.read() as tx:
        person = tx.subscribers.by_email("reader0@example.org")
    assert person is not None and person.name == "Reader 0"  # unchanged


def test_subscribe_is_rate_limited_per_client_and_address(
    serve: Callable[..., Web], settings: Settings, store: Store
) -> None:
    web = serve(
        settings,
        store,
        subscribe_limit=RateLimit(3, 3600),
        address_limit=RateLimit(2, 3600),
    )
    codes = [
        web.client.post("/subscribe", json={"email": "same@example.org"}).status_code
        for _ in range(3)
    ]
    assert codes == [202, 202, 429]
    limited = web.client.post("/subscribe", json={"email": "other@example.org"})
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
    assert len(_mail_to(settings, "same@example.org")) == 2
    page = web.client.post("/subscribe", data={"email": "third@example.org"})
    assert page.status_code == 429 and "Too many requests" in page.text


def test_token_bucket_refills() -> None:
    moment = [0.0]
    bucket = TokenBucket(RateLimit(2, 60), clock=lambda: moment[0], max_keys=3)
    assert [bucket.take("a"), bucket.take("a")] == [0.0, 0.0]
    assert bucket.take("a") == pytest.approx(30.0)
    moment[0] = 30.0
    assert bucket.take("a") == 0.0
    for key in "bcde":
        bucket.take(key)
    assert len(bucket._buckets) == 3
    assert RateLimit.parse("10/hour") == RateLimit(10, 3600.0)
    assert RateLimit.parse("5/90") == RateLimit(5, 90.0)
    with pytest.raises(ValueError):
        RateLimit.parse("ten per hour")


def test_robots_filling_the_hidden_field_are_ignored(
    serve: Callable[..., Web], settings: Settings, store: Store
) -> None:
    web = serve(settings, store)
    answer = web.client.post(
        "/subscribe", data={"email": "bot@example.org", "website": "http://spam.example"}
    )
    assert answer.status_code == 200 and "Check your inbox" in answer.text
    assert _status(store, "bot@example.org") is None


def test_preferences_change_and_resume(
    serve: Callable[..., Web], settings: Settings, publication: Store, fixed_now: datetime
) -> None:
    store = publication
    (person,) = add_subscribers(store, 1, now=fixed_now)
    web = serve(settings, store)
    token = tokens.sign(SECRET, "preferences", person)
    page = web.client.get("/preferences", params={"token": token})
    assert page.status_code == 200
    # The sections of the English articles are offered; Economy is only in Russian.
    assert 'value="Society"' in page.text and 'value="Foreign policy"' in page.text
    assert 'value="Economy"' not in page.text
    saved = web.client.post(
        "/preferences?token=" + token,
        data={"language": "ru", "frequency": "daily", "topics": ["Economy", "Society"]},
    )
    assert saved.status_code == 200 and "Настройки сохранены" in saved.text
    with store.read() as tx:
        after = tx.subscribers.get(person)
    assert after is not None
    assert (after.language, after.frequency, after.topics) == (
        "ru",
        Frequency.DAILY,
        ("Economy", "Society"),
    )
    bad = web.client.post("/preferences?token=" + token, data={"frequency": "hourly"})
    assert bad.status_code == 400
    # Unsubscribed readers can come back through their own preferences link.
    unsubscribe = tokens.sign(SECRET, "unsubscribe", person)
    assert web.client.post("/unsubscribe?token=" + unsubscribe).status_code == 200
    page = web.client.get("/preferences", params={"token": token})
    assert "Этот адрес отписан" in page.text and 'name="resume"' in page.text
    kept = web.client.post(
        "/preferences?token=" + token, data={"language": "ru", "frequency": "daily"}
    )
    assert kept.status_code == 200
    assert _status(store, "reader0@example.org") is SubscriberStatus.UNSUBSCRIBED
    resumed = web.client.post(
        "/preferences?token=" + token,
        data={"language": "en", "frequency": "weekly", "resume": "yes"},
    )
    assert resumed.status_code == 200
    assert _status(store, "reader0@example.org") is SubscriberStatus.ACTIVE


def test_pages_follow_the_readers_language(
    serve: Callable[..., Web], settings: Settings, store: Store, fixed_now: datetime
) -> None:
    (person,) = add_subscribers(store, 1, now=fixed_now, language="ru")
    web = serve(settings, store)
    form = web.client.get("/subscribe", headers={"accept-language": "ru-RU,ru;q=0.9,en;q=0.5"})
    assert '<html lang="ru"' in form.text and "Подписаться" in form.text
    english = web.client.get("/subscribe?lang=en", headers={"accept-language": "ru"})
    assert '<html lang="en"' in english.text
    page = web.client.get("/unsubscribe?token=" + tokens.sign(SECRET, "unsubscribe", person))
    assert '<html lang="ru"' in page.text and "Отписаться" in page.text
    assert web.client.get("/health").text == "ok"
    assert web.client.get("/").status_code == 303


def test_confirm_after_unsubscribing_does_not_resubscribe(
    serve: Callable[..., Web], settings: Settings, store: Store
) -> None:
    web = serve(settings, store)
    web.client.post("/subscribe", data={"email": "dora@example.org"})
    (message,) = _mail_to(settings, "dora@example.org")
    confirm = _link(message, "confirm")
    after_the_link = datetime.now(UTC) + timedelta(seconds=2)
    with store.write() as tx:
        dora = tx.subscribers.by_email("dora@example.org")
        assert dora is not None
        tx.subscribers.set_status(dora.id, SubscriberStatus.UNSUBSCRIBED, now=after_the_link)
    for method in ("GET", "POST"):
        stale = web.client.request(method, "/confirm", params={"token": confirm})
        assert stale.status_code == 200 and "This subscription was cancelled" in stale.text
    assert _status(store, "dora@example.org") is SubscriberStatus.UNSUBSCRIBED


def test_a_stranger_cannot_rewrite_an_unsubscribed_or_bounced_address(
    serve: Callable[..., Web], settings: Settings, store: Store, fixed_now: datetime
) -> None:
    gone, bounced = add_subscribers(store, 2, now=fixed_now, language="ru", prefix="old")
    with store.write() as tx:
        tx.subscribers.set_status(gone, SubscriberStatus.UNSUBSCRIBED, now=fixed_now)
        tx.subscribers.set_status(bounced, SubscriberStatus.BOUNCED, now=fixed_now)
    web = serve(settings, store)
    for address in ("old0@example.org", "old1@example.org"):
        answer = web.client.post(
            "/subscribe", json={"email": address, "name": "Mallory", "language": "en"}
        )
        assert answer.status_code == 202 and answer.json() == {"status": "pending"}
    with store.read() as tx:
        kept = tx.subscribers.get(gone)
        still_bounced = tx.subscribers.get(bounced)
    assert kept is not None and (kept.status, kept.name, kept.language) == (
        SubscriberStatus.UNSUBSCRIBED,
        "Reader 0",
        "ru",
    )
    assert still_bounced is not None and still_bounced.status is SubscriberStatus.BOUNCED
    assert _mail_to(settings, "old1@example.org") == []  # a bounced address is never mailed
    # The owner's resume on the preferences page still works...
    prefs = tokens.sign(SECRET, "preferences", gone)
    resumed = web.client.post(
        "/preferences",
        params={"token": prefs},
        data={"language": "ru", "frequency": "weekly", "resume": "yes"},
    )
    assert resumed.status_code == 200 and _status(store, "old0@example.org") is (
        SubscriberStatus.ACTIVE
    )


def test_a_new_request_and_its_confirmation_bring_an_unsubscribed_address_back(
    serve: Callable[..., Web], settings: Settings, store: Store, fixed_now: datetime
) -> None:
    (gone,) = add_subscribers(store, 1, now=fixed_now, prefix="back")
    with store.write() as tx:
        tx.subscribers.set_status(gone, SubscriberStatus.UNSUBSCRIBED, now=fixed_now)
    web = serve(settings, store)
    web.client.post("/subscribe", data={"email": "back0@example.org"})
    assert _status(store, "back0@example.org") is SubscriberStatus.UNSUBSCRIBED
    (message,) = _mail_to(settings, "back0@example.org")
    confirmed = web.client.post("/confirm", params={"token": _link(message, "confirm")})
    assert confirmed.status_code == 200
    assert _status(store, "back0@example.org") is SubscriberStatus.ACTIVE


def test_subscribe_topics_must_name_sections(
    serve: Callable[..., Web], settings: Settings, store: Store
) -> None:
    from tests.conftest import DEMO_NOW, make_article

    with store.write() as tx:
        tx.articles.save(make_article(id="alpha", section="Economy"), now=DEMO_NOW)
    web = serve(settings, store)
    unknown = web.client.post("/subscribe", json={"email": "a@example.org", "topics": ["Sport"]})
    assert unknown.status_code == 400 and unknown.json()["field"] == "topics"
    assert "'Sport' is not a section" in unknown.json()["message"]
    ok = web.client.post("/subscribe", json={"email": "a@example.org", "topics": "economy"})
    assert ok.status_code == 202
    with store.read() as tx:
        person = tx.subscribers.by_email("a@example.org")
    assert person is not None and person.topics == ("Economy",)


def test_topics_are_offered_by_the_name_readers_of_the_page_see(
    serve: Callable[..., Web], make_settings: Callable[..., Settings]
) -> None:
    from tests.conftest import DEMO_NOW, make_article

    settings = make_settings('[site.localized.ru.sections]\nEconomy = "Экономика"\n')
    store = Store.open(settings.store.url)
    try:
        with store.write() as tx:
            tx.articles.save(make_article(id="r1", language="ru", section="Economy"), now=DEMO_NOW)
            tx.articles.save(make_article(id="e1", section="Economy"), now=DEMO_NOW)
        web = serve(settings, store)
        russian = web.client.get("/subscribe?lang=ru")
        assert 'value="Economy"> Экономика</label>' in russian.text
        english = web.client.get("/subscribe?lang=en")
        assert 'value="Economy"> Economy</label>' in english.text
    finally:
        store.close()
