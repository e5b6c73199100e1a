"""Feeds and the web archive over HTTP: types, ETag, Last-Modified, 304, gzip."""

from __future__ import annotations

import os
from collections.abc import Callable

import httpx

from broadsheet.config import Settings
from broadsheet.store import Store
from tests.web.conftest import Web, write_file

RSS = (
    '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
    + ("<item><title>An item</title><description>Words and more words.</description></item>" * 40)
    + "</channel></rss>\n"
)


def _publish(settings: Settings) -> None:
    feeds = settings.feeds.out
    write_file(feeds / "all.rss", RSS)
    write_file(feeds / "all.atom", '<feed xmlns="http://www.w3.org/2005/Atom"/>\n')
    write_file(feeds / "all.json", '{"version": "https://jsonfeed.org/version/1.1"}\n')
    write_file(feeds / "index.json", '{"feeds": []}\n')
    write_file(feeds / "feed.xsl", "<xsl:stylesheet/>\n")
    write_file(feeds / ".broadsheet-feeds.json", '{"secret": "state"}\n')
    editions = settings.emails.out
    write_file(editions / "en" / "index.html", "<!DOCTYPE html><title>Archive</title>\n")
    write_file(editions / "en" / "weekly-en-2026-11-23" / "edition.json", '{"id": "x"}\n')
    write_file(
        editions / "en" / "weekly-en-2026-11-23" / "index.html",
        "<!DOCTYPE html><title>Edition</title>" + "<p>Text.</p>" * 200 + "\n",
    )


def test_feeds_have_their_media_types(
    serve: Callable[..., Web], settings: Settings, store: Store
) -> None:
    _publish(settings)
    web = serve(settings, store)
    reader = {"accept": "application/rss+xml, application/atom+xml, */*"}
    expected = {
        "/feeds/all.rss": "application/rss+xml; charset=utf-8",
        "/feeds/all.atom": "application/atom+xml; charset=utf-8",
        "/feeds/all.json": "application/feed+json",
        "/feeds/index.json": "application/json",
        "/feeds/feed.xsl": "text/xsl; charset=utf-8",
        "/editions/en/": "text/html; charset=utf-8",
        # Not a feed: plain JSON.
        "/editions/en/weekly-en-2026-11-23/edition.json": "application/json",
    }
    for path, media_type in expected.items():
        response = web.client.get(path, headers=reader)
        assert response.status_code == 200, path
        assert response.headers["content-type"] == media_type, path
        assert response.headers["x-content-type-options"] == "nosniff"
    # A browser asks for HTML: it gets XML it can style with feed.xsl.
    browser = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
    shown = web.client.get("/feeds/all.atom", headers=browser)
    assert shown.headers["content-type"] == "application/xml; charset=utf-8"
    assert shown.headers["vary"] == "Accept"
    # Publisher state files are not published.
    assert web.client.get("/feeds/.broadsheet-feeds.json").status_code == 404
    assert web.client.get("/feeds/missing.rss").status_code == 404
    assert web.client.get("/editions/en/weekly-en-2026-11-23/").text.startswith("<!DOCTYPE")
    assert web.client.get("/feeds/all.rss").headers["cache-control"] == "public, max-age=300"


def test_conditional_get_and_gzip(
    serve: Callable[..., Web], settings: Settings, store: Store
) -> None:
    _publish(settings)
    web = serve(settings, store)
    plain = {"accept-encoding": "identity"}
    first = web.client.get("/feeds/all.rss", headers=plain)
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert first.content == RSS.encode()
    assert (
        web.client.get("/feeds/all.rss", headers={**plain, "if-none-match": etag}).status_code
        == 304
    )
    by_date = web.client.get("/feeds/all.rss", headers={**plain, "if-modified-since": modified})
    assert by_date.status_code == 304 and by_date.content == b""
    # RFC 9110: a date later than the server's clock is invalid, and ignored.
    future = web.client.get(
        "/feeds/all.rss", headers={**plain, "if-modified-since": "Fri, 01 Jan 2100 00:00:00 GMT"}
    )
    assert future.status_code == 200
    nonsense = web.client.get("/feeds/all.rss", headers={**plain, "if-modified-since": "soon"})
    assert nonsense.status_code == 200
    # A changed file has a new validator, so the old one no longer matches.
    path = settings.feeds.out / "all.rss"
    path.write_text(RSS.replace("An item", "A new item"), encoding="utf-8")
    stamp = os.stat(path).st_mtime + 5
    os.utime(path, (stamp, stamp))
    changed = web.client.get("/feeds/all.rss", headers={**plain, "if-none-match": etag})
    assert changed.status_code == 200 and b"A new item" in changed.content
    assert changed.headers["etag"] != etag
    # gzip on request: the body is compressed and the ETag becomes weak.
    raw = httpx.get(
        f"{web.url}/editions/en/weekly-en-2026-11-23/",
        headers={"accept-encoding": "gzip"},
    )
    assert raw.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in raw.headers["vary"]
    weak = raw.headers["etag"]
    assert weak.startswith('W/"')
    assert raw.text.startswith("<!DOCTYPE html>")
    again = web.client.get(
        "/editions/en/weekly-en-2026-11-23/",
        headers={"accept-encoding": "gzip", "if-none-match": weak},
    )
    assert again.status_code == 304
    head = web.client.head("/feeds/all.atom")
    assert head.status_code == 200 and head.content == b"" and head.headers["etag"]


