"""The URLs in an edition: article links with UTM, personal links, web copies.

Every URL an edition carries is absolute. UTM parameters go on links to the
publication's own articles only: never on personal links (they would leak
into the reader's unsubscribe page analytics) nor on other sites' pages.
They go on the HTML part's links, where the reader never sees them; the
plain-text twin shows each link as its page's plain address (the way a
reader reads, copies and shares it) unless ``[emails] text_utm`` is on, see
:func:`without_utm`.
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


def without_utm(url: str, settings: Settings, *, edition_id: str) -> str:
    """``url`` without the UTM parameters :func:`with_utm` added to it.

    Exactly the inverse of :func:`with_utm`: parameters the URL had of its
    own (its author's ``utm_source``, say) stay, and a URL that
    :func:`with_utm` did not tag comes back unchanged.
    """
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    config = settings.emails
    campaign = config.utm_campaign.replace("{edition}", edition_id)
    tags = {
        ("utm_source", config.utm_source),
        ("utm_medium", config.utm_medium),
        ("utm_campaign", campaign),
    }
    # with_utm appends its tags after the URL's own parameters: try the
    # longest tail of ours first, and keep only a result it tags back into ``url``.
    for count in range(min(3, len(query)), 0, -1):
        if not all(pair in tags for pair in query[-count:]):
            continue
        clean = urlunsplit(parts._replace(query=urlencode(query[:-count])))
        if with_utm(clean, settings, edition_id=edition_id) == url:
            return clean
    return url


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
