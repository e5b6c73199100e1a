"""The demo edition in a real browser: Debian's headless Chromium, driven by playwright.

Screenshots go to ``$BROADSHEET_ARTIFACTS`` (default ``artifacts/`` in the
checkout). With ``BROADSHEET_UPDATE_README_IMAGE=1`` the demo's English
weekly edition at 600 px, as `broadsheet serve` shows it, is also written to
``docs/images/newsletter-en.png``, the picture the README shows.
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
    """The demo's own file for an image ``url`` (every image the demo uses is shipped)."""
    name = Path(urlsplit(url).path).name
    shipped = example_dir() / "images" / name
    assert shipped.is_file(), f"{url}: the demo does not ship {name}"
    kind = "image/png" if shipped.suffix == ".png" else "image/jpeg"
    return shipped.read_bytes(), kind


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
        unsubscribe_url="http://localhost:8080/unsubscribe?token=preview",
        preferences_url="http://localhost:8080/preferences?token=preview",
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
        assert {urlsplit(url).hostname for url in requested} == {"localhost"}
        shot = artifacts() / f"newsletter-{language}-{width}.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
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


def test_the_served_demo_shows_its_own_images_offline(browser: Any, tmp_path: Path) -> None:
    """``broadsheet demo``, then ``serve`` on its output: the edition's images all load.

    The demo's ``site.url`` is ``http://localhost:8080``, where ``serve``
    answers by default; here ``serve`` listens on a free port and the page's
    requests for ``localhost:8080`` are passed to it. Every other request is
    refused, so nothing comes from the network.
    """
    from click.testing import CliRunner

    from broadsheet.cli import cli
    from broadsheet.config import load_settings
    from broadsheet.store import Store
    from broadsheet.web.app import create_app
    from tests.web.conftest import LiveServer

    result = CliRunner().invoke(cli, ["demo", "--out", str(tmp_path / "demo")])
    assert result.exit_code == 0, result.output
    assert "broadsheet serve --config" in result.output
    settings = load_settings(tmp_path / "demo" / "broadsheet.toml")
    assert settings.site.url == "http://localhost:8080"
    store = Store.open(settings.store.url)
    server = LiveServer(create_app(settings, store, secret="demo-browser")).start()
    page = browser.new_page(viewport={"width": 600, "height": 900})
    served: list[str] = []
    refused: list[str] = []

    def route(request_route: Any) -> None:
        url = request_route.request.url
        parts = urlsplit(url)
        if parts.netloc == "localhost:8080":
            served.append(url)
            local = url.replace("http://localhost:8080", server.url, 1)
            request_route.fulfill(response=request_route.fetch(url=local))
        else:
            refused.append(url)
            request_route.abort()

    try:
        page.route("**/*", route)
        for name in ("email.html", "index.html"):
            url = f"http://localhost:8080/editions/en/weekly-en-2026-11-23/{name}"
            assert page.goto(url, wait_until="load").status == 200
            images = page.evaluate(
                "Array.from(document.images).map(i => [i.currentSrc, i.complete, i.naturalWidth])"
            )
            assert len(images) >= 2, images
            broken = [src for src, complete, natural in images if not (complete and natural > 0)]
            assert broken == [], f"{name}: images that did not load: {broken}"
            assert any(src.endswith("/images/polynya-logo.png") for src, _, _ in images)
        assert refused == []
        assert any("/images/" in url for url in served)
        shot = artifacts() / "served-demo-en-600.png"
        page.goto(
            "http://localhost:8080/editions/en/weekly-en-2026-11-23/email.html", wait_until="load"
        )
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        if os.environ.get("BROADSHEET_UPDATE_README_IMAGE"):
            target = REPO / "docs" / "images" / "newsletter-en.png"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shot, target)
    finally:
        page.close()
        server.stop()
        store.close()
