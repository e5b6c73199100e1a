"""Counted links (``[links] count_clicks``): ``/r/TOKEN`` counts per edition and link, never per reader.

Real editions built by the scheduler, served by uvicorn, on SQLite and
PostgreSQL: a click redirects to the article with its UTM parameters and adds
one to that link's count, and a snapshot of every table before and after
shows that nothing else was written; forged tokens, links the edition did
not carry and URLs in the path are refused with a 404 page.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from broadsheet.config import Settings
from broadsheet.emails.edition import tokens
from broadsheet.emails.edition.counted import link_key
from broadsheet.emails.edition.personalize import Personal, fill_html, fill_text
from broadsheet.model import DailyViews, EditionRecord, Frequency
from broadsheet.scheduler.editions import build_edition
from broadsheet.store import Store, schema
from tests.conftest import BASE_CONFIG, make_article
from tests.failing_stores import database_cut_off
from tests.web.conftest import SECRET, Web

COUNTING = "\n[links]\ncount_clicks = true\n"
REDIRECT = re.compile(r"https://news\.example/newsletter/r/([A-Za-z0-9_.-]+)")


def _seed(store: Store, now: datetime) -> None:
    """Six new English articles, two with Russian translations, and older ones, with views."""
    articles = []
    for day in range(6):
        articles.append(
            make_article(
                id=f"piece-{day}",
                title=f"Piece {day}",
                published=now - timedelta(days=day, hours=3),
                translations={"ru": f"statya-{day}"} if day < 2 else {},
            )
        )
        if day < 2:
            articles.append(
                make_article(
                    id=f"statya-{day}",
                    language="ru",
                    title=f"Статья {day}",
                    published=now - timedelta(days=day, hours=3),
                    translations={"en": f"piece-{day}"},
                )
            )
    articles += [
        make_article(id=f"older-{i}", title=f"Older {i}", published=now - timedelta(days=20 + i))
        for i in range(3)
    ]
    with store.write() as tx:
        for article in articles:
            tx.articles.save(article, now=now)
        tx.views.put(
            DailyViews(a.id, (now - timedelta(days=1)).date(), 100 - i)
            for i, a in enumerate(articles)
        )


def _edition(store: Store, settings: Settings, now: datetime) -> EditionRecord:
    _seed(store, now)
    outcome = build_edition(store, settings, language="en", frequency=Frequency.WEEKLY, now=now)
    assert outcome.edition is not None
    return outcome.edition


def _personal() -> Personal:
    return Personal(
        greeting="Hello Ann,",
        unsubscribe_url="https://news.example/newsletter/unsubscribe?token=PERSONAL",
        preferences_url="https://news.example/newsletter/preferences?token=PERSONAL",
    )


def _snapshot(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, to compare before and after a click."""
    with store.read() as tx:
        return {
            table.name: sorted(
                (tuple(str(value) for value in row) for row in tx.conn.execute(select(table))),
            )
            for table in schema.TABLES
        }


@pytest.fixture(params=["sqlite", "postgresql"])
def counting(request: pytest.FixtureRequest, make_settings: Callable[..., Settings]) -> Settings:
    base = BASE_CONFIG
    if request.param == "postgresql":
        pg_url = request.getfixturevalue("pg_url")
        base = base.replace('url = "sqlite:///broadsheet.db"', f'url = "{pg_url}"')
    return make_settings(COUNTING, base=base)


