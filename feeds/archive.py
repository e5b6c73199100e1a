"""RFC 5005 archived feeds: the complete history in fixed-size pages.

Pages are counted from the oldest entry: page 1 holds the oldest
``archive_size`` entries, page 2 the next, and so on. Only full pages are
published, so a new article never moves an entry from one page to another
and a full page with a successor never changes bytes again (unless an entry
on it is edited): readers and caches may keep such pages for ever.

Every archive page links ``current`` (the subscription document),
``prev-archive`` (the older page, except on page 1) and ``next-archive``
(the page after it, except on the newest page). Every link resolves: the
newest page gains its ``next-archive`` when the page after it is published,
and changes bytes that once; a page with a successor never changes again.
Clients walk back from the current document through ``prev-archive`` and
forward from any page through ``next-archive``.

The current document holds the newest ``items`` entries, or, when
``archive_size`` is larger than ``items``, every entry not yet on a full
page, so that nothing falls between the current document and the archive.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page:
    """One archive page.

    Attributes:
        number: 1 for the oldest page.
        start: index of its oldest entry, counted from the oldest (0-based).
        size: entries on the page.
    """

    number: int
    start: int
    size: int


def pages(total: int, archive_size: int) -> list[Page]:
    """The full archive pages of a feed with ``total`` entries, oldest page first."""
    if archive_size <= 0:
        raise ValueError("archive_size must be positive")
    return [
        Page(number=n + 1, start=n * archive_size, size=archive_size)
        for n in range(total // archive_size)
    ]


def current_size(total: int, items: int, archive_size: int | None) -> int:
    """Entries in the current document (see the module docstring)."""
    if archive_size is None:
        return min(total, items)
    tail = total - (total // archive_size) * archive_size
    return min(total, max(items, tail))


def page_entries(newest_first: Sequence[T], page: Page) -> list[T]:
    """The entries of ``page``, newest first, from a feed's entries newest first."""
    total = len(newest_first)
    stop = total - page.start  # exclusive, in newest-first indexes
    return list(newest_first[stop - page.size : stop])
