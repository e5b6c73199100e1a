"""The pipe set-up of docs/inbound.md in a real Postfix: each bounce runs `broadsheet inbox -`.

The main.cf lines, the transport table and the master.cf service are the
documented ones (with this test's paths); the program is a small wrapper
running this checkout's ``broadsheet``, as the user the pipe runs it as.
Three readers are refused for good after Postfix accepted them (their alias
runs ``exit 67``, EX_NOUSER: the recipient checks of the documented
``local_recipient_maps`` let them through), so Postfix writes the bounces
itself; they go to each message's ``bounces+TOKEN@news.example``, which the
transport table hands to the pipe.
"""

from __future__ import annotations

import csv
import io
import mailbox
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest

from broadsheet.config import Settings
from broadsheet.store import Store
from tests.delivery.helpers import REPO, save_edition, smtp_config
from tests.inbound.mailservers import (
    DOMAIN,
    MAIL_GROUP,
    MAIL_UID,
    chown_tree,
    mail_root,
    running_postfix,
)

pytestmark = pytest.mark.slow

EDITION = "weekly-en-2026-11-23"
AT = "2026-11-23T09:00:00+03:00"
READERS = ["reader01", "reader02"]
GONE = ["gone1", "gone2", "gone3"]


def documented(publication: Path, wrapper: Path, etc: Path) -> tuple[str, str, str]:
    """main.cf lines, master.cf service and transport table, as docs/inbound.md has them."""
    transport = etc / "broadsheet-transport"
    main = f"""
transport_maps = hash:{transport}
local_recipient_maps = proxy:unix:passwd.byname $alias_maps hash:{transport}
broadsheet_destination_recipient_limit = 1
"""
    master = (
        "broadsheet unix  -       n       n       -       -       pipe\n"
        f"  flags=Rq user={MAIL_UID} argv={wrapper} --config {publication / 'broadsheet.toml'}"
        " inbox - --recipient ${original_recipient}\n"
    )
    table = f"bounces@{DOMAIN}    broadsheet:\n"
    return main, master, table


def interpreter() -> str:
    """A Python the unprivileged pipe user may run (a venv's may live under /root)."""
    if shutil.which("runuser") is None:
        pytest.skip("runuser is absent: apt-get install util-linux")
    for candidate in (
        sys.executable,
        f"/usr/bin/python{sys.version_info[0]}.{sys.version_info[1]}",
    ):
        done = subprocess.run(
            ["runuser", "-u", MAIL_UID, "--", candidate, "-c", "pass"],
            capture_output=True,
            check=False,
        )
        if done.returncode == 0:
            return candidate
    pytest.skip(f"no Python {sys.version_info[0]}.{sys.version_info[1]} that {MAIL_UID} may run")


def as_mail_user(wrapper: Path, settings: Settings, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BROADSHEET_")}
    done = subprocess.run(
        ["runuser", "-u", MAIL_UID, "--", str(wrapper), "--config", str(settings.path), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, f"broadsheet {' '.join(args)}:\n{done.stdout}{done.stderr}"
    return done.stdout


@pytest.fixture
def mail_folder() -> Iterator[Path]:
    with mail_root() as root:
        yield root


def test_bounces_piped_to_broadsheet_inbox(
    make_settings: Callable[..., Settings], mail_folder: Path, fixed_now: datetime
) -> None:
    publication = mail_folder / "publication"
    kept = publication / "kept"
    for sub in ("cur", "new", "tmp"):
        (kept / sub).mkdir(parents=True)
    wrapper = mail_folder / "broadsheet"
    wrapper.write_text(
        "#!/bin/sh\n"
        f"PYTHONPATH={REPO}:{sysconfig.get_paths()['purelib']} exec {interpreter()} "
        "-c 'import sys; from broadsheet.cli import main; sys.exit(main())' \"$@\"\n"
    )
    wrapper.chmod(0o755)
    main, master, table = documented(publication, wrapper, mail_folder / "postfix")
    with running_postfix(
        mail_folder,
        READERS,
        main=main,
        master=master,
        tables={"broadsheet-transport": table},
        refusing=GONE,
    ) as postfix:
        settings = make_settings(
            smtp_config(postfix.port)
            + f'[inbound]\nbounce_address = "bounces@{DOMAIN}"\nmailbox = "kept"\n',
            folder=publication,
        )
        chown_tree(publication, MAIL_UID, MAIL_GROUP)
        people = publication / "subscribers.csv"
        addresses = [f"{name}@{DOMAIN}" for name in READERS + GONE]
        people.write_text(
            "email,name,language,frequency,topics\n"
            + "".join(f"{address},,en,weekly,\n" for address in addresses)
        )
        as_mail_user(wrapper, settings, "subscribers", "import", str(people), "--at", AT)
        store = Store.open(settings.store.url)
        try:
            save_edition(store, now=fixed_now, edition_id=EDITION)
        finally:
            store.close()
        chown_tree(publication, MAIL_UID, MAIL_GROUP)

        as_mail_user(wrapper, settings, "send", EDITION, "--at", AT)
        postfix.wait_until_delivered()
        log = postfix.log_text()
        assert log.count("relay=broadsheet") == 3, log
        assert log.count("delivered via broadsheet service") == 3, log
        shown = as_mail_user(wrapper, settings, "subscribers", "list", "--csv")
    statuses = {row["email"]: row["status"] for row in csv.DictReader(io.StringIO(shown))}
    assert statuses == {
        **{f"{name}@{DOMAIN}": "bounced" for name in GONE},
        **{f"{name}@{DOMAIN}": "active" for name in READERS},
    }
    # [inbound] mailbox keeps each piped message in the folder of what was done.
    assert len(mailbox.Maildir(kept, create=False).get_folder("bounces")) == 3
