"""Which feeds exist: the site, each language, each section, tag and author.

A feed exists while it has at least one published entry; its file name comes
from a slug that stays the same as long as the name does.

Sets (``[feeds] sets`` chooses among them):

``site``
    Everything, in every language: ``all``.
``language``
    One feed per language with articles: ``en``, ``ru``.
``section``, ``tag``, ``author``
    One feed per name spanning every language (``section/economy``), and on a
    site with several languages also one per language the name has articles
    in (``en/section/economy``), so a reader can follow a topic in the
    language they read.

Slugs are ASCII: Cyrillic is transliterated, accents are dropped (ß is ss,
ø is o, ł is l and so on), anything
else (emoji, other scripts) falls back to a short hash of the name. Two names
with the same slug ("Russia - World", "Russia World") stay apart: the name
first used (by publication time) keeps the plain slug, later ones get a
suffix from a hash of the name, so adding a name never renames another's feed.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache

from broadsheet.config import Settings
from broadsheet.feeds.model import Scope
from broadsheet.model import Article
from broadsheet.words import Words

SCOPES: tuple[Scope, ...] = ("site", "language", "section", "tag", "author")
FOLDERS: dict[Scope, str] = {"section": "section", "tag": "tag", "author": "author"}
ARCHIVED_SCOPES = frozenset({"site", "language"})
"""Sets whose complete history is kept as RFC 5005 archive pages.

Section, tag and author feeds are windows on the same entries; archiving
each of them would store every article a dozen times over."""

SLUG_LENGTH = 60

_LATIN = (
    "a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "y", "k", "l", "m", "n", "o", "p",
    "r", "s", "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "", "y", "", "e", "yu", "ya",
    "i", "yi", "ye", "g", "u",
)  # fmt: skip
_CYRILLIC = dict(zip("абвгдеёжзийклмнопрстуфхцчшщъыьэюяіїєґў", _LATIN, strict=True))
# Latin letters Unicode does not decompose into a base letter and an accent.
_SPELLED = {
    **_CYRILLIC,
    "ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "đ": "d", "ð": "d", "ł": "l", "þ": "th", "ı": "i",
}  # fmt: skip

FEED_WORDS = "feeds"
"""The group of feed words in :mod:`broadsheet.words` (``[labels.LANG.feeds]``)."""


def words(all_words: Words, language: str | None) -> Mapping[str, str]:
    """The phrases of feed titles and descriptions in ``language``.

    The publication's words (``[labels.LANG.feeds]``) come first, then the
    catalog of the language, then English.
    """
    return all_words.table(FEED_WORDS, language)


@cache
def language_name(code: str) -> str:
    """``code``'s name in that language ("English", "Русский"), or the code itself."""
    try:
        from babel import Locale

        name = Locale.parse(code.replace("-", "_")).get_display_name(code.replace("-", "_"))
    except Exception:  # an unknown or malformed code: show it as it is
        return code
    return (name[:1].upper() + name[1:]) if name else code


def _short_hash(name: str, size: int = 8) -> str:
    return hashlib.sha1(name.encode("utf-8", "surrogatepass")).hexdigest()[:size]


def base_slug(name: str) -> str:
    """``name`` as a lower-case ASCII slug; a hash of the name when nothing is left."""
    lowered = unicodedata.normalize("NFC", name).lower()
    spelled = "".join(_SPELLED.get(ch, ch) for ch in lowered)
    ascii_only = unicodedata.normalize("NFKD", spelled).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_only).strip("-")
    if len(slug) > SLUG_LENGTH:
        slug = slug[:SLUG_LENGTH].rstrip("-") + "-" + _short_hash(name, 6)
    return slug or _short_hash(name)


def assign_slugs(first_use: dict[str, datetime]) -> dict[str, str]:
    """A unique slug for each name; ``first_use`` says when each name first appeared.

    Names sharing a slug are ordered by first use (then by name): the first
    keeps the plain slug, the others get ``-`` and a hash of the name.
    """
    groups: dict[str, list[str]] = {}
    for name in first_use:
        groups.setdefault(base_slug(name), []).append(name)
    slugs: dict[str, str] = {}
    for slug, names in groups.items():
        names.sort(key=lambda n: (first_use[n], n))
        slugs[names[0]] = slug
        for name in names[1:]:
            slugs[name] = f"{slug}-{_short_hash(name, 6)}"
    taken: dict[str, str] = {}
    for name in sorted(slugs, key=lambda n: (first_use[n], n)):
        slug, size = slugs[name], 6
        while slug in taken:  # a suffixed slug met a plain one: lengthen its hash
            size += 2
            slug = f"{base_slug(name)}-{_short_hash(name, size)}"
        taken[slug] = name
        slugs[name] = slug
    return slugs


@dataclass(frozen=True, slots=True)
class FeedSet:
    """One feed (in every configured format) and the articles it holds.

    Attributes:
        scope: which set it belongs to.
        name: the section, tag or author; ``None`` for site and language feeds.
        language: the one language of its entries, or ``None`` when it spans several.
        base: path without suffix, relative to the output folder (``section/economy``).
        archive_base: folder of its archive pages, or ``None`` when not archived.
        title: the feed's title.
        description: one line on what it holds.
        articles: newest first.
    """

    scope: Scope
    name: str | None
    language: str | None
    base: str
    archive_base: str | None
    title: str
    description: str
    articles: tuple[Article, ...]


def _first_use(
    articles: Sequence[Article], names: Callable[[Article], Iterable[str]]
) -> dict[str, datetime]:
    seen: dict[str, datetime] = {}
    for article in reversed(articles):  # oldest first, so the first time wins
        for name in names(article):
            seen.setdefault(name, article.published)
    return seen


