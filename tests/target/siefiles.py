"""SIE files for the `senseworks` tests, the real sample corpus, and running the CLI in-process."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from ledgerstream import LOAD_TABLES, query
from sqlalchemy import select
from sqlalchemy.pool import NullPool

import sie4
from sie4 import records as r
from target_senseworks.cli import main
from target_senseworks.ledger.db import make_engine
from target_senseworks.ledger.migrations import migrate
from target_senseworks.ledger.models import Base

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = Path(os.environ.get("SIE_SAMPLES_DIR", ROOT.parent / "shared" / "data" / "sie-samples"))
ORGNR = "556677-8899"

#: The ledger's content, without ids and load bookkeeping (which differ between two loads).
LEDGER_QUERIES = {
    "years": "SELECT c.organisation_number, y.start_date, y.end_date, y.ledger_source"
             " FROM financial_years y JOIN companies c ON c.id = y.company_id",
    "accounts": "SELECT y.start_date, a.number, a.description, a.sru, a.account_type"
                " FROM accounts a JOIN financial_years y ON y.id = a.year_id",
    "balances": "SELECT y.start_date, b.account, b.opening, b.closing, b.result"
                " FROM account_balances b JOIN financial_years y ON y.id = b.year_id",
    "series": "SELECT y.start_date, s.code FROM voucher_series s"
              " JOIN financial_years y ON y.id = s.year_id",
    "vouchers": "SELECT y.start_date, v.series, v.number, v.number_text, v.occurrence,"
                " v.transaction_date, v.description, v.registration_date, v.signature"
                " FROM vouchers v JOIN financial_years y ON y.id = v.year_id",
    "rows": "SELECT y.start_date, v.series, v.number_text, v.occurrence, r.row_index, r.account,"
            " r.debit, r.credit, r.amount, r.description, r.transaction_information,"
            " r.cost_center, r.project, r.quantity, r.removed, r.transaction_date, r.objects,"
            " r.signature FROM voucher_rows r JOIN vouchers v ON v.id = r.voucher_id"
            " JOIN financial_years y ON y.id = v.year_id",
}


def samples_dir() -> Path:
    """The real exports; a missing corpus fails the run, never skips it."""
    if not SAMPLES.is_dir():
        pytest.fail(f"SIE samples not found at {SAMPLES}; set SIE_SAMPLES_DIR", pytrace=False)
    return SAMPLES


@dataclass
class Run:
    """One CLI run: exit code and what it printed."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def cli(url: str, *args: str | Path) -> Run:
    """`senseworks --database-url URL ARGS...`, in-process."""
    out, err = io.StringIO(), io.StringIO()
    code = main(["--database-url", url, *map(str, args)], stdout=out, stderr=err)
    return Run(code, out.getvalue(), err.getvalue())


def ledger(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """The ledger as comparable rows, without ids (two loads of one file compare equal)."""
    out = {}
    for name, sql in LEDGER_QUERIES.items():
        rows = [list(row) for row in query(url, sql)]
        if name == "rows":  # `objects` is JSON: parsed on PostgreSQL, text on SQLite
            for row in rows:
                value = row[16]
                row[16] = json.loads(value) if isinstance(value, str) else value
        out[name] = sorted((tuple(row) for row in rows), key=repr)
    return out


_MIGRATED: set[str] = set()


def unchanged(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every ledger table but load bookkeeping, ids included: equal means untouched.

    Like `ledgerstream.dump`, but from the model's tables (no reflection) on a
    short-lived connection, since the malformed-file tests call it twice per file.
    """
    engine = make_engine(url, poolclass=NullPool)
    if url not in _MIGRATED:
        migrate(engine)
        _MIGRATED.add(url)
    out = {}
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if table.name not in LOAD_TABLES:
                rows = conn.execute(select(table)).all()
                out[table.name] = sorted((tuple(row) for row in rows), key=repr)
    engine.dispose()
    return out


# --------------------------------------------------------------- building SIE files


def voucher(series: str, number: str, date: str, rows: Sequence[tuple[Any, ...]],
            text: str = "Verifikation", **kw: Any) -> r.Voucher:
    """`rows`: (account, amount) or (account, amount, kind) with kind TRANS/BTRANS/RTRANS."""
    built = []
    for row in rows:
        kind = {"TRANS": r.RowKind.BOOKED, "BTRANS": r.RowKind.REMOVED,
                "RTRANS": r.RowKind.ADDED}[row[2] if len(row) > 2 else "TRANS"]
        built.append(r.VoucherRow(kind, row[0], (), Decimal(row[1])))
    return r.Voucher(series, number, dt.date.fromisoformat(date), text, rows=tuple(built), **kw)


def sie_records(vouchers: Iterable[r.Voucher] = (), *, orgnr: str = ORGNR,
                name: str = "Exempel AB", start: str = "2025-01-01", end: str = "2025-12-31",
                accounts: dict[str, str] | None = None,
                balances: Iterable[r.Record] = ()) -> list[r.Record]:
    """A small, valid 4E file's records."""
    out: list[r.Record] = [
        r.Flag(0), r.Program("tests", "1"), r.Format("PC8"), r.Generated(dt.date(2026, 1, 2)),
        r.SieType(4), r.OrgNumber(orgnr), r.CompanyName(name),
        r.FinancialYear(0, dt.date.fromisoformat(start), dt.date.fromisoformat(end)),
    ]
    for number, account_name in (accounts or {"1930": "Bank", "3001": "Försäljning",
                                              "2611": "Utgående moms"}).items():
        out.append(r.Account(number, account_name))
    out += list(balances)
    out += list(vouchers)
    return out


def write_sie(path: Path, records: Iterable[r.Record], *, ksumma: bool = False) -> Path:
    path.write_bytes(sie4.write(records, ksumma=ksumma))
    return path


def simple_year(path: Path, *, text: str = "SIE verifikation", **kw: Any) -> Path:
    """A year with A1 (balanced), A2 and a struck row; IB/UB consistent."""
    vouchers = [
        voucher("A", "1", "2025-01-05", [("1930", "10.00"), ("3001", "-10.00"),
                                         ("3001", "-99.00", "BTRANS")], text=text),
        voucher("A", "2", "2025-01-06", [("1930", "1.00"), ("3001", "-1.00")], text="SIE only"),
    ]
    balances = [r.OpeningBalance(0, "1930", Decimal("500.00")),
                r.ClosingBalance(0, "1930", Decimal("511.00")),
                r.YearResult(0, "3001", Decimal("-11.00"))]
    return write_sie(path, sie_records(vouchers, balances=balances, **kw))
