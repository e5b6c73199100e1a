"""WebSub publish pings: tell the hub which feeds changed.

After a build, every current feed document whose bytes changed is announced
to the configured hub with a ``hub.mode=publish`` POST (one per feed URL, a
short timeout). A ping that fails is logged and kept in a small JSON file in
the output folder (``.websub-pending.json``); the next build sends it again
along with its own. A hub that is down never fails a build: once one request
cannot reach the hub, the rest are kept for next time without waiting on
each.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from broadsheet import __version__
from broadsheet.files import write_atomic

log = logging.getLogger(__name__)

PENDING_FILE = ".websub-pending.json"
TIMEOUT = 5.0


@dataclass
class PingReport:
    """What one round of pings did.

    Attributes:
        sent: feed URLs the hub accepted.
        pending: feed URLs kept for the next build.
    """

    sent: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)


def load_pending(out: Path) -> list[str]:
    """Feed URLs whose ping failed in an earlier build."""
    path = out / PENDING_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return [str(url) for url in raw.get("topics", [])]
    except FileNotFoundError:
        return []
    except (OSError, ValueError, AttributeError) as exc:
        log.warning("%s: unreadable (%s); earlier failed pings are lost", path, exc)
        return []


def save_pending(out: Path, topics: Iterable[str]) -> None:
    """Keep ``topics`` for the next build (removing the file when there are none)."""
    path = out / PENDING_FILE
    wanted = sorted(set(topics))
    if not wanted:
        path.unlink(missing_ok=True)
        return
    data = json.dumps({"topics": wanted}, indent=1).encode("utf-8") + b"\n"
    write_atomic(path, data)


def publish(hub: str, topic: str, *, timeout: float = TIMEOUT) -> None:
    """POST one publish notification for ``topic`` to ``hub``.

    Raises:
        OSError: the hub could not be reached (``urllib.error.URLError``,
            timeouts) or answered with an error status (``HTTPError``).
    """
    body = urllib.parse.urlencode({"hub.mode": "publish", "hub.url": topic}).encode("ascii")
    request = urllib.request.Request(
        hub,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": f"broadsheet/{__version__} (WebSub publisher)",
        },
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (http(s) only)
        response.read()


def ping(hub: str, topics: Iterable[str], out: Path, *, timeout: float = TIMEOUT) -> PingReport:
    """Announce ``topics`` and every pending one to ``hub``; keep failures for next time.

    Never raises for network trouble: failures are logged and saved.
    """
    report = PingReport()
    queue = sorted(set(load_pending(out)) | set(topics))
    reachable = True
    for topic in queue:
        if not reachable:
            report.pending.append(topic)
            continue
        try:
            publish(hub, topic, timeout=timeout)
        except urllib.error.HTTPError as exc:
            log.warning("WebSub hub %s refused %s: HTTP %s; will retry", hub, topic, exc.code)
            report.pending.append(topic)
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            log.warning("WebSub hub %s unreachable (%s); will retry next build", hub, reason)
            reachable = False
            report.pending.append(topic)
        else:
            report.sent.append(topic)
    save_pending(out, report.pending)
    return report


def defer(topics: Iterable[str], out: Path) -> list[str]:
    """Keep ``topics`` for a later build that pings (a build run with pings off)."""
    queue = sorted(set(load_pending(out)) | set(topics))
    save_pending(out, queue)
    return queue