def test_a_click_redirects_with_utm_is_counted_and_names_no_reader(
    serve: Callable[..., Web],
    counting: Settings,
    fixed_now: datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BROADSHEET_SECRET", SECRET)
    store = Store.open(counting.store.url)
    try:
        record = _edition(store, counting, fixed_now)
        with store.read() as tx:
            stored = {link.key: link for link in tx.links.of_edition(record.id)}
        # The message's links are counted: the article, translation and donation
        # links and the web copy's; the personal ones are left for each reader.
        message = fill_html(record.html, _personal())
        text = fill_text(record.text, _personal())
        counted = set(REDIRECT.findall(message))
        assert counted and counted == set(REDIRECT.findall(text))
        assert "unsubscribe?token=PERSONAL" in message and "preferences?token=PERSONAL" in message
        assert "https://news.example/en/piece-0" not in message
        # The donation block's other wordings, kept for the sender, are counted too.
        wordings = set(REDIRECT.findall(str(record.extra.get("donation", ""))))
        assert {tokens.verify_link(SECRET, token) for token in counted | wordings} == {
            (record.id, key) for key in stored
        }
        blocks = {link.block for link in stored.values()}
        assert {"lead", "new", "top_reads", "donation", "web_copy", "archive"} <= blocks
        assert all(link.clicks == 0 for link in stored.values())
        assert {link.variant for link in stored.values() if link.block != "donation"} == {""}
        donate = [link for link in stored.values() if link.block == "donation"]
        assert donate and all(
            link.url.startswith("https://news.example/en/donate/?utm_") for link in donate
        )
        # The public web copy is not a message: its links go straight to the pages.
        web_copy = (counting.emails.out / "en" / record.id / "index.html").read_text()
        archive = (counting.emails.out / "en" / "index.html").read_text()
        assert "/r/" not in web_copy and "/r/" not in archive
        assert "https://news.example/en/piece-0/?utm_source=newsletter" in web_copy

        web = serve(counting, store)
        lead = next(
            link for link in stored.values() if link.block == "lead" and "/en/piece-0/" in link.url
        )
        translated = [link for link in stored.values() if "/ru/statya-0/" in link.url]
        assert [link.block for link in translated] == ["lead"]
        token = tokens.sign_link(SECRET, record.id, lead.key)
        before = _snapshot(store)
        # A mail scanner's HEAD redirects without counting.
        checked = web.client.head(f"/r/{token}")
        assert checked.status_code == 303 and checked.headers["location"] == lead.url
        assert _snapshot(store) == before
        answer = web.client.get(f"/r/{token}", headers={"Cookie": "who=ann"})
        assert answer.status_code == 303
        assert answer.headers["location"] == lead.url
        assert answer.headers["cache-control"] == "no-store"
        assert "set-cookie" not in answer.headers
        target = urlsplit(answer.headers["location"])
        assert (target.netloc, target.path) == ("news.example", "/en/piece-0/")
        assert parse_qs(target.query) == {
            "utm_source": ["newsletter"],
            "utm_medium": ["email"],
            "utm_campaign": [record.id],
        }
        after = _snapshot(store)
        # One number changed, in one row of edition_links; nothing else in the store.
        changed = {name for name in before if before[name] != after[name]}
        assert changed == {"edition_links"}
        gone = set(before["edition_links"]) - set(after["edition_links"])
        came = set(after["edition_links"]) - set(before["edition_links"])
        assert len(gone) == len(came) == 1
        (old,), (new,) = gone, came
        assert old[:-1] == new[:-1] and (old[-1], new[-1]) == ("0", "1")
        assert [c.name for c in schema.edition_links.columns] == [
            "edition_id",
            "key",
            "url",
            "block",
            "variant",
            "clicks",
        ]
        # Clicks at once are all counted (one UPDATE each).
        clients = [threading.Thread(target=web.client.get, args=(f"/r/{token}",)) for _ in range(8)]
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join()
        with store.read() as tx:
            clicks = {link.key: link.clicks for link in tx.links.of_edition(record.id)}
        assert clicks[lead.key] == 9
        assert sum(clicks.values()) == 9
    finally:
        store.close()


def test_forged_tokens_and_foreign_urls_are_refused_and_count_nothing(
    serve: Callable[..., Web],
    make_settings: Callable[..., Settings],
    fixed_now: datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BROADSHEET_SECRET", SECRET)
    settings = make_settings(COUNTING)
    store = Store.open(settings.store.url)
    try:
        record = _edition(store, settings, fixed_now)
        with store.read() as tx:
            key = tx.links.of_edition(record.id)[0].key
        good = tokens.sign_link(SECRET, record.id, key)
        edition, _, signature = good.rpartition(".")
        flipped = signature[:5] + ("B" if signature[5] != "B" else "C") + signature[6:]
        evil = link_key("lead", "", "https://evil.example/")
        forged = {
            "altered signature": f"{edition}.{flipped}",
            "other secret": tokens.sign_link("not-the-secret", record.id, key),
            "other edition": f"weekly-en-2026-11-16.{key}.{signature}",
            "other key": f"{record.id}.{evil}.{signature}",
            # Properly signed, but the edition never carried that link.
            "link not carried": tokens.sign_link(SECRET, record.id, evil),
            "edition not stored": tokens.sign_link(SECRET, "weekly-en-1999-01-04", key),
            "truncated": good[:-3],
            "garbage": "not-a-token",
            "a URL": "https:%2F%2Fevil.example%2F",
            "non-ASCII": f"{edition}.{'é' * len(signature)}",
        }
        web = serve(settings, store)
        before = _snapshot(store)
        for kind, token in forged.items():
            for method in ("GET", "HEAD"):
                answer = web.client.request(method, f"/r/{token}")
                assert answer.status_code == 404, (kind, method, answer.status_code)
                assert "location" not in answer.headers
            page = web.client.get(f"/r/{token}", headers={"Accept-Language": "ru"})
            assert "Ссылка не работает" in page.text or "не работает" in page.text, kind
        assert "evil.example" not in web.client.get("/r/https://evil.example/").text
        assert _snapshot(store) == before
    finally:
        store.close()


def test_without_counting_links_go_straight_with_utm(
    settings: Settings, publication: Store, fixed_now: datetime
) -> None:
    outcome = build_edition(
        publication, settings, language="en", frequency=Frequency.WEEKLY, now=fixed_now
    )
    assert outcome.edition is not None
    html = outcome.edition.html
    assert "/r/" not in html and "/r/" not in outcome.edition.text
    assert "https://news.example/en/piece-01/?utm_source=newsletter" in html
    # The donation button too.
    assert "https://news.example/en/donate/?utm_source=newsletter&amp;utm_medium=email" in html
    with publication.read() as tx:
        assert tx.links.of_edition(outcome.edition.id) == []


def test_a_store_gone_is_503_not_a_redirect(
    serve: Callable[..., Web],
    make_settings: Callable[..., Settings],
    pg_url: str,
    fixed_now: datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BROADSHEET_SECRET", SECRET)
    base = BASE_CONFIG.replace('url = "sqlite:///broadsheet.db"', f'url = "{pg_url}"')
    settings = make_settings(COUNTING, base=base)
    store = Store.open(settings.store.url)
    try:
        record = _edition(store, settings, fixed_now)
        with store.read() as tx:
            link = tx.links.of_edition(record.id)[0]
        web = serve(settings, store)
        token = tokens.sign_link(SECRET, record.id, link.key)
        with database_cut_off(pg_url):
            answer = web.client.get(f"/r/{token}")
            assert answer.status_code == 503
            assert answer.headers["retry-after"]
        answer = web.client.get(f"/r/{token}")
        assert answer.status_code == 303 and answer.headers["location"] == link.url
    finally:
        store.close()


VARIANTS = """
[[donation.en.variants]]
heading = "Pay for the next story"
text = "One reader in a hundred pays for what all read."
button_label = "Give"

[[donation.en.variants]]
heading = "No paywall, no owner"
text = "Only readers keep it so."
button_label = "Support"
"""


def test_every_wording_of_the_donation_block_is_counted_apart(
    make_settings: Callable[..., Settings], fixed_now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BROADSHEET_SECRET", SECRET)
    base = BASE_CONFIG.replace("[donation.ru]", VARIANTS + "\n[donation.ru]")
    settings = make_settings(COUNTING, base=base)
    store = Store.open(settings.store.url)
    try:
        record = _edition(store, settings, fixed_now)
        with store.read() as tx:
            donate = [link for link in tx.links.of_edition(record.id) if link.block == "donation"]
        # Each wording with a button has its own counted link, all to the same page.
        assert {link.variant for link in donate} >= {"v1", "v2", "renew"}
        assert len({link.key for link in donate}) == len(donate)
        assert {link.url for link in donate} == {
            f"https://news.example/en/donate/?utm_source=newsletter&utm_medium=email"
            f"&utm_campaign={record.id}"
        }
        # The wordings kept for the sender carry the counted links too.
        kept = str(record.extra.get("donation", ""))
        for link in donate:
            if link.variant in ("v1", "v2", "renew"):
                assert tokens.sign_link(SECRET, record.id, link.key) in kept, link.variant
    finally:
        store.close()


def test_serve_leaves_counted_links_out_of_its_access_log(
    make_settings: Callable[..., Settings], fixed_now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    import logging

    import httpx

    from broadsheet.web.app import create_app
    from broadsheet.web.server import make_config
    from tests.web.conftest import LiveServer

    monkeypatch.setenv("BROADSHEET_SECRET", SECRET)
    settings = make_settings(COUNTING)
    store = Store.open(settings.store.url)
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    server = None
    keep = Keep()
    try:
        record = _edition(store, settings, fixed_now)
        with store.read() as tx:
            key = tx.links.of_edition(record.id)[0].key
        app = create_app(settings, store, now=lambda: fixed_now)
        # As `broadsheet serve` sets uvicorn up (its access log on).
        server = LiveServer(app, make_config=make_config).start()
        access = logging.getLogger("uvicorn.access")
        access.addHandler(keep)
        monkeypatch.setattr(access, "level", logging.INFO)  # the test server logs warnings only
        with httpx.Client(base_url=server.url) as client:
            token = tokens.sign_link(SECRET, record.id, key)
            assert client.get(f"/r/{token}").status_code == 303
            assert client.get("/r/forged").status_code == 404
            assert client.get("/health").status_code == 200
        assert any("/health" in line for line in lines), lines
        assert not any("/r/" in line for line in lines), lines
    finally:
        logging.getLogger("uvicorn.access").removeHandler(keep)
        if server is not None:
            server.stop()
        store.close()


def test_a_campaign_counts_its_masthead_donation_and_footer_links(
    make_settings: Callable[..., Settings],
    fixed_now: datetime,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    from broadsheet.scheduler.campaigns import build_campaign

    monkeypatch.setenv("BROADSHEET_SECRET", SECRET)
    settings = make_settings(COUNTING)
    source = tmp_path / "appeal.md"
    source.write_text(
        "---\nsubject: Our year-end appeal\nlanguage: en\naudience:\n  frequency: weekly\n---\n"
        "This year **you** paid for [our reporting](/en/reports/).\n",
        encoding="utf-8",
    )
    store = Store.open(settings.store.url)
    try:
        outcome = build_campaign(store, settings, source, now=fixed_now)
        assert outcome.edition is not None
        record = outcome.edition
        with store.read() as tx:
            stored = tx.links.of_edition(record.id)
        assert {"masthead", "donation", "web_copy", "archive"} <= {link.block for link in stored}
        tokens_in_message = set(REDIRECT.findall(record.html)) | set(
            REDIRECT.findall(str(record.extra.get("donation", "")))
        )
        assert {tokens.verify_link(SECRET, token)[1] for token in tokens_in_message} == {
            link.key for link in stored
        }
        # The body's own links go straight to their pages.
        assert "https://news.example/en/reports/" in record.html
    finally:
        store.close()


def test_each_reader_gets_the_counted_link_of_their_own_appeal_variant(
    make_settings: Callable[..., Settings], fixed_now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    import email
    import mailbox

    from broadsheet.emails import send_edition
    from tests.delivery.helpers import add_subscribers

    monkeypatch.setenv("BROADSHEET_SECRET", SECRET)
    base = BASE_CONFIG.replace("[donation.ru]", VARIANTS + "\n[donation.ru]")
    settings = make_settings(COUNTING, base=base)
    store = Store.open(settings.store.url)
    try:
        record = _edition(store, settings, fixed_now)
        add_subscribers(store, 12, now=fixed_now - timedelta(days=30))
        sent = send_edition(store, settings, record.id, now=fixed_now, transport="maildir")
        assert sent.sent == 12
        with store.read() as tx:
            by_key = {link.key: link for link in tx.links.of_edition(record.id)}
        seen: set[str] = set()
        for message in mailbox.Maildir(settings.delivery.maildir, create=False):
            parsed = email.message_from_bytes(message.as_bytes())
            for part in parsed.walk():
                if part.get_content_maintype() != "text":
                    continue
                body = part.get_payload(decode=True)
                assert isinstance(body, bytes)
                text = body.decode(part.get_content_charset() or "utf-8")
                found = {tokens.verify_link(SECRET, t) for t in REDIRECT.findall(text)}
                assert found, part.get_content_type()
                assert {edition for edition, _ in found} == {record.id}
                variants = {
                    by_key[key].variant for _, key in found if by_key[key].block == "donation"
                }
                # One wording per message: the reader's own variant.
                assert len(variants) == 1 and variants <= {"v1", "v2"}, variants
                seen |= variants
        # Readers who never gave are split among the variants.
        assert seen == {"v1", "v2"}
    finally:
        store.close()
