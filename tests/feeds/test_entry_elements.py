"""Entries built directly are the elements feedgen's FeedEntry builds, byte for byte."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from broadsheet.feeds import fg
from broadsheet.feeds.model import Entry, FeedDoc, Format, Image, Link
from tests.conftest import DEMO_NOW

BASE = Entry(
    id="tag:x.example,2026-11-20:talks", url="https://x.example/en/talks/",
    title="Talks <resume> & stall", language="en",
    content_html="<p>Body &amp; <b>more</b></p>", summary="One line & more",
    authors=("Ann Author", "Boris Writer"), section="Foreign policy",
    tags=("Russia - World", "Serbia"), published=DEMO_NOW - timedelta(days=1),
    updated=DEMO_NOW, image=Image("https://x.example/a.png", "image/png", "Alt"),
    translations=(
        Link("https://x.example/ru/talks/", "alternate", "text/html", "ru", "Переговоры"),
    ),
    digest="d",
)  # fmt: skip

VARIANTS = {
    "full": BASE,
    "no extras": replace(
        BASE, authors=(), section=None, tags=(), image=None, translations=(), language=""
    ),
    "same times": replace(BASE, updated=BASE.published),
    "no summary": replace(BASE, summary=""),
    "no summary nor content": replace(BASE, summary="", content_html=""),
    "image of unknown type": replace(BASE, image=Image("https://x.example/a", None, "")),
    "id not an IRI": replace(BASE, id="post 17"),
    "empty id": replace(BASE, id=""),
    "two translations": replace(
        BASE,
        translations=(
            Link("https://x.example/de/", "alternate", "text/html", "de", None),
            Link("https://x.example/ru/", "alternate", "text/html", "ru", "T"),
        ),
    ),
}


def _doc(fmt: Format, schemes: bool = True) -> FeedDoc:
    return FeedDoc(
        format=fmt, path=f"all.{fmt}", url="https://x.example/all", feed_id="https://x.example/all",
        title="T", description="D", language=None, home="https://x.example/", entries=(),
        author="A", updated=DEMO_NOW,
        section_scheme="https://x.example/sections" if schemes else "",
        tag_scheme="https://x.example/tags" if schemes else "",
    )  # fmt: skip


def _direct(entry: Entry, doc: FeedDoc) -> bytes:
    parent = fg._wrapper(doc.format)
    (fg._atom_entry if doc.format == "atom" else fg._rss_item)(parent, entry, doc)
    return etree.tostring(parent.getroottree().getroot(), pretty_print=True)  # type: ignore[no-any-return]


def _reference(entry: Entry, doc: FeedDoc) -> bytes:
    parent = fg._wrapper(doc.format)
    parent.append(fg.feedgen_element(entry, doc, doc.format))
    return etree.tostring(parent.getroottree().getroot(), pretty_print=True)  # type: ignore[no-any-return]


@pytest.mark.parametrize("fmt", ["rss", "atom"])
@pytest.mark.parametrize("schemes", [True, False])
@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_direct_entry_is_feedgens(name: str, fmt: Format, schemes: bool) -> None:
    doc = _doc(fmt, schemes)
    assert _direct(VARIANTS[name], doc) == _reference(VARIANTS[name], doc)


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_an_entry_without_title_is_refused_as_feedgen_refuses_it(fmt: Format) -> None:
    entry = replace(BASE, title="", summary="")
    doc = _doc(fmt)
    try:
        expected = _reference(entry, doc)
    except ValueError:
        with pytest.raises(ValueError):
            _direct(entry, doc)
    else:
        assert _direct(entry, doc) == expected


text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=20)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    title=text, summary=text, content=text, ident=text, section=st.none() | text,
    tags=st.lists(text, max_size=3), authors=st.lists(text.filter(bool), max_size=2),
    language=st.sampled_from(["", "en", "ru"]), fmt=st.sampled_from(["rss", "atom"]),
)  # fmt: skip
def test_direct_entry_is_feedgens_for_any_text(
    title: str, summary: str, content: str, ident: str, section: str | None,
    tags: list[str], authors: list[str], language: str, fmt: Format,
) -> None:  # fmt: skip
    entry = replace(
        BASE, title=title, summary=summary, content_html=content, id=ident, section=section,
        tags=tuple(tags), authors=tuple(authors), language=language,
    )  # fmt: skip
    doc = _doc(fmt)
    try:
        expected = _reference(entry, doc)
    except ValueError:
        with pytest.raises(ValueError):
            _direct(entry, doc)
        return
    assert _direct(entry, doc) == expected
