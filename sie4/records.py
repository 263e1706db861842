"""Typed SIE-4 records, one dataclass per label.

Records compare by value, never by the line they were read from, so that a
document read back from what the writer produced equals the original.  Amounts
and quantities are `Decimal`; accounts, object ids, series and voucher numbers
are strings, because real files carry leading zeros, empty numbers (4I) and
alphanumeric series.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import ClassVar

#: An object list: ``{1 "456" 6 "P1"}`` is ``(("1", "456"), ("6", "P1"))``.
#: Dimension numbers stay strings as read; the validator checks they are digits.
ObjectList = tuple[tuple[str, str], ...]


@dataclass(slots=True)
class Record:
    """Base of every record.

    `line` is the 1-based line the record started on (0 when built in code) and
    never takes part in comparisons.  `extra` holds trailing fields beyond those
    the standard defines: importers must accept and ignore them, and we keep them
    so that nothing read is lost and the writer can put them back.
    """

    LABEL: ClassVar[str] = ""
    line: int = field(default=0, compare=False, repr=False, kw_only=True)
    extra: tuple[str, ...] = field(default=(), kw_only=True)


# --- flag and identification ------------------------------------------------


@dataclass(slots=True)
class Flag(Record):
    LABEL: ClassVar[str] = "#FLAGGA"
    value: int


@dataclass(slots=True)
class Program(Record):
    LABEL: ClassVar[str] = "#PROGRAM"
    name: str
    version: str = ""


@dataclass(slots=True)
class Format(Record):
    LABEL: ClassVar[str] = "#FORMAT"
    value: str


@dataclass(slots=True)
class Generated(Record):
    LABEL: ClassVar[str] = "#GEN"
    date: date
    sign: str = ""


@dataclass(slots=True)
class SieType(Record):
    LABEL: ClassVar[str] = "#SIETYP"
    value: int


@dataclass(slots=True)
class Prosa(Record):
    LABEL: ClassVar[str] = "#PROSA"
    text: str = ""


@dataclass(slots=True)
class CompanyType(Record):
    LABEL: ClassVar[str] = "#FTYP"
    value: str


@dataclass(slots=True)
class CompanyId(Record):
    LABEL: ClassVar[str] = "#FNR"
    value: str


@dataclass(slots=True)
class OrgNumber(Record):
    LABEL: ClassVar[str] = "#ORGNR"
    orgnr: str = ""
    acquisition_no: str = ""
    activity_no: str = ""


@dataclass(slots=True)
class IndustryCode(Record):
    LABEL: ClassVar[str] = "#BKOD"
    sni: str


@dataclass(slots=True)
class Address(Record):
    LABEL: ClassVar[str] = "#ADRESS"
    contact: str = ""
    street: str = ""
    postal: str = ""
    phone: str = ""


@dataclass(slots=True)
class CompanyName(Record):
    LABEL: ClassVar[str] = "#FNAMN"
    name: str


@dataclass(slots=True)
class FinancialYear(Record):
    """#RAR: year 0 is the current year, -1 the previous one, and so on."""

    LABEL: ClassVar[str] = "#RAR"
    index: int
    start: date
    end: date


@dataclass(slots=True)
class TaxYear(Record):
    LABEL: ClassVar[str] = "#TAXAR"
    year: int


@dataclass(slots=True)
class BalancesUntil(Record):
    LABEL: ClassVar[str] = "#OMFATTN"
    date: date


@dataclass(slots=True)
class ChartType(Record):
    LABEL: ClassVar[str] = "#KPTYP"
    value: str


@dataclass(slots=True)
class Currency(Record):
    LABEL: ClassVar[str] = "#VALUTA"
    code: str


# --- chart of accounts and dimensions ----------------------------------------


@dataclass(slots=True)
class Account(Record):
    LABEL: ClassVar[str] = "#KONTO"
    account: str
    name: str = ""


@dataclass(slots=True)
class AccountType(Record):
    """#KTYP: T asset, S liability/equity, K cost, I income."""

    LABEL: ClassVar[str] = "#KTYP"
    account: str
    type: str


@dataclass(slots=True)
class Unit(Record):
    LABEL: ClassVar[str] = "#ENHET"
    account: str
    unit: str


@dataclass(slots=True)
class SruCode(Record):
    LABEL: ClassVar[str] = "#SRU"
    account: str
    code: str


@dataclass(slots=True)
class Dimension(Record):
    LABEL: ClassVar[str] = "#DIM"
    dimension: str
    name: str = ""