def _grouped(
    articles: Sequence[Article], names: Callable[[Article], Iterable[str]]
) -> dict[str, list[Article]]:
    groups: dict[str, list[Article]] = {}
    for article in articles:
        for name in dict.fromkeys(names(article)):
            groups.setdefault(name, []).append(article)
    return groups


def _section(article: Article) -> tuple[str, ...]:
    return (article.section,) if article.section else ()


def _tags(article: Article) -> tuple[str, ...]:
    return article.tags


def _authors(article: Article) -> tuple[str, ...]:
    return article.authors


_NAMES: dict[Scope, Callable[[Article], Iterable[str]]] = {
    "section": _section,
    "tag": _tags,
    "author": _authors,
}


def languages_of(settings: Settings, present: Iterable[str]) -> list[str]:
    """The languages with articles, the site's first (in its order), then the others by code."""
    found = set(present)
    languages = [code for code in settings.site.languages if code in found]
    languages += sorted(code for code in found if code not in settings.site.languages)
    return languages


def plan_sets(
    settings: Settings,
    languages: Sequence[str],
    first_use: Mapping[Scope, Mapping[str, datetime]],
    name_languages: Mapping[Scope, Mapping[str, Iterable[str]]],
) -> list[FeedSet]:
    """Every feed to build, without its articles (``articles`` is empty).

    What :func:`feed_sets` returns, decided from what the articles are
    rather than from the articles themselves, so a build can stream them.

    Args:
        settings: ``feeds.sets`` chooses the sets; titles come from ``site``.
        languages: the languages with live articles, as :func:`languages_of` orders them.
        first_use: per scope (section, tag, author), each name with live
            articles and when it was first used.
        name_languages: per scope and name, the languages it has live articles in.
    """
    site = settings.site
    phrases = settings.words
    several = len(site.languages) > 1
    wanted = set(settings.feeds.sets)
    site_language = None if several else site.default_language
    found: list[FeedSet] = []

    def suffix(language: str) -> str:
        return f" · {language_name(language)}" if several else ""

    if "site" in wanted and languages:
        found.append(
            FeedSet(
                scope="site",
                name=None,
                language=site_language,
                base="all",
                archive_base="archive/all",
                title=site.title,
                description=site.description or site.title,
                articles=(),
            )
        )
    if "language" in wanted:
        for code in languages:
            title = site.title_in(code)
            found.append(
                FeedSet(
                    scope="language",
                    name=None,
                    language=code,
                    base=code,
                    archive_base=f"archive/{code}",
                    title=title + suffix(code),
                    description=site.description_in(code) or title,
                    articles=(),
                )
            )
    for scope in SCOPES[2:]:
        if scope not in wanted:
            continue
        uses = first_use.get(scope, {})
        slugs = assign_slugs(dict(uses))
        spoken = name_languages.get(scope, {})

        def shown(name: str, code: str, scope: Scope = scope) -> str:
            # The name as readers of ``code`` see it; the slug keeps the canonical one.
            if scope == "section":
                return site.section_in(name, code)
            return site.tag_in(name, code) if scope == "tag" else site.author_in(name, code)

        for name in sorted(uses, key=lambda n: (slugs[n], n)):
            folder = f"{FOLDERS[scope]}/{slugs[name]}"
            found.append(
                FeedSet(
                    scope=scope,
                    name=name,
                    language=site_language,
                    base=folder,
                    archive_base=None,
                    title=f"{site.title} — {shown(name, site.default_language)}",
                    description=words(phrases, site.default_language)[scope].format(
                        name=shown(name, site.default_language), site=site.title
                    ),
                    articles=(),
                )
            )
            if not several:
                continue
            has = set(spoken.get(name, ()))
            for code in languages:
                if code not in has:
                    continue
                local = site.title_in(code)
                found.append(
                    FeedSet(
                        scope=scope,
                        name=name,
                        language=code,
                        base=f"{code}/{folder}",
                        archive_base=None,
                        title=f"{local} — {shown(name, code)}{suffix(code)}",
                        description=words(phrases, code)[scope].format(
                            name=shown(name, code), site=local
                        ),
                        articles=(),
                    )
                )
    return found


def feed_sets(articles: Sequence[Article], settings: Settings) -> list[FeedSet]:
    """Every feed to build, in a stable order (site, languages, sections, tags, authors).

    Args:
        articles: live articles, newest first, their text already cleaned.
        settings: ``feeds.sets`` chooses the sets; titles come from ``site``.
    """
    several = len(settings.site.languages) > 1
    by_language = _grouped(articles, lambda a: (a.language,))
    first_use: dict[Scope, Mapping[str, datetime]] = {}
    groups: dict[Scope, dict[str, list[Article]]] = {}
    name_languages: dict[Scope, Mapping[str, Iterable[str]]] = {}
    for scope in SCOPES[2:]:
        names = _NAMES[scope]
        first_use[scope] = _first_use(articles, names)
        groups[scope] = _grouped(articles, names)
        name_languages[scope] = {
            name: {a.language for a in group} for name, group in groups[scope].items()
        }
    languages = languages_of(settings, by_language)
    found = []
    for feed in plan_sets(settings, languages, first_use, name_languages):
        chosen: Sequence[Article]
        if feed.scope == "site":
            chosen = articles
        elif feed.scope == "language":
            chosen = by_language[feed.language or ""]
        else:
            group = groups[feed.scope][feed.name or ""]
            if several and feed.language is not None:
                chosen = [a for a in group if a.language == feed.language]
            else:
                chosen = group
        found.append(replace(feed, articles=tuple(chosen)))
    return found
