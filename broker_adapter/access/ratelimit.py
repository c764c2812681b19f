"""Requests per second per credential (anonymous callers: per client address), as token buckets.

Each replica counts on its own; behind a load balancer the effective limit is the per-replica limit
times the replicas a client reaches. A spent bucket answers 429 with Retry-After in whole seconds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

MAX_BUCKETS = 100_000


class RateLimiter:
    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        if rate < 0 or burst < 1:
            raise ValueError("rate_limit must be >= 0 and rate_burst >= 1")
        self.rate = rate  # the default; 0 turns limiting off
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, list[float]] = {}  # key -> [tokens, last refill]

    def take(self, key: str, rate: float | None = None) -> int:
        """Spend one request of key's bucket: 0 when allowed, else the seconds to wait."""
        rate = self.rate if rate is None else rate
        if rate <= 0:
            return 0
        now = self._clock()
        bucket = self._buckets.get(key)
        burst = max(self.burst, rate)
        if bucket is None:
            if len(self._buckets) >= MAX_BUCKETS:
                self._buckets.clear()
            bucket = self._buckets[key] = [burst, now]
        else:
            bucket[0] = min(burst, bucket[0] + (now - bucket[1]) * rate)
            bucket[1] = now
        if bucket[0] >= 1:
            bucket[0] -= 1
            return 0
        return max(1, math.ceil((1 - bucket[0]) / rate))
