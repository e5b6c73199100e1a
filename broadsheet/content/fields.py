"""From raw fields (front matter, a JSON object, a feed entry) to an Article.

Every reader produces a :class:`RawArticle`: the fields as found, where they
came from, and the line of each field when the format has lines. The checks
here are the same for every format, so a bad date reads the same whether it
sat in Markdown or JSON Lines.
"""

from __future__ import annotations

import hashlib
import json
import re
import types
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from broadsheet.config import Settings
from broadsheet.errors import ContentError
from broadsheet.model import Article

KNOWN_FIELDS = frozenset(
    {
        "id", "guid", "title", "standfirst", "authors", "section", "tags", "language",
        "translations", "published", "updated", "image", "image_alt", "url", "draft",
        "body", "body_html",
    }
)  # fmt: skip

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._~-]{0,199}")


@dataclass
class RawArticle:
    """Fields of one article as a reader found them.

    Attributes:
        fields: field name -> value (YAML/JSON types).
        source: the file or URL, as shown to the user.
        line: line of the record in the source (JSON Lines), if any.
        field_lines: field name -> line in the source (Markdown front matter).
        default_id: the id when the fields name none (a file's stem).
        title_is_html: the title may carry markup to strip (imported feeds).
        label: how messages name the record when the source alone is not
            enough (``feed.xml entry 3``); default: ``source``.
    """

    fields: dict[str, Any]
    source: str
    line: int | None = None
    field_lines: dict[str, int] = field(default_factory=dict)
    default_id: str | None = None
    title_is_html: bool = False
    label: str | None = None

    @property
    def shown(self) -> str:
        """The name used in messages."""
        return self.label or self.source


@dataclass
class Checked:
    """A valid article, the record it came from, and the warnings met on the way."""

    article: Article
    warnings: list[str]
    raw: RawArticle


class _Problems:
    """Builds ContentErrors and warnings that name the field and its line."""

    def __init__(self, raw: RawArticle) -> None:
        self.raw = raw
        self.warnings: list[str] = []

    def _line(self, name: str | None) -> int | None:
        if name is not None and name in self.raw.field_lines:
            return self.raw.field_lines[name]
        return self.raw.line

    def error(self, name: str | None, reason: str) -> ContentError:
        return ContentError(self.raw.shown, reason, line=self._line(name), field=name)

    def warn(self, name: str | None, reason: str) -> None:
        self.warnings.append(str(self.error(name, reason)))


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false (quote it to make it text)"
    if isinstance(value, int | float):
        return f"a number ({value!r})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if value is None:
        return "nothing"
    return type(value).__name__


def _text(p: _Problems, name: str, value: Any, *, required: bool = False, longest: int = 0) -> str:
    if value is None:
        if required:
            raise p.error(name, "missing")
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise p.error(name, f"expected text, got {_kind(value)}")
    from broadsheet.text import strip_illegal

    text, removed = strip_illegal(str(value))
    if removed:
        p.warn(name, f"removed {removed} control character(s) that XML cannot carry")
    text = " ".join(text.split())
    if required and not text:
        raise p.error(name, "is empty")
    if longest and len(text) > longest:
        raise p.error(name, f"is {len(text)} characters long; at most {longest} are kept")
    return text


