"""Autodiscovery: the ``<link rel="alternate">`` tags a site puts in its pages' head.

Read from the ``index.json`` of the last build, so they name only feeds that
exist. A home page usually carries the site and language feeds; a section,
tag or author page its own feed in the page's language.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from broadsheet.errors import RenderError
from broadsheet.feeds.model import MEDIA_TYPES


def read_index(out: Path) -> list[dict[str, Any]]:
    """The feeds listed in ``out/index.json``.

    Raises:
        RenderError: the index is missing or unreadable (run ``broadsheet feeds build``).
    """
    path = out / "index.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RenderError(
            f"{path}: no feeds built yet; run 'broadsheet feeds build' first"
        ) from None
    except (OSError, ValueError) as exc:
        raise RenderError(
            f"{path}: unreadable ({exc}); run 'broadsheet feeds build' again"
        ) from exc
    feeds = raw.get("feeds") if isinstance(raw, dict) else None
    if not isinstance(feeds, list):
        raise RenderError(f"{path}: no 'feeds' list; run 'broadsheet feeds build' again")
    return [f for f in feeds if isinstance(f, dict)]


def select(
    feeds: Iterable[Mapping[str, Any]],
    *,
    language: str | None = None,
    scope: str | None = None,
    name: str | None = None,
) -> list[Mapping[str, Any]]:
    """The feeds matching every filter given.

    Args:
        language: keep feeds in this language and those spanning every language.
        scope: keep one set (site, language, section, tag, author).
        name: keep the feeds of one section, tag or author.
    """
    chosen = []
    for feed in feeds:
        if language is not None and feed.get("language") not in (language, None):
            continue
        if scope is not None and feed.get("scope") != scope:
            continue
        if name is not None and feed.get("name") != name:
            continue
        chosen.append(feed)
    return chosen


def link_tag(feed: Mapping[str, Any]) -> str:
    """One autodiscovery tag, attributes escaped."""
    media_type = MEDIA_TYPES.get(str(feed.get("format")), "application/xml")
    title = html.escape(str(feed.get("title", "")), quote=True)
    href = html.escape(str(feed.get("url", "")), quote=True)
    extra = ""
    if feed.get("language"):
        extra = f' hreflang="{html.escape(str(feed["language"]), quote=True)}"'
    return f'<link rel="alternate" type="{media_type}" title="{title}" href="{href}"{extra}>'


def link_tags(feeds: Iterable[Mapping[str, Any]]) -> list[str]:
    """Autodiscovery tags for ``feeds``, in the order given."""
    return [link_tag(feed) for feed in feeds]
