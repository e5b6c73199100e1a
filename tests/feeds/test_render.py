"""RSS and Atom details: each known feedgen pitfall, checked on real output."""

from __future__ import annotations

import html
import json
import locale
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest
from lxml import etree

from broadsheet.config import Settings
from broadsheet.errors import RenderError
from broadsheet.feeds import fg
from broadsheet.feeds.build import build_feeds
from broadsheet.feeds.model import Entry, FeedDoc
from broadsheet.model import Article
from tests.conftest import DEMO_NOW, make_article

ATOM = "{http://www.w3.org/2005/Atom}"
MEDIA = "{http://search.yahoo.com/mrss/}"
DC = "{http://purl.org/dc/elements/1.1/}"


def two_languages() -> list[Article]:
    return [
        make_article(
            id="talks-en",
            title="Talks <resume> & stall",
            authors=("Ann Author", "Boris Writer"),
            translations={"ru": "talks-ru"},
            image="https://news.example/img/talks.png",
            image_alt="Delegates",
            updated=DEMO_NOW - timedelta(hours=2),
        ),
        make_article(
            id="talks-ru",
            language="ru",
            title="Переговоры — снова тупик",
            url="https://news.example/ru/talks-ru/",
            translations={"en": "talks-en"},
            authors=(),
            published=DEMO_NOW - timedelta(days=2),
        ),
    ]


@pytest.fixture
def built(feed_settings: Callable[..., Settings], tmp_path: Path) -> Path:
    out = tmp_path / "feeds"
    build_feeds(two_languages(), feed_settings('hub = "https://hub.example/"'), out=out, ping=False)
    return out


def items(path: Path, tag: str) -> list[etree._Element]:
    return list(etree.parse(str(path)).getroot().iter(tag))


def test_several_authors_are_one_byline_in_rss_and_atom(built: Path) -> None:
    # Readers show one author element (the first or the last): each format
    # carries the whole byline in one (docs/feeds.md, tests/feeds/test_clients.py).
    item = items(built / "en.rss", "item")[0]
    assert [e.text for e in item.findall(f"{DC}creator")] == ["Ann Author, Boris Writer"]
    assert item.find("author") is None
    entry = items(built / "en.atom", f"{ATOM}entry")[0]
    names = [e.text for e in entry.findall(f"{ATOM}author/{ATOM}name")]
    assert names == ["Ann Author, Boris Writer"]
    guid = item.find("guid")
    assert guid is not None and guid.get("isPermaLink") == "false"
    assert guid.text and guid.text.startswith("tag:")


def test_one_enclosure_with_length_and_media_content_outside_a_group(built: Path) -> None:
    item = items(built / "en.rss", "item")[0]
    enclosures = item.findall("enclosure")
    assert len(enclosures) == 1
    assert enclosures[0].attrib == {
        "url": "https://news.example/img/talks.png",
        "length": "0",
        "type": "image/png",
    }
    assert item.find(f"{MEDIA}group") is None
    media = item.find(f"{MEDIA}content")
    assert media is not None and media.get("medium") == "image"
    entry = items(built / "en.atom", f"{ATOM}entry")[0]
    assert entry.find(f"{MEDIA}group") is None


def test_atom_entry_links_keep_rel_type_hreflang(built: Path) -> None:
    entry = items(built / "en.atom", f"{ATOM}entry")[0]
    links = [dict(link.attrib) for link in entry.findall(f"{ATOM}link")]
    assert links[0] == {
        "rel": "alternate",
        "type": "text/html",
        "hreflang": "en",
        "href": "https://news.example/en/talks-en/",
    }
    assert {
        "rel": "alternate",
        "type": "text/html",
        "hreflang": "ru",
        "title": "Переговоры — снова тупик",
        "href": "https://news.example/ru/talks-ru/",
    } in links
    assert {
        "rel": "enclosure",
        "type": "image/png",
        "href": "https://news.example/img/talks.png",
    } in links
    keys = [(link.get("rel"), link.get("type"), link.get("hreflang")) for link in links]
    assert len(keys) == len(set(keys)), "no duplicate alternate links"
    assert entry.get("{http://www.w3.org/XML/1998/namespace}lang") == "en"