def _split_commas(value: Any) -> Any:
    """``tags: Economy, Energy`` (one YAML string) as the two tags it means."""
    if isinstance(value, str) and "," in value:
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _text_list(p: _Problems, name: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    out: list[str] = []
    for item in items:
        text = _text(p, name, item)
        if not text:
            raise p.error(name, "holds an empty entry")
        if text not in out:
            out.append(text)
    return tuple(out)


def _when(p: _Problems, name: str, value: Any, tz: ZoneInfo) -> datetime:
    """A UTC datetime from a YAML/JSON value; naive times are read in ``tz``."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time())
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise p.error(
                name,
                f"not a date and time: {value!r} (use ISO 8601, e.g. 2026-11-23T09:00:00+03:00)",
            ) from None
    else:
        raise p.error(name, f"expected a date and time, got {_kind(value)}")
    if not 1000 <= moment.year <= 9000:
        # Far enough from the ends of the calendar that no time zone and no
        # date arithmetic (editions, archives) can step outside it.
        raise p.error(name, f"{moment.isoformat()} is outside the years 1000 to 9000")
    try:
        return _in_utc(p, name, moment, tz)
    except OverflowError:
        raise p.error(name, f"{moment.isoformat()} is out of the range of dates") from None


def _in_utc(p: _Problems, name: str, moment: datetime, tz: ZoneInfo) -> datetime:
    """``moment`` in UTC; naive, it is read in ``tz``."""
    if moment.tzinfo is None:
        earlier = moment.replace(tzinfo=tz, fold=0)
        # A time skipped by a clock change does not survive the round trip.
        if earlier.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != moment:
            raise p.error(
                name,
                f"{moment.isoformat()} has no time zone and does not exist in {tz.key} "
                "(skipped by a clock change); add an offset such as +03:00",
            )
        if earlier.utcoffset() != moment.replace(tzinfo=tz, fold=1).utcoffset():
            raise p.error(
                name,
                f"{moment.isoformat()} has no time zone and happens twice in {tz.key} "
                "(a clock change); add an offset such as +03:00",
            )
        moment = earlier
    return moment.astimezone(UTC)


def _url(p: _Problems, name: str, value: Any, base: str) -> str:
    from urllib.parse import urljoin

    text = _text(p, name, value)
    try:
        absolute = urljoin(base, text)
        parts = urlsplit(absolute)
    except ValueError as exc:
        raise p.error(name, f"{text!r} is not a URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise p.error(name, f"expected an http(s) URL, got {text!r}")
    from broadsheet.text import as_uri

    return as_uri(absolute)


def content_hash(article: Article) -> str:
    """A digest of everything readers see of ``article``."""
    data = {
        "id": article.id,
        "language": article.language,
        "title": article.title,
        "standfirst": article.standfirst,
        "body_html": article.body_html,
        "authors": list(article.authors),
        "section": article.section,
        "tags": list(article.tags),
        "translations": dict(sorted(article.translations.items())),
        "published": article.published.isoformat(),
        "updated": article.updated.isoformat() if article.updated else None,
        "url": article.url,
        "image": article.image,
        "image_alt": article.image_alt,
        "draft": article.draft,
    }
    encoded = json.dumps(data, ensure_ascii=False, sort_keys=True).encode()
    return hashlib.sha256(encoded).hexdigest()


def tag_uri(domain: str, published: datetime, article_id: str) -> str:
    """An RFC 4151 tag URI: a feed entry id that does not depend on the URL."""
    return f"tag:{domain},{published.date().isoformat()}:{article_id}"


def check_article(raw: RawArticle, settings: Settings) -> Checked:
    """Validate ``raw`` into an :class:`Article`.

    Raises:
        ContentError: naming the source, the field (and its line), and what
            is wrong, for the first problem found.
    """
    # Markdown and HTML tools are loaded with the first record checked.
    from broadsheet.text import plain_text, render_markdown, sanitise_html, strip_illegal

    p = _Problems(raw)
    f = raw.fields
    site = settings.site
    for name in f:
        if name not in KNOWN_FIELDS:
            p.warn(name, "unknown field, ignored")

    article_id = _text(p, "id", f.get("id")) or (raw.default_id or "")
    if not article_id:
        raise p.error("id", "missing")
    if len(article_id) > 200:
        raise p.error("id", f"is {len(article_id)} characters long; at most 200 are kept")
    if not _ID.fullmatch(article_id):
        raise p.error(
            "id",
            f"{article_id!r} cannot be used in a URL (use letters, digits, '-', '_', '.', '~')",
        )
    title = _text(p, "title", f.get("title"), required=True)
    if raw.title_is_html:
        title = plain_text(title)
        if not title:
            raise p.error("title", "is empty")
    language = _text(p, "language", f.get("language")) or site.default_language
    if language not in site.languages:
        raise p.error(
            "language", f"{language!r} is not one of site.languages ({', '.join(site.languages)})"
        )
    if "published" not in f or f["published"] in (None, ""):
        raise p.error("published", "missing")
    published = _when(p, "published", f["published"], site.tz)
    updated = None
    if f.get("updated") not in (None, ""):
        updated = _when(p, "updated", f["updated"], site.tz)
        if updated < published:
            raise p.error("updated", "is earlier than published")
    translations_raw = f.get("translations") or {}
    if not isinstance(translations_raw, dict):
        raise p.error(
            "translations",
            f"expected a mapping like {{ru: some-id}}, got {_kind(translations_raw)}",
        )
    translations: dict[str, str] = {}
    for code, target in translations_raw.items():
        code = str(code)
        if code not in site.languages:
            raise p.error("translations", f"language {code!r} is not one of site.languages")
        if code == language:
            raise p.error("translations", f"an article cannot be its own {code!r} translation")
        target_id = _text(p, "translations", target)
        if not _ID.fullmatch(target_id):
            raise p.error("translations", f"{target_id!r} is not an article id")
        translations[code] = target_id
    if f.get("url") not in (None, ""):
        url = _url(p, "url", f["url"], site.url.rstrip("/") + "/")
    else:
        url = site.article_url.format(
            site_url=site.url.rstrip("/"), language=language, id=article_id
        )
    # Relative to the site's folder: with site.url = https://host/magazine,
    # images/a.jpg is https://host/magazine/images/a.jpg (and /images/a.jpg
    # the host's).
    image = (
        _url(p, "image", f["image"], site.url.rstrip("/") + "/")
        if f.get("image") not in (None, "")
        else None
    )
    draft = f.get("draft", False)
    if draft is None:
        draft = False
    if not isinstance(draft, bool):
        raise p.error("draft", f"expected true or false, got {_kind(draft)}")

    body_md, body_html = f.get("body"), f.get("body_html")
    if body_md is not None and body_html is not None:
        raise p.error("body_html", "give either body (Markdown) or body_html, not both")
    raw_body = body_html if body_html is not None else (body_md or "")
    if not isinstance(raw_body, str):
        raise p.error(
            "body" if body_html is None else "body_html", f"expected text, got {_kind(raw_body)}"
        )
    size = len(raw_body.encode("utf-8", "surrogatepass"))
    if size > settings.content.max_body_bytes:
        raise p.error(
            "body",
            f"is {size:,} bytes, over content.max_body_bytes ({settings.content.max_body_bytes:,})",
        )
    raw_body, removed = strip_illegal(raw_body)
    if removed:
        p.warn("body", f"removed {removed} control character(s) that XML cannot carry")
    html = raw_body if body_html is not None else render_markdown(raw_body)

    article = Article(
        id=article_id,
        guid=_text(p, "guid", f.get("guid"), longest=500)
        or tag_uri(site.domain, published, article_id),
        language=language,
        title=title,
        standfirst=plain_text(_text(p, "standfirst", f.get("standfirst"))),
        body_html=sanitise_html(html, base_url=url),
        authors=_text_list(p, "authors", f.get("authors")),
        section=_text(p, "section", f.get("section"), longest=200) or None,
        tags=_text_list(p, "tags", _split_commas(f.get("tags"))),
        translations=types.MappingProxyType(translations),
        published=published,
        updated=updated,
        url=url,
        image=image,
        image_alt=_text(p, "image_alt", f.get("image_alt")),
        draft=draft,
        source=raw.source,
    )
    article = _with_hash(article)
    return Checked(article, p.warnings, raw)


def _with_hash(article: Article) -> Article:
    from dataclasses import replace

    return replace(article, content_hash=content_hash(article))
