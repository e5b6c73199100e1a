"""Slow clients: a connection that never finishes its headers or its body is closed.

uvicorn alone times out only idle keep-alive connections; a client that
sends half a request line and waits would hold its connection for ever.
``broadsheet serve`` closes it (with ``408 Request Timeout``) once the
header or body timeout passes, while other clients are served as usual.
"""

from __future__ import annotations

import functools
import socket
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from broadsheet.config import Settings
from broadsheet.store import Store
from broadsheet.web.server import make_config
from tests.web.conftest import LiveServer

HEADER_TIMEOUT = 1.0
BODY_TIMEOUT = 1.5


@pytest.fixture
def server(settings: Settings, store: Store) -> Iterator[LiveServer]:
    from broadsheet.web.app import create_app

    app = create_app(settings, store, secret="slow-client-secret")
    live = LiveServer(
        app,
        make_config=functools.partial(
            make_config, header_timeout=HEADER_TIMEOUT, body_timeout=BODY_TIMEOUT
        ),
    ).start()
    yield live
    live.stop()


def _closed_after(sock: socket.socket, limit: float) -> tuple[float, bytes]:
    """Seconds until the server closes ``sock`` (at most ``limit``), and what it sent."""
    start = time.monotonic()
    sock.settimeout(limit)
    received = b""
    try:
        while chunk := sock.recv(4096):
            received += chunk
    except TimeoutError:
        return float("inf"), received
    except ConnectionResetError:
        pass
    return time.monotonic() - start, received


def _served_meanwhile(server: LiveServer) -> Callable[[], list[int]]:
    """Requests from another client while the slow one waits: their status codes."""
    codes: list[int] = []

    def fetch() -> None:
        with httpx.Client(base_url=server.url, timeout=5) as client:
            for _ in range(3):
                codes.append(client.get("/subscribe").status_code)
                time.sleep(0.2)

    thread = threading.Thread(target=fetch)
    thread.start()

    def done() -> list[int]:
        thread.join(10)
        return codes

    return done


def test_half_a_request_line_is_closed_after_the_header_timeout(server: LiveServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as slow:
        slow.sendall(b"GET /subscr")
        others = _served_meanwhile(server)
        took, answer = _closed_after(slow, HEADER_TIMEOUT + 4)
    assert took < HEADER_TIMEOUT + 2, "the server held a half-sent request line"
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert others() == [200, 200, 200]


def test_headers_trickled_in_are_closed_at_the_deadline(server: LiveServer) -> None:
    """One byte at a time does not reset the clock: the deadline is for all the headers."""
    with socket.create_connection(("127.0.0.1", server.port)) as slow:
        slow.sendall(b"GET /subscribe HTTP/1.1\r\nHost: x\r\n")
        start = time.monotonic()
        closed = False
        while time.monotonic() - start < HEADER_TIMEOUT + 3:
            try:
                slow.sendall(b"X")
            except OSError:
                closed = True
                break
            slow.settimeout(0.2)
            try:
                if slow.recv(4096) == b"":
                    closed = True
                    break
            except TimeoutError:
                pass
            except OSError:
                closed = True
                break
        took = time.monotonic() - start
    assert closed and took < HEADER_TIMEOUT + 2


def test_a_body_that_never_ends_is_closed_after_the_body_timeout(server: LiveServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as slow:
        slow.sendall(
            b"POST /subscribe HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n"
            b"email=a%40example.org"
        )
        others = _served_meanwhile(server)
        took, answer = _closed_after(slow, BODY_TIMEOUT + 4)
    assert took < BODY_TIMEOUT + 2, "the server held a request whose body never came"
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert others() == [200, 200, 200]


def test_a_connection_that_sends_nothing_is_closed(server: LiveServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as silent:
        took, _answer = _closed_after(silent, HEADER_TIMEOUT + 4)
    assert took < HEADER_TIMEOUT + 2


def test_keep_alive_requests_are_unaffected(server: LiveServer) -> None:
    """A client reusing its connection for requests spread over time is served each time."""
    with httpx.Client(base_url=server.url, timeout=5) as client:
        for _ in range(3):
            assert client.get("/subscribe").status_code == 200
            time.sleep(HEADER_TIMEOUT / 2)
        big = client.post("/subscribe", data={"email": "ok@example.org", "name": "x" * 150})
        assert big.status_code == 200
