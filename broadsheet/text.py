"""Text and HTML hygiene shared by import, feeds and emails.

- :func:`strip_illegal` removes what XML 1.0 forbids (C0 controls but tab and
  newlines, U+FFFE/U+FFFF, lone surrogates) and says how many it removed.
- :func:`render_markdown` is CommonMark (markdown-it-py) with tables,
  strikethrough and footnotes (``[^1]``); raw HTML passes through to the
  sanitiser.
- :func:`sanitise_html` is nh3 (ammonia) with an allow-list fit for articles:
  no script, style, event handlers, ``javascript:`` URLs or forms; every
  link and image URL made absolute against the article's URL.
- :func:`as_uri` writes a URL as RFC 3986 allows it: a space or a Cyrillic
  letter in a path percent-encoded, an internationalised host in IDNA.
"""

from __future__ import annotations

import re
import threading
from functools import cache
from typing import TYPE_CHECKING
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

import nh3

if TYPE_CHECKING:
    # Loaded with the first Markdown rendered: commands that render none
    # (a re-import of unchanged files, a feed build) do without it.
    from markdown_it import MarkdownIt

_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")

ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "col", "colgroup",
        "dd", "del", "details", "dfn", "div", "dl", "dt", "em", "figcaption", "figure",
        "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark",
        "ol", "p", "picture", "pre", "q", "s", "samp", "small", "source", "span", "strong",
        "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "time",
        "tr", "u", "ul", "var",
    }
)  # fmt: skip

ALLOWED_ATTRIBUTES = {
    "*": {"lang", "dir", "title"},
    "a": {"href", "hreflang"},
    "img": {"src", "alt", "width", "height", "srcset", "sizes"},
    "source": {"src", "srcset", "type", "media", "sizes"},
    "td": {"colspan", "rowspan", "align"},
    "th": {"colspan", "rowspan", "align", "scope"},
    "ol": {"start", "reversed", "type"},
    "time": {"datetime"},
    "blockquote": {"cite"},
    "q": {"cite"},
    "del": {"cite", "datetime"},
    "ins": {"cite", "datetime"},
    "abbr": {"title"},
}

URL_SCHEMES = frozenset({"http", "https", "mailto", "tel"})

_URL_ATTRIBUTES = frozenset({"href", "src", "cite"})


def strip_illegal(text: str) -> tuple[str, int]:
    """``text`` without characters XML 1.0 forbids, and how many were removed."""
    cleaned, count = _ILLEGAL_XML.subn("", text)
    return cleaned, count


def xml_safe(text: str) -> str:
    """``text`` without characters XML 1.0 forbids."""
    return _ILLEGAL_XML.sub("", text)


@cache
def _markdown() -> MarkdownIt:
    from markdown_it import MarkdownIt
    from mdit_py_plugins.footnote import footnote_plugin

    md = (
        MarkdownIt("commonmark", {"html": True, "linkify": False, "typographer": False})
        .enable(["table", "strikethrough"])
        .use(footnote_plugin)
    )
    # The "back to the text" arrow after each note only works on a page that
    # keeps the ids, which the sanitiser removes (an entry shares its
    # document with others): the notes end without it.
    md.add_render_rule("footnote_anchor", lambda *args: "")
    return md


def render_markdown(source: str) -> str:
    """CommonMark ``source`` as (unsanitised) HTML."""
    html: str = _markdown().render(source)
    return html


_URI_KEEP = "!#$%&'()*+,/:;=?@[]~"
"""What :func:`as_uri` leaves as it is: the reserved characters and ``%``."""

_LONE_PERCENT = re.compile("%(?![0-9A-Fa-f]{2})")


def _host_as_ascii(netloc: str) -> str:
    userinfo, at, hostport = netloc.rpartition("@")
    host, colon, port = hostport.partition(":")
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        host = quote(host, safe="")
    return f"{quote(userinfo, safe=_URI_KEEP)}{at}{host}{colon}{port}"


