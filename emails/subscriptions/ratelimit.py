"""Rate limits for the web forms: a limit such as ``"10/hour"``, and token buckets per key.

``broadsheet serve`` limits subscription requests per client and
confirmation messages per inbox. A client is a network, not one address:
an IPv6 host is given a whole /64 (``links.client_ipv6_prefix``) and can
use a fresh address for every request, so the key is the network
(:func:`client_key`). An inbox is its address without letter case or a
``+tag`` subaddress (:func:`inbox_key`), so spelling it differently does not
get more messages into it.

The buckets of :class:`TokenBucket` live in memory, in one process; with a
PostgreSQL store, ``broadsheet serve`` keeps them in the store instead, so
every process and machine serving one publication shares them.
"""

from __future__ import annotations

import ipaddress
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from broadsheet.store import Store

__all__ = ["Limiter", "RateLimit", "StoreBucket", "TokenBucket", "client_key", "inbox_key"]


@dataclass(frozen=True)
class RateLimit:
    """``count`` requests per ``seconds``, allowed in a burst.

    Written ``"10/hour"`` (units: second, minute, hour, day) or ``"10/600"``.
    """

    count: int
    seconds: float

    _UNITS = {"second": 1.0, "minute": 60.0, "hour": 3600.0, "day": 86400.0}

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        """Read ``"COUNT/UNIT"``; ValueError when it is not that."""
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\w+)\s*", text)
        if not match or int(match.group(1)) < 1:
            raise ValueError(f"expected a limit like '10/hour', got {text!r}")
        count, unit = int(match.group(1)), match.group(2).lower().rstrip("s")
        if unit in cls._UNITS:
            return cls(count, cls._UNITS[unit])
        try:
            seconds = float(match.group(2))
        except ValueError:
            raise ValueError(f"unknown unit {match.group(2)!r} in {text!r}") from None
        if seconds <= 0:
            raise ValueError(f"expected a positive period in {text!r}")
        return cls(count, seconds)


class Limiter(Protocol):
    """Per-key token buckets: :meth:`take` answers 0 when allowed, else the seconds to wait."""

    limit: RateLimit

    def take(self, key: str) -> float: ...


def client_key(host: str, *, ipv6_prefix: int = 64, ipv4_prefix: int = 32) -> str:
    """The network a client address belongs to, as the limit's key.

    ``2001:db8:1:2::7`` is ``2001:db8:1:2::/64``; an IPv4 address (also one
    mapped into IPv6, ``::ffff:192.0.2.1``) is its own /32 unless
    ``ipv4_prefix`` says otherwise. What is not an IP address (a Unix
    socket's peer) is its own key.
    """
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    prefix = ipv4_prefix if address.version == 4 else ipv6_prefix
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def inbox_key(email: str) -> str:
    """The inbox an address reaches: lower case, without a ``+tag`` subaddress."""
    local, at, domain = email.strip().lower().rpartition("@")
    if not at:
        return domain
    return f"{local.split('+', 1)[0] or local}@{domain}"


class TokenBucket:
    """Per-key token buckets in memory: ``limit.count`` tokens, refilled evenly.

    Keys no longer limited are forgotten first when more than ``max_keys``
    are held, so memory stays bounded whatever the traffic.
    """

    def __init__(
        self,
        limit: RateLimit,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.limit = limit
        self.clock = clock
        self.max_keys = max_keys
        self._rate = limit.count / limit.seconds
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str) -> float:
        """Take a token for ``key``: 0 when allowed, else the seconds to wait."""
        now = self.clock()
        tokens, stamp = self._buckets.pop(key, (float(self.limit.count), now))
        tokens = min(float(self.limit.count), tokens + (now - stamp) * self._rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            wait = 0.0
        else:
            self._buckets[key] = (tokens, now)
            wait = (1.0 - tokens) / self._rate
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return wait


class StoreBucket:
    """Per-key token buckets kept in the store (table ``rate_limits``).

    Every process and machine using the same store shares them; each
    :meth:`take` is one short write transaction. Meant for PostgreSQL: on
    SQLite, where one process serves, :class:`TokenBucket` is as good and
    takes no write lock.

    Args:
        store: the publication's store.
        bucket: the limit's name in the table (``"subscribe-client"``…).
        limit: the limit.
        clock: the current time (aware).
    """

    def __init__(
        self, store: Store, bucket: str, limit: RateLimit, *, clock: Callable[[], datetime]
    ) -> None:
        self.store = store
        self.bucket = bucket
        self.limit = limit
        self.clock = clock

    def take(self, key: str) -> float:
        """Take a token for ``key``: 0 when allowed, else the seconds to wait."""
        with self.store.write() as tx:
            return tx.limits.take(
                self.bucket,
                key,
                count=self.limit.count,
                seconds=self.limit.seconds,
                now=self.clock(),
            )
