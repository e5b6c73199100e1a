"""WebSub publish pings against a real HTTP hub on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from broadsheet.config import Settings
from broadsheet.feeds.build import build_feeds
from broadsheet.feeds.websub import PENDING_FILE, load_pending
from tests.conftest import DEMO_NOW, make_article


class Hub:
    """A tiny hub that records publish notifications and can be told to fail."""

    def __init__(self) -> None:
        self.received: list[str] = []
        self.status = 204
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length", 0))
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                assert form["hub.mode"] == ["publish"]
                hub.received.extend(form["hub.url"])
                self.send_response(hub.status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hub() -> Iterator[Hub]:
    server = Hub()
    yield server
    server.close()


def closed_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def test_changed_feeds_are_announced(
    hub: Hub, feed_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = feed_settings(f'hub = "{hub.url}"\nformats = ["atom", "json"]')
    report = build_feeds([make_article()], settings, out=tmp_path)
    assert "https://news.example/feeds/all.atom" in hub.received
    assert "https://news.example/feeds/all.json" in hub.received
    assert sorted(report.pinged) == sorted(hub.received) and not report.ping_pending
    hub.received.clear()
    build_feeds([make_article()], settings, out=tmp_path)
    assert hub.received == []  # nothing changed, nothing announced


def test_failed_pings_wait_for_the_next_build(
    hub: Hub, feed_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    down = feed_settings(f'hub = "{closed_port()}"\nformats = ["atom"]')
    report = build_feeds([make_article()], down, out=tmp_path)
    assert report.pinged == [] and "https://news.example/feeds/all.atom" in report.ping_pending
    assert set(load_pending(tmp_path)) == set(report.ping_pending)
    # The hub refuses: still pending.
    hub.status = 503
    refused = feed_settings(f'hub = "{hub.url}"\nformats = ["atom"]')
    again = build_feeds([make_article()], refused, out=tmp_path)
    assert set(again.ping_pending) == set(report.ping_pending)
    # The hub is back: the old pings go out with the new ones.
    hub.status = 202
    hub.received.clear()
    newer = make_article(id="newer", published=DEMO_NOW - timedelta(hours=1))
    final = build_feeds([make_article(), newer], refused, out=tmp_path)
    assert set(report.ping_pending) <= set(hub.received)
    assert final.ping_pending == [] and not (tmp_path / PENDING_FILE).exists()


def test_no_ping_defers(hub: Hub, feed_settings: Callable[..., Settings], tmp_path: Path) -> None:
    settings = feed_settings(f'hub = "{hub.url}"\nformats = ["rss"]')
    report = build_feeds([make_article()], settings, out=tmp_path, ping=False)
    assert hub.received == [] and "https://news.example/feeds/all.rss" in report.ping_pending
    build_feeds([make_article()], settings, out=tmp_path)
    assert "https://news.example/feeds/all.rss" in hub.received
