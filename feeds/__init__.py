"""Syndication feeds: RSS 2.0 and Atom 1.0 through feedgen, JSON Feed 1.1, RFC 5005 archives.

What a scheduler or a host application calls is listed in ``__all__``:

    report = build_feeds(articles, settings)          # every feed, archives, index.json
    report = build_feeds_from_store(store, settings, now)  # the same, streamed from a store
    print("\\n".join(link_tags(read_index(report.out))))  # <link rel="alternate"> tags
"""

from broadsheet.feeds.build import FeedBuildReport, build_feeds, build_feeds_from_store
from broadsheet.feeds.links import link_tag, link_tags, read_index
from broadsheet.feeds.links import select as select_feeds

__all__ = [
    "FeedBuildReport",
    "build_feeds",
    "build_feeds_from_store",
    "link_tag",
    "link_tags",
    "read_index",
    "select_feeds",
]
