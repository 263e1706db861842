"""Fortnox's rate limit: 25 requests per sliding 5-second window per client and tenant.

[S-RATE] The window slides; there is no fixed reset instant. `time_scale` > 1 shrinks the
window (25 per 0.5 s at scale 10) so tests and benchmarks keep the shape but run faster.
[UNCERTAIN] Whether rejected requests count towards the window ("bursts are penalised"):
by default they do not; `count_rejected=True` makes hammering keep the client locked out.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Hashable


class SlidingWindowLimiter:
    """A per-key log of request times; `allow` answers whether one more fits the window."""

    def __init__(
        self,
        limit: int = 25,
        window: float = 5.0,
        time_scale: float = 1.0,
        count_rejected: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1 or window <= 0 or time_scale <= 0:
            raise ValueError("limit >= 1, window > 0 and time_scale > 0 are required")
        self.limit = limit
        self.window = window / time_scale
        self.count_rejected = count_rejected
        self._clock = clock
        self._log: dict[Hashable, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: Hashable) -> bool:
        now = self._clock()
        with self._lock:
            log = self._log.setdefault(key, deque())
            edge = now - self.window
            while log and log[0] <= edge:
                log.popleft()
            if len(log) < self.limit:
                log.append(now)
                return True
            if self.count_rejected:
                log.append(now)
                if len(log) > 4 * self.limit:  # bound memory under a flood
                    log.popleft()
            return False

    def reset(self) -> None:
        with self._lock:
            self._log.clear()
