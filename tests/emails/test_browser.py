"""The demo edition in a real browser: Debian's headless Chromium, driven by playwright.

Screenshots go to ``$BROADSHEET_ARTIFACTS`` (default ``artifacts/`` in the
checkout). With ``BROADSHEET_UPDATE_README_IMAGE=1`` the English edition at
600 px is also written to ``docs/images/newsletter-en.png``, the picture the
README shows.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from broadsheet.emails.edition.personalize import Personal, fill_html
from broadsheet.resources import example_dir
from tests.emails.demo import DemoEditions

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def artifacts() -> Path:
    folder = Path(os.environ.get("BROADSHEET_ARTIFACTS") or REPO / "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _picture(url: str) -> tuple[bytes, str]:
    """An image for ``url``: the demo's own file when shipped, else a drawn stand-in."""
    name = Path(urlsplit(url).path).name
    shipped = example_dir() / "images" / name
    if shipped.is_file():
        kind = {"png": "image/png", "svg": "image/svg+xml"}.get(shipped.suffix[1:], "image/jpeg")
        return shipped.read_bytes(), kind
    if "logo" in name:
        svg = (
            '<svg xmlns="http://www.w3.org/2000/svg" width="180" height="44" viewBox="0 0 180 44">'
            '<text x="0" y="34" font-family="Georgia, serif" font-size="36" font-weight="bold" '
            'fill="#b3261e">Riddle</text></svg>'
        )
    else:
        svg = (
            '<svg xmlns="http://www.w3.org/2000/svg" width="1072" height="600" '
            'viewBox="0 0 1072 600"><defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1">'
            '<stop offset="0" stop-color="#5d6b78"/><stop offset="1" stop-color="#a9b4bd"/>'
            '</linearGradient></defs><rect width="1072" height="600" fill="url(#g)"/></svg>'
        )
    return svg.encode(), "image/svg+xml"


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


def _open(browser: Any, path: Path, *, width: int, scheme: str = "light") -> tuple[Any, list[str]]:
    page = browser.new_page(viewport={"width": width, "height": 900}, color_scheme=scheme)
    requested: list[str] = []

    def route(request_route: Any) -> None:
        url = request_route.request.url
        if url.startswith("file:"):
            request_route.continue_()
            return
        requested.append(url)
        if urlsplit(url).path.endswith((".png", ".jpg", ".jpeg", ".svg", ".webp")):
            body, kind = _picture(url)
            request_route.fulfill(status=200, body=body, content_type=kind)
        else:
            request_route.abort()

    page.route("**/*", route)
    page.goto(path.as_uri(), wait_until="load")
    return page, requested


def _preview(demo: DemoEditions, language: str, folder: Path) -> Path:
    personal = Personal(
        greeting="Hello Anna," if language == "en" else "Здравствуйте, Анна!",
        unsubscribe_url="https://ridl.io/newsletter/unsubscribe?token=preview",
        preferences_url="https://ridl.io/newsletter/preferences?token=preview",
    )
    path = folder / f"newsletter-{language}.html"
    path.write_text(fill_html(demo.record(language).html, personal), encoding="utf-8")
    return path


@pytest.mark.parametrize("language", ["en", "ru"])
@pytest.mark.parametrize("width", [375, 600])
def test_edition_fits_and_shows_the_donation_button(
    browser: Any, demo_editions: DemoEditions, tmp_path: Path, language: str, width: int
) -> None:
    page, requested = _open(browser, _preview(demo_editions, language, tmp_path), width=width)
    try:
        scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert scroll <= inner, f"horizontal overflow: {scroll}px content in {inner}px"
        button = page.locator("a.button")
        assert button.count() == 1
        assert button.is_visible()
        box = button.bounding_box()
        assert box is not None and box["width"] > 100 and box["x"] + box["width"] <= inner
        assert button.get_attribute("href") == demo_editions.settings.donation[language].url
        # The preheader is in the document but takes no space.
        hidden = page.evaluate(
            "Array.from(document.body.querySelectorAll('div'))"
            ".filter(d => getComputedStyle(d).display === 'none').length"
        )
        assert hidden == 1
        images = page.evaluate(
            "Array.from(document.images).map(i => [i.naturalWidth, i.getBoundingClientRect().right])"
        )
        assert images and all(natural > 0 and right <= inner for natural, right in images)
        assert {urlsplit(url).hostname for url in requested} == {"ridl.io"}
        shot = artifacts() / f"newsletter-{language}-{width}.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        if (language, width) == ("en", 600) and os.environ.get("BROADSHEET_UPDATE_README_IMAGE"):
            target = REPO / "docs" / "images" / "newsletter-en.png"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shot, target)
    finally:
        page.close()


def test_dark_mode_changes_the_colours(
    browser: Any, demo_editions: DemoEditions, tmp_path: Path
) -> None:
    path = _preview(demo_editions, "en", tmp_path)
    colours = {}
    for scheme in ("light", "dark"):
        page, _ = _open(browser, path, width=375, scheme=scheme)
        try:
            colours[scheme] = page.evaluate(
                "[getComputedStyle(document.querySelector('.container')).backgroundColor,"
                " getComputedStyle(document.querySelector('.title-link')).color]"
            )
            page.screenshot(
                path=str(artifacts() / f"newsletter-en-375-{scheme}.png"), full_page=True
            )
        finally:
            page.close()
    assert colours["light"][0] == "rgb(255, 255, 255)"
    assert colours["dark"][0] != colours["light"][0]
    assert colours["dark"][1] != colours["light"][1]


@pytest.mark.parametrize("language", ["en", "ru"])
def test_web_copy_fits_a_phone(browser: Any, demo_editions: DemoEditions, language: str) -> None:
    page, _ = _open(browser, demo_editions.path(language, "web"), width=375)
    try:
        scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert scroll <= inner
        assert page.locator("a.button").is_visible()
        page.screenshot(path=str(artifacts() / f"web-copy-{language}-375.png"), full_page=True)
    finally:
        page.close()
