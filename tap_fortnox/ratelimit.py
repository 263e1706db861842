"""One sliding-window limiter for every request of a run.

Fortnox allows 25 requests per 5-second sliding window per client and tenant,
and punishes bursts.  The limiter keeps the send times of the last
`max_requests` requests and lets a new one go only when the oldest of them is
more than `window` (plus a small margin for network jitter) in the past.  It
is shared by all streams and worker threads of the run, so the run as a whole
stays under the limit however the work is spread.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class SlidingWindowLimiter:
    def __init__(self, max_requests: int = 24, window: float = 5.0, margin: float = 0.05,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if max_requests < 1:
            raise ValueError("max_requests must be at least 1")
        self.max_requests = max_requests
        self.window = window
        self.margin = margin
        self._clock = clock
        self._sleep = sleep
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()
        self.waits = 0
        self.waited = 0.0

    def acquire(self) -> float:
        """Block until a request may be sent; return how long this call waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                horizon = now - self.window - self.margin
                sent = self._sent
                while sent and sent[0] <= horizon:
                    sent.popleft()
                if len(sent) < self.max_requests:
                    sent.append(now)
                    if waited:
                        self.waits += 1
                        self.waited += waited
                    return waited
                delay = sent[0] - horizon
            self._sleep(delay)
            waited += delay

    def penalise(self, seconds: float) -> None:
        """After a 429, hold every sender back: Fortnox keeps counting until the average is down."""
        with self._lock:
            # Fill the window with stamps that free up exactly `seconds` from now.
            stamp = self._clock() + seconds - self.window - self.margin
            self._sent.clear()
            self._sent.extend([stamp] * self.max_requests)
