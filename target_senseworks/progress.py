"""A progress bar on stderr, only for people: never in a pipe, a log or CI output.

Shown when the stream is a terminal and the work is large enough to wait for;
otherwise every call is a no-op, so callers never need to ask.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

#: Smaller files load in well under a second: no bar.
MIN_BYTES = 4 * 1024 * 1024
WIDTH = 30


class Progress:
    """Bytes done of a known total, redrawn at most ten times a second."""

    def __init__(self, total: int, label: str, stream: TextIO | None = None,
                 min_total: int | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.total = max(total, 1)
        self.label = label
        isatty = getattr(self.stream, "isatty", None)
        least = MIN_BYTES if min_total is None else min_total
        self.enabled = bool(isatty and isatty()) and total >= least
        self._shown = 0.0
        self._start = time.monotonic()

    def update(self, done: int) -> None:
        """Redraw with `done` bytes finished (throttled)."""
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._shown < 0.1 and done < self.total:
            return
        self._shown = now
        part = min(done / self.total, 1.0)
        bar = "#" * int(part * WIDTH)
        self.stream.write(f"\r{self.label} [{bar:<{WIDTH}}] {part:4.0%} "
                          f"{done / 1e6:,.1f}/{self.total / 1e6:,.1f} MB "
                          f"{now - self._start:4.0f}s")
        self.stream.flush()

    def phase(self, text: str) -> None:
        """Say what happens after the bytes are read (writing, committing)."""
        if self.enabled:
            self.stream.write(f"\r{self.label}: {text}\x1b[K")
            self.stream.flush()

    def close(self) -> None:
        """End the line so that later output starts clean."""
        if self.enabled:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.enabled = False