def test_readers_take_the_entry_own_link(built: Path) -> None:
    for name in ("en.rss", "en.atom", "all.rss", "all.atom"):
        parsed = feedparser.parse((built / name).read_bytes())
        for entry in parsed.entries:
            assert entry.link.endswith(("/talks-en/", "/talks-ru/"))
            assert entry.link in entry.id or entry.id.endswith(entry.link.split("/")[-2])


def test_content_html_and_summary(built: Path) -> None:
    entry = items(built / "en.atom", f"{ATOM}entry")[0]
    content = entry.find(f"{ATOM}content")
    assert content is not None and content.get("type") == "html"
    assert content.text and content.text.startswith(
        '<p><img src="https://news.example/img/talks.png"'
    )
    summary = entry.find(f"{ATOM}summary")
    assert summary is not None and summary.text == "What the article is about."
    title = entry.find(f"{ATOM}title")
    assert title is not None and title.text == "Talks <resume> & stall"
    item = items(built / "en.rss", "item")[0]
    assert item.find("description") is not None
    assert item.find("{http://purl.org/rss/1.0/modules/content/}encoded") is not None


def test_feed_level_elements(built: Path) -> None:
    rss = etree.parse(str(built / "en.rss")).getroot().find("channel")
    assert rss is not None
    atom_links = {link.get("rel"): link for link in rss.findall(f"{ATOM}link")}
    assert atom_links["self"].get("href") == "https://news.example/feeds/en.rss"
    assert atom_links["hub"].get("href") == "https://hub.example/"
    assert rss.findtext("link") == "https://news.example"
    assert rss.findtext("language") == "en"
    assert rss.findtext("generator", "").startswith("broadsheet ")
    assert rss.findtext("{http://webfeeds.org/rss/1.0}accentColor") == "b3261e"
    feed = etree.parse(str(built / "ru.atom")).getroot()
    assert feed.get("{http://www.w3.org/XML/1998/namespace}lang") == "ru"
    rels = {link.get("rel") for link in feed.findall(f"{ATOM}link")}
    assert {"self", "alternate", "hub"} <= rels
    # The Russian entry has no author: it inherits the feed's.
    assert feed.find(f"{ATOM}author/{ATOM}name") is not None
    assert feed.find(f"{ATOM}entry/{ATOM}author") is None


def test_updated_is_the_newest_entry_never_now(built: Path) -> None:
    feed = etree.parse(str(built / "all.atom")).getroot()
    assert feed.findtext(f"{ATOM}updated") == "2026-11-23T03:00:00+00:00"
    channel = etree.parse(str(built / "all.rss")).getroot().find("channel")
    assert (
        channel is not None
        and channel.findtext("lastBuildDate") == "Mon, 23 Nov 2026 03:00:00 +0000"
    )
    item = items(built / "en.rss", "item")[0]
    assert item.findtext("pubDate") == "Sun, 22 Nov 2026 05:00:00 +0000"
    assert item.findtext(f"{ATOM}updated") == "2026-11-23T03:00:00+00:00"


def test_rfc822_ignores_the_locale() -> None:
    moment = datetime(2026, 2, 1, 9, 5, 7, tzinfo=UTC)
    previous = locale.setlocale(locale.LC_TIME)
    try:
        for name in ("de_DE.UTF-8", "ru_RU.UTF-8", "C.UTF-8"):
            try:
                locale.setlocale(locale.LC_TIME, name)
            except locale.Error:
                continue
            assert fg.rfc822(moment) == "Sun, 01 Feb 2026 09:05:07 +0000"
    finally:
        locale.setlocale(locale.LC_TIME, previous)
    assert fg.rfc822(datetime(2026, 2, 1, 12, 5, 7, tzinfo=UTC).astimezone()) == (
        "Sun, 01 Feb 2026 12:05:07 +0000"
    )


