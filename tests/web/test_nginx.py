"""The published folder served by nginx running as another user, as the docs advise.

The demo is built under umask 022 into a folder others may enter; every file
it publishes (feeds, editions, web copies, archive pages) must then be
world-readable, and Debian's nginx, its workers running as ``nobody``, must
answer 200 for them. (Edition files used to be written with mode 0600, and
nginx answered 403.)

nginx runs from a configuration written into the test's own folder, on a free
loopback port; the test skips, saying so, where ``/usr/sbin/nginx`` is absent.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import socket
import stat
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from broadsheet.cli import cli

NGINX = Path("/usr/sbin/nginx")
WORKER = "nobody"


@pytest.fixture(scope="module")
def public() -> Iterator[Path]:
    """The demo's public/ folder, built under umask 022 where any user may enter."""
    # Not under pytest's tmp_path: its base folder is private to this user
    # (0700), so nginx's workers could not reach the files whatever their mode.
    where = Path(tempfile.mkdtemp(prefix="broadsheet-nginx-"))
    where.chmod(0o755)
    previous = os.umask(0o022)
    try:
        result = CliRunner().invoke(cli, ["demo", "--out", str(where / "demo")])
    finally:
        os.umask(previous)
    try:
        assert result.exit_code == 0, result.output
        yield where / "demo" / "public"
    finally:
        shutil.rmtree(where, ignore_errors=True)


def test_every_published_file_is_world_readable_under_umask_022(public: Path) -> None:
    files = [p for p in public.rglob("*") if p.is_file()]
    kinds = {p.name for p in files}
    assert {"email.html", "email.txt", "index.html", "edition.json", "all.atom"} <= kinds
    modes = {p.relative_to(public).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in files}
    assert {name: oct(mode) for name, mode in modes.items() if mode != 0o644} == {}
    folders = [p for p in public.rglob("*") if p.is_dir()]
    assert {
        p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in folders if not p.stat().st_mode & 0o005
    } == {}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _config(tmp_path: Path, root: Path, port: int) -> Path:
    user = ""
    if os.geteuid() == 0:
        # The master runs as root, the workers as nobody, as a packaged nginx does.
        entry = pwd.getpwnam(WORKER)
        user = f"user {WORKER} {grp.getgrgid(entry.pw_gid).gr_name};"
    temp = {kind: tmp_path / kind for kind in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    config = tmp_path / "nginx.conf"
    config.write_text(
        f"""
daemon off;
master_process on;
worker_processes 1;
{user}
pid {tmp_path / "nginx.pid"};
error_log {tmp_path / "error.log"} info;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {temp["body"]};
    proxy_temp_path {temp["proxy"]};
    fastcgi_temp_path {temp["fastcgi"]};
    uwsgi_temp_path {temp["uwsgi"]};
    scgi_temp_path {temp["scgi"]};
    types {{
        text/html html;
        text/plain txt;
        application/json json;
        application/atom+xml atom;
        application/rss+xml rss;
        application/xslt+xml xsl;
    }}
    server {{
        listen 127.0.0.1:{port};
        root {root};
        index index.html;
    }}
}}
""",
        encoding="utf-8",
    )
    return config


@pytest.fixture
def nginx(tmp_path: Path, public: Path) -> Iterator[str]:
    """The base URL of nginx serving ``public``."""
    if not NGINX.exists():
        pytest.skip(f"{NGINX} is absent: apt-get install nginx to run this test")
    for _ in range(5):
        port = _free_port()
        config = _config(tmp_path, public, port)
        process = subprocess.Popen(
            [str(NGINX), "-p", str(tmp_path), "-c", str(config), "-e", str(tmp_path / "error.log")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 10
        while process.poll() is None and time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.05)
        if process.poll() is None:
            break
        # Most likely another process took the port meanwhile: try another.
    else:
        log = (tmp_path / "error.log").read_text(errors="replace")
        raise AssertionError(
            f"nginx did not start: {process.stderr and process.stderr.read()!r} {log}"
        )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr:
            process.stderr.close()


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, b""


def test_nginx_serves_editions_archives_and_feeds(nginx: str, public: Path) -> None:
    edition = next((public / "editions" / "en").glob("weekly-en-*"))
    wanted = [
        "editions/en/index.html",
        f"editions/en/{edition.name}/index.html",
        f"editions/en/{edition.name}/email.html",
        f"editions/en/{edition.name}/email.txt",
        f"editions/en/{edition.name}/edition.json",
        "editions/ru/index.html",
        "feeds/all.atom",
        "feeds/all.rss",
        "feeds/en.json",
        "feeds/feed.xsl",
        *sorted(p.relative_to(public).as_posix() for p in (public / "feeds" / "section").iterdir())[
            :3
        ],
    ]
    answers = {name: _get(f"{nginx}/{name}") for name in wanted}
    assert {name: status for name, (status, _) in answers.items() if status != 200} == {}
    for name, (_, body) in answers.items():
        assert body == (public / name).read_bytes(), name
    status, body = _get(f"{nginx}/editions/en/{edition.name}/")
    assert (status, body) == (200, (edition / "index.html").read_bytes())