def as_uri(url: str) -> str:
    """``url`` with every character a URI may not hold escaped.

    Feed validators and HTML checkers refuse a space, a quote or a non-ASCII
    letter in a URL, though browsers forgive them: a path or query gets them
    percent-encoded (as UTF-8; escapes already there stay), a host is
    written in IDNA. A URL that needs nothing comes back unchanged.
    """
    if url.isascii() and not any(c in url for c in ' "<>\\^`{|}') and "%" not in url:
        return url
    parts = urlsplit(url)
    netloc = parts.netloc if parts.netloc.isascii() else _host_as_ascii(parts.netloc)

    def escaped(part: str) -> str:
        return quote(_LONE_PERCENT.sub("%25", part), safe=_URI_KEEP)

    return urlunsplit(
        (parts.scheme, netloc, escaped(parts.path), escaped(parts.query), escaped(parts.fragment))
    )


def _absolute(base: str, value: str) -> str | None:
    """``value`` made absolute against ``base``; ``None`` drops a URL with a bad scheme."""
    value = value.strip()
    if not value:
        return None
    try:
        joined = urljoin(base, value)
        scheme = urlsplit(joined).scheme.lower()
    except ValueError:  # e.g. an unclosed "[" in the host
        return None
    return as_uri(joined) if scheme in URL_SCHEMES else None


def _absolute_srcset(base: str, value: str) -> str | None:
    parts = []
    for candidate in value.split(","):
        pieces = candidate.strip().split(None, 1)
        if not pieces:
            continue
        url = _absolute(base, pieces[0])
        if url is None:
            continue
        parts.append(" ".join([url, *pieces[1:]]))
    return ", ".join(parts) or None


class _ArticleCleaner(threading.local):
    """nh3's sanitiser for article HTML, built once per thread and reused.

    Building the sanitiser from the allow-lists costs about as much as
    cleaning a whole article, so it is built once; the base URL against
    which its attribute filter resolves links is set before each use. Each
    thread has its own (``threading.local``), so a base set by one thread
    is never read by another.
    """

    def __init__(self) -> None:
        self.base_url = ""
        self.cleaner = nh3.Cleaner(
            tags=set(ALLOWED_TAGS),
            clean_content_tags={"script", "style", "template", "iframe", "object", "noscript"},
            attributes={k: set(v) for k, v in ALLOWED_ATTRIBUTES.items()},
            attribute_filter=self.rewrite,
            url_schemes=set(URL_SCHEMES),
            link_rel="noopener",
            strip_comments=True,
        )

    def rewrite(self, tag: str, attribute: str, value: str) -> str | None:
        if attribute in _URL_ATTRIBUTES:
            return _absolute(self.base_url, value)
        if attribute == "srcset":
            return _absolute_srcset(self.base_url, value)
        return value

    def clean(self, html: str, base_url: str) -> str:
        self.base_url = base_url
        try:
            cleaned: str = self.cleaner.clean(html)
        finally:
            self.base_url = ""
        return cleaned


@cache
def _article_cleaner() -> _ArticleCleaner:
    """The article sanitiser (each thread builds its own on first use)."""
    return _ArticleCleaner()


def sanitise_html(html: str, *, base_url: str) -> str:
    """Safe article HTML: allow-listed tags and attributes, absolute URLs.

    Args:
        html: untrusted HTML (rendered Markdown or an imported body).
        base_url: the article's own URL; relative links resolve against it.
    """
    return _article_cleaner().clean(xml_safe(html), base_url).strip()


@cache
def _text_cleaner() -> nh3.Cleaner:
    """nh3's sanitiser that keeps no tag at all (it holds no state: threads share it)."""
    return nh3.Cleaner(tags=set(), strip_comments=True)


def plain_text(value: str) -> str:
    """A single-line plain-text field: markup removed, entities decoded, spaces folded."""
    import html

    without_tags = _text_cleaner().clean(xml_safe(value))
    return " ".join(html.unescape(without_tags).split())
