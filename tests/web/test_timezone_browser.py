"""The subscribe form's time zone in a real browser: filled from the browser's own zone.

Debian's headless Chromium, driven by playwright, against the app served by
uvicorn. The page's Content-Security-Policy must let the one inline script
run (by its digest); with script off, the form still works and leaves the
zone to the site.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from broadsheet.config import Settings
from broadsheet.model import Frequency
from broadsheet.store import Store
from tests.web.conftest import Web

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: apt-get install chromium (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield launched
        finally:
            launched.close()


def _subscribe(browser: Any, web: Web, address: str, *, script: bool) -> str:
    """Fill in and send the form as a reader in Tokyo; the zone field's value when sent."""
    context = browser.new_context(timezone_id="Asia/Tokyo", java_script_enabled=script)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda message: errors.append(message.text))
        page.goto(web.url + "/subscribe")
        page.fill("#email", address)
        page.check('input[value="en-daily"]')
        zone = str(page.input_value("#timezone"))
        with page.expect_navigation():
            page.click('button[type="submit"]')
        assert "Check your inbox" in page.content()
        assert not [e for e in errors if "Content Security Policy" in e], errors
        return zone
    finally:
        context.close()


def test_the_browser_fills_in_its_zone_and_the_form_works_without_script(
    serve: Callable[..., Web], settings: Settings, store: Store, browser: Any
) -> None:
    web = serve(settings, store)
    assert _subscribe(browser, web, "tokyo@example.org", script=True) == "Asia/Tokyo"
    assert _subscribe(browser, web, "plain@example.org", script=False) == ""
    with store.read() as tx:
        tokyo = tx.subscribers.of_address("tokyo@example.org")
        plain = tx.subscribers.of_address("plain@example.org")
    # en-daily ticked beside the default en-weekly: two newsletters each.
    assert [(s.frequency, s.timezone) for s in tokyo] == [
        (Frequency.DAILY, "Asia/Tokyo"),
        (Frequency.WEEKLY, "Asia/Tokyo"),
    ]
    assert [(s.frequency, s.timezone) for s in plain] == [
        (Frequency.DAILY, None),
        (Frequency.WEEKLY, None),
    ]
