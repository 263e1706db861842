"""Thin file helpers around the sans-I/O parser: the only place sie4 opens files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from . import records as r
from .document import SieDocument, iter_records, validate_chunks
from .errors import SieError
from .validate import Report, Validator

#: Small enough that the records one chunk completes (feed() returns them as a
#: list) stay few: then they die young, instead of being promoted by Python's
#: garbage collector and scanned again and again.  1 MiB chunks cost ~15% more.
CHUNK = 1 << 14


def kind_from_name(path: str | Path) -> str | None:
    """The SIE kind a file name promises: `.si` import files are 4I, `.se` exports 4E."""
    suffix = Path(path).suffix.lower()
    return {".si": "4I", ".se": "4E"}.get(suffix)


def read_chunks(path: str | Path, size: int = CHUNK) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while chunk := f.read(size):
            yield chunk


def iter_file(path: str | Path, *, strict: bool = False,
              validator: Validator | None = None) -> Iterator[r.Record]:
    """Stream a file's records in constant memory; errors name the file."""
    try:
        yield from iter_records(read_chunks(path), strict=strict, validator=validator)
    except SieError as e:
        raise e.with_source(str(path)) from None


def read_file(path: str | Path, *, strict: bool = False) -> SieDocument:
    return SieDocument(list(iter_file(path, strict=strict)))


def validate_file(path: str | Path, *, kind: str | None = None, strict: bool = False) -> Report:
    """Check a file without keeping its records; `kind` defaults to what its name says."""
    try:
        return validate_chunks(read_chunks(path), kind=kind or kind_from_name(path), strict=strict)
    except SieError as e:
        raise e.with_source(str(path)) from None
