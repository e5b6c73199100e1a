"""The URLs in an edition: article links with UTM, personal links, web copies.

Every URL an edition carries is absolute. UTM parameters go on links to the
publication's own articles only: never on personal links (they would leak
into the reader's unsubscribe page analytics) nor on other sites' pages.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from broadsheet.config import Settings
from broadsheet.text import as_uri


def absolute(settings: Settings, ref: str) -> str:
    """``ref`` made absolute against ``site.url``."""
    return settings.site.absolute(ref)


def with_utm(url: str, settings: Settings, *, edition_id: str) -> str:
    """``url`` with ``utm_source``, ``utm_medium`` and ``utm_campaign`` added.

    Parameters already in the URL are kept; an empty ``emails.utm_source``
    turns UTM off, and URLs on other hosts are left alone.
    """
    url = as_uri(url)
    config = settings.emails
    if not config.utm_source:
        return url
    parts = urlsplit(url)
    if parts.hostname != settings.site.domain:
        return url
    query = parse_qsl(parts.query, keep_blank_values=True)
    present = {key for key, _ in query}
    campaign = config.utm_campaign.replace("{edition}", edition_id)
    for key, value in (
        ("utm_source", config.utm_source),
        ("utm_medium", config.utm_medium),
        ("utm_campaign", campaign),
    ):
        if key not in present and value:
            query.append((key, value))
    return urlunsplit(parts._replace(query=urlencode(query)))


def unsubscribe_url(settings: Settings, token: str) -> str:
    """The personal (one-click) unsubscribe URL."""
    return f"{settings.links_url}/unsubscribe?token={token}"


def preferences_url(settings: Settings, token: str) -> str:
    """The personal preferences URL."""
    return f"{settings.links_url}/preferences?token={token}"


def confirm_url(settings: Settings, token: str) -> str:
    """The double opt-in confirmation URL."""
    return f"{settings.links_url}/confirm?token={token}"


def edition_url(settings: Settings, language: str, edition_id: str) -> str:
    """The web copy of an edition (the "view in browser" target)."""
    return f"{settings.links_url}/editions/{language}/{edition_id}/"


def archive_url(settings: Settings, language: str) -> str:
    """The archive index of the editions in ``language``."""
    return f"{settings.links_url}/editions/{language}/"


def unsubscribe_mailto(settings: Settings) -> str:
    """The address List-Unsubscribe's mailto URI writes to."""
    configured = settings.sender.unsubscribe_mailto
    if configured:
        return configured.removeprefix("mailto:")
    domain = settings.sender.email.rpartition("@")[2] or settings.site.domain
    return f"unsubscribe@{domain}"
