"""``[emails] theme``: templates extending the built-in ones block by block."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from broadsheet.config import Settings, load_settings
from broadsheet.emails.edition.build import render_archive
from broadsheet.emails.edition.render import render
from broadsheet.errors import ConfigError, RenderError
from broadsheet.model import Frequency
from broadsheet.scheduler.editions import build_edition
from broadsheet.skeleton import THEME_EDITION, create_skeleton
from broadsheet.store import Store
from tests.conftest import DEMO_NOW
from tests.emails.demo import DemoEditions

TEXT_DONATION = """\
{% extends "builtin:emails/edition.txt.j2" %}
{% block donation %}

*** {{ donation.heading | upper }} ***
{{ donation.url }}
{% endblock %}
"""


def write_theme(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def differing(a: str, b: str) -> tuple[str, str, str, str]:
    """The common prefix and suffix of ``a`` and ``b``, and what differs in each."""
    start = len(os.path.commonprefix([a, b]))
    end = len(os.path.commonprefix([a[start:][::-1], b[start:][::-1]]))
    return a[:start], a[len(a) - end :], a[start : len(a) - end], b[start : len(b) - end]


@pytest.fixture(scope="module")
def themed(demo_store_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> DemoEditions:
    """The demo's weekly editions with the example theme of `broadsheet init` (and a text one)."""
    target = tmp_path_factory.mktemp("themed") / "polynya"
    shutil.copytree(demo_store_dir, target)
    write_theme(
        target / "my theme",
        {"emails/edition.html.j2": THEME_EDITION, "emails/edition.txt.j2": TEXT_DONATION},
    )
    config = target / "broadsheet.toml"
    text = config.read_text(encoding="utf-8")
    assert "[emails]" in text
    config.write_text(text.replace("[emails]", '[emails]\ntheme = "my theme/"', 1), "utf-8")
    settings = load_settings(config)
    store = Store.open(settings.store.url)
    try:
        outcomes = {
            language: build_edition(
                store, settings, language=language, frequency=Frequency.WEEKLY, now=DEMO_NOW
            )
            for language in ("en", "ru")
        }
    finally:
        store.close()
    return DemoEditions(settings=settings, outcomes=outcomes)


@pytest.mark.parametrize("language", ["en", "ru"])
def test_a_donation_theme_changes_that_block_and_nothing_else(
    demo_editions: DemoEditions, themed: DemoEditions, language: str
) -> None:
    plain, mine = demo_editions.record(language), themed.record(language)
    donation = themed.settings.donation[language]
    head, tail, theirs, ours = differing(plain.html, mine.html)
    assert "border-top" in ours and "text-align" in ours and "border-top" not in theirs
    # Everything else is the same bytes: the masthead and articles before, the footer after.
    assert plain.html.startswith(head) and plain.html.endswith(tail)
    assert head.rindex('class="donation"') > head.rindex("</h3>")  # the change is in the appeal
    assert tail.index(donation.heading) < tail.index('class="footer"')
    assert len(theirs) < 4000 and len(ours) < 4000
    for piece in (theirs, ours):
        assert 'class="footer"' not in piece and 'class="masthead"' not in piece
    for item in plain.new_ids:
        assert item not in theirs  # no article is inside what changed

    head, tail, theirs, ours = differing(plain.text, mine.text)
    assert f"*** {donation.heading.upper()} ***" in ours
    assert " ".join(donation.text.split()[:3]) not in mine.text.replace("\n", " ")
    assert " ".join(donation.text.split()[:3]) in plain.text.replace("\n", " ")
    assert demo_editions.settings.site.url in head
    assert plain.text.endswith(tail) and len(tail) > 200  # the footer is untouched

    # The web copy extends the edition template, so the theme reaches it too.
    web_plain = demo_editions.path(language, "web").read_text(encoding="utf-8")
    web_mine = themed.path(language, "web").read_text(encoding="utf-8")
    _, _, theirs, ours = differing(web_plain, web_mine)
    assert "border-top" in ours and len(ours) < 4000


