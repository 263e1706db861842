"""Changes to the books, as a Fortnox user makes them (reference §6).

Add a voucher, strike rows and book replacements ("Ändra"), delete the last voucher of a
series, connect a file. Each change stamps `modified_at`, which is what the
`lastmodified` filter sees. [UNCERTAIN] Fortnox does not document whether striking rows
on an old voucher bumps its lastmodified; the sandbox says it does.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from .books import (
    ZERO,
    ArchiveFile,
    ArchiveFolder,
    Company,
    FinancialYear,
    InvoiceAttachment,
    SupplierInvoiceFileConnection,
    Voucher,
    VoucherFileConnection,
    VoucherRow,
)
from .files import make_pdf, make_png
from .timeutil import STOCKHOLM


class MutationError(ValueError):
    """The change would break the books (unbalanced, unknown account, not the last, ...)."""


def _money(value: Any, what: str) -> Decimal:
    try:
        amount = Decimal(str(value)) if value not in (None, "") else ZERO
    except InvalidOperation:
        raise MutationError(f"{what} is not a number: {value!r}") from None
    if amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise MutationError(f"{what} must be >= 0 with at most two decimals: {value!r}")
    return amount.quantize(Decimal("0.01"))


def parse_row(spec: Mapping[str, Any], company: Company, year_id: int) -> VoucherRow:
    """A row from admin JSON: account, debit/credit (or signed amount), dims, quantity."""
    try:
        account = int(spec["account"])
    except (KeyError, TypeError, ValueError):
        raise MutationError(f"row needs an integer account: {dict(spec)!r}") from None
    if account not in company.accounts[year_id]:
        raise MutationError(f"account {account} is not in the chart of year {year_id}")
    if "amount" in spec:
        amount = Decimal(str(spec["amount"]))
        debit = _money(amount if amount > 0 else 0, "amount")
        credit = _money(-amount if amount < 0 else 0, "amount")
    else:
        debit, credit = _money(spec.get("debit"), "debit"), _money(spec.get("credit"), "credit")
    quantity = spec.get("quantity")
    return VoucherRow(
        account=account,
        debit=debit,
        credit=credit,
        transaction_information=str(spec.get("transaction_information", "")),
        cost_center=str(spec.get("cost_center", "")),
        project=str(spec.get("project", "")),
        quantity=Decimal(str(quantity)) if quantity is not None else None,
    )


def _check_balanced(rows: Iterable[VoucherRow]) -> None:
    booked = [r for r in rows if not r.removed]
    if len(booked) < 2:
        raise MutationError("a voucher needs at least two booked rows")
    total = sum((r.amount for r in booked), ZERO)
    if total != ZERO:
        raise MutationError(f"booked rows do not balance: off by {total}")


def _year(company: Company, year_id: int | None, day: date | None) -> FinancialYear:
    if year_id is not None:
        year = company.year(year_id)
    elif day is not None:
        year = company.year_for_date(day)
    else:
        year = company.years[-1]
    if year is None:
        raise MutationError("no such financial year")
    return year


def add_voucher(
    company: Company,
    *,
    now: datetime,
    series: str = "A",
    rows: Iterable[Mapping[str, Any]] | None = None,
    year_id: int | None = None,
    transaction_date: date | None = None,
    description: str = "Sandbox-verifikation",
) -> Voucher:
    """Book a new voucher as the next number of its series."""
    year = _year(company, year_id, transaction_date)
    day = transaction_date or min(year.to_date, now.astimezone(STOCKHOLM).date())
    if not year.contains(day):
        raise MutationError(f"{day} is outside financial year {year.id}")
    if series not in company.series[year.id]:
        raise MutationError(f"no voucher series {series!r} in year {year.id}")
    if rows is None:  # a small default voucher: office supplies paid from the bank
        rows = [
            {"account": 6110, "debit": "100.00"},
            {"account": 2641, "debit": "25.00"},
            {"account": 1930, "credit": "125.00"},
        ]
    parsed = [parse_row(r, company, year.id) for r in rows]
    _check_balanced(parsed)
    voucher = Voucher(
        year_id=year.id,
        series=series,
        number=company.last_number(year.id, series) + 1,
        transaction_date=day,
        description=description,
        rows=parsed,
        registered=now.astimezone(STOCKHOLM).date(),
        modified_at=now,
    )
    company.put_voucher(voucher)
    return voucher


def _find(company: Company, year_id: int, series: str, number: int) -> Voucher:
    voucher = company.voucher(year_id, series, number)
    if voucher is None:
        raise MutationError(f"no voucher {series}{number} in year {year_id}")
    return voucher


def strike_rows(
    company: Company,
    *,
    now: datetime,
    year_id: int,
    series: str,
    number: int,
    row_indexes: Iterable[int],
    replacements: Iterable[Mapping[str, Any]] = (),
) -> Voucher:
    """Strike rows (Removed: true) and append replacement rows; the result must balance."""
    voucher = _find(company, year_id, series, number)
    indexes = sorted(set(row_indexes))
    if not indexes:
        raise MutationError("strike at least one row")
    for i in indexes:
        if not 0 <= i < len(voucher.rows) or voucher.rows[i].removed:
            raise MutationError(f"row {i} does not exist or is already struck")
    added = [parse_row(r, company, year_id) for r in replacements]
    for row in added:
        row.added = True
    trial = [
        VoucherRow(**{**vars(r), "removed": r.removed or i in indexes})
        for i, r in enumerate(voucher.rows)
    ]
    _check_balanced(trial + added)
    for i in indexes:
        voucher.rows[i].removed = True
    voucher.rows.extend(added)
    voucher.modified_at = now
    company.touched(year_id)
    return voucher


def delete_last(company: Company, *, now: datetime, year_id: int, series: str) -> Voucher:
    """Delete the last voucher of a series (the only one Fortnox lets you delete)."""
    number = company.last_number(year_id, series)
    if number == 0:
        raise MutationError(f"series {series!r} of year {year_id} has no vouchers")
    voucher = _find(company, year_id, series, number)
    company.drop_voucher(voucher)
    company.voucher_file_connections = [
        f for f in company.voucher_file_connections
        if (f.year_id, f.series, f.number) != voucher.key
    ]
    company.deleted_vouchers.append((*voucher.key, now))
    return voucher


def _folder(company: Company, name: str) -> ArchiveFolder:
    for folder in company.folders.values():
        if folder.path == name:
            return folder
    folder = ArchiveFolder(id=str(uuid.uuid4()), name=name, path=name)
    company.folders[folder.id] = folder
    company.folders[company.root_folder_id].folder_ids.append(folder.id)
    return folder


def _new_file(company: Company, folder_name: str, name: str, kind: str) -> ArchiveFile:
    file_id = str(uuid.uuid4())
    if kind == "png":
        content, content_type, name = make_png((30, 144, 255)), "image/png", f"{name}.png"
    elif kind == "pdf":
        content = make_pdf(f"{name} ({file_id})")
        content_type, name = "application/pdf", f"{name}.pdf"
    else:
        raise MutationError(f"kind must be pdf or png, not {kind!r}")
    folder = _folder(company, folder_name)
    f = ArchiveFile(file_id, name, folder.path, content, content_type)
    company.files[f.id] = f
    folder.file_ids.append(f.id)
    return f


def connect_file(
    company: Company,
    *,
    now: datetime,
    voucher: tuple[int, str, int] | None = None,
    supplier_invoice: int | None = None,
    invoice: int | None = None,
    name: str = "Nytt underlag",
    kind: str = "pdf",
    touch: bool = True,
) -> ArchiveFile:
    """Put a new file in the archive and connect it to one voucher or invoice.

    With `touch`, the connected voucher/invoice gets a new `modified_at`
    ([UNCERTAIN] whether Fortnox bumps lastmodified on a file connection).
    """
    if sum(x is not None for x in (voucher, supplier_invoice, invoice)) != 1:
        raise MutationError("connect the file to exactly one voucher or invoice")
    if voucher is not None:
        v = _find(company, *voucher)
        f = _new_file(company, "Verifikationer", name, kind)
        company.voucher_file_connections.append(
            VoucherFileConnection(f.id, v.year_id, v.series, v.number, f.name)
        )
        if touch:
            v.modified_at = now
    elif supplier_invoice is not None:
        si = company.supplier_invoices.get(supplier_invoice)
        if si is None:
            raise MutationError(f"no supplier invoice {supplier_invoice}")
        f = _new_file(company, "Leverantörsfakturor", name, kind)
        company.supplier_invoice_file_connections.append(
            SupplierInvoiceFileConnection(f.id, si.given_number, f.name)
        )
        if touch:
            si.modified_at = now
    else:
        inv = company.invoices.get(invoice)  # type: ignore[arg-type]
        if inv is None:
            raise MutationError(f"no invoice {invoice}")
        f = _new_file(company, f"fndoc{inv.invoice_date:%Y}", name, kind)
        company.invoice_attachments.append(
            InvoiceAttachment(str(uuid.uuid4()), inv.document_number, "F", f.id, False)
        )
        if touch:
            inv.modified_at = now
    return f
