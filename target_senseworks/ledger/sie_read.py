"""Read an SIE file once: records for the loader, checks for the report, sha256 for the record.

One pass over the bytes feeds `sie4.Parser` and `sie4.Validator` together, so a
file is parsed once whatever its size and memory stays flat (the parser returns a
voucher when its block closes).  The file's sha256 and a byte count for the
progress bar come from the same chunks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

import sie4

#: Small chunks keep the records one `feed` returns few and short-lived (see sie4.files).
CHUNK = 1 << 14

#: The SIE kind a file name promises, as `sie4 validate` reads it.
KINDS = {".si": "4I", ".se": "4E"}


class SieStream:
    """Records of one file, validated on the way; `report` is complete once iterated."""

    def __init__(self, path: str | Path, *, progress: Callable[[int], None] | None = None) -> None:
        self.path = Path(path)
        self.kind = KINDS.get(self.path.suffix.lower())
        self.validator = sie4.Validator(kind=self.kind)
        self.sha256 = hashlib.sha256()
        self.bytes_read = 0
        self._progress = progress
        self.report: sie4.Report | None = None

    def __iter__(self) -> Iterator[sie4.Record]:
        """Yield every record; `SieError`s name the file and line."""
        parser = sie4.Parser()
        check = self.validator.check
        try:
            with self.path.open("rb") as f:
                while chunk := f.read(CHUNK):
                    self.sha256.update(chunk)
                    self.bytes_read += len(chunk)
                    for record in parser.feed(chunk):
                        check(record)
                        yield record
                    if self._progress is not None:
                        self._progress(self.bytes_read)
            for record in parser.close():
                check(record)
                yield record
        except sie4.SieError as e:
            raise e.with_source(str(self.path)) from None
        report = self.validator.finish()
        report.ksumma = parser.ksumma
        report.encoding = parser.encoding
        report.findings[:0] = parser.findings
        self.report = report
