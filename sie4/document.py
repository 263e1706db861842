"""A whole SIE file in memory, and the one-call helpers to parse and validate.

These helpers take bytes, never paths: reading files is `sie4.files`' job.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from . import records as r
from .parser import Parser
from .validate import Report, Validator


@dataclass
class SieDocument:
    """Every record of a file in file order (vouchers with their rows)."""

    records: list[r.Record] = field(default_factory=list)

    @property
    def vouchers(self) -> list[r.Voucher]:
        return [x for x in self.records if isinstance(x, r.Voucher)]

    def first(self, kind: type[r.Record]) -> r.Record | None:
        return next((x for x in self.records if isinstance(x, kind)), None)

    def all(self, kind: type[r.Record]) -> list[r.Record]:
        return [x for x in self.records if isinstance(x, kind)]


def iter_records(chunks: Iterable[bytes], *, strict: bool = False,
                 validator: Validator | None = None) -> Iterator[r.Record]:
    """Stream records from chunks of bytes; feed a `Validator` along the way if given.

    The parser's findings (encoding, #KSUMMA, row pairing) are merged into the
    validator's report when the input ends.
    """
    parser = Parser(strict=strict)
    for chunk in chunks:
        for record in parser.feed(chunk):
            if validator is not None:
                validator.check(record)
            yield record
    for record in parser.close():
        if validator is not None:
            validator.check(record)
        yield record
    if validator is not None:
        report = validator.finish()
        report.ksumma = parser.ksumma
        report.encoding = parser.encoding
        report.findings[:0] = parser.findings


def parse_bytes(data: bytes, *, strict: bool = False) -> SieDocument:
    """Parse a complete file's bytes into a document."""
    return SieDocument(list(iter_records([data], strict=strict)))


def validate_chunks(chunks: Iterable[bytes], *, kind: str | None = None,
                    strict: bool = False) -> Report:
    """Parse and check a file streamed as chunks, keeping no records: the report only."""
    validator = Validator(kind=kind, strict=strict)
    for _ in iter_records(chunks, strict=strict, validator=validator):
        pass
    return validator.report


def parse_and_validate(data: bytes, *, kind: str | None = None,
                       strict: bool = False) -> tuple[SieDocument, Report]:
    """Parse a complete file's bytes and check it: the document and its report."""
    validator = Validator(kind=kind, strict=strict)
    doc = SieDocument(list(iter_records([data], strict=strict, validator=validator)))
    return doc, validator.report
