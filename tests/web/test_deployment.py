"""docs/deployment.md's nginx configuration, run as documented, in front of `broadsheet serve`.

The configuration is ``examples/deploy/nginx.conf``, shown verbatim in
docs/deployment.md (a test checks the doc still holds it). Here it runs with
only its documented placeholders replaced (the two folders, serve's address,
the host name and the port), inside the few main-context lines any nginx
needs, over the demo built with ``[feeds] precompress`` on, on a free loopback
port, with a real ``broadsheet serve`` process behind it. The test skips,
saying so, where ``/usr/sbin/nginx`` is absent.

Also here, without nginx: the gzip copies the build writes beside each feed
(byte-stable, same mtime, removed with their feed).
"""

from __future__ import annotations

import grp
import gzip
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from broadsheet.cli import cli
from broadsheet.feeds.publish import Writer
from broadsheet.feeds.serving import IMMUTABLE_MAP
from tests.delivery.helpers import cli_command, cli_env
from tests.web.test_nginx import NGINX, WORKER, _free_port

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "examples" / "deploy" / "nginx.conf"
DOC = REPO / "docs" / "deployment.md"

SHORT = "public, max-age=300"
IMMUTABLE = "public, max-age=31536000, immutable"


def test_the_doc_shows_the_shipped_configuration() -> None:
    assert CONFIG.read_text(encoding="utf-8") in DOC.read_text(encoding="utf-8")


@dataclass
class Demo:
    """The demo, built with precompressed feeds."""

    root: Path
    config: Path

    @property
    def feeds(self) -> Path:
        return self.root / "public" / "feeds"

    @property
    def editions(self) -> Path:
        return self.root / "public" / "editions"


@pytest.fixture(scope="module")
def demo() -> Iterator[Demo]:
    """The demo under umask 022 in a folder nginx's workers may enter, feeds precompressed."""
    where = Path(tempfile.mkdtemp(prefix="broadsheet-deploy-"))
    where.chmod(0o755)
    previous = os.umask(0o022)
    try:
        made = CliRunner().invoke(cli, ["demo", "--out", str(where / "demo")])
        assert made.exit_code == 0, made.output
        config = where / "demo" / "broadsheet.toml"
        text = config.read_text(encoding="utf-8")
        assert "\n[feeds]\n" in text
        config.write_text(text.replace("\n[feeds]\n", "\n[feeds]\nprecompress = true\n"))
        built = CliRunner().invoke(cli, ["feeds", "build", "--no-ping", "--config", str(config)])
        assert built.exit_code == 0, built.output
    finally:
        os.umask(previous)
    try:
        yield Demo(where / "demo", config)
    finally:
        shutil.rmtree(where, ignore_errors=True)


# -- the gzip copies, without nginx -------------------------------------------------------


def test_every_feed_has_a_byte_stable_gzip_copy_with_its_mtime(demo: Demo) -> None:
    feeds = [p for p in demo.feeds.rglob("*") if p.is_file() and not p.name.startswith(".")]
    plain = [p for p in feeds if p.suffix != ".gz"]
    assert {p.name for p in feeds if p.suffix == ".gz"} >= {"all.atom.gz", "index.json.gz"}
    for path in plain:
        copy = path.with_name(path.name + ".gz")
        assert gzip.decompress(copy.read_bytes()) == path.read_bytes(), copy
        assert copy.stat().st_mtime_ns == path.stat().st_mtime_ns, copy
        header = copy.read_bytes()[:10]
        assert header[4:8] == b"\0\0\0\0" and not header[3] & 0x08, "no mtime, no name"
    assert not (demo.feeds / ".broadsheet-feeds.json.gz").exists()
    assert not (demo.feeds / (IMMUTABLE_MAP + ".gz")).exists()


