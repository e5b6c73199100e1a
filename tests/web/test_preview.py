"""``GET /preview/EDITION?token=``: a built edition for its editors, behind a signed link."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import datetime

import httpx
import pytest

from broadsheet.config import Settings
from broadsheet.emails.edition import tokens
from broadsheet.model import EditionRecord, Frequency
from broadsheet.scheduler.editions import build_edition
from broadsheet.store import Store
from broadsheet.web.preview import preview_token, preview_url
from tests.delivery.helpers import save_edition
from tests.web.conftest import SECRET, Web


def _built(store: Store, settings: Settings, now: datetime) -> EditionRecord:
    outcome = build_edition(store, settings, language="en", frequency=Frequency.WEEKLY, now=now)
    assert outcome.edition is not None
    return outcome.edition


@pytest.fixture
def client(serve: Callable[..., Web], settings: Settings, publication: Store) -> httpx.Client:
    return serve(settings, publication).client


def test_a_signed_link_shows_both_widths_the_size_and_the_text(
    client: httpx.Client, settings: Settings, publication: Store, fixed_now: datetime
) -> None:
    record = _built(publication, settings, fixed_now)
    url = preview_url(settings, SECRET, record.id)
    assert url.startswith(f"https://news.example/newsletter/preview/{record.id}?token=")
    answer = client.get(f"/preview/{record.id}", params={"token": preview_token(SECRET, record.id)})
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    page = answer.text
    frames = re.findall(r'<iframe class="(\w+)"[^>]* sandbox srcdoc="([^"]*)"', page)
    assert [name for name, _ in frames] == ["desktop", "mobile"]
    shown = html.unescape(frames[0][1])
    assert shown == html.unescape(frames[1][1])
    assert "%%bs:" not in shown and "Piece 1" in shown
    assert "width:375px" in page.replace(" ", "")
    # The size the clipping guard measured when the edition was built.
    clip = record.extra["clip"]
    assert isinstance(clip, dict)
    assert f"HTML {clip['size']:,} of {clip['limit']:,} bytes" in page
    assert "fits" in page
    # The plain-text twin, neutral too.
    text = re.search(r'<pre id="text">(.*?)</pre>', page, re.S)
    assert text and "Piece 1" in html.unescape(text.group(1))
    assert "%%bs:" not in text.group(1)


def _tampered(token: str) -> str:
    """``token`` with one signature character changed (not the last, whose low bits
    base64 may ignore; and never to the character it already is)."""
    at = len(token) - 5
    return token[:at] + ("C" if token[at] == "B" else "B") + token[at + 1 :]


def test_without_the_right_token_nothing_of_the_edition_is_shown(
    client: httpx.Client, settings: Settings, publication: Store, fixed_now: datetime
) -> None:
    record = _built(publication, settings, fixed_now)
    other = "weekly-ru-2026-11-23"
    bad = [
        {},
        {"token": ""},
        {"token": preview_token(SECRET, other)},  # for another edition
        {"token": preview_token("another secret", record.id)},
        {"token": tokens.sign(SECRET, "unsubscribe", 1)},  # another purpose
        {"token": _tampered(preview_token(SECRET, record.id))},
    ]
    for params in bad:
        answer = client.get(f"/preview/{record.id}", params=params)
        assert answer.status_code == 403, params
        assert record.subject not in answer.text and "Piece" not in answer.text
    # A good token for an edition not in the store.
    missing = client.get(f"/preview/{other}", params={"token": preview_token(SECRET, other)})
    assert missing.status_code == 404
    # GET only.
    token = preview_token(SECRET, record.id)
    posted = client.post(f"/preview/{record.id}", params={"token": token})
    assert posted.status_code == 405


def test_without_a_clip_record_the_neutral_html_is_measured(
    serve: Callable[..., Web], make_settings: Callable[..., Settings], fixed_now: datetime
) -> None:
    settings = make_settings("[emails]\nclip_limit = 100\n")
    store = Store.open(settings.store.url)
    try:
        record = save_edition(store, now=fixed_now)
        client = serve(settings, store).client
        answer = client.get(
            f"/preview/{record.id}", params={"token": preview_token(SECRET, record.id)}
        )
    finally:
        store.close()
    assert answer.status_code == 200
    assert "of 100 bytes" in answer.text and "OVER THE LIMIT" in answer.text


def test_edition_build_prints_a_preview_link_that_serve_opens(
    serve: Callable[..., Web], demo_settings: Settings
) -> None:
    from click.testing import CliRunner

    from broadsheet.cli import cli

    args = ["edition", "build", "--language", "en", "--frequency", "weekly"]
    args += ["--at", "2026-11-23T08:00:00+03:00", "--config", str(demo_settings.path)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    found = re.search(r"preview +(\S+)", result.output)
    assert found, result.output
    link = httpx.URL(found.group(1))
    assert str(link).startswith(f"{demo_settings.links_url}/preview/weekly-en-2026-11-23?token=")
    store = Store.open(demo_settings.store.url)
    try:
        web = serve(demo_settings, store)
        path = link.path.removeprefix(httpx.URL(demo_settings.links_url).path)
        answer = web.client.get(path, params=dict(link.params))
        assert answer.status_code == 200
        assert "375 px" in answer.text and "Plain text" in answer.text
    finally:
        store.close()
