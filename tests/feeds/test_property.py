"""No bad input makes a bad feed: arbitrary Unicode in titles, bodies and names."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import tempfile
from pathlib import Path

import feedparser
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from lxml import etree

from broadsheet.config import Settings
from broadsheet.feeds.build import build_feeds
from broadsheet.feeds.entries import clean
from tests.conftest import make_article

# Any code point, lone surrogates included, plus the awkward cases drawn more often.
anything = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=40)
awkward = st.sampled_from(
    ["<b>bold</b>", "&amp; &lt;", "]]>", "שלום עולם", "مرحبا", "Привет", "👩‍🔬🚀", "\u202e\u200f",
     "\x00\x1b\x7f", "\ud800", "\ufffe\uffff", "  spaced\n\tout  ", "A & B < C"]
)  # fmt: skip
text = st.lists(st.one_of(anything, awkward), min_size=1, max_size=4).map("".join)


def expected(value: str) -> str:
    """What a one-line field becomes: illegal and C1 characters gone, whitespace folded."""
    return " ".join(clean(value).split())


NS = {
    "a": "http://www.w3.org/2005/Atom",
    "dc": "http://purl.org/dc/elements/1.1/",
    "content": "http://purl.org/rss/1.0/modules/content/",
}


def as_feedparser(value: str) -> str:
    """``value`` as feedparser reports it: it re-decodes text that looks like
    UTF-8 read as Latin-1 ("Â¡" becomes "¡"), whatever the feed says (in
    the elements whose text it processes, not in an Atom author's name)."""
    try:
        return value.encode("iso-8859-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(title=text, body=text, author=text)
@example(title="", body="", author="Â¡")  # looks like UTF-8 read as Latin-1
@example(title="</P>", body="", author="x")  # feedparser sanitises tag-like RSS titles
def test_any_text_makes_valid_feeds(
    feed_settings: object, title: str, body: str, author: str
) -> None:
    assert callable(feed_settings)
    folder = Path(tempfile.mkdtemp())
    try:
        config: Settings = feed_settings('sets = ["site"]')
        # replace(), not make_article(**): the store's content hash cannot
        # encode lone surrogates, and feeds must cope without it.
        article = dataclasses.replace(
            make_article(), title=title, body_html=body, authors=(author,)
        )
        build_feeds([article], config, out=folder, ping=False)
        want_title = expected(title) or None
        want_author = expected(author)
        # An empty body is stood in for by the standfirst.
        want_body = clean(body).strip() or "<p>What the article is about.</p>"
        for name, title_path, author_path, body_path in (
            (
                "all.rss",
                "channel/item/title",
                "channel/item/dc:creator",
                "channel/item/content:encoded",
            ),
            ("all.atom", "a:entry/a:title", "a:entry/a:author/a:name", "a:entry/a:content"),
        ):
            data = (folder / name).read_bytes()
            # Exact round trip through an XML parser.
            root = etree.fromstring(data)
            if want_title:
                assert root.findtext(title_path, namespaces=NS) == want_title
            assert [e.text for e in root.findall(author_path, namespaces=NS)] == (
                [want_author] if want_author else []
            )
            assert root.findtext(body_path, namespaces=NS) == want_body
            # Readers: well-formed, and the same text as far as feedparser's
            # own repairs allow.
            parsed = feedparser.parse(data)
            assert not parsed.bozo, (name, parsed.get("bozo_exception"))
            (entry,) = parsed.entries
            # feedparser guesses that an RSS title with something tag-like in it
            # is HTML and runs its sanitiser over it (</P> comes back as </p>);
            # the XML-level check above holds the exact text for those.
            markup = name == "all.rss" and re.search(r"<[/A-Za-z!?]", want_title or "")
            if want_title and not markup:
                assert entry.title == as_feedparser(want_title)
            authors = [a.get("name", "") for a in entry.get("authors", [])]
            # feedparser repairs the text of an RSS dc:creator, but takes an
            # Atom author's name as it is.
            want_name = as_feedparser(want_author) if name == "all.rss" else want_author
            assert authors == ([want_name] if want_author else [])
        feed = json.loads((folder / "all.json").read_text(encoding="utf-8"))
        (item,) = feed["items"]
        if want_title:
            assert item["title"] == want_title
        assert item["content_html"] == want_body
    finally:
        shutil.rmtree(folder)