def test_a_rebuild_rewrites_nothing_and_restores_a_missing_copy(demo: Demo, tmp_path: Path) -> None:
    copy = tmp_path / "feeds"
    shutil.copytree(demo.feeds, copy)
    config = tmp_path / "broadsheet.toml"
    text = demo.config.read_text(encoding="utf-8")
    config.write_text(
        text.replace('out = "public/feeds"', f'out = "{copy}"').replace(
            'url = "sqlite:///broadsheet.db"', f'url = "sqlite:///{demo.root}/broadsheet.db"'
        ),
        encoding="utf-8",
    )
    before = {p: p.stat().st_mtime_ns for p in copy.rglob("*") if p.is_file()}
    again = CliRunner().invoke(cli, ["feeds", "build", "--no-ping", "--config", str(config)])
    assert again.exit_code == 0 and " 0 written" in again.output, again.output
    assert {p: p.stat().st_mtime_ns for p in copy.rglob("*") if p.is_file()} == before
    lost = copy / "all.rss.gz"
    good = lost.read_bytes()
    lost.unlink()
    third = CliRunner().invoke(cli, ["feeds", "build", "--no-ping", "--config", str(config)])
    assert third.exit_code == 0 and " 1 written" in third.output, third.output
    assert lost.read_bytes() == good
    assert lost.stat().st_mtime_ns == (copy / "all.rss").stat().st_mtime_ns


def test_a_copy_goes_with_its_feed_and_with_precompress(tmp_path: Path) -> None:
    writer = Writer(tmp_path, precompress=True)
    writer.write("tag/old.atom", b"<feed/>" * 100)
    writer.write("all.atom", b"<feed>all</feed>")
    writer.finish("one")
    assert (tmp_path / "tag" / "old.atom.gz").exists()
    writer = Writer(tmp_path, precompress=True)
    assert writer.previous_build == "one"
    writer.write("all.atom", b"<feed>all</feed>")
    writer.finish("two")
    assert not (tmp_path / "tag").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".broadsheet-feeds.json",
        "all.atom",
        "all.atom.gz",
    ]
    writer = Writer(tmp_path)
    assert writer.previous_build is None, "turning precompress off is a change"
    writer.write("all.atom", b"<feed>all</feed>")
    writer.finish("two")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".broadsheet-feeds.json", "all.atom"]


def test_the_map_lists_every_archive_page_but_the_newest_of_each_feed(demo: Demo) -> None:
    index = json.loads((demo.feeds / "index.json").read_text(encoding="utf-8"))["feeds"]
    listed = [
        line
        for line in (demo.feeds / IMMUTABLE_MAP).read_text(encoding="utf-8").splitlines()
        if not line.startswith("#")
    ]
    expected = sorted(page for feed in index for page in feed["archives"][:-1])
    assert expected, "the demo has archive pages with a successor"
    assert listed == [f'"{page}" 1;' for page in expected]
    assert all((demo.feeds / page).is_file() for page in expected)


# -- nginx in front of serve ----------------------------------------------------------------


