"""Readers: Markdown with front matter, JSON Lines, and RSS/Atom feeds.

Each turns a file (or URL) into :class:`~broadsheet.content.fields.RawArticle`
records, or :class:`~broadsheet.errors.ContentError` for a record that cannot
even be read. Field checks happen later, the same for every format.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import unquote, urlsplit

from broadsheet import __version__
from broadsheet.content.fields import RawArticle
from broadsheet.errors import ContentError

if TYPE_CHECKING:
    # PyYAML is imported when a file is parsed: a re-import of unchanged
    # files, and JSON Lines or feeds, need none of it.
    import yaml

_BOUNDARY = re.compile(r"^-{3,}\s*$", re.MULTILINE)
"""A front matter fence: a line of three or more dashes (as python-frontmatter reads it)."""


def decode_utf8(data: bytes, source: str) -> str:
    """``data`` as text, or a ContentError naming the line of the first bad byte."""
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ContentError(
            source,
            f"not valid UTF-8 (byte 0x{data[exc.start]:02x}); save the file as UTF-8",
            line=line,
        ) from None


def read_bytes(path: Path, source: str, *, limit: int | None = None) -> bytes:
    """A file's bytes, or a ContentError saying why it cannot be read.

    With ``limit`` (``content.max_file_bytes``), a larger file is refused
    before any of it is read (its size from ``stat``), and the read itself
    stops one byte past the limit, so a file growing meanwhile, a device or
    a pipe cannot take more memory either.
    """
    try:
        with path.open("rb") as file:
            if limit is None:
                return file.read()
            size = os.fstat(file.fileno()).st_size
            if size > limit:
                raise _too_large(source, f"is {size:,} bytes", limit)
            data = file.read(limit + 1)
    except OSError as exc:
        raise ContentError(source, f"cannot read: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise _too_large(source, "is larger than that", limit)
    return data


def _too_large(source: str, what: str, limit: int) -> ContentError:
    return ContentError(
        source, f"{what}, over content.max_file_bytes ({limit:,}); nothing read from it"
    )


@cache
def _front_matter_loader() -> type[yaml.SafeLoader]:
    """YAML's safe loader (libyaml's where present), leaving dates and times as text.

    The field checks read times themselves, so an impossible date
    (``2026-02-30``) or one out of range is a problem named by its field and
    line, not an exception from deep inside the YAML library.
    """
    import yaml

    safe: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader: type[yaml.SafeLoader] = type("_FrontMatterLoader", (safe,), {})
    loader.yaml_implicit_resolvers = {
        first: [
            (tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:timestamp"
        ]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    return loader


def _front_matter(head: str) -> tuple[Any, yaml.Node | None]:
    """The front matter's value and its node, from one parse."""
    loader = _front_matter_loader()(head)
    try:
        node = loader.get_single_node()
        value = _construct(loader, node) if node is not None else None
    finally:
        loader.dispose()
    return value, node


_STR = "tag:yaml.org,2002:str"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"