@dataclass(slots=True)
class SubDimension(Record):
    LABEL: ClassVar[str] = "#UNDERDIM"
    dimension: str
    name: str
    parent: str


@dataclass(slots=True)
class Object(Record):
    LABEL: ClassVar[str] = "#OBJEKT"
    dimension: str
    object_id: str
    name: str = ""


# --- balances ----------------------------------------------------------------


@dataclass(slots=True)
class AccountBalance(Record):
    """Shared shape of #IB, #UB and #RES: year index, account, amount, quantity."""

    year: int
    account: str
    amount: Decimal
    quantity: Decimal | None = None


@dataclass(slots=True)
class OpeningBalance(AccountBalance):
    LABEL: ClassVar[str] = "#IB"


@dataclass(slots=True)
class ClosingBalance(AccountBalance):
    LABEL: ClassVar[str] = "#UB"


@dataclass(slots=True)
class YearResult(AccountBalance):
    LABEL: ClassVar[str] = "#RES"


@dataclass(slots=True)
class ObjectBalance(Record):
    """Shared shape of #OIB and #OUB: a balance for one object of an account."""

    year: int
    account: str
    objects: ObjectList
    amount: Decimal
    quantity: Decimal | None = None


@dataclass(slots=True)
class ObjectOpeningBalance(ObjectBalance):
    LABEL: ClassVar[str] = "#OIB"


@dataclass(slots=True)
class ObjectClosingBalance(ObjectBalance):
    LABEL: ClassVar[str] = "#OUB"


@dataclass(slots=True)
class PeriodAmount(Record):
    """Shared shape of #PSALDO and #PBUDGET: a period's change, not a running total."""

    year: int
    period: str
    account: str
    objects: ObjectList
    amount: Decimal
    quantity: Decimal | None = None


@dataclass(slots=True)
class PeriodBalance(PeriodAmount):
    LABEL: ClassVar[str] = "#PSALDO"


@dataclass(slots=True)
class PeriodBudget(PeriodAmount):
    LABEL: ClassVar[str] = "#PBUDGET"


# --- vouchers ------------------------------------------------------------------


class RowKind(str, enum.Enum):
    """How a row stands in its voucher: booked, or correction history."""

    BOOKED = "#TRANS"
    ADDED = "#RTRANS"  # added after registration; its booked twin follows it
    REMOVED = "#BTRANS"  # struck: never part of the voucher's current state


@dataclass(slots=True)
class VoucherRow(Record):
    kind: RowKind
    account: str
    objects: ObjectList
    amount: Decimal
    date: date | None = None
    text: str = ""
    quantity: Decimal | None = None
    sign: str = ""


@dataclass(slots=True)
class Voucher(Record):
    """A #VER with its block; `rows` keeps the file order of all three row kinds."""

    LABEL: ClassVar[str] = "#VER"
    series: str
    number: str
    date: date
    text: str = ""
    registered: date | None = None
    sign: str = ""
    rows: tuple[VoucherRow, ...] = ()

    @property
    def booked_rows(self) -> list[VoucherRow]:
        """The rows that make the voucher's current state: the #TRANS rows."""
        return [r for r in self.rows if r.kind is RowKind.BOOKED]

    @property
    def added_rows(self) -> list[VoucherRow]:
        return [r for r in self.rows if r.kind is RowKind.ADDED]

    @property
    def removed_rows(self) -> list[VoucherRow]:
        return [r for r in self.rows if r.kind is RowKind.REMOVED]

    @property
    def total(self) -> Decimal:
        """Sum of booked amounts; zero for a balanced voucher."""
        return sum((r.amount for r in self.rows if r.kind is RowKind.BOOKED), Decimal(0))


# --- anything else -------------------------------------------------------------


@dataclass(slots=True)
class UnknownRecord(Record):
    """A label the standard does not define (kept, reported, never fatal)."""

    label: str
    fields: tuple[str, ...] = ()


#: Every typed label, by its label.
RECORD_TYPES: dict[str, type[Record]] = {
    cls.LABEL: cls
    for cls in (
        Flag, Program, Format, Generated, SieType, Prosa, CompanyType, CompanyId,
        OrgNumber, IndustryCode, Address, CompanyName, FinancialYear, TaxYear,
        BalancesUntil, ChartType, Currency, Account, AccountType, Unit, SruCode,
        Dimension, SubDimension, Object, OpeningBalance, ClosingBalance, YearResult,
        ObjectOpeningBalance, ObjectClosingBalance, PeriodBalance, PeriodBudget, Voucher,
    )
}
