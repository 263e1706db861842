"""The in-memory books of the sandbox: companies, years, ledgers, invoices and files.

Plain mutable dataclasses: the generator fills them, the API reads them, the admin API
mutates them. Money is always `Decimal` (two decimals), never float.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

ZERO = Decimal("0.00")


def _series_number(v: Voucher) -> tuple[str, int]:
    return (v.series, v.number)


@dataclass
class VoucherRow:
    """One row; `removed` = struck (Removed: true), `added` = a replacement row (#RTRANS)."""

    account: int
    debit: Decimal
    credit: Decimal
    transaction_information: str = ""
    cost_center: str = ""
    project: str = ""
    quantity: Decimal | None = None
    removed: bool = False
    added: bool = False

    @property
    def amount(self) -> Decimal:
        """Signed amount as SIE writes it: debit positive, credit negative."""
        return self.debit - self.credit


@dataclass
class Voucher:
    year_id: int
    series: str
    number: int
    transaction_date: date
    description: str
    rows: list[VoucherRow]
    registered: date
    modified_at: datetime  # aware, UTC; drives the `lastmodified` filter
    reference_type: str = "MANUAL"
    reference_number: str = ""
    comments: str = ""
    approval_state: int = 0
    cost_center: str = ""
    project: str = ""

    @property
    def key(self) -> tuple[int, str, int]:
        return (self.year_id, self.series, self.number)

    def booked_rows(self) -> list[VoucherRow]:
        return [r for r in self.rows if not r.removed]

    def balance(self) -> Decimal:
        """Sum of booked rows; zero for every valid voucher."""
        return sum((r.amount for r in self.rows if not r.removed), ZERO)


@dataclass
class FinancialYear:
    id: int
    from_date: date
    to_date: date
    accounting_method: str = "ACCRUAL"
    chart_type: str = "BAS 2024"

    def contains(self, day: date) -> bool:
        return self.from_date <= day <= self.to_date


@dataclass
class Account:
    """An account of one year's chart; `opening` is the balance brought forward (IB)."""

    number: int
    description: str
    sru: int | None
    vat_code: str
    opening: Decimal = ZERO
    active: bool = True
    cost_center_settings: str = "ALLOWED"
    project_settings: str = "ALLOWED"
    quantity_unit: str = ""
    modified_at: datetime | None = None


@dataclass
class VoucherSeries:
    code: str
    description: str
    manual: bool
    year_id: int


@dataclass
class ArchiveFolder:
    id: str
    name: str
    path: str
    file_ids: list[str] = field(default_factory=list)
    folder_ids: list[str] = field(default_factory=list)


@dataclass
class ArchiveFile:
    id: str
    name: str
    path: str  # folder path, e.g. "Verifikationer/2024"
    content: bytes
    content_type: str
    comments: str = ""

    @property
    def size(self) -> int:
        return len(self.content)


@dataclass
class VoucherFileConnection:
    file_id: str
    year_id: int
    series: str
    number: int
    name: str


@dataclass
class SupplierInvoice:
    given_number: int
    supplier_number: str
    supplier_name: str
    invoice_number: str
    invoice_date: date
    due_date: date
    net: Decimal
    vat: Decimal
    total: Decimal
    balance: Decimal
    rows: list[VoucherRow]
    vouchers: list[tuple[int, str, int, str]]  # (number, year id, series, reference type)
    ocr: str
    modified_at: datetime
    cost_center: str = ""
    project: str = ""
    booked: bool = True
    cancelled: bool = False


@dataclass
class SupplierInvoiceFileConnection:
    file_id: str
    given_number: int
    name: str


@dataclass
class Invoice:
    document_number: int
    customer_number: str
    customer_name: str
    invoice_date: date
    due_date: date
    net: Decimal
    vat: Decimal
    total: Decimal
    balance: Decimal
    ocr: str
    voucher: tuple[int, str, int]  # (year id, series, number)
    modified_at: datetime
    booked: bool = True
    cancelled: bool = False
    sent: bool = True
    final_pay_date: date | None = None


@dataclass
class InvoiceAttachment:
    """An /api/fileattachments entry: a file attached to a customer invoice (type F)."""

    id: str
    entity_id: int
    entity_type: str
    file_id: str
    include_on_send: bool


@dataclass
class Company:
    tenant_id: int
    name: str
    organisation_number: str
    address: str
    zip_code: str
    city: str
    licences: set[str]
    years: list[FinancialYear] = field(default_factory=list)
    accounts: dict[int, dict[int, Account]] = field(default_factory=dict)  # year id -> number
    series: dict[int, dict[str, VoucherSeries]] = field(default_factory=dict)
    vouchers: dict[int, dict[tuple[str, int], Voucher]] = field(default_factory=dict)
    cost_centers: dict[str, str] = field(default_factory=dict)
    projects: dict[str, str] = field(default_factory=dict)
    folders: dict[str, ArchiveFolder] = field(default_factory=dict)
    files: dict[str, ArchiveFile] = field(default_factory=dict)
    voucher_file_connections: list[VoucherFileConnection] = field(default_factory=list)
    supplier_invoices: dict[int, SupplierInvoice] = field(default_factory=dict)
    supplier_invoice_file_connections: list[SupplierInvoiceFileConnection] = field(
        default_factory=list
    )
    invoices: dict[int, Invoice] = field(default_factory=dict)
    invoice_attachments: list[InvoiceAttachment] = field(default_factory=list)
    deleted_vouchers: list[tuple[int, str, int, datetime]] = field(default_factory=list)
    root_folder_id: str = ""
    _sorted: dict[int, list[Voucher]] = field(default_factory=dict, repr=False, compare=False)

    def year(self, year_id: int) -> FinancialYear | None:
        return next((y for y in self.years if y.id == year_id), None)

    def year_for_date(self, day: date) -> FinancialYear | None:
        return next((y for y in self.years if y.contains(day)), None)

    def year_vouchers(self, year_id: int) -> list[Voucher]:
        """Vouchers of a year in Fortnox's default order: series, then number (cached)."""
        cached = self._sorted.get(year_id)
        if cached is None:
            cached = sorted(self.vouchers.get(year_id, {}).values(), key=_series_number)
            self._sorted[year_id] = cached
        return cached

    def all_vouchers(self) -> list[Voucher]:
        return [v for y in self.years for v in self.year_vouchers(y.id)]

    def voucher(self, year_id: int, series: str, number: int) -> Voucher | None:
        return self.vouchers.get(year_id, {}).get((series, number))

    def put_voucher(self, voucher: Voucher) -> None:
        """Insert or replace a voucher and drop the sorted cache of its year."""
        self.vouchers.setdefault(voucher.year_id, {})[(voucher.series, voucher.number)] = voucher
        self._sorted.pop(voucher.year_id, None)

    def drop_voucher(self, voucher: Voucher) -> None:
        del self.vouchers[voucher.year_id][(voucher.series, voucher.number)]
        self._sorted.pop(voucher.year_id, None)

    def touched(self, year_id: int) -> None:
        """Call after changing a voucher in place (rows), so caches stay honest."""
        self._sorted.pop(year_id, None)

    def last_number(self, year_id: int, series: str) -> int:
        return max(
            (n for (s, n) in self.vouchers.get(year_id, {}) if s == series),
            default=0,
        )

    def closing_balances(self, year_id: int) -> dict[int, Decimal]:
        """UB per account: opening balance plus every booked row of the year."""
        out = {n: a.opening for n, a in self.accounts.get(year_id, {}).items()}
        for v in self.vouchers.get(year_id, {}).values():
            for r in v.rows:
                if not r.removed:
                    out[r.account] = out.get(r.account, ZERO) + r.amount
        return out


@dataclass
class Books:
    """Everything the sandbox serves; `companies` keyed by tenant id (DatabaseNumber)."""

    seed: int
    companies: dict[int, Company]

    @property
    def tenant_ids(self) -> list[int]:
        return list(self.companies)