def test_missing_folders_are_404_not_errors(
    serve: Callable[..., Web], settings: Settings, store: Store
) -> None:
    web = serve(settings, store)
    assert web.client.get("/feeds/all.rss").status_code == 404
    assert web.client.get("/editions/en/").status_code == 404


def test_a_folder_without_its_slash_redirects_relative_to_what_was_asked(
    serve: Callable[..., Web], settings: Settings, store: Store
) -> None:
    _publish(settings)
    web = serve(settings, store)
    moved = web.client.get(
        "/editions/en/weekly-en-2026-11-23",
        headers={"host": "example.org", "x-forwarded-proto": "https"},
        follow_redirects=False,
    )
    assert moved.status_code in (301, 302, 307, 308)
    # Relative: behind a proxy serving /newsletter/, the browser goes to
    # /newsletter/editions/en/weekly-en-2026-11-23/, not /editions/….
    assert moved.headers["location"] == "weekly-en-2026-11-23/"
    followed = web.client.get("/editions/en/weekly-en-2026-11-23", follow_redirects=True)
    assert followed.status_code == 200 and "<title>Edition</title>" in followed.text


def test_a_304_has_the_etag_and_vary_of_the_200_it_stands_for(
    serve: Callable[..., Web], settings: Settings, store: Store
) -> None:
    """RFC 9110 15.4.5: a 304 carries the ETag and Vary the 200 would have.

    A cache (newsboat's, for one) stores the validator a 304 sends: a strong
    ETag on the 304 of a gzip-encoded 200 with a weak one flipped it back
    and forth, and a shorter Vary than the 200's.
    """
    _publish(settings)
    web = serve(settings, store)
    cases = [
        # (path, request headers) - compressed or not, feeds (Vary: Accept) or not.
        ("/feeds/all.rss", {"accept-encoding": "gzip", "accept": "application/rss+xml"}),
        ("/feeds/all.rss", {"accept-encoding": "identity", "accept": "application/rss+xml"}),
        ("/feeds/all.atom", {"accept-encoding": "gzip"}),
        ("/editions/en/weekly-en-2026-11-23/", {"accept-encoding": "gzip"}),
        ("/editions/en/weekly-en-2026-11-23/", {"accept-encoding": "identity"}),
    ]
    for path, headers in cases:
        full = httpx.get(f"{web.url}{path}", headers=headers)
        assert full.status_code == 200, path
        etag = full.headers["etag"]
        for validator in (
            {"if-none-match": etag},
            {"if-none-match": etag.removeprefix("W/")},
            {"if-modified-since": full.headers["last-modified"]},
        ):
            short = httpx.get(f"{web.url}{path}", headers={**headers, **validator})
            assert short.status_code == 304, (path, headers, validator)
            assert short.headers["etag"] == etag, (path, headers, validator)
            assert short.headers.get("vary") == full.headers.get("vary"), (path, headers)
            for name in ("cache-control", "content-location", "expires"):
                assert short.headers.get(name) == full.headers.get(name), (path, name)


def test_site_static_serves_the_sites_own_files_after_every_route(
    serve: Callable[..., Web], settings: Settings, store: Store
) -> None:
    import dataclasses

    static = settings.root / "public"
    write_file(static / "images" / "logo.svg", "<svg xmlns='http://www.w3.org/2000/svg'/>\n")
    write_file(static / ".hidden", "state\n")
    _publish(settings)
    site = dataclasses.replace(settings.site, static=static)
    web = serve(dataclasses.replace(settings, site=site), store)
    logo = web.client.get("/images/logo.svg")
    assert logo.status_code == 200
    assert logo.headers["content-type"].startswith("image/svg+xml")
    assert "etag" in logo.headers and "max-age" in logo.headers["cache-control"]
    assert web.client.get("/images/absent.png").status_code == 404
    assert web.client.get("/.hidden").status_code == 404
    # Routes above it still answer.
    assert web.client.get("/health").text == "ok"
    assert web.client.get("/feeds/all.json").status_code == 200
    # Without site.static, nothing else is served.
    plain = serve(settings, store)
    assert plain.client.get("/images/logo.svg").status_code == 404
