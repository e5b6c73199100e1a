"""From stored articles to feed entries.

An :class:`~broadsheet.feeds.model.Entry` is what every format shows of one article: the
guid as its id (never the URL, which may change), absolute URLs, text without
characters XML forbids, the lead image opening the content (readers that
ignore enclosures still show it), and translation links only to translations
that are themselves published.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from urllib.parse import urlsplit

from broadsheet.config import SiteSettings
from broadsheet.feeds.model import Entry, Image, Link
from broadsheet.model import Article


def as_uri(url: str) -> str:
    """:func:`broadsheet.text.as_uri`, imported on first use (a no-op build needs none)."""
    from broadsheet.text import as_uri as convert

    return convert(url)


def plain_text(body_html: str) -> str:
    """:func:`broadsheet.text.plain_text`, imported on first use."""
    from broadsheet.text import plain_text as convert

    return convert(body_html)


SUMMARY_LIMIT = 280
"""Characters of body text used as the summary when an article has no standfirst."""

IMAGE_TYPES = {
    ".avif": "image/avif",
    ".gif": "image/gif",
    ".jpeg": "image/jpeg",
    ".jpg": "image/jpeg",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".webp": "image/webp",
}
"""Image types by file suffix; a fixed table, so output does not depend on the
machine's mime.types."""


def utc(moment: datetime) -> datetime:
    """``moment`` in UTC with whole seconds (feeds show no fractions)."""
    if moment.tzinfo is UTC and not moment.microsecond:
        return moment  # already so, as the store's times usually are
    return moment.astimezone(UTC).replace(microsecond=0)


# What XML 1.0 forbids (as broadsheet.text.xml_safe) and the C1 controls, in one pass.
_UNWANTED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff\ud800-\udfff]")


def clean(value: str) -> str:
    """``value`` without characters XML forbids, nor the C1 controls it discourages.

    C1 controls (U+007F to U+009F) mean nothing in text, and readers mangle
    them (feedparser turns them into Windows-1252 letters), so they go too.
    """
    # Every character removed is a control, a surrogate or a non-character,
    # none of them printable: most names and titles need no search at all.
    if value.isprintable() or _UNWANTED.search(value) is None:
        return value  # searching is cheaper than substituting nothing (bodies hold newlines)
    return _UNWANTED.sub("", value)


def one_line(value: str) -> str:
    """``value`` cleaned (see :func:`clean`), whitespace folded to single spaces."""
    if value.isprintable() and "  " not in value and value[:1] != " " and value[-1:] != " ":
        return value  # no control characters, and the only spaces are single ones
    return " ".join(clean(value).split())


def image_type(url: str) -> str | None:
    """The media type of an image URL, from its suffix; ``None`` when unknown."""
    path = urlsplit(url).path.lower()
    dot = path.rfind(".")
    return IMAGE_TYPES.get(path[dot:]) if dot >= 0 else None


def excerpt(body_html: str, limit: int = SUMMARY_LIMIT) -> str:
    """The opening words of ``body_html`` as plain text, cut at a word boundary."""
    text = plain_text(body_html)
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(" ,;:.-—")
    return cut + "…"


def live(articles: Iterable[Article]) -> list[Article]:
    """Published articles, newest first (ties by id): drafts never reach a feed."""
    kept = [a for a in articles if not a.draft]
    kept.sort(key=lambda a: a.id)
    kept.sort(key=lambda a: a.published, reverse=True)
    return kept


def translation_links(article: Article, by_id: Mapping[str, Article]) -> tuple[Link, ...]:
    """Links to the article's translations that are live (present in ``by_id``)."""
    links: list[Link] = []
    for language, target_id in sorted(article.translations.items()):
        target = by_id.get(target_id)
        if target is None or target.language != language or target.url == article.url:
            continue
        links.append(
            Link(
                href=as_uri(clean(target.url).strip()),
                rel="alternate",
                type="text/html",
                hreflang=language,
                title=one_line(target.title) or None,
            )
        )
    return tuple(links)


