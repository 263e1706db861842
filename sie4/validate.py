"""The consumer checks of a SIE file, run over the record stream.

`Validator` takes records one at a time (as the parser returns them) and keeps
only what the checks need: running sums per account, the balances, and the
voucher numbers seen per series as ranges.  So validating a file costs no more
memory than parsing it.  `finish()` runs the checks that need the whole file
and returns the report.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from decimal import Decimal

from . import records as r
from .errors import SieValidationError
from .findings import Finding, Severity

ZERO = Decimal(0)
_BOOKED = r.RowKind.BOOKED
_ADDED = r.RowKind.ADDED


@dataclass
class Report:
    """What a reader of a SIE file wants to know first, with every finding."""

    program: str = ""
    company_name: str = ""
    orgnr: str = ""
    years: list[r.FinancialYear] = field(default_factory=list)
    vouchers: int = 0
    booked_rows: int = 0
    added_rows: int = 0
    removed_rows: int = 0
    ksumma: str = "absent"
    encoding: str = "ascii"
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.ERROR]

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, object]:
        return {
            "program": self.program,
            "company": {"name": self.company_name, "orgnr": self.orgnr},
            "years": [
                {"index": y.index, "start": y.start.isoformat(), "end": y.end.isoformat()}
                for y in sorted(self.years, key=lambda y: -y.index)
            ],
            "vouchers": self.vouchers,
            "booked_rows": self.booked_rows,
            "history_rows": {"added": self.added_rows, "removed": self.removed_rows},
            "ksumma": self.ksumma,
            "encoding": self.encoding,
            "findings": [f.as_dict() for f in sorted(self.findings, key=lambda f: f.line)],
        }


class _NumberRanges:
    """Voucher numbers seen in one series, as sorted disjoint [first, last] runs."""

    __slots__ = ("firsts", "lasts")

    def __init__(self) -> None:
        self.firsts: list[int] = []
        self.lasts: list[int] = []

    def add(self, n: int) -> bool:
        """Record `n`; False if it was already there."""
        lasts = self.lasts
        if lasts and lasts[-1] == n - 1:  # the common case: the next number of the series
            lasts[-1] = n
            return True
        i = bisect.bisect_right(self.firsts, n) - 1
        if i >= 0 and self.firsts[i] <= n <= self.lasts[i]:
            return False
        if i >= 0 and self.lasts[i] == n - 1:
            self.lasts[i] = n
            if i + 1 < len(self.firsts) and self.firsts[i + 1] == n + 1:
                self.lasts[i] = self.lasts.pop(i + 1)
                self.firsts.pop(i + 1)
        elif i + 1 < len(self.firsts) and self.firsts[i + 1] == n + 1:
            self.firsts[i + 1] = n
        else:
            self.firsts.insert(i + 1, n)
            self.lasts.insert(i + 1, n)
        return True


class Validator:
    """Streaming checks of parsed records.

    `kind` is what the file is meant to be: "4E" (an export with balances),
    "4I" (an import file: balances are out of place, accounts may be
    undeclared) or None when unknown.
    """

    def __init__(self, *, kind: str | None = None, strict: bool = False) -> None:
        self.kind = kind
        self.strict = strict
        self.report = Report()
        self._accounts: set[str] = set()
        self._account_types: dict[str, str] = {}
        # Both get an account on its first booked row, so that `_voucher` needs
        # one membership test for the two.
        self._first_use: dict[str, int] = {}
        self._booked: dict[str, Decimal] = {}  # year 0 sums per account
        self._balances: dict[type[r.Record], dict[tuple[int, str], Decimal]] = {
            r.OpeningBalance: {}, r.ClosingBalance: {}, r.YearResult: {},
        }
        self._balance_line: dict[tuple[type[r.Record], int, str], int] = {}
        self._first_balance_line = 0
        self._numbers: dict[str, _NumberRanges] = {}
        self._last_number: dict[str, int] = {}
        self._year0: r.FinancialYear | None = None

    # --- streaming -----------------------------------------------------------------

    def feed(self, records: list[r.Record]) -> None:
        for record in records:
            self.check(record)

    def check(self, record: r.Record) -> None:
        if isinstance(record, r.Voucher):
            self._voucher(record)
        elif isinstance(record, r.AccountBalance):
            self._balance(record)
        elif isinstance(record, r.ObjectBalance | r.PeriodAmount):
            self._any_balance(record.line)
        elif isinstance(record, r.Account):
            self._accounts.add(record.account)
        elif isinstance(record, r.AccountType):
            self._account_types[record.account] = record.type.upper()
        elif isinstance(record, r.FinancialYear):
            self._year(record)
        elif isinstance(record, r.Program):
            self.report.program = f"{record.name} {record.version}".strip()
        elif isinstance(record, r.CompanyName):
            self.report.company_name = record.name
        elif isinstance(record, r.OrgNumber):
            self.report.orgnr = record.orgnr
        elif isinstance(record, r.Format) and record.value.upper() != "PC8":
            self._note(Severity.WARNING, "format.not_pc8", record.line,
                       f"#FORMAT {record.value}: SIE allows only PC8")
        elif isinstance(record, r.Flag) and record.value == 1:
            self._note(Severity.INFO, "flag.imported", record.line,
                       "#FLAGGA 1: the file is marked as already imported once")

    def _year(self, year: r.FinancialYear) -> None:
        self.report.years.append(year)
        if year.end < year.start:
            self._note(Severity.ERROR, "year.reversed", year.line,
                       f"#RAR {year.index} ends ({year.end}) before it starts ({year.start})")
        if year.index == 0:
            self._year0 = year

    def _voucher(self, voucher: r.Voucher) -> None:
        report = self.report
        report.vouchers += 1
        rows = voucher.rows
        total = ZERO
        booked = self._booked
        history = 0
        for row in rows:  # once per row of the file: kept lean
            kind = row.kind
            if kind is _BOOKED:
                amount = row.amount
                account = row.account
                total += amount
                if account in booked:
                    booked[account] += amount
                else:
                    booked[account] = ZERO + amount  # not `amount`: the same sum as adding to zero
                    self._first_use[account] = row.line
            else:
                history += 1
                if kind is _ADDED:
                    report.added_rows += 1
                else:
                    report.removed_rows += 1
        report.booked_rows += len(rows) - history
        if total:
            self._note(Severity.ERROR, "voucher.unbalanced", voucher.line,
                       f"voucher {_key(voucher)} ({voucher.date}) does not balance: "
                       f"booked rows sum to {total}")
        if not rows:
            self._note(Severity.INFO, "voucher.empty", voucher.line,
                       f"voucher {_key(voucher)} has no rows")
        self._number(voucher)
        self._check_date(voucher)

    def _number(self, voucher: r.Voucher) -> None:
        if not voucher.number.isdigit():
            if voucher.number:
                self._note(Severity.WARNING, "voucher.number_not_numeric", voucher.line,
                           f"voucher {_key(voucher)}: number is not numeric; its order is not checked")
            return
        n = int(voucher.number)
        series = voucher.series
        last = self._last_number.get(series)
        self._last_number[series] = n
        ranges = self._numbers.get(series)
        if ranges is None:
            ranges = self._numbers[series] = _NumberRanges()
        if not ranges.add(n):
            # A warning, not an error: BL Administration numbers every asset-register
            # voucher "# 1", and such files balance and load; the ledger must cope.
            self._note(Severity.WARNING, "voucher.duplicate_number", voucher.line,
                       f"voucher {_key(voucher)} appears more than once in series {series!r}")
        elif last is not None and n < last:
            self._note(Severity.WARNING, "voucher.number_order", voucher.line,
                       f"voucher {_key(voucher)} comes after number {last}: "
                       "numbers of a series must ascend")

    def _check_date(self, voucher: r.Voucher) -> None:
        # #RAR belongs to the identification group, before any voucher (S1 5.12).
        year = self._year0
        if year is not None and not year.start <= voucher.date <= year.end:
            self._note(Severity.WARNING, "voucher.date_outside_year", voucher.line,
                       f"voucher {_key(voucher)} is dated {voucher.date}, outside the financial year "
                       f"{year.start}..{year.end} (#RAR 0)")

    def _balance(self, record: r.AccountBalance) -> None:
        self._any_balance(record.line)
        table = self._balances[type(record)]
        key = (record.year, record.account)
        if key in table:
            self._note(Severity.WARNING, "balance.duplicate", record.line,
                       f"{record.LABEL} {record.year} {record.account} appears more than once; "
                       "the last value is used")
        table[key] = record.amount
        self._balance_line[(type(record), *key)] = record.line

    def _any_balance(self, line: int) -> None:
        if not self._first_balance_line:
            self._first_balance_line = line

    # --- whole-file checks ---------------------------------------------------------

    def finish(self) -> Report:
        if self.kind == "4I" and self._first_balance_line:
            self._note(Severity.WARNING, "balances_in_4i", self._first_balance_line,
                       "balance records (#IB, #UB, #RES, ...) in a 4I import file, which carries "
                       "only vouchers")
        self._undeclared_accounts()
        self._closing_balances()
        self._results()
        self._continuity()
        return self.report

    def _undeclared_accounts(self) -> None:
        if self.kind == "4I" or not self._accounts:
            return
        for account, line in sorted(self._first_use.items(), key=lambda kv: kv[1]):
            if account not in self._accounts:
                self._note(Severity.WARNING, "account.undeclared", line,
                           f"account {account} is used but not declared with #KONTO")

    def _is_balance_account(self, account: str) -> bool:
        kind = self._account_types.get(account)
        if kind is not None:
            return kind in ("T", "S")
        return account[:1] in ("1", "2")

    def _closing_balances(self) -> None:
        opening = self._balances[r.OpeningBalance]
        closing = self._balances[r.ClosingBalance]
        if not any(year == 0 for year, _ in closing):
            return
        accounts = {a for y, a in opening if y == 0} | {a for y, a in closing if y == 0}
        accounts |= {a for a in self._booked if self._is_balance_account(a)}
        for account in sorted(accounts):
            expected = opening.get((0, account), ZERO) + self._booked.get(account, ZERO)
            actual = closing.get((0, account))
            if actual is None:
                if expected:  # an omitted #UB means zero (S1 5.17)
                    line = self._first_use.get(account, self._first_balance_line)
                    self._note(Severity.WARNING, "balance.closing_missing", line,
                               f"account {account}: no #UB 0 (so zero) but #IB + booked rows = "
                               f"{expected}")
            elif expected != actual:
                line = self._balance_line[(r.ClosingBalance, 0, account)]
                self._note(Severity.WARNING, "balance.closing_mismatch", line,
                           f"account {account}: #UB {actual} but #IB + booked rows = {expected} "
                           f"(difference {actual - expected})")

    def _results(self) -> None:
        result = self._balances[r.YearResult]
        if not any(year == 0 for year, _ in result):
            return
        accounts = {a for y, a in result if y == 0}
        accounts |= {a for a in self._booked if not self._is_balance_account(a)}
        for account in sorted(accounts):
            expected = self._booked.get(account, ZERO)
            actual = result.get((0, account), ZERO)
            if expected != actual:
                line = self._balance_line.get((r.YearResult, 0, account), self._first_balance_line)
                self._note(Severity.WARNING, "balance.result_mismatch", line,
                           f"account {account}: #RES {actual} but booked rows sum to {expected} "
                           f"(difference {actual - expected})")

    def _continuity(self) -> None:
        opening = self._balances[r.OpeningBalance]
        closing = self._balances[r.ClosingBalance]
        previous = {a: v for (y, a), v in closing.items() if y == -1}
        current = {a: v for (y, a), v in opening.items() if y == 0}
        if not previous or not current:
            return
        for account in sorted(previous.keys() | current.keys()):
            before, now = previous.get(account, ZERO), current.get(account, ZERO)
            if before != now:
                line = self._balance_line.get((r.OpeningBalance, 0, account), self._first_balance_line)
                self._note(Severity.WARNING, "balance.continuity", line,
                           f"account {account}: #IB 0 is {now} but #UB -1 was {before}")

    def _note(self, severity: Severity, code: str, line: int, message: str) -> None:
        finding = Finding(severity, code, line, message)
        self.report.findings.append(finding)
        if self.strict and severity is Severity.ERROR:
            raise SieValidationError(finding)


def _key(voucher: r.Voucher) -> str:
    """How findings name a voucher: series and number."""
    return f"{voucher.series} {voucher.number}".strip()
