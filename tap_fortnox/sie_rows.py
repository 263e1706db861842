"""A Fortnox SIE-4 export as voucher rows, streamed: one year's rows from one request.

Booked rows are the `#TRANS` lines and struck rows the `#BTRANS` lines
(`removed: true`); `#RTRANS` lines are history whose `#TRANS` twin follows and is
the booked row, so they are skipped.  Rows keep the file order, which is the order
of Fortnox's `VoucherRows` (struck rows in place, replacements appended), so
`row_index` agrees with `rest` mode.  Dimension 1 is the cost centre and 6 the
project; a row's text is its transaction information; `#KONTO` gives the account
name that REST puts in a row's `Description`.

The parser is sans-I/O and returns a voucher when its block closes, so memory
stays flat whatever the size of the year.  An export that cannot be trusted (cut
off, a voucher that does not balance, another year than asked for) raises
`SieBroken` before any of its bad data is handed on.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date

import sie4

from .ledger_records import ZERO, Record, row_record

COST_CENTER_DIM = "1"
PROJECT_DIM = "6"


class SieBroken(Exception):
    """The export is damaged; what was read before the damage is sound."""


@dataclass
class SieVoucher:
    series: str
    number: int
    transaction_date: str
    text: str
    registration_date: str | None
    rows: list[Record]

    @property
    def key(self) -> tuple[str, int]:
        return (self.series, self.number)


def sie_vouchers(chunks: Iterable[bytes], *, from_date: date | None = None,
                 to_date: date | None = None) -> Iterator[SieVoucher]:
    """The vouchers of an SIE-4 byte stream, in file order, with their rows as records."""
    parser = sie4.Parser()
    names: dict[str, str] = {}
    try:
        for chunk in chunks:
            for record in parser.feed(chunk):
                yield from _take(record, names, from_date, to_date)
        for record in parser.close():
            yield from _take(record, names, from_date, to_date)
    except sie4.SieError as e:
        raise SieBroken(f"the SIE export cannot be read: {e}") from None


def _take(record: sie4.Record, names: dict[str, str], from_date: date | None,
          to_date: date | None) -> Iterator[SieVoucher]:
    if isinstance(record, sie4.Voucher):
        yield _voucher(record, names)
    elif isinstance(record, sie4.Account):
        names[record.account] = record.name
    elif isinstance(record, sie4.FinancialYear) and record.index == 0 and (
            (from_date and record.start != from_date) or (to_date and record.end != to_date)):
        raise SieBroken(f"the SIE export is for {record.start}..{record.end}, not the "
                            f"financial year {from_date}..{to_date} that was asked for")


def _voucher(ver: sie4.Voucher, names: dict[str, str]) -> SieVoucher:
    if not ver.number.isdigit():
        raise SieBroken(f"#VER {ver.series} {ver.number!r} (line {ver.line}) has no voucher number")
    if ver.total != ZERO:
        raise SieBroken(f"#VER {ver.series} {ver.number} (line {ver.line}) does not balance "
                        f"(booked rows sum to {ver.total})")
    rows: list[Record] = []
    for row in ver.rows:
        if row.kind is sie4.RowKind.ADDED:
            continue  # history: its #TRANS twin is the booked row
        objects = dict(row.objects)
        amount = row.amount
        rows.append(row_record(
            account=row.account,
            debit=amount if amount > 0 else ZERO,
            credit=-amount if amount < 0 else ZERO,
            description=names.get(row.account),
            transaction_information=row.text,
            cost_center=objects.get(COST_CENTER_DIM),
            project=objects.get(PROJECT_DIM),
            quantity_=row.quantity,
            removed=row.kind is sie4.RowKind.REMOVED,
            row_index=len(rows),
        ))
    return SieVoucher(
        series=ver.series, number=int(ver.number), transaction_date=ver.date.isoformat(),
        text=ver.text, registration_date=ver.registered.isoformat() if ver.registered else None,
        rows=rows,
    )
