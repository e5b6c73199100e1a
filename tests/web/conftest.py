"""Web fixtures: the real app served by uvicorn on 127.0.0.1, and an HTTP client."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from broadsheet.config import Settings
from broadsheet.store import Store
from tests.delivery.helpers import free_port

SECRET = "web-test-secret"


class LiveServer:
    """An ASGI app served by uvicorn in a thread."""

    def __init__(
        self, app: Any, *, make_config: Callable[..., uvicorn.Config] | None = None
    ) -> None:
        self.port = free_port()
        if make_config is not None:
            # As `broadsheet serve` sets it up (broadsheet.web.server.make_config).
            config = make_config(app, host="127.0.0.1", port=self.port, log_level="warning")
        else:
            config = uvicorn.Config(
                app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
            )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@dataclass
class Web:
    """A served publication: its settings, store, base URL and a client."""

    settings: Settings
    store: Store
    server: LiveServer
    client: httpx.Client

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture
def serve(monkeypatch: pytest.MonkeyPatch, fixed_now: datetime) -> Iterator[Callable[..., Web]]:
    """Serve a publication: ``serve(settings, store, **create_app_options)``."""
    from broadsheet.web.app import create_app

    monkeypatch.setenv("BROADSHEET_SECRET", SECRET)
    running: list[Web] = []

    def start(settings: Settings, store: Store, **options: Any) -> Web:
        options.setdefault("now", lambda: fixed_now)
        app = create_app(settings, store, **options)
        server = LiveServer(app).start()
        client = httpx.Client(base_url=server.url, timeout=20, follow_redirects=False)
        web = Web(settings, store, server, client)
        running.append(web)
        return web

    yield start
    for web in running:
        web.client.close()
        web.server.stop()


def write_file(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
