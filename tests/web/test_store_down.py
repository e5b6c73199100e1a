"""``serve`` when the store fails: 503 with Retry-After, and a ``/health`` that checks it.

Real failures: a PostgreSQL database cut off (new connections refused, its
sessions terminated) while the app runs, and a SQLite store whose file
system is remounted read-only under it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from broadsheet.config import Settings
from broadsheet.store import Store
from broadsheet.web.app import RETRY_AFTER
from tests.conftest import BASE_CONFIG
from tests.failing_stores import database_cut_off, read_only, tiny_tmpfs
from tests.web.conftest import Web


def _unavailable(answer: object) -> None:
    import httpx

    assert isinstance(answer, httpx.Response)
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"] == str(RETRY_AFTER)
    assert answer.headers["cache-control"] == "no-store"
    assert "try again" in answer.text
    assert "Traceback" not in answer.text and "sqlalchemy" not in answer.text.lower()


def test_postgresql_gone_is_503_and_health_says_so(
    serve: Callable[..., Web],
    pg_settings: Settings,
    pg_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = Store.open(pg_settings.store.url)
    try:
        web = serve(pg_settings, store)
        assert web.client.get("/health").text == "ok"
        with database_cut_off(pg_url):
            _unavailable(web.client.get("/health"))
            _unavailable(
                web.client.post("/subscribe", data={"email": "anna@example.org", "name": "Anna"})
            )
        # Back: the pool reconnects by itself.
        assert web.client.get("/health").status_code == 200
        answer = web.client.post("/subscribe", data={"email": "anna@example.org"})
        assert answer.status_code == 200, answer.text
    finally:
        store.close()
    logged = [r for r in caplog.records if r.name == "broadsheet.web.app"]
    assert logged and all(r.exc_info is None for r in logged)
    assert any("POST /subscribe: 503" in r.getMessage() for r in logged)


def test_a_read_only_sqlite_store_is_503(
    serve: Callable[..., Web], make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    with tiny_tmpfs(tmp_path / "tiny") as folder:
        base = BASE_CONFIG.replace(
            'url = "sqlite:///broadsheet.db"', f'url = "sqlite:///{folder}/broadsheet.db"'
        )
        settings = make_settings(base=base)
        store = Store.open(settings.store.url)
        try:
            web = serve(settings, store)
            assert web.client.get("/health").text == "ok"
            store.engine.dispose()  # no file held open for writing, so it can be remounted
            with read_only(folder):
                _unavailable(web.client.post("/subscribe", data={"email": "bo@example.org"}))
        finally:
            store.close()
