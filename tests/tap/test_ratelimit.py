"""The sliding-window limiter, on a fake clock."""

from __future__ import annotations

import threading
import time

from tap_fortnox.ratelimit import SlidingWindowLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_at_most_n_per_window() -> None:
    clock = FakeClock()
    limiter = SlidingWindowLimiter(24, 5.0, margin=0.0, clock=clock, sleep=clock.sleep)
    stamps = []
    for _ in range(100):
        limiter.acquire()
        stamps.append(clock.now)
    for i in range(len(stamps) - 24):
        assert stamps[i + 24] - stamps[i] >= 5.0  # any 25 consecutive span a full window
    assert stamps[23] == 100.0  # the first 24 go at once
    assert limiter.waits == 4  # one wait per batch: a batch's 24 stamps free up together


def test_penalise_holds_everyone_back() -> None:
    clock = FakeClock()
    limiter = SlidingWindowLimiter(24, 5.0, margin=0.0, clock=clock, sleep=clock.sleep)
    limiter.acquire()
    limiter.penalise(3.0)
    start = clock.now
    limiter.acquire()
    assert clock.now - start == 3.0


def test_threads_share_one_window() -> None:
    limiter = SlidingWindowLimiter(5, 0.2, margin=0.0)
    stamps: list[float] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(5):
            limiter.acquire()
            with lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stamps.sort()
    assert len(stamps) == 20
    for i in range(len(stamps) - 5):
        assert stamps[i + 5] - stamps[i] >= 0.2 - 1e-3
