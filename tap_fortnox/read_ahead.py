"""Reading the next financial year while the current one is written.

A year's requests (plan probes, accounts, series, the SIE export, the voucher
list) are few, but at 24 requests per 5 s each one waits its turn, and writing
the year's records is CPU work of about the same length.  Done one after the
other, the run takes their sum; done side by side, about the longer of the two.

So one worker thread reads ahead, one year at a time and in the order the years
are synced, and hands each part over as it arrives (`Parts`).  The main thread
takes a part when it needs it, waiting if it has not arrived yet; if the worker
failed on that part, the main thread raises the same error it would have met
reading the part itself; if the worker stopped before it (the run is ending),
the main thread reads the part itself.  The voucher list is handed over page
by page (`Listing`), so the year's first vouchers can be written before its
last list page has arrived.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

logger = logging.getLogger("tap_fortnox")

#: What `Parts.take` returns for a part the worker never read: read it yourself.
MISSING: Any = object()


class Stopped(Exception):
    """The run is ending: the worker stops before its next request."""


class Step(NamedTuple):
    """One part to read: its name, the reader, and whether the steps after it still
    make sense when it fails (the main thread retries an SIE export itself)."""

    name: str
    read: Callable[[], Any]
    keep_going: bool = False


class Parts:
    """The parts of one year read ahead: each a value, or the error reading it raised."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._values: dict[str, Any] = {}
        self._errors: dict[str, BaseException] = {}
        self._taken: set[str] = set()
        self._finished = False

    def put(self, name: str, value: Any) -> None:
        with self._cond:
            self._values[name] = value
            self._cond.notify_all()

    def fail(self, name: str, error: BaseException) -> None:
        with self._cond:
            self._errors[name] = error
            self._cond.notify_all()

    def finish(self) -> None:
        """The worker is done with this year (all parts read, or it stopped)."""
        with self._cond:
            self._finished = True
            self._cond.notify_all()

    def discard(self, name: str) -> None:
        """Let go of a part that is done with (a year's voucher list); MISSING from now on."""
        with self._cond:
            self._taken.add(name)
            self._values.pop(name, None)

    def take(self, name: str, *, once: bool = False) -> Any:
        """The part (waiting for it), the worker's error raised again, or MISSING.

        A part taken `once` (a body that is read and closed) is MISSING the next time."""
        with self._cond:
            if name in self._taken:
                return MISSING
            self._cond.wait_for(lambda: name in self._values or name in self._errors
                                or self._finished)
            if once:
                self._taken.add(name)
            if name in self._errors:
                raise self._errors[name]
            return self._values.get(name, MISSING)


class Listing:
    """A year's voucher list as it arrives, page by page: compact fields per voucher key.

    Each key is taken once, so the list shrinks as the year is written.  With a
    `capacity`, the filler stops asking for pages while that many keys wait to be
    taken, unless the taker waits for a key that has not arrived: memory stays bounded
    (capacity plus a page) whatever the year's size when the list and the SIE export
    come in the same order, and nothing waits forever when they do not.
    """

    def __init__(self, capacity: int | None = None) -> None:
        self._cond = threading.Condition()
        self._items: dict[Any, Any] = {}
        self._capacity = capacity
        self._wanted: set[Any] = set()  # keys a taker waits for
        self._complete = False
        self._error: BaseException | None = None
        self.total: int | None = None  # Fortnox's count, from the first page

    def add(self, items: Mapping[Any, Any], total: int | None = None) -> None:
        with self._cond:
            self._items.update(items)
            if self.total is None:
                self.total = total
            self._cond.notify_all()

    def complete(self) -> None:
        with self._cond:
            self._complete = True
            self._cond.notify_all()

    def fail(self, error: BaseException) -> None:
        with self._cond:
            self._error = error
            self._cond.notify_all()

    def fill(self, pages: Iterable[tuple[Mapping[Any, Any], int | None, bool]],
             stop: Callable[[], None] | None = None) -> None:
        """Add every page (items, Fortnox's count, whether it is the last), then mark the
        list complete; an error (or a stop) is kept for whoever waits on a key, so nobody
        waits for a page that will never come. `stop` raises to end the filling early
        (checked while waiting for room)."""
        try:
            for items, total, last in pages:
                self.add(items, total)
                if last:
                    break
                self._wait_for_room(stop)
        except BaseException as e:
            self.fail(e)
            raise
        self.complete()

    def release(self) -> None:
        """The taker is done: the filler no longer waits for room."""
        with self._cond:
            self._capacity = None
            self._cond.notify_all()

    def _wait_for_room(self, stop: Callable[[], None] | None) -> None:
        with self._cond:
            while (self._capacity is not None and len(self._items) >= self._capacity
                   and all(key in self._items for key in self._wanted)):
                self._cond.wait(0.5)
                if stop is not None:
                    stop()

    def take(self, key: Any) -> Any:
        """The key's fields, waiting until they arrive or the list is complete (then None)."""
        with self._cond:
            if not (key in self._items or self._complete or self._error is not None):
                self._wanted.add(key)
                self._cond.notify_all()
                try:
                    self._cond.wait_for(lambda: key in self._items or self._complete
                                        or self._error is not None)
                finally:
                    self._wanted.discard(key)
            if key in self._items:
                value = self._items.pop(key)
                self._cond.notify_all()  # room for the filler
                return value
            if self._error is not None:
                raise self._error
            return None

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)


class ReadAhead:
    """One worker thread that reads years ahead, strictly in the order they are scheduled.

    One thread keeps the years in order, so the year to be written next is always the
    one read first.  `close` stops it before its next request and waits for the request
    in flight, so no token refresh is ever cut short.
    """

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="fortnox-read-ahead")
        self._stopping = threading.Event()

    def schedule(self, parts: Parts, steps: Iterable[Step]) -> None:
        """Run `steps` in order on the worker, handing each result to `parts`."""
        self._pool.submit(self._run, parts, list(steps))

    def check(self) -> None:
        """Raise `Stopped` when the run is ending (between requests of a long part)."""
        if self._stopping.is_set():
            raise Stopped

    def _run(self, parts: Parts, steps: list[Step]) -> None:
        try:
            for name, read, keep_going in steps:
                if self._stopping.is_set():
                    return
                try:
                    parts.put(name, read())
                except Stopped:
                    return
                except Exception as e:  # handed to the main thread, raised where it is needed
                    logger.debug("read-ahead of %s failed: %s", name, e)
                    parts.fail(name, e)
                    if not keep_going:
                        return
        finally:
            parts.finish()

    def close(self) -> None:
        self._stopping.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
