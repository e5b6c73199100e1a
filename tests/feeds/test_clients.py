"""Real feed readers show every author of a multi-author entry, in every format they read.

Each client reads the feeds of a small demo-like publication whose newest
article has three authors, and each must show all three names: the
feedparser-based ``reader`` (PyPI), ``atoma`` (PyPI), newsboat and
rss2email (Debian packages) and ``rss-parser`` (npm). A client that is not
installed skips, saying how to install it; .ci/run installs them all, and
there a skip fails. docs/feeds.md has the table of what each one shows.
"""

from __future__ import annotations

import email.header
import importlib
import json
import mailbox
import os
import shutil
import sqlite3
import subprocess
import warnings
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from broadsheet.config import Settings, load_settings
from broadsheet.feeds.build import build_feeds
from tests.conftest import BASE_CONFIG, DEMO_NOW, REPO, make_article

AUTHORS = ("Vera Lindqvist", "Lukas Brenner", "Ана Петрова")
TITLE = "Sanctions fatigue in three capitals"
TIMEOUT = 120


@pytest.fixture(scope="module")
def feeds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """all.rss, all.atom and all.json: one article by three authors, one by one."""
    folder = tmp_path_factory.mktemp("clients")
    config = folder / "broadsheet.toml"
    config.write_text(BASE_CONFIG + '\n[feeds]\nsets = ["site"]\n', encoding="utf-8")
    settings: Settings = load_settings(config)
    articles = [
        make_article(id="sanctions-fatigue", title=TITLE, authors=AUTHORS),
        make_article(
            id="budget",
            title="The budget, line by line",
            authors=("Elena Marchuk",),
            published=DEMO_NOW - timedelta(days=2),
        ),
    ]
    out = folder / "feeds"
    build_feeds(articles, settings, out=out, ping=False)
    return out


def _shown(names: list[str]) -> str:
    return " | ".join(name for name in names if name)


def _assert_all_shown(shown: str, client: str, fmt: str) -> None:
    missing = [name for name in AUTHORS if name not in shown]
    assert not missing, f"{client} ({fmt}) shows {shown!r}, without {missing}"


# --- reader (PyPI), built on its own copy of feedparser ---------------------------------


def _reader(feeds: Path, fmt: str) -> str:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from reader import make_reader
    except ImportError as exc:
        pytest.skip(f"reader is not installed ({exc}): pip install '.[test]'")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reader = make_reader(":memory:", feed_root=str(feeds))
        try:
            reader.add_feed(f"file:all.{fmt}")
            reader.update_feeds()
            (feed,) = reader.get_feeds()
            assert feed.last_exception is None, feed.last_exception
            entry = next(e for e in reader.get_entries() if e.title == TITLE)
            return _shown([author.name or "" for author in entry.authors])
        finally:
            reader.close()


@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
def test_reader_shows_every_author(feeds: Path, fmt: str) -> None:
    _assert_all_shown(_reader(feeds, fmt), "reader", fmt)


# --- atoma (PyPI) -----------------------------------------------------------------------


def _atoma() -> Any:
    try:
        # Imported by name: atoma ships no type information.
        return importlib.import_module("atoma")
    except ImportError as exc:
        pytest.skip(f"atoma is not installed ({exc}): pip install '.[test]'")


@pytest.mark.parametrize("fmt", ["atom", "json"])
def test_atoma_shows_every_author(feeds: Path, fmt: str) -> None:
    atoma = _atoma()
    data = (feeds / f"all.{fmt}").read_bytes()
    if fmt == "atom":
        parsed = atoma.parse_atom_bytes(data)
        entry = next(e for e in parsed.entries if e.title.value == TITLE)
        shown = _shown([a.name for a in entry.authors])
    else:
        parsed = atoma.parse_json_feed_bytes(data)
        item = next(i for i in parsed.items if i.title == TITLE)
        # atoma knows JSON Feed 1.0 only: its one `author`.
        shown = _shown([item.author.name if item.author else ""])
    _assert_all_shown(shown, "atoma", fmt)


def test_atoma_shows_no_rss_author_without_an_email_address(feeds: Path) -> None:
    # atoma reads only RSS <author>, which RSS requires to be an e-mail
    # address; broadsheet has none for its authors, so there is no name to show.
    atoma = _atoma()
    parsed = atoma.parse_rss_bytes((feeds / "all.rss").read_bytes())
    item = next(i for i in parsed.items if i.title == TITLE)
    assert item.author is None


