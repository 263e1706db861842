"""`senseworks verify`: do the books in the ledger hold together?

Checks per financial year, in the same terms (and with the same severities) as
`sie4` checks a file, so a fault reads alike in a file and in the ledger:

- ``voucher.unbalanced`` (error): a voucher's booked rows do not sum to zero.
- ``balance.closing_mismatch`` / ``balance.closing_missing`` (warning): opening +
  booked rows != closing balance, per balance account.  Only for a year whose
  closing balances are recorded (SIE files carry them; Fortnox sends none); an
  account without one then counts as zero, as SIE reads an omitted ``#UB``.
- ``balance.result_mismatch`` (warning): a P&L account's result != its booked
  rows, for a year whose results are recorded.
- ``balance.continuity`` (warning): last year's closing balance != this year's
  opening balance.  Last year's recorded closing balances are used, or, when it
  has a ledger but none recorded (a Fortnox year), opening + booked rows of its
  balance accounts.
- ``document.voucher_missing`` (warning): a document linked to a voucher that
  the year's ledger does not hold.

Balance accounts are those typed T or S (``#KTYP``), else those numbered 1xxx
and 2xxx (BAS), as `sie4` decides.  Sums run in SQL; Python only compares.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from decimal import Decimal

from sqlalchemy import Connection, and_, func, select

from .models import (
    Account,
    AccountBalance,
    Document,
    DocumentLink,
    DocumentSource,
    FinancialYear,
    Voucher,
    VoucherRow,
)
from .scope import YearRef

ZERO = Decimal("0.00")
ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class VerifyFinding:
    """One inconsistency, named by company, year and what it is about."""

    severity: str
    code: str
    company: str
    year: dt.date
    subject: str
    message: str

    def as_dict(self) -> dict[str, str]:
        """JSON-ready (dates as ISO text)."""
        out = asdict(self)
        out["year"] = self.year.isoformat()
        return out


def verify_years(conn: Connection, years: Iterable[YearRef]) -> list[VerifyFinding]:
    """Every finding for the given years (and each one's link to the year before)."""
    found: list[VerifyFinding] = []
    years = list(years)
    for ref in years:
        found += _YearCheck(conn, ref).run()
    return found


class _YearCheck:
    def __init__(self, conn: Connection, ref: YearRef) -> None:
        self.conn = conn
        self.ref = ref
        self.found: list[VerifyFinding] = []

    def run(self) -> list[VerifyFinding]:
        self._vouchers()
        booked = self._booked(self.ref.year_id)
        balances = self._balances(self.ref.year_id)
        types = self._types(self.ref.year_id)
        self._closing(booked, balances, types)
        self._results(booked, balances, types)
        self._continuity(balances)
        self._documents()
        return self.found

    def _note(self, severity: str, code: str, subject: str, message: str) -> None:
        who = self.ref.orgnr or self.ref.company_name or str(self.ref.company_id)
        self.found.append(VerifyFinding(severity, code, who, self.ref.start, subject, message))

    # ------------------------------------------------------------ vouchers

    def _vouchers(self) -> None:
        v, r = Voucher.__table__, VoucherRow.__table__
        total = func.sum(r.c.amount).label("total")
        rows = self.conn.execute(
            select(v.c.series, v.c.number_text, v.c.occurrence, v.c.transaction_date, total)
            .join(r, and_(r.c.voucher_id == v.c.id, r.c.removed.is_(False)))
            .where(v.c.year_id == self.ref.year_id)
            .group_by(v.c.id, v.c.series, v.c.number_text, v.c.occurrence, v.c.transaction_date)
            .having(func.sum(r.c.amount) != 0)
            .order_by(v.c.series, v.c.number_text, v.c.occurrence)
        ).all()
        for series, number, occurrence, date, amount in rows:
            key = _voucher_key(series, number, occurrence)
            self._note(ERROR, "voucher.unbalanced", f"voucher {key}",
                       f"voucher {key} ({date}) does not balance: booked rows sum to {amount}")

    # ------------------------------------------------------------ balances

    def _booked(self, year_id: int) -> dict[str, Decimal]:
        v, r = Voucher.__table__, VoucherRow.__table__
        rows = self.conn.execute(
            select(r.c.account, func.sum(r.c.amount))
            .join(v, v.c.id == r.c.voucher_id)
            .where(v.c.year_id == year_id, r.c.removed.is_(False))
            .group_by(r.c.account)
        ).all()
        return dict(rows)

    def _balances(self, year_id: int) -> dict[str, tuple[Decimal | None, ...]]:
        b = AccountBalance.__table__
        rows = self.conn.execute(
            select(b.c.account, b.c.opening, b.c.closing, b.c.result).where(b.c.year_id == year_id)
        ).all()
        return {row[0]: (row[1], row[2], row[3]) for row in rows}

    def _types(self, year_id: int) -> dict[str, str]:
        a = Account.__table__
        rows = self.conn.execute(
            select(a.c.number, a.c.account_type)
            .where(a.c.year_id == year_id, a.c.account_type.is_not(None))
        ).all()
        return {number: kind.upper() for number, kind in rows}

    @staticmethod
    def _is_balance_account(account: str, types: dict[str, str]) -> bool:
        kind = types.get(account)
        if kind is not None:
            return kind in ("T", "S")
        return account[:1] in ("1", "2")

    def _closing(self, booked: dict[str, Decimal],
                 balances: dict[str, tuple[Decimal | None, ...]], types: dict[str, str]) -> None:
        if not any(c is not None for _, c, _ in balances.values()):
            return
        accounts = {a for a, (o, c, _) in balances.items() if o is not None or c is not None}
        accounts |= {a for a in booked if self._is_balance_account(a, types)}
        for account in sorted(accounts):
            opening, closing, _ = balances.get(account, (None, None, None))
            expected = (opening or ZERO) + booked.get(account, ZERO)
            if closing is None:
                if expected:
                    self._note(WARNING, "balance.closing_missing", f"account {account}",
                               f"account {account}: no closing balance (so zero) but opening + "
                               f"booked rows = {expected}")
            elif closing != expected:
                self._note(WARNING, "balance.closing_mismatch", f"account {account}",
                           f"account {account}: closing balance {closing} but opening + booked "
                           f"rows = {expected} (difference {closing - expected})")

    def _results(self, booked: dict[str, Decimal],
                 balances: dict[str, tuple[Decimal | None, ...]], types: dict[str, str]) -> None:
        if not any(res is not None for _, _, res in balances.values()):
            return
        accounts = {a for a, (_, _, res) in balances.items() if res is not None}
        accounts |= {a for a in booked if not self._is_balance_account(a, types)}
        for account in sorted(accounts):
            expected = booked.get(account, ZERO)
            actual = balances.get(account, (None, None, None))[2] or ZERO
            if actual != expected:
                self._note(WARNING, "balance.result_mismatch", f"account {account}",
                           f"account {account}: result {actual} but booked rows sum to "
                           f"{expected} (difference {actual - expected})")

    def _continuity(self, balances: dict[str, tuple[Decimal | None, ...]]) -> None:
        opening = {a: o for a, (o, _, _) in balances.items() if o is not None}
        if not opening:
            return
        previous = self._previous_year()
        if previous is None:
            return
        prev_id, prev_source, prev_start = previous
        prev_balances = self._balances(prev_id)
        closing = {a: c for a, (_, c, _) in prev_balances.items() if c is not None}
        basis = "closing balance"
        if not closing:
            if prev_source is None:
                return
            types = self._types(prev_id)
            booked = self._booked(prev_id)
            derived = {a: o or ZERO for a, (o, _, _) in prev_balances.items()}
            for account, amount in booked.items():
                derived[account] = derived.get(account, ZERO) + amount
            closing = {a: x for a, x in derived.items() if self._is_balance_account(a, types)}
            basis = "opening + booked rows"
        for account in sorted(closing.keys() | opening.keys()):
            before, now = closing.get(account, ZERO), opening.get(account, ZERO)
            if before != now:
                self._note(WARNING, "balance.continuity", f"account {account}",
                           f"account {account}: opening balance {now} but the year starting "
                           f"{prev_start} closed at {before} ({basis})")

    def _previous_year(self) -> tuple[int, str | None, dt.date] | None:
        fy = FinancialYear.__table__
        row = self.conn.execute(
            select(fy.c.id, fy.c.ledger_source, fy.c.start_date)
            .where(fy.c.company_id == self.ref.company_id, fy.c.end_date < self.ref.start)
            .order_by(fy.c.end_date.desc()).limit(1)
        ).first()
        return None if row is None else (row[0], row[1], row[2])

    # ------------------------------------------------------------ documents

    def _documents(self) -> None:
        lk, v, d, s = (DocumentLink.__table__, Voucher.__table__, Document.__table__,
                       DocumentSource.__table__)
        found = (
            select(v.c.id)
            .where(v.c.year_id == lk.c.year_id, v.c.series == lk.c.series,
                   v.c.number == lk.c.number)
            .exists()
        )
        rows = self.conn.execute(
            select(lk.c.series, lk.c.number, d.c.file_name, s.c.file_id)
            .join(d, d.c.id == lk.c.document_id)
            .outerjoin(s, s.c.id == lk.c.source_id)
            .where(lk.c.year_id == self.ref.year_id, ~found)
            .order_by(lk.c.series, lk.c.number, s.c.file_id)
        ).all()
        for series, number, file_name, file_id in rows:
            what = file_name or file_id or "a document"
            self._note(WARNING, "document.voucher_missing", f"voucher {series} {number}",
                       f"{what} (file {file_id}) belongs to voucher {series} {number}, which "
                       "the ledger does not hold")


def _voucher_key(series: str, number: str, occurrence: int) -> str:
    key = f"{series} {number}".strip() if number else f"{series} (no number)"
    return key if occurrence == 1 else f"{key} (#{occurrence} with this number)"