def test_a_syntax_error_names_the_file_and_line(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    write_theme(
        tmp_path / "theme",
        {
            "emails/edition.html.j2": (
                '{% extends "builtin:emails/edition.html.j2" %}\n'
                "{% block donation %}\n<p>{{ donation.heading }</p>\n{% endblock %}\n"
            )
        },
    )
    with pytest.raises(ConfigError) as caught:
        make_settings('[emails]\ntheme = "theme/"\n')
    assert re.search(
        r"emails\.theme: theme/emails/edition\.html\.j2:3: unexpected '}'", str(caught.value)
    ), caught.value


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            '{% extends "builtin:emails/edition.html.j2" %}\n{% block donaton %}{% endblock %}\n',
            "theme/emails/edition.html.j2:2: block 'donaton' is not a block of",
        ),
        (
            '{% extends "builtin:emails/edition.html.j2" %}\n'
            "{% block donation %}\n{{ donation_url }}\n{% endblock %}\n",
            "theme/emails/edition.html.j2:3: 'donation_url' is undefined",
        ),
        (
            '{% extends "emails/edition.html.j2" %}\n',
            "theme/emails/edition.html.j2:1: uses itself; the built-in one is builtin:",
        ),
        (
            '{% extends "builtin:emails/editon.html.j2" %}\n',
            "theme/emails/edition.html.j2:1: no template 'builtin:emails/editon.html.j2'",
        ),
    ],
)
def test_a_wrong_theme_is_refused_when_the_settings_load(
    make_settings: Callable[..., Settings], tmp_path: Path, source: str, expected: str
) -> None:
    write_theme(tmp_path / "theme", {"emails/edition.html.j2": source})
    with pytest.raises(ConfigError, match=re.escape(f"emails.theme: {expected}")):
        make_settings('[emails]\ntheme = "theme/"\n')


def test_a_missing_theme_folder_is_refused(make_settings: Callable[..., Settings]) -> None:
    with pytest.raises(ConfigError, match=r"emails\.theme: not a folder: nowhere/"):
        make_settings('[emails]\ntheme = "nowhere/"\n')


def test_two_publications_with_their_own_themes_in_one_process(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    publications = {}
    for name in ("first", "second"):
        folder = tmp_path / name
        write_theme(
            folder / "looks",
            {
                "web/archive.html.j2": (
                    '{% extends "builtin:web/archive.html.j2" %}\n'
                    f"{{% block footer %}}<footer>{name} look</footer>\n{{% endblock %}}\n"
                )
            },
        )
        publications[name] = make_settings('[emails]\ntheme = "looks"\n', folder=folder)
    plain = make_settings(folder=tmp_path / "plain")
    for _ in range(2):  # interleaved: nothing of one publication stays behind for the other
        for name, settings in publications.items():
            page = render_archive(settings, "en", [])
            assert f"<footer>{name} look</footer>" in page
            assert "look</footer>" not in render_archive(plain, "en", [])


def test_init_writes_an_example_theme_that_loads(tmp_path: Path) -> None:
    written = create_skeleton(tmp_path)
    theme = tmp_path / "theme" / "emails" / "edition.html.j2"
    assert theme in written
    settings = load_settings(tmp_path / "broadsheet.toml")
    assert settings.emails.theme == (tmp_path / "theme").resolve()
    assert "{% block donation %}" in theme.read_text(encoding="utf-8")


def test_an_error_at_render_names_the_theme_file_and_line(tmp_path: Path) -> None:
    write_theme(
        tmp_path / "theme",
        {
            "web/archive.html.j2": (
                '{% extends "builtin:web/archive.html.j2" %}\n{% block footer %}\n'
                "<p>{{ site_url.nowhere }}</p>\n{% endblock %}\n"
            )
        },
    )
    context = {
        "lang": "en",
        "dir": "ltr",
        "title": "Past editions",
        "intro": "",
        "empty": "",
        "site_title": "Test Weekly",
        "site_url": "https://news.example",
        "accent": "#b8282e",
        "editions": [],
    }
    with pytest.raises(RenderError, match=r"theme/web/archive\.html\.j2:3: .*nowhere"):
        render("web/archive.html.j2", context, theme=tmp_path / "theme")
    assert "Test Weekly" in render("web/archive.html.j2", context)