def entry_digest(
    article: Article, translations: Sequence[Link], site: SiteSettings | None = None
) -> str:
    """A digest of everything an entry is made from (its article, resolved translations).

    The article's ``content_hash`` (the store's digest of every field but the
    guid, which changes whenever the article does) stands for its fields
    when it is set; otherwise the fields themselves are hashed. With
    ``site``, the names the entry shows in its language (authors, section,
    tags, from ``[site.localized.LANG]``) count too, when any differs from
    the article's own.
    """
    links: list[list[str | None]] = [[t.hreflang, t.href, t.title] for t in translations]
    if site is not None:
        shown = _shown_names(article, site)
        if shown != (article.authors, article.section, article.tags):
            links.append(["names", json.dumps(shown, ensure_ascii=False), None])
    if article.content_hash:
        data = json.dumps([article.content_hash, article.guid, links], ensure_ascii=False)
        return hashlib.blake2b(data.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
    parts: list[str | None] = [
        article.id,
        article.guid,
        article.language,
        article.title,
        article.standfirst,
        article.body_html,
        article.section,
        article.published.astimezone(UTC).isoformat(),
        article.updated.astimezone(UTC).isoformat() if article.updated else None,
        article.url,
        article.image,
        article.image_alt,
    ]
    # A JSON list is an unambiguous encoding, and the C encoder makes it cheap.
    data = json.dumps(
        [
            parts,
            list(article.authors),
            list(article.tags),
            sorted(article.translations.items()),
            links,
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.blake2b(data.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def _lead_image(article: Article) -> Image | None:
    if not article.image:
        return None
    url = as_uri(clean(article.image).strip())
    if not url:
        return None
    return Image(url=url, type=image_type(url), alt=one_line(article.image_alt))


def _content(body: str, image: Image | None) -> str:
    if image is None:
        return body
    src = html.escape(image.url, quote=True)
    if f'src="{src}"' in body:
        return body  # the body already shows it
    figure = f'<p><img src="{src}" alt="{html.escape(image.alt, quote=True)}"></p>'
    return f"{figure}\n{body}" if body else figure


def _names(values: Iterable[str]) -> tuple[str, ...]:
    seen: list[str] = []
    for value in values:
        name = one_line(value)
        if name and name not in seen:
            seen.append(name)
    return tuple(seen)


def _shown_names(
    article: Article, site: SiteSettings
) -> tuple[tuple[str, ...], str | None, tuple[str, ...]]:
    """The article's authors, section and tags as readers of its language see them."""
    language = article.language
    return (
        tuple(site.author_in(name, language) for name in article.authors),
        site.section_in(article.section, language) if article.section else article.section,
        tuple(site.tag_in(tag, language) for tag in article.tags),
    )


def make_entry(
    article: Article,
    translations: tuple[Link, ...],
    digest: str,
    site: SiteSettings | None = None,
) -> Entry:
    """The feed entry of ``article``.

    The entry speaks its article's language: authors, section and tags are
    named as ``[site.localized.LANG]`` has them for that language (the
    settings are part of every document's inputs, so a renamed author
    rebuilds the feeds that show the name).

    Args:
        article: a live article; its body is already sanitised with absolute URLs.
        translations: from :func:`translation_links`.
        digest: from :func:`entry_digest`.
        site: the site's settings, for names per language; ``None`` keeps
            the names as the article has them.
    """
    body = clean(article.body_html).strip()
    image = _lead_image(article)
    summary = one_line(article.standfirst) or excerpt(body)
    title = one_line(article.title) or summary[:80] or clean(article.url)
    authors, section_name, tags = (
        _shown_names(article, site)
        if site is not None
        else (article.authors, article.section, article.tags)
    )
    section = one_line(section_name) if section_name else ""
    published = utc(article.published)
    return Entry(
        id=one_line(article.guid) or clean(article.url),
        url=as_uri(clean(article.url).strip()),
        title=title,
        language=one_line(article.language),
        # An article without a body still has content (a blank element is
        # flagged by validators): its standfirst, or its title.
        content_html=_content(body, image) or f"<p>{html.escape(summary or title)}</p>",
        summary=summary,
        authors=_names(authors),
        section=section or None,
        tags=tuple(t for t in _names(tags)),
        published=published,
        updated=max(published, utc(article.modified)),
        image=image,
        translations=translations,
        digest=digest,
    )
