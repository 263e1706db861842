"""`senseworks export-sie`: one year's ledger as an SIE 4E file with #KSUMMA.

The mirror of `sie_load` (both map fields through `sie_map`): loading the file
back gives the same ledger, vouchers with text or repeated numbers included.
Vouchers stream from the database straight into `sie4.iter_write`, so a large
year takes no more memory than a small one.  The file is written next to its
target and renamed into place, so a failed export never leaves half a file;
text that SIE cannot express (characters outside CP437) fails the export with
the voucher named, rather than being changed.

What SIE cannot carry is left out: Fortnox's voucher comments, reference and
approval state, and account flags (active, VAT code).
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from sqlalchemy import Connection, Engine, select

import sie4
from sie4 import records as r

from .migrations import migrate
from .models import Account, AccountBalance, Voucher, VoucherRow
from .scope import YearRef, years_in_scope
from .sie_map import join_objects


@dataclass
class ExportResult:
    """What was written."""

    path: Path
    year: YearRef
    vouchers: int = 0
    rows: int = 0
    bytes: int = 0
    current: str = "the file's head"  # what is being written, for error messages


class ExportError(Exception):
    """The year cannot be written as SIE; nothing was written."""


def export_sie(engine: Engine, orgnr: str, start: dt.date, out: str | Path) -> ExportResult:
    """Write the year starting `start` of company `orgnr` to `out`."""
    migrate(engine)
    out = Path(out)
    with engine.connect() as conn:
        refs = years_in_scope(conn, orgnr, start)
        if len({y.company_id for y in refs}) > 1:
            raise ExportError(f"organisation number {orgnr} belongs to more than one company")
        result = ExportResult(out, refs[0])
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent or ".")
        try:
            with os.fdopen(fd, "wb") as f:
                for chunk in sie4.iter_write(_records(conn, result), ksumma=True):
                    f.write(chunk)
                    result.bytes += len(chunk)
            os.replace(tmp, out)
        except sie4.SieWriteError as exc:
            os.unlink(tmp)
            raise ExportError(f"{result.current}: {exc.message}") from None
        except BaseException:
            os.unlink(tmp)
            raise
    return result


def _version() -> str:
    try:
        return metadata.version("senseworks-fortnox")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a checkout
        return "dev"


def _records(conn: Connection, result: ExportResult) -> Iterator[r.Record]:
    y = result.year
    yield r.Flag(0)
    yield r.Program("senseworks", _version())
    yield r.Format("PC8")
    yield r.Generated(dt.date.today())
    yield r.SieType(4)
    yield r.OrgNumber(y.orgnr or "")
    if y.company_name:
        yield r.CompanyName(y.company_name)
    yield r.FinancialYear(0, y.start, y.end)
    a = Account.__table__
    for number, name, sru, kind in conn.execute(
        select(a.c.number, a.c.description, a.c.sru, a.c.account_type)
        .where(a.c.year_id == y.year_id).order_by(a.c.number)
    ):
        result.current = f"account {number}"
        yield r.Account(number, name or "")
        if kind:
            yield r.AccountType(number, kind)
        if sru:
            yield r.SruCode(number, sru)
    b = AccountBalance.__table__
    balances = conn.execute(
        select(b.c.account, b.c.opening, b.c.closing, b.c.result)
        .where(b.c.year_id == y.year_id).order_by(b.c.account)
    ).all()
    for label, index in ((r.OpeningBalance, 1), (r.ClosingBalance, 2), (r.YearResult, 3)):
        for row in balances:
            if row[index] is not None:
                yield label(0, row[0], row[index])
    yield from _vouchers(conn, result)


def _vouchers(conn: Connection, result: ExportResult) -> Iterator[r.Voucher]:
    v, vr = Voucher.__table__, VoucherRow.__table__
    query = (
        select(v.c.id, v.c.series, v.c.number_text, v.c.transaction_date, v.c.description,
               v.c.registration_date, v.c.signature, vr.c.row_index, vr.c.account, vr.c.amount,
               vr.c.removed, vr.c.cost_center, vr.c.project, vr.c.objects,
               vr.c.transaction_date, vr.c.transaction_information, vr.c.quantity,
               vr.c.signature)
        .outerjoin(vr, vr.c.voucher_id == v.c.id)
        .where(v.c.year_id == result.year.year_id)
        .order_by(v.c.series, v.c.number.is_(None), v.c.number, v.c.number_text,
                  v.c.occurrence, vr.c.row_index)
    )
    head = None
    rows: list[r.VoucherRow] = []
    for row in conn.execution_options(yield_per=5000).execute(query):
        if head is None or row[0] != head[0]:
            if head is not None:
                yield _voucher(head, rows, result)
            head, rows = row, []
        if row[7] is None:  # a voucher without rows
            continue
        rows.append(r.VoucherRow(
            r.RowKind.REMOVED if row[10] else r.RowKind.BOOKED, row[8],
            join_objects(row[11], row[12], row[13]), row[9], row[14], row[15] or "", row[16],
            row[17] or "",
        ))
    if head is not None:
        yield _voucher(head, rows, result)


def _voucher(head: tuple, rows: list[r.VoucherRow], result: ExportResult) -> r.Voucher:
    result.vouchers += 1
    result.rows += len(rows)
    _, series, number, date, text, registered, sign = head[:7]
    result.current = f"voucher {series} {number} ({date})"
    return r.Voucher(series, number, date, text or "", registered, sign or "", rows=tuple(rows))
