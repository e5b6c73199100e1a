"""JSON Feed 1.1 (https://jsonfeed.org/version/1.1), built from the same entries.

feedgen has no JSON Feed, so this writes it from :class:`~feeds.model.FeedDoc`
directly. Required fields (``version``, ``title``, ``items``; each item's
``id`` and ``content_html``) are always present. The section comes first
among an item's ``tags``; JSON Feed has no place for a section or for
translation links, so both are also kept in the item's ``_broadsheet``
extension object (extension keys start with an underscore, as the spec asks).
Archive pages chain through ``next_url`` to the next older page, and say
which page they are in the feed's ``_broadsheet`` object.
"""

from __future__ import annotations

import json
from typing import Any

from feeds.fg import rfc3339
from feeds.model import Entry, FeedDoc

VERSION = "https://jsonfeed.org/version/1.1"


def _item(entry: Entry, doc: FeedDoc) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": entry.id,
        "url": entry.url,
        "title": entry.title,
        "content_html": entry.content_html,
        "summary": entry.summary,
    }
    if entry.image is not None:
        item["image"] = entry.image.url
    item["date_published"] = rfc3339(entry.published)
    item["date_modified"] = rfc3339(entry.updated)
    if entry.authors:
        item["authors"] = [{"name": name} for name in entry.authors]
    tags = list(dict.fromkeys([c.term for c in doc.categories(entry)]))
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
        self._items: dict[tuple[str, str, str], str] = {}

    def get(self, entry: Entry, doc: FeedDoc) -> str:
        """``entry`` as one line of compact JSON."""
        key = (entry.digest, doc.section_scheme, doc.tag_scheme)
        found = self._items.get(key)
        if found is None:
            found = json.dumps(_item(entry, doc), ensure_ascii=False, separators=(",", ":"))
            self._items[key] = found
        return found


def render(doc: FeedDoc, cache: ItemCache | None = None) -> bytes:
    """``doc`` as a JSON Feed 1.1 document (UTF-8, ending in a newline).

    The feed's own fields are indented; each item is one line of compact
    JSON, serialised once per build however many documents hold it.
    """
    cache = cache or ItemCache()
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
    items = ",\n    ".join(cache.get(entry, doc) for entry in doc.entries)
    body = f'"items": [\n    {items}\n  ]' if items else '"items": []'
    return f"{head},\n  {body}\n}}\n".encode()