def _construct(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    """What ``loader.construct_document(node)`` gives, with the common cases built here.

    Front matter is mostly a mapping of text keys to text and lists of
    text; PyYAML's constructor spends more on those (in Python) than libyaml
    on parsing them. Text is the node's own value whatever the style, so
    those are read straight off the nodes; any other node (numbers, true or
    false, nested mappings, merge keys, explicit tags…) goes to the loader
    as before.
    """
    import yaml

    if type(node) is yaml.MappingNode and node.tag == _MAP:
        pairs = node.value
        if all(type(key) is yaml.ScalarNode and key.tag == _STR for key, _ in pairs):
            return {key.value: _construct_value(loader, value) for key, value in pairs}
    return loader.construct_document(node)


def _construct_value(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    import yaml

    kind = type(node)
    if kind is yaml.ScalarNode and node.tag == _STR:
        return node.value
    if (
        kind is yaml.SequenceNode
        and node.tag == _SEQ
        and all(type(item) is yaml.ScalarNode and item.tag == _STR for item in node.value)
    ):
        return [item.value for item in node.value]
    return loader.construct_document(node)


def read_markdown(path: Path, source: str, *, max_bytes: int | None = None) -> RawArticle:
    """One article from a Markdown file with YAML front matter.

    A file over ``max_bytes`` (``content.max_file_bytes``) is refused unread.
    """
    return parse_markdown(read_bytes(path, source, limit=max_bytes), path, source)


def parse_markdown(data: bytes, path: Path, source: str) -> RawArticle:
    """One article from the bytes of the Markdown file ``path`` (shown as ``source``).

    The front matter is parsed once, by libyaml where PyYAML has it.
    """
    import yaml

    text = decode_utf8(data, source)
    if not _BOUNDARY.match(text):
        raise ContentError(source, "no front matter: the file must start with a '---' line", line=1)
    try:
        _, head, body = _BOUNDARY.split(text, 2)
    except ValueError:
        raise ContentError(source, "front matter is not closed by a '---' line", line=1) from None
    # The front matter text starts on the opening '---' line, so a YAML mark
    # on its line n is on line n + 1 of the file.
    try:
        fields, node = _front_matter(head)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or str(exc)
        raise ContentError(
            source, f"front matter is not valid YAML: {problem}", line=line
        ) from None
    except yaml.YAMLError as exc:
        raise ContentError(source, f"front matter is not valid YAML: {exc}") from None
    except (ValueError, OverflowError) as exc:  # a value YAML reads but cannot build
        raise ContentError(source, f"front matter holds a value out of range: {exc}") from None
    if not isinstance(fields, dict):
        kind = "empty" if fields is None else f"a {type(fields).__name__}"
        raise ContentError(
            source, f"front matter must be a mapping of fields (key: value), got {kind}", line=2
        )
    lines: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key, _value in node.value:
            lines[str(key.value)] = key.start_mark.line + 1
    if "body" in fields or "body_html" in fields:
        raise ContentError(
            source, "the body goes below the front matter, not in it", line=lines.get("body", 2)
        )
    fields = {str(k): v for k, v in fields.items()}
    fields["body"] = body.lstrip("\n")
    return RawArticle(fields=fields, source=source, field_lines=lines, default_id=path.stem)


def jsonl_line_limit(max_body_bytes: int) -> int:
    """The longest JSON Lines line read for records whose body may hold ``max_body_bytes``.

    JSON may write a body's every UTF-8 byte as six characters (``\\u0001``;
    Cyrillic as ``\\u0434`` is three per byte), and the other fields need
    room too: a line longer than this cannot hold an acceptable record.
    """
    return 6 * max_body_bytes + _OTHER_FIELDS


_OTHER_FIELDS = 1 << 20
"""Room on a JSON Lines line for the fields besides the body (title, tags, …)."""

_CHUNK = 1 << 16


def _lines(file: BinaryIO, limit: int | None) -> Iterator[tuple[int, bytes | None]]:
    """``(number, line)`` for each line (``\\n``-terminated) of ``file``; ``None`` when too long.

    No more than ``limit + 1`` bytes of a line are held at once: the rest of
    a longer one is read in small chunks and dropped.
    """
    number = 0
    while True:
        line = file.readline() if limit is None else file.readline(limit + 1)
        if not line:
            return
        number += 1
        if limit is not None and len(line) > limit and not line.endswith(b"\n"):
            while True:  # skip to the end of this line
                rest = file.readline(_CHUNK)
                if not rest or rest.endswith(b"\n"):
                    break
            yield number, None
            continue
        yield number, line


def read_jsonl(
    path: Path, source: str, *, max_body_bytes: int | None = None
) -> Iterator[RawArticle | ContentError]:
    """Articles from a JSON Lines file: one JSON object per line, read a line at a time.

    With ``max_body_bytes`` (``content.max_body_bytes``) a line too long to
    hold an acceptable record (:func:`jsonl_line_limit`) is one rejected
    record, found while reading: it is neither kept whole in memory nor
    parsed, and the lines around it go through. Memory stays bounded by the
    longest acceptable line, whatever the file's size.
    """
    limit = jsonl_line_limit(max_body_bytes) if max_body_bytes is not None else None
    try:
        file = path.open("rb")
    except OSError as exc:
        raise ContentError(source, f"cannot read: {exc.strerror or exc}") from None
    with file:
        try:
            # Lines end at "\n" only: U+2028 or U+0085 inside a JSON string is text.
            for number, raw in _lines(file, limit):
                if raw is None:
                    assert max_body_bytes is not None and limit is not None
                    yield ContentError(
                        source,
                        f"line is longer than {limit:,} bytes, more than a record with "
                        f"content.max_body_bytes ({max_body_bytes:,}) can take; not read",
                        line=number,
                    )
                    continue
                if number == 1:
                    raw = raw.removeprefix(b"\xef\xbb\xbf")
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    yield ContentError(
                        source,
                        f"not valid UTF-8 (byte 0x{raw[exc.start]:02x}); save the file as UTF-8",
                        line=number,
                    )
                    continue
                yield from _jsonl_record(line, source, number)
        except OSError as exc:
            raise ContentError(source, f"cannot read: {exc.strerror or exc}") from None


def _jsonl_record(line: str, source: str, number: int) -> Iterator[RawArticle | ContentError]:
    if not line.strip():
        return
    try:
        fields = json.loads(line)
    except json.JSONDecodeError as exc:
        yield ContentError(source, f"not valid JSON: {exc.msg} (column {exc.colno})", line=number)
        return
    except RecursionError:
        yield ContentError(source, "not valid JSON: nested too deeply", line=number)
        return
    if not isinstance(fields, dict):
        yield ContentError(source, "expected a JSON object per line", line=number)
        return
    yield RawArticle(fields=fields, source=source, line=number)


# --- feeds -------------------------------------------------------------------

_SLUG = re.compile(r"[^A-Za-z0-9._~-]+")


def slug_from_url(url: str) -> str:
    """An article id from ``url``: its last path segment, and its query if it has one.

    ``https://x.org/2026/11/ports.html`` gives ``ports``; a query tells
    entries on one page apart (``/?p=123`` gives ``p-123``, ``/story?id=5``
    ``story-id-5``); an ``index.html`` names nothing, so the folder above it
    is taken (``/posts/first/index.html`` gives ``first``). A segment with
    nothing left once reduced to the
    characters an id may hold (``/статья``) gives ``entry-`` and a digest of
    the URL, which stays the same on every import.
    """
    split = urlsplit(url)
    parts = [p for p in split.path.split("/") if p]
    if parts and re.fullmatch(r"(?i)(index|default)\.(html?|php|aspx?)", parts[-1]):
        parts.pop()
    last = unquote(parts[-1]) if parts else ""
    last = re.sub(r"\.(html?|php|aspx?)$", "", last)
    if split.query:
        last = f"{last}-{unquote(split.query)}" if last else unquote(split.query)
    if not last:
        last = split.netloc
    ascii_only = unicodedata.normalize("NFKD", last).encode("ascii", "ignore").decode("ascii")
    slug = _SLUG.sub("-", ascii_only.replace("=", "-").replace("&", "-")).strip("-.")[:200]
    if len(slug) < len(last) / 2:  # mostly letters of another script: not a readable id
        return "entry-" + hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]
    return slug


def _fetch(location: str, limit: int | None = None) -> bytes:
    """The body at ``location``; past ``limit`` bytes the download is aborted.

    A ``Content-Length`` over the limit is refused before the body is read;
    without one (or when it lies) the body is read in chunks and dropped as
    soon as it passes the limit.
    """
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        location, headers={"User-Agent": f"broadsheet/{__version__} (feed import)"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (http only)
            if limit is None:
                data: bytes = response.read()
                return data
            length = response.headers.get("Content-Length", "")
            if length.strip().isdigit() and int(length) > limit:
                raise _too_large(location, f"is {int(length):,} bytes", limit)
            chunks: list[bytes] = []
            got = 0
            while chunk := response.read(min(_CHUNK, limit + 1 - got)):
                chunks.append(chunk)
                got += len(chunk)
                if got > limit:
                    raise _too_large(location, "is larger than that", limit)
            return b"".join(chunks)
    except urllib.error.HTTPError as exc:
        raise ContentError(
            location, f"cannot fetch the feed: HTTP {exc.code} {exc.reason}"
        ) from None
    except (urllib.error.URLError, TimeoutError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ContentError(location, f"cannot fetch the feed: {reason}") from None


def _utc(entry: Any, key: str) -> datetime | None:
    # feedparser gives every date as a UTC struct_time. Asking it for a key the
    # entry lacks can return a different date with a deprecation warning.
    if not dict.__contains__(entry, key):
        return None
    parsed = entry[key]
    if not parsed:
        return None
    year, month, day, hour, minute, second = parsed[:6]
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def _language(code: Any) -> str | None:
    if not isinstance(code, str) or not code.strip():
        return None
    return code.strip().lower().replace("_", "-").split("-")[0]


def _main_link(entry: Any, language: str | None) -> str:
    """The entry's own page: an alternate link in its language (or with none)."""
    for alt in entry.get("links", []):
        if alt.get("rel") == "alternate" and alt.get("href"):
            hreflang = _language(alt.get("hreflang"))
            if hreflang is None or hreflang == language:
                return str(alt["href"])
    return str(entry.get("link") or "")


def read_feed(
    location: str, *, max_bytes: int | None = None
) -> Iterator[RawArticle | ContentError]:
    """Articles from an RSS or Atom feed, given as a file path or an http(s) URL.

    A file or download over ``max_bytes`` (``content.max_file_bytes``) is
    refused before it is parsed: a file by its size, a download as soon as
    it passes the limit.

    An entry keeps its feed id as its guid, so readers who followed the old
    feed see no duplicates. The section is the category whose scheme ends in
    ``/sections`` (as broadsheet's own feeds write it); other categories are
    tags. ``rel="alternate"`` links with an ``hreflang`` become translations.
    """
    import feedparser

    if urlsplit(location).scheme in ("http", "https"):
        data = _fetch(location, max_bytes)
    else:
        data = read_bytes(Path(location), location, limit=max_bytes)
    parsed = feedparser.parse(data, sanitize_html=False, resolve_relative_uris=True)
    if parsed.bozo and not parsed.entries:
        raise ContentError(location, f"not a readable RSS or Atom feed: {parsed.bozo_exception}")
    if not parsed.version and not parsed.entries:
        raise ContentError(location, "not an RSS or Atom feed (no <rss>, <feed> or <rdf:RDF> root)")
    problem = str(parsed.get("bozo_exception", "")) if parsed.bozo else ""
    if "no element found" in problem or "unclosed token" in problem:
        # Cut off: its last entry would come in without the rest of its text.
        raise ContentError(
            location, f"the feed ends before its XML does ({problem}); nothing imported from it"
        )
    feed_language = _language(parsed.feed.get("language"))
    for number, entry in enumerate(parsed.entries, start=1):
        language = _language(entry.get("language")) or feed_language
        link = _main_link(entry, language)
        guid = entry.get("id") or link
        if not link and not guid:
            yield ContentError(
                location, "entry has neither a link nor an id", field=f"entry {number}"
            )
            continue
        published: datetime | str | None = _utc(entry, "published_parsed") or _utc(
            entry, "updated_parsed"
        )
        if published is None:
            # Present but unreadable: the field check names it as it is.
            published = entry.get("published") or entry.get("updated") or None
        updated = _utc(entry, "updated_parsed")
        section: str | None = None
        tags: list[str] = []
        for tag in entry.get("tags", []):
            term = (tag.get("term") or tag.get("label") or "").strip()
            if not term:
                continue
            if section is None and (tag.get("scheme") or "").rstrip("/").endswith("/sections"):
                section = term
            elif term not in tags:
                tags.append(term)
        translations: dict[str, str] = {}
        image: str | None = None
        for alt in entry.get("links", []):
            rel, href = alt.get("rel"), alt.get("href")
            if rel == "alternate" and alt.get("hreflang") and href and href != link:
                code = _language(alt.get("hreflang"))
                if code:
                    translations[code] = slug_from_url(href)
            if rel == "enclosure" and (alt.get("type") or "").startswith("image/") and not image:
                image = href
        for media in entry.get("media_content", []):
            if not image and (
                media.get("medium") == "image" or (media.get("type") or "").startswith("image/")
            ):
                image = media.get("url")
        contents = entry.get("content") or []
        body_html = contents[0].get("value") if contents else entry.get("summary", "")
        standfirst = entry.get("summary", "") if contents else ""
        fields: dict[str, Any] = {
            "id": slug_from_url(link) if link else slug_from_url(guid),
            "guid": guid,
            "title": entry.get("title"),
            "standfirst": standfirst,
            "authors": [a.get("name") for a in entry.get("authors", []) if a.get("name")],
            "section": section,
            "tags": tags,
            "published": published,
            "updated": (
                updated
                if updated and isinstance(published, datetime) and updated > published
                else None
            ),
            "url": link or None,
            "image": image,
            "translations": {k: v for k, v in translations.items() if k != language},
            "body_html": body_html or "",
        }
        if language:
            fields["language"] = language
        yield RawArticle(
            fields=fields, source=location, title_is_html=True, label=f"{location} entry {number}"
        )
