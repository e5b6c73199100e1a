"""Rate limits for the web forms: a limit such as ``"10/hour"``, and token buckets per key.

``broadsheet serve`` limits subscription requests per client address and
confirmation messages per email address; the buckets live in memory, in
the one process that serves.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RateLimit", "TokenBucket"]


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
