"""Size limits are enforced while reading, before parsing.

``content.max_file_bytes`` refuses a Markdown file or a feed file by its
size, unread, and aborts a feed download once it passes the limit (a
``Content-Length`` over it is refused before the body is read; an endless
body is cut off). ``content.max_body_bytes`` bounds each JSON Lines line as
it is read. A too-large input is one rejected file or record naming the
file and the limit; the valid input beside it still goes in, and memory
stays bounded however large the rejected input is.
"""

from __future__ import annotations

import json
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from broadsheet.config import Settings
from broadsheet.content.importer import import_articles
from broadsheet.store import Store

NOW = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)
MB = 1_000_000


@pytest.fixture
def limited(make_settings: Callable[..., Settings]) -> Settings:
    """Settings with low limits: 100 kB files, 1 kB bodies (a JSON Lines line of ~1.05 MB)."""
    return make_settings("[content]\nmax_file_bytes = 100000\nmax_body_bytes = 1000\n")


@pytest.fixture
def limited_store(limited: Settings) -> Iterator[Store]:
    opened = Store.open(limited.store.url)
    yield opened
    opened.close()


def _article(title: str, body: str = "Text.") -> str:
    return f"---\ntitle: {title}\nlanguage: en\npublished: 2026-11-20T09:00:00+03:00\n---\n{body}\n"


def _record(article_id: str, body: str = "Text.") -> str:
    return json.dumps(
        {
            "id": article_id,
            "title": f"About {article_id}",
            "language": "en",
            "published": "2026-11-20T09:00:00Z",
            "body": body,
        }
    )


def _big_file(path: Path, head: bytes, size: int, tail: bytes = b"") -> Path:
    """``head``, then zero bytes (a sparse file: nothing written) up to ``size``, then ``tail``."""
    with path.open("wb") as file:
        file.write(head)
        file.truncate(size)
        file.seek(size)
        file.write(tail)
    return path


def test_a_markdown_file_over_the_limit_is_rejected_unread(
    limited: Settings, limited_store: Store, tmp_path: Path
) -> None:
    content = tmp_path / "content"
    content.mkdir()
    (content / "small.md").write_text(_article("Small"), encoding="utf-8")
    text = _article("Big", "Words. " * 500_000)  # 3.5 MB of a valid article
    (content / "big.md").write_text(text, encoding="utf-8")
    report = import_articles(limited_store, limited, str(content), now=NOW)
    assert report.added == ["small"]
    (problem,) = report.rejected
    assert "big.md" in problem
    assert f"is {len(text.encode()):,} bytes, over content.max_file_bytes (100,000)" in problem


def test_a_jsonl_line_over_the_limit_is_one_rejected_record(
    limited: Settings, limited_store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "articles.jsonl"
    huge = _record("huge", "x" * (3 * MB))
    path.write_text("\n".join([_record("first"), huge, _record("third")]) + "\n", encoding="utf-8")
    report = import_articles(limited_store, limited, str(path), now=NOW)
    assert sorted(report.added) == ["first", "third"]
    (problem,) = report.rejected
    assert "articles.jsonl:2: line is longer than" in problem
    assert "content.max_body_bytes (1,000)" in problem
    # A line that fits but whose body does not is still refused by the body check.
    path.write_text(_record("over", "y" * 2000) + "\n", encoding="utf-8")
    report = import_articles(limited_store, limited, str(path), now=NOW)
    assert report.added == [] and "over content.max_body_bytes (1,000)" in report.rejected[0]


def test_a_feed_file_over_the_limit_is_rejected(
    limited: Settings, limited_store: Store, tmp_path: Path
) -> None:
    feed = _big_file(tmp_path / "old.rss", b'<?xml version="1.0"?><rss version="2.0">', 5 * MB)
    report = import_articles(limited_store, limited, str(feed), now=NOW)
    (problem,) = report.rejected
    assert "old.rss" in problem
    assert f"is {5 * MB:,} bytes, over content.max_file_bytes (100,000)" in problem


class _FeedServer(BaseHTTPRequestHandler):
    """``/sized``: a 5 MB feed with its Content-Length; ``/endless``: a body that never ends."""

    def do_GET(self) -> None:  # noqa: N802 (the http.server name)
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        if self.path == "/sized":
            self.send_header("Content-Length", str(5 * MB))
            self.end_headers()
            return  # the client is expected to give up on the length alone
        self.end_headers()  # HTTP/1.0, no length: the body ends when the connection does
        self.wfile.write(b'<?xml version="1.0"?><rss version="2.0"><channel>')
        try:
            while True:
                self.wfile.write(b"<item><title>again</title></item>" * 1000)
        except OSError:
            return  # the client hung up: what it should do

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def feed_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FeedServer)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_feed_download_is_capped(
    limited: Settings, limited_store: Store, feed_server: str
) -> None:
    report = import_articles(limited_store, limited, f"{feed_server}/sized", now=NOW)
    (problem,) = report.rejected
    assert problem.startswith(f"{feed_server}/sized: is 5,000,000 bytes")
    assert "over content.max_file_bytes (100,000)" in problem
    report = import_articles(limited_store, limited, f"{feed_server}/endless", now=NOW)
    (problem,) = report.rejected
    assert problem.startswith(f"{feed_server}/endless: is larger than that")
    assert "content.max_file_bytes (100,000)" in problem


def test_memory_stays_bounded_for_inputs_far_over_the_limit(
    limited: Settings, limited_store: Store, tmp_path: Path
) -> None:
    # 60 MB on disk each, written sparse: reading either whole would take
    # well over 60 MB; the limits keep the import to a few.
    jsonl = _big_file(
        tmp_path / "big.jsonl",
        (_record("first") + "\n").encode(),
        60 * MB,
        ("\n" + _record("last") + "\n").encode(),
    )
    content = tmp_path / "content"
    content.mkdir()
    _big_file(content / "big.md", _article("Big").encode(), 60 * MB)
    (content / "small.md").write_text(_article("Small"), encoding="utf-8")
    tracemalloc.start()
    try:
        from_jsonl = import_articles(limited_store, limited, str(jsonl), now=NOW)
        from_md = import_articles(limited_store, limited, str(content), now=NOW)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sorted(from_jsonl.added) == ["first", "last"] and len(from_jsonl.rejected) == 1
    assert from_md.added == ["small"] and len(from_md.rejected) == 1
    assert peak < 8 * MB, f"peak {peak:,} bytes"
