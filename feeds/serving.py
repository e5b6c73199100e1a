"""What a web server in front of the feeds folder needs to know: which pages never change.

An archive page that is full and already has a successor (every page but the
newest of its feed) never changes bytes again, unless an entry on it is
edited (see :mod:`broadsheet.feeds.archive`), so a web server or CDN may let
clients keep it for a long time (``Cache-Control: immutable``). Its path
alone does not say so: ``archive/all/11.atom`` is the newest page until page
12 is full. Every build therefore writes :data:`IMMUTABLE_MAP`, a file nginx
includes in a ``map`` block (docs/deployment.md), listing those pages::

    "archive/all/1.atom" 1;
    "archive/all/2.atom" 1;

It is hidden (its name starts with a dot), like the build's state file, so a
web server configured as docs/deployment.md says does not serve it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["IMMUTABLE_MAP", "immutable_map", "immutable_pages"]

IMMUTABLE_MAP = ".immutable.map"
"""The map of pages that never change, in the feeds folder."""


def immutable_pages(index: Iterable[Mapping[str, Any]]) -> list[str]:
    """The archive pages, of every feed in ``index`` (index.json's entries), that have a successor.

    Each entry's ``archives`` lists its pages oldest first; all but the last
    have a successor.
    """
    pages: list[str] = []
    for entry in index:
        archives = entry.get("archives") or []
        pages.extend(str(path) for path in archives[:-1])
    return sorted(pages)


def immutable_map(index: Iterable[Mapping[str, Any]]) -> bytes:
    """The :data:`IMMUTABLE_MAP` file for ``index``: one nginx ``map`` line per page."""
    lines = [
        "# Archive pages that have a successor: they never change. Written by broadsheet.\n",
        *(f'"{page}" 1;\n' for page in immutable_pages(index)),
    ]
    return "".join(lines).encode("utf-8")