# --- newsboat (Debian) ------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_newsboat_shows_every_author(feeds: Path, fmt: str, tmp_path: Path) -> None:
    if shutil.which("newsboat") is None:
        pytest.skip("newsboat is not installed: apt-get install newsboat")
    (tmp_path / "urls").write_text(f"file://{feeds / f'all.{fmt}'}\n", encoding="utf-8")
    (tmp_path / "config").write_text("", encoding="utf-8")
    cache = tmp_path / "cache.db"
    done = subprocess.run(
        ["newsboat", "-u", "urls", "-c", "cache.db", "-C", "config", "-x", "reload"],
        cwd=tmp_path,
        env={**os.environ, "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(cache) as db:
        rows = db.execute("SELECT author FROM rss_item WHERE title = ?", (TITLE,)).fetchall()
    assert len(rows) == 1, (rows, done.stderr)
    _assert_all_shown(rows[0][0], "newsboat", fmt)


# --- rss2email (Debian), built on the system's feedparser -------------------------------


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_rss2email_shows_every_author(feeds: Path, fmt: str, tmp_path: Path) -> None:
    if shutil.which("r2e") is None:
        pytest.skip("rss2email is not installed: apt-get install rss2email")
    maildir = tmp_path / "Maildir"
    for sub in ("new", "cur", "tmp"):
        (maildir / "INBOX" / sub).mkdir(parents=True)
    config = tmp_path / "r2e.cfg"
    data = tmp_path / "r2e.json"
    # Deliver into a Maildir instead of through sendmail; the From name is
    # "{feed-title}: {author}", rss2email's default.
    config.write_text(
        "[DEFAULT]\nto = reader@example.org\nemail-protocol = maildir\n"
        f"maildir-path = {maildir}\nmaildir-mailbox = INBOX\n",
        encoding="utf-8",
    )
    env = {**os.environ, "HOME": str(tmp_path)}
    base = ["r2e", "-c", str(config), "-d", str(data)]
    subprocess.run(
        [*base, "add", "lantern", f"file://{feeds / f'all.{fmt}'}"],
        env=env,
        capture_output=True,
        timeout=TIMEOUT,
        check=True,
    )
    done = subprocess.run(
        [*base, "run"], env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    assert done.returncode == 0, done.stderr
    senders = []
    for message in mailbox.Maildir(maildir / "INBOX", create=False):
        subject = str(email.header.make_header(email.header.decode_header(message["Subject"])))
        if subject == TITLE:
            senders.append(
                str(email.header.make_header(email.header.decode_header(message["From"])))
            )
    assert len(senders) == 1, (senders, done.stderr)
    _assert_all_shown(senders[0], "rss2email", fmt)


# --- rss-parser (npm) -------------------------------------------------------------------


def _node_modules() -> Path | None:
    """Where rss-parser is: BROADSHEET_NODE_MODULES (.ci/run sets it), or inside the checkout."""
    candidates: list[str | Path] = [
        os.environ.get("BROADSHEET_NODE_MODULES", ""),
        REPO / "node_modules",
        REPO / ".cache/node_modules",
    ]
    for candidate in candidates:
        if candidate and (Path(candidate) / "rss-parser").is_dir():
            return Path(candidate)
    return None


RSS_PARSER = """
const Parser = require("rss-parser");
const text = require("fs").readFileSync(process.argv[1], "utf8");
new Parser().parseString(text).then(
  (feed) => console.log(JSON.stringify(feed.items.map((i) => [i.title, i.creator, i.author]))),
  (error) => { console.error(error.message); process.exit(1); },
);
"""


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_rss_parser_shows_every_author(feeds: Path, fmt: str) -> None:
    node = shutil.which("node")
    modules = _node_modules()
    if node is None or modules is None:
        pytest.skip(
            "node or rss-parser not found: npm install rss-parser and set "
            "BROADSHEET_NODE_MODULES to its node_modules folder (.ci/run does)"
        )
    done = subprocess.run(
        [node, "-e", RSS_PARSER, str(feeds / f"all.{fmt}")],
        env={**os.environ, "NODE_PATH": str(modules)},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    items = [row for row in json.loads(done.stdout) if row[0] == TITLE]
    assert len(items) == 1, done.stdout
    _, creator, author = items[0]
    # RSS: dc:creator is `creator`; Atom: the first author's name is `author`.
    _assert_all_shown(_shown([creator or "", author or ""]), "rss-parser", fmt)


def test_every_client_sees_the_single_author_too(feeds: Path) -> None:
    # One author stays one plain name everywhere (no separator, nothing added).
    rss = (feeds / "all.rss").read_text(encoding="utf-8")
    assert "<dc:creator>Elena Marchuk</dc:creator>" in rss
    item = next(
        i
        for i in json.loads((feeds / "all.json").read_text(encoding="utf-8"))["items"]
        if i["title"] != TITLE
    )
    assert item["author"] == {"name": "Elena Marchuk"}
    assert item["authors"] == [{"name": "Elena Marchuk"}]