def test_builds_a_second_apart_are_identical(
    feed_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = feed_settings()
    build_feeds(two_languages(), settings, out=tmp_path / "a", ping=False)
    time.sleep(1.1)
    build_feeds(two_languages(), settings, out=tmp_path / "b", ping=False)
    for path in (tmp_path / "a").rglob("*"):
        if path.is_file() and not path.name.startswith("."):
            assert (
                path.read_bytes()
                == (tmp_path / "b" / path.relative_to(tmp_path / "a")).read_bytes()
            )


def test_feedgen_failure_is_a_render_error_naming_the_feed() -> None:
    entry = Entry(
        id="x", url="https://x.example/", title="bad \x00 title", language="en",
        content_html="", summary="s", authors=(), section=None, tags=(),
        published=DEMO_NOW, updated=DEMO_NOW, image=None, translations=(), digest="d",
    )  # fmt: skip
    doc = FeedDoc(
        format="atom", path="tag/x.atom", url="https://x.example/feeds/tag/x.atom",
        feed_id="https://x.example/feeds/tag/x.atom", title="T", description="D",
        language=None, home="https://x.example/", entries=(entry,), author="A", updated=DEMO_NOW,
    )  # fmt: skip
    with pytest.raises(RenderError, match=r"feed tag/x\.atom: entry 'x'"):
        fg.render(doc, fg.EntryCache())


def test_entries_serialised_together_are_the_entries_serialised_alone() -> None:
    # EntryCache serialises a document's entries in one lxml call and cuts the
    # result at each entry: the pieces must be what each entry alone gives.
    from broadsheet.feeds.entries import make_entry

    articles = [
        *two_languages(),
        make_article(id="plain", authors=(), tags=(), section=None, image=None),
        make_article(id="tricky", title="<entry> & <item>", body_html="<p>\n  <entry>\n</p>"),
    ]
    entries = tuple(make_entry(a, (), f"digest-{a.id}") for a in articles)
    for fmt in ("rss", "atom"):
        doc = FeedDoc(
            format=fmt, path=f"all.{fmt}", url="https://x.example/all", feed_id="https://x.example/all",
            title="T", description="D", language=None, home="https://x.example/", entries=entries,
            author="A", updated=DEMO_NOW, section_scheme="https://x.example/sections",
            tag_scheme="https://x.example/tags",
        )  # fmt: skip
        together = fg.EntryCache().entries(doc)
        alone = [fg.EntryCache([fmt]).get(entry, doc) for entry in entries]
        assert together == alone
        assert all(piece.endswith(b"\n") for piece in together)
        # And the whole document parses with every entry in place.
        root = etree.fromstring(fg.render(doc, fg.EntryCache()))
        found = root.findall(f"{ATOM}entry") if fmt == "atom" else root.findall("channel/item")
        assert len(found) == len(entries)


def test_stylesheet_is_referenced_relatively(built: Path) -> None:
    assert (
        b'<?xml-stylesheet type="text/xsl" href="feed.xsl"?>' in (built / "all.atom").read_bytes()
    )
    nested = built / "ru" / "section" / "foreign-policy.rss"
    assert b'href="../../feed.xsl"' in nested.read_bytes()
    assert b"xml-stylesheet" not in (built / "all.json").read_bytes()


def test_stylesheet_renders_both_formats(built: Path) -> None:
    xslt = etree.XSLT(etree.parse(str(built / "feed.xsl")))
    for name in ("all.rss", "all.atom", "ru.atom"):
        page = str(xslt(etree.parse(str(built / name))))
        assert "Talks &lt;resume&gt; &amp; stall" in page or "Переговоры" in page
        assert "https://news.example/feeds/" + name in page
    assert "Это RSS-лента" in str(xslt(etree.parse(str(built / "ru.rss"))))
    assert "This is a web feed" in str(xslt(etree.parse(str(built / "en.atom"))))


def test_no_stylesheet_when_turned_off(
    feed_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    build_feeds(two_languages(), feed_settings("stylesheet = false"), out=tmp_path, ping=False)
    assert not (tmp_path / "feed.xsl").exists()
    assert b"xml-stylesheet" not in (tmp_path / "all.rss").read_bytes()


def test_formats_and_empty_input(feed_settings: Callable[..., Settings], tmp_path: Path) -> None:
    report = build_feeds([], feed_settings('formats = ["atom"]'), out=tmp_path, ping=False)
    assert report.feeds == [] and json.loads((tmp_path / "index.json").read_text()) == {"feeds": []}
    report = build_feeds(
        two_languages(), feed_settings('formats = ["atom"]'), out=tmp_path, ping=False
    )
    assert {f["format"] for f in report.feeds} == {"atom"}
    assert not list(tmp_path.rglob("*.rss"))


def test_drafts_never_appear(feed_settings: Callable[..., Settings], tmp_path: Path) -> None:
    articles = [*two_languages(), make_article(id="secret", title="Secret draft", draft=True)]
    build_feeds(articles, feed_settings(), out=tmp_path, ping=False)
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert b"Secret draft" not in path.read_bytes(), path


def test_urls_with_spaces_and_cyrillic_are_written_as_uris(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    from tests.conftest import BASE_CONFIG

    settings = make_settings(
        base=BASE_CONFIG.replace(
            "[site]\n", '[site]\nlogo = "/img/our logo.svg"\nicon = "/img/наш значок.png"\n', 1
        )
    )
    article = make_article(id="spaced", image="https://news.example/img/lead photo.jpg")
    out = tmp_path / "feeds"
    build_feeds([article], settings, out=out, ping=False)
    atom = etree.parse(str(out / "all.atom")).getroot()
    assert atom.findtext(f"{ATOM}logo") == "https://news.example/img/our%20logo.svg"
    icon = "https://news.example/img/%D0%BD%D0%B0%D1%88%20%D0%B7%D0%BD%D0%B0%D1%87%D0%BE%D0%BA.png"
    assert atom.findtext(f"{ATOM}icon") == icon
    rss = etree.parse(str(out / "all.rss")).getroot()
    # RSS 2.0 allows only GIF, JPEG and PNG as the channel image: the icon stands in.
    assert rss.findtext("channel/image/url") == icon
    (enclosure,) = rss.iter("enclosure")
    assert enclosure.get("url") == "https://news.example/img/lead%20photo.jpg"
    (content,) = items(out / "all.atom", f"{MEDIA}content")
    assert content.get("url") == "https://news.example/img/lead%20photo.jpg"


def test_an_empty_body_gets_the_standfirst_as_content_not_a_blank_element(
    feed_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    from tests.conftest import atom_schema_path

    out = tmp_path / "feeds"
    build_feeds([make_article(id="bare", body_html="")], feed_settings(), out=out, ping=False)
    (entry,) = items(out / "all.atom", f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}content") == "<p>What the article is about.</p>"
    (item,) = items(out / "all.rss", "item")
    encoded = item.findtext("{http://purl.org/rss/1.0/modules/content/}encoded")
    assert encoded == "<p>What the article is about.</p>"
    feed = json.loads((out / "all.json").read_text("utf-8"))
    assert feed["items"][0]["content_html"] == "<p>What the article is about.</p>"
    schema = etree.RelaxNG(etree.parse(str(atom_schema_path())))
    assert schema.validate(etree.parse(str(out / "all.atom"))), schema.error_log
    assert not feedparser.parse((out / "all.atom").read_bytes()).bozo


def test_an_id_that_is_not_a_uri_gets_a_tag_uri_in_atom_only(
    feed_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    from tests.conftest import atom_schema_path

    out = tmp_path / "feeds"
    articles = [
        make_article(id="plain", guid="12345"),
        make_article(id="spaced", guid="Custom GUID with spaces"),
        make_article(id="uri", guid="urn:uuid:0b7a4d2e-4c5f-4e1a-9f3e-1d2c3b4a5e6f"),
    ]
    build_feeds(articles, feed_settings(), out=out, ping=False)
    ids = sorted(e.findtext(f"{ATOM}id") or "" for e in items(out / "all.atom", f"{ATOM}entry"))
    assert ids == [
        "tag:news.example,2026-11-22:guid/12345",
        "tag:news.example,2026-11-22:guid/Custom%20GUID%20with%20spaces",
        "urn:uuid:0b7a4d2e-4c5f-4e1a-9f3e-1d2c3b4a5e6f",
    ]
    guids = sorted(g.text or "" for g in items(out / "all.rss", "guid"))
    assert guids == ["12345", "Custom GUID with spaces", ids[2]]
    schema = etree.RelaxNG(etree.parse(str(atom_schema_path())))
    assert schema.validate(etree.parse(str(out / "all.atom"))), schema.error_log


def test_json_feed_items_have_the_1_0_author_and_the_1_1_authors(built: Path) -> None:
    feed = json.loads((built / "all.json").read_text(encoding="utf-8"))
    by_id = {item["url"].rstrip("/").rsplit("/", 1)[-1]: item for item in feed["items"]}
    talks = by_id["talks-en"]
    assert talks["author"] == {"name": "Ann Author, Boris Writer"}
    assert talks["authors"] == [{"name": "Ann Author"}, {"name": "Boris Writer"}]
    # No author at all: neither key (the feed's authors stand for it).
    assert "author" not in by_id["talks-ru"] and "authors" not in by_id["talks-ru"]


MARKUP = "<svg onload=alert(1)>"


def _markup_feeds(feed_settings: Callable[..., Settings], out: Path) -> None:
    article = make_article(
        id="probe",
        title=f"{MARKUP} & title",
        standfirst=f"A standfirst with {MARKUP} & more",
        authors=(MARKUP, "Ann & Author"),
        tags=(MARKUP,),
        section=MARKUP,
    )
    settings = feed_settings('sets = ["site", "section", "tag", "author"]')
    build_feeds([article], settings, out=out, ping=False)


def test_names_and_text_never_become_html_in_any_feed(
    feed_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """Tag, section, author names and titles are text in every place a reader renders HTML."""
    _markup_feeds(feed_settings, tmp_path)
    rss = sorted(tmp_path.rglob("*.rss"))
    assert {p.parent.name for p in rss} >= {"section", "tag", "author"}
    for path in rss:
        root = etree.parse(str(path)).getroot()
        channel = root.find("channel")
        assert channel is not None
        # RSS descriptions are HTML to readers: plain text arrives escaped,
        # so the HTML holds no element at all, and shows the text as it is.
        html_fields = [channel.findtext("description", "")]
        html_fields += [item.findtext("description", "") for item in channel.iter("item")]
        for field in html_fields:
            assert "<" not in field and ">" not in field, (path, field)
        shown = html.unescape(html_fields[0])
        if path.parent.name in ("tag", "section") or "svg" in path.name:
            assert MARKUP in shown, (path, shown)
        assert html.unescape(html_fields[1]) == f"A standfirst with {MARKUP} & more"
        # feedparser (and readers built on it) sees text, not an svg element.
        parsed = feedparser.parse(path.read_bytes())
        assert "<svg" not in parsed.feed.subtitle and "<svg" not in parsed.entries[0].summary
        # Titles are text in RSS for every reader tried: left as they are.
        assert channel.findtext("item/title") == f"{MARKUP} & title"
    for path in sorted(tmp_path.rglob("*.atom")):
        root = etree.parse(str(path)).getroot()
        for tag in ("title", "subtitle", "entry/title", "entry/summary", "entry/author/name"):
            for element in root.findall("/".join(f"{ATOM}{t}" for t in tag.split("/"))):
                assert element.get("type") in (None, "text"), (path, tag)
    for path in sorted(tmp_path.rglob("*.json")):
        if path.name == "index.json" or path.name.startswith("."):
            continue
        (item,) = json.loads(path.read_text(encoding="utf-8"))["items"]
        # content_html is the sanitised body; the names and title appear in it nowhere.
        assert "svg" not in item["content_html"]
        assert item["title"] == f"{MARKUP} & title"


def test_an_empty_body_stands_in_escaped(
    feed_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    article = make_article(body_html="", standfirst=f"{MARKUP} & more")
    build_feeds([article], feed_settings('sets = ["site"]'), out=tmp_path, ping=False)
    (item,) = json.loads((tmp_path / "all.json").read_text(encoding="utf-8"))["items"]
    assert item["content_html"] == "<p>&lt;svg onload=alert(1)&gt; &amp; more</p>"
