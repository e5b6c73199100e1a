"""CSS inlining: premailer and css-inline agree; kept rules stay; no network; #290."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import lxml.html
import premailer
import pytest

from broadsheet.emails.edition.inline import inline
from broadsheet.emails.edition.render import environment
from broadsheet.errors import RenderError
from tests.emails.demo import DemoEditions

Structure = list[tuple[str, tuple[tuple[str, str], ...], str]]


def _colour(match: re.Match[str]) -> str:
    return "#" + "".join(c * 2 for c in match.groups())


def structure(document: str) -> Structure:
    """Elements in order with their inline declarations and text, normalised.

    html5ever (css-inline) adds the ``tbody`` every table implies and lxml
    (premailer) does not; cssutils shortens ``#ffffff`` to ``#fff``. Neither
    changes what a reader sees.
    """
    tree = lxml.html.fromstring(document)
    out: Structure = []
    for element in tree.body.iter():
        if not isinstance(element.tag, str) or element.tag == "tbody":
            continue
        declarations = {}
        for declaration in (element.get("style") or "").split(";"):
            if ":" not in declaration:
                continue
            name, value = declaration.split(":", 1)
            value = re.sub(r"\s+", "", value.strip().lower()).replace('"', "'")
            value = re.sub(r"#([0-9a-f])([0-9a-f])([0-9a-f])\b", _colour, value)
            declarations[name.strip().lower()] = value
        text = " ".join((element.text or "").split())
        out.append((str(element.tag), tuple(sorted(declarations.items())), text))
    return out


def links(document: str) -> list[str]:
    return [str(a.get("href")) for a in lxml.html.fromstring(document).iter("a")]


@pytest.mark.parametrize("language", ["en", "ru"])
def test_backends_give_equivalent_editions(
    demo_editions: DemoEditions, demo_editions_fast: DemoEditions, language: str
) -> None:
    slow = demo_editions.record(language)
    fast = demo_editions_fast.record(language)
    assert slow.extra["inliner"] == "premailer" and fast.extra["inliner"] == "css-inline"
    assert slow.text == fast.text
    assert slow.subject == fast.subject
    assert links(slow.html) == links(fast.html)
    assert structure(slow.html) == structure(fast.html)
    # Every element of the body got its styles from the stylesheet.
    styled = [row for row in structure(slow.html) if row[1]]
    assert len(styled) > 50


def _page(style: str, kept: str = "") -> str:
    keep = f"<style data-keep>{kept}</style>" if kept else ""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>t</title>'
        f"<style>{style}</style>{keep}</head>"
        '<body><p class="a">one</p><a class="b" href="https://example.org/">two</a></body></html>'
    )


@pytest.mark.parametrize("backend", ["premailer", "css-inline"])
def test_kept_blocks_stay_as_written(backend: str) -> None:
    kept = (
        "@media screen and (max-width: 620px) { .a { color: red !important; } }\n"
        "@media (prefers-color-scheme: dark) { .a { color: #eee !important; } }\n"
        "[data-ogsc] .a { color: #eee !important; }"
    )
    done = inline(_page(".a { color: #123456; } .b { font-weight: bold; }", kept), backend=backend)  # type: ignore[arg-type]
    assert done.count("<style>") == 1
    assert f"<style>{kept}</style>" in done
    assert "data-keep" not in done
    paragraph = lxml.html.fromstring(done).find(".//p")
    assert paragraph is not None
    assert "color" in (paragraph.get("style") or "")


class _Counter(BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        body = b"p { color: red; }"
        self.send_response(200)
        self.send_header("Content-Type", "text/css")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def stylesheet_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Counter)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Counter.hits = 0
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/remote.css"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("backend", ["premailer", "css-inline"])
def test_no_stylesheet_is_fetched(backend: str, stylesheet_server: str) -> None:
    page = _page(".a { color: blue; }").replace(
        "</head>", f'<link rel="stylesheet" href="{stylesheet_server}"></head>'
    )
    done = inline(page, backend=backend)  # type: ignore[arg-type]
    assert _Counter.hits == 0
    assert "red" not in done


NESTED = "@media (prefers-color-scheme: dark) { @media (max-width: 600px) { .a { color: #eee; } } }"


def test_premailer_crashes_on_nested_media_upstream_290() -> None:
    """The upstream bug is real: keep this test to notice when it is fixed."""
    with pytest.raises(AttributeError):
        premailer.Premailer(
            _page(".a { color: blue; } " + NESTED), allow_network=False, disable_validation=True
        ).transform()


def test_nested_media_becomes_a_render_error_not_a_crash() -> None:
    with pytest.raises(RenderError, match="premailer"):
        inline(_page(".a { color: blue; } " + NESTED), backend="premailer")


def _depth_of_media_rules(css: str) -> list[int]:
    depths = []
    depth = 0
    for match in re.finditer(r"@media|\{|\}", css):
        token = match.group(0)
        if token == "{":
            depth += 1
        elif token == "}":
            depth -= 1
        else:
            depths.append(depth)
    assert depth == 0
    return depths


def test_the_shipped_css_never_nests_media_rules() -> None:
    env = environment()
    for name in ("emails/edition.css", "emails/edition-kept.css"):
        css = env.get_template(name).render(accent="#b3261e")
        assert set(_depth_of_media_rules(css)) <= {0}, name
    # Even unprotected, in the block premailer parses, the shipped CSS is safe.
    both = "".join(
        env.get_template(n).render(accent="#b3261e")
        for n in ("emails/edition.css", "emails/edition-kept.css")
    )
    assert "@media" in both
    premailer.Premailer(_page(both), allow_network=False, disable_validation=True).transform()


def test_cssutils_warnings_stay_out_of_the_log(
    caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    page = _page(".a { mso-line-height-rule: exactly; -ms-text-size-adjust: 100%; color: red; }")
    with caplog.at_level(logging.DEBUG):
        done = inline(page, backend="premailer")
    assert "mso-line-height-rule" in done
    assert not [r for r in caplog.records if r.name.upper().startswith("CSSUTILS")]
    assert "Unknown Property" not in capfd.readouterr().err


def test_unknown_backend_is_refused() -> None:
    with pytest.raises(RenderError, match="unknown backend"):
        inline(_page(""), backend="tidy")  # type: ignore[arg-type]
