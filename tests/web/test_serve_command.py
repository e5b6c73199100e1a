"""`broadsheet serve` as users start it: a real process on a real port."""

from __future__ import annotations

import signal
import socket
import subprocess
import time

import httpx
from click.testing import CliRunner

from broadsheet.cli import cli
from broadsheet.config import Settings
from tests.delivery.helpers import cli_command, cli_env, free_port
from tests.web.conftest import write_file


def test_serve_answers_and_stops_on_sigterm(settings: Settings) -> None:
    write_file(settings.feeds.out / "all.atom", '<feed xmlns="http://www.w3.org/2005/Atom"/>\n')
    port = free_port()
    process = subprocess.Popen(
        cli_command(
            "serve",
            "--port",
            str(port),
            "--header-timeout",
            "1",
            "--config",
            str(settings.path),
        ),
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90  # a loaded machine starts Python slowly
        while True:
            try:
                health = httpx.get(f"{base}/health", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.communicate()[1].decode()
                assert time.monotonic() < deadline, "serve did not start"
                time.sleep(0.1)
        assert health.text == "ok"
        assert "server" not in health.headers
        page = httpx.get(f"{base}/subscribe", timeout=5)
        assert page.status_code == 200 and "Subscribe to the Test Weekly newsletter" in page.text
        feed = httpx.get(f"{base}/feeds/all.atom", timeout=5)
        assert feed.headers["content-type"].startswith("application/atom+xml")
        # A client that sends half a request line is shown the door (--header-timeout).
        with socket.create_connection(("127.0.0.1", port)) as slow:
            slow.sendall(b"GET /heal")
            slow.settimeout(10)
            start = time.monotonic()
            answer = slow.recv(4096)
            assert answer.startswith(b"HTTP/1.1 408 ") and time.monotonic() - start < 5
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    # uvicorn shuts down cleanly, then re-raises the signal it caught.
    assert process.returncode in (0, -signal.SIGTERM), err.decode()
    assert "Application shutdown complete" in err.decode()
    assert "serving Test Weekly on http://127.0.0.1:" in err.decode()


def test_serve_rejects_a_bad_rate_limit(settings: Settings) -> None:
    result = CliRunner().invoke(
        cli, ["serve", "--subscribe-limit", "lots", "--config", str(settings.path)]
    )
    assert result.exit_code == 2
    assert "expected a limit like '10/hour'" in result.output
