"""JSON Feed 1.1 (https://jsonfeed.org/version/1.1), built from the same entries.

feedgen has no JSON Feed, so this writes it from :class:`~broadsheet.feeds.model.FeedDoc`
directly. Required fields (``version``, ``title``, ``items``; each item's
``id`` and ``content_html``) are always present. The section comes first
among an item's ``tags``; JSON Feed has no place for a section or for
translation links, so both are also kept in the item's ``_broadsheet``
extension object (extension keys start with an underscore, as the spec asks).
Items carry 1.1's ``authors`` and also 1.0's ``author`` (deprecated in 1.1,
which allows both), holding the whole byline, for readers that know only 1.0.
Archive pages chain through ``next_url`` to the next older page, and say
which page they are in the feed's ``_broadsheet`` object.
"""

from __future__ import annotations

import json
from collections.abc import Container, Sequence
from typing import Any

from broadsheet.feeds.fg import rfc3339
from broadsheet.feeds.model import Entry, FeedDoc, trim_oldest

VERSION = "https://jsonfeed.org/version/1.1"


def _item(entry: Entry, doc: FeedDoc) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": entry.id,
        "url": entry.url,
        "title": entry.title,
        "content_html": entry.content_html,
    }
    if entry.summary:  # optional in JSON Feed: no empty string for a missing standfirst
        item["summary"] = entry.summary
    if entry.image is not None:
        item["image"] = entry.image.url
    item["date_published"] = rfc3339(entry.published)
    item["date_modified"] = rfc3339(entry.updated)
    if entry.authors:
        # JSON Feed 1.0's one author (readers that know only 1.0 show it),
        # holding the whole byline, then 1.1's list of them.
        item["author"] = {"name": entry.byline}
        item["authors"] = [{"name": name} for name in entry.authors]
    # The section first, as in doc.categories(); the schemes play no part here.
    terms = (entry.section, *entry.tags) if entry.section else entry.tags
    tags = list(dict.fromkeys(terms))
    if tags:
        item["tags"] = tags
    if entry.language:
        item["language"] = entry.language
    extension: dict[str, Any] = {}
    if entry.section:
        extension["section"] = entry.section
    if entry.translations:
        extension["translations"] = {
            link.hreflang: link.href for link in entry.translations if link.hreflang
        }
    if extension:
        item["_broadsheet"] = extension
    return item


class ItemCache:
    """Items serialised once per build, then shared by every document that holds them."""

    def __init__(self) -> None:
        # One table per pair of category schemes, by entry digest.
        self._tables: dict[tuple[str, str], dict[str, bytes]] = {}

    def _table(self, doc: FeedDoc) -> dict[str, bytes]:
        key = (doc.section_scheme, doc.tag_scheme)
        table = self._tables.get(key)
        if table is None:
            table = self._tables[key] = {}
        return table

    def trim(self, keep: int, protected: Container[str] = ()) -> None:
        """Forget the oldest items, so that each table holds at most ``keep``.

        Entries whose digest is in ``protected`` are kept whatever their age.
        """
        for table in self._tables.values():
            trim_oldest(table, keep, protected)

    def get(self, entry: Entry, doc: FeedDoc) -> bytes:
        """``entry`` as one line of compact JSON, UTF-8."""
        return self.items(doc, (entry,))[0]

    def items(self, doc: FeedDoc, entries: Sequence[Entry] | None = None) -> list[bytes]:
        """``entries`` (default: ``doc``'s) as lines of compact JSON, UTF-8."""
        table = self._table(doc)
        found = []
        for entry in doc.entries if entries is None else entries:
            text = table.get(entry.digest)
            if text is None:
                item = json.dumps(_item(entry, doc), ensure_ascii=False, separators=(",", ":"))
                text = table[entry.digest] = item.encode("utf-8")
            found.append(text)
        return found


_ITEMS_OPEN = b'"items": [\n    '
_ITEMS_SEPARATOR = b",\n    "
_ITEMS_CLOSE = b"\n  ]\n}\n"


def render(doc: FeedDoc, cache: ItemCache | None = None) -> bytes:
    """``doc`` as a JSON Feed 1.1 document (UTF-8, ending in a newline).

    The feed's own fields are indented; each item is one line of compact
    JSON, serialised once per build however many documents hold it.
    """
    return b"".join(render_parts(doc, cache or ItemCache()))


def render_parts(doc: FeedDoc, cache: ItemCache) -> list[bytes]:
    """``doc`` as :func:`render` makes it, in pieces to be written one after another.

    The items are the cache's own bytes, shared with every other document
    that holds them.
    """
    feed: dict[str, Any] = {
        "version": VERSION,
        "title": doc.title,
        "home_page_url": doc.home,
        "feed_url": doc.url,
    }
    if doc.description:
        feed["description"] = doc.description
    if doc.next_url:
        feed["next_url"] = doc.next_url
    if doc.icon:
        feed["icon"] = doc.icon
        feed["favicon"] = doc.icon
    feed["authors"] = [{"name": doc.author, "url": doc.home}]
    if doc.language:
        feed["language"] = doc.language
    if doc.hub:
        feed["hubs"] = [{"type": "WebSub", "url": doc.hub}]
    extension: dict[str, Any] = {"updated": rfc3339(doc.updated)}
    if doc.archive:
        extension["archive"] = True
    for link in doc.links:
        if link.rel in ("current", "prev-archive", "next-archive"):
            extension[link.rel.replace("-", "_")] = link.href
    feed["_broadsheet"] = extension
    head = json.dumps(feed, ensure_ascii=False, indent=2).removesuffix("\n}")
    parts = [f"{head},\n  ".encode()]
    if not doc.entries:
        parts.append(b'"items": []\n}\n')
        return parts
    parts.append(_ITEMS_OPEN)
    for item in cache.items(doc):
        parts.append(item)
        parts.append(_ITEMS_SEPARATOR)
    parts[-1] = _ITEMS_CLOSE
    return parts