def _wait_for(port: int, process: subprocess.Popen[bytes], seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while process.poll() is None and time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()


@pytest.fixture(scope="module")
def serve(demo: Demo) -> Iterator[int]:
    """The port of a `broadsheet serve` process for the demo."""
    for _ in range(5):
        port = _free_port()
        process = subprocess.Popen(
            cli_command("serve", "--port", str(port), "--config", str(demo.config)),
            env=cli_env(),
            cwd=demo.root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        if _wait_for(port, process):
            break
        _stop(process)
    else:
        raise AssertionError("broadsheet serve did not start")
    try:
        yield port
    finally:
        _stop(process)


def deployed_config(demo: Demo, serve_port: int, port: int) -> str:
    """examples/deploy/nginx.conf with its documented placeholders replaced."""
    text = CONFIG.read_text(encoding="utf-8")
    for placeholder, value in {
        "/srv/broadsheet/public/feeds/": f"{demo.feeds}/",
        "/srv/broadsheet/public/editions/": f"{demo.editions}/",
        "127.0.0.1:8080": f"127.0.0.1:{serve_port}",
        "listen 80;": f"listen 127.0.0.1:{port};",
        "news.example": "localhost",
    }.items():
        assert placeholder in text, placeholder
        text = text.replace(placeholder, value)
    return text


@pytest.fixture(scope="module")
def nginx(demo: Demo, serve: int) -> Iterator[str]:
    """The base URL of nginx running the documented configuration."""
    if not NGINX.exists():
        pytest.skip(f"{NGINX} is absent: apt-get install nginx to run this test")
    where = Path(tempfile.mkdtemp(prefix="broadsheet-nginx-conf-"))
    user = ""
    if os.geteuid() == 0:
        entry = pwd.getpwnam(WORKER)
        user = f"user {WORKER} {grp.getgrgid(entry.pw_gid).gr_name};"
    temp = " ".join(
        f"{kind}_temp_path {where / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    try:
        for _ in range(5):
            port = _free_port()
            (where / "nginx.conf").write_text(
                f"daemon off;\nworker_processes 1;\n{user}\npid {where / 'nginx.pid'};\n"
                f"error_log {where / 'error.log'} info;\nevents {{ worker_connections 64; }}\n"
                f"http {{\naccess_log off;\n{temp}\ndefault_type application/octet-stream;\n"
                f"{deployed_config(demo, serve, port)}\n}}\n",
                encoding="utf-8",
            )
            process = subprocess.Popen(
                [str(NGINX), "-p", str(where), "-c", str(where / "nginx.conf")],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            if _wait_for(port, process, 10):
                break
            _stop(process)
        else:
            log = (where / "error.log").read_text(errors="replace")
            raise AssertionError(f"nginx did not start: {log}")
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            _stop(process)
    finally:
        shutil.rmtree(where, ignore_errors=True)


@dataclass
class Answer:
    """A response as it came over the wire: the body not decoded."""

    status_code: int
    headers: httpx.Headers
    content: bytes

    @property
    def text(self) -> str:
        raw = self.content
        if self.headers.get("content-encoding") == "gzip":
            raw = gzip.decompress(raw)
        return raw.decode("utf-8")


def _get(url: str, **headers: str) -> Answer:
    # No automatic Accept-Encoding: each request says what it accepts.
    with (
        httpx.Client(headers={"Accept-Encoding": "identity"}, timeout=10) as client,
        client.stream("GET", url, headers=headers) as response,
    ):
        return Answer(response.status_code, response.headers, b"".join(response.iter_raw()))


def _immutable_and_newest(demo: Demo) -> tuple[str, str]:
    """An archive page with a successor, and the newest page of the same feed."""
    listed = [
        line.split('"')[1]
        for line in (demo.feeds / IMMUTABLE_MAP).read_text(encoding="utf-8").splitlines()
        if line.startswith('"')
    ]
    assert listed, "the demo has archive pages with a successor"
    page = Path(listed[0])
    newest = max(
        (p for p in (demo.feeds / page.parent).glob(f"*{page.suffix}")),
        key=lambda p: int(p.stem),
    )
    assert newest.name != page.name
    return page.as_posix(), newest.relative_to(demo.feeds).as_posix()


def test_media_types(nginx: str, demo: Demo) -> None:
    edition = next(demo.editions.glob("en/weekly-en-*")).relative_to(demo.editions).as_posix()
    expected = {
        "/feeds/all.rss": "application/rss+xml; charset=utf-8",
        "/feeds/all.atom": "application/atom+xml; charset=utf-8",
        "/feeds/all.json": "application/feed+json",
        "/feeds/en.json": "application/feed+json",
        "/feeds/index.json": "application/json",
        "/feeds/feed.xsl": "text/xsl; charset=utf-8",
        "/newsletter/editions/en/": "text/html; charset=utf-8",
        f"/newsletter/editions/{edition}/": "text/html; charset=utf-8",
        f"/newsletter/editions/{edition}/email.html": "text/html; charset=utf-8",
        f"/newsletter/editions/{edition}/email.txt": "text/plain; charset=utf-8",
        f"/newsletter/editions/{edition}/edition.json": "application/json",
    }
    for encoding in ("identity", "gzip"):
        got = {
            path: (r.status_code, r.headers.get("content-type"))
            for path in expected
            for r in [_get(nginx + path, **{"Accept-Encoding": encoding})]
        }
        assert got == {path: (200, kind) for path, kind in expected.items()}, encoding


def test_cache_control_per_kind_of_file(nginx: str, demo: Demo) -> None:
    kept, newest = _immutable_and_newest(demo)
    edition = next(demo.editions.glob("en/weekly-en-*")).relative_to(demo.editions).as_posix()
    expected = {
        "/feeds/all.atom": SHORT,
        "/feeds/en.rss": SHORT,
        "/feeds/index.json": SHORT,
        f"/feeds/{newest}": SHORT,
        f"/feeds/{kept}": IMMUTABLE,
        f"/newsletter/editions/{edition}/": "public, max-age=3600",
    }
    for encoding in ("identity", "gzip"):
        got = {
            path: _get(nginx + path, **{"Accept-Encoding": encoding}).headers.get("cache-control")
            for path in expected
        }
        assert got == expected, encoding


def test_hidden_files_are_not_served(nginx: str) -> None:
    for name in (".broadsheet-feeds.json", IMMUTABLE_MAP):
        assert _get(f"{nginx}/feeds/{name}").status_code == 404


def _nginx_etag(path: Path) -> str:
    status = path.stat()
    return f'"{int(status.st_mtime):x}-{status.st_size:x}"'


def test_precompressed_feeds_keep_strong_validators(nginx: str, demo: Demo) -> None:
    kept, _ = _immutable_and_newest(demo)
    for name in ("all.atom", "ru.rss", "en.json", "index.json", kept):
        url = f"{nginx}/feeds/{name}"
        file = demo.feeds / name
        plain = _get(url)
        packed = _get(url, **{"Accept-Encoding": "gzip"})
        assert plain.content == file.read_bytes()
        assert packed.headers["content-encoding"] == "gzip"
        assert gzip.decompress(packed.content) == file.read_bytes()
        # Each representation its own strong ETag; the same Last-Modified.
        assert plain.headers["etag"] == _nginx_etag(file)
        assert packed.headers["etag"] == _nginx_etag(file.with_name(file.name + ".gz"))
        assert plain.headers["last-modified"] == packed.headers["last-modified"]
        assert parsedate_to_datetime(plain.headers["last-modified"]).timestamp() == int(
            file.stat().st_mtime
        )
        for response in (plain, packed):
            assert response.headers["vary"] == "Accept-Encoding"
        _check_304s(url, plain, packed)


def test_web_copies_compressed_on_the_fly_keep_their_last_modified(nginx: str, demo: Demo) -> None:
    edition = next(demo.editions.glob("en/weekly-en-*")).relative_to(demo.editions).as_posix()
    for name in (f"{edition}/index.html", f"{edition}/email.html", f"{edition}/edition.json"):
        url = f"{nginx}/newsletter/editions/{name}"
        plain = _get(url)
        packed = _get(url, **{"Accept-Encoding": "gzip"})
        assert plain.content == (demo.editions / name).read_bytes()
        assert packed.headers["content-encoding"] == "gzip"
        assert gzip.decompress(packed.content) == plain.content
        assert "etag" not in plain.headers and "etag" not in packed.headers
        for response in (plain, packed):
            assert response.headers["vary"] == "Accept-Encoding"
        assert plain.headers["last-modified"] == packed.headers["last-modified"]
        assert parsedate_to_datetime(plain.headers["last-modified"]).timestamp() == int(
            (demo.editions / name).stat().st_mtime
        )
        _check_304s(url, plain, packed)


def _check_304s(url: str, plain: Answer, packed: Answer) -> None:
    for encoding, first in (("identity", plain), ("gzip", packed)):
        conditions = [{"If-Modified-Since": first.headers["last-modified"]}]
        if "etag" in first.headers:
            conditions.append({"If-None-Match": first.headers["etag"]})
        for condition in conditions:
            answer = _get(url, **{"Accept-Encoding": encoding}, **condition)
            assert answer.status_code == 304, (url, encoding, condition)
            assert answer.content == b""
            # The 304 carries the validators and Vary of the 200 it stands for.
            for header in ("etag", "last-modified", "vary", "cache-control"):
                assert answer.headers.get(header) == first.headers.get(header), (url, header)
    if "etag" in plain.headers:
        # Another encoding's tag, or an old one, gets the full answer.
        assert _get(url, **{"If-None-Match": packed.headers["etag"]}).status_code == 200
        assert _get(url, **{"If-None-Match": '"0-0"'}).status_code == 200
    earlier = "Thu, 01 Jan 2015 00:00:00 GMT"
    assert _get(url, **{"If-Modified-Since": earlier}).status_code == 200


def test_dynamic_routes_reach_serve(nginx: str, serve: int) -> None:
    health = _get(f"{nginx}/newsletter/health")
    assert (health.status_code, health.text) == (200, "ok")
    form = _get(f"{nginx}/newsletter/subscribe", **{"Accept-Encoding": "gzip"})
    direct = _get(f"http://127.0.0.1:{serve}/subscribe", **{"Accept-Encoding": "gzip"})
    assert form.status_code == 200 and "<form" in form.text
    assert form.text == direct.text
    assert form.headers.get("cache-control") == direct.headers.get("cache-control")
    # Nothing else reaches nginx's root.
    assert _get(f"{nginx}/subscribe").status_code == 404
