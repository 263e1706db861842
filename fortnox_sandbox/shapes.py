"""Books → Fortnox JSON objects, field by field as in the reference (§4).

Field names and types follow ../shared/reference/fortnox-api.md; where it is
[UNCERTAIN]/[CONFLICT] the choice made here is noted next to the field. Amounts are
`Decimal` (JSON numbers, or strings where Fortnox sends strings); never floats.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .books import (
    ZERO,
    Account,
    ArchiveFile,
    ArchiveFolder,
    Company,
    FinancialYear,
    Invoice,
    InvoiceAttachment,
    SupplierInvoice,
    SupplierInvoiceFileConnection,
    Voucher,
    VoucherFileConnection,
    VoucherRow,
    VoucherSeries,
)

Json = dict[str, Any]


def _d(day: Any) -> str | None:
    return day.isoformat() if day is not None else None


def company_information(c: Company) -> Json:
    return {
        "Address": c.address,
        "City": c.city,
        "CountryCode": "SE",
        "DatabaseNumber": c.tenant_id,  # = TenantId [S-CC]
        "CompanyName": c.name,
        "OrganizationNumber": c.organisation_number,
        "VisitAddress": c.address,
        "VisitCity": c.city,
        "VisitCountryCode": "SE",
        "VisitZipCode": c.zip_code,
        "ZipCode": c.zip_code,
    }


def financial_year(base: str, y: FinancialYear, single: bool = False) -> Json:
    out: Json = {
        "@url": f"{base}/3/financialyears/{y.id}",
        "Id": y.id,
        "FromDate": _d(y.from_date),
        "ToDate": _d(y.to_date),
        "AccountingMethod": y.accounting_method,
        "accountCharts": y.chart_type,  # lowercase a, as in the spec
    }
    if single:
        out["AccountChartType"] = y.chart_type
    return out


def account(
    base: str, a: Account, year_id: int, closing: Decimal | None = None, single: bool = False
) -> Json:
    out: Json = {
        "@url": f"{base}/3/accounts/{a.number}?financialyear={year_id}",
        "Active": a.active,
        "BalanceBroughtForward": a.opening,
        "CostCenter": None,  # [UNCERTAIN] null vs "" for an unset default; we send null
        "CostCenterSettings": a.cost_center_settings,
        "Description": a.description,
        "Number": a.number,
        "Project": None,
        "ProjectSettings": a.project_settings,
        "SRU": a.sru,
        "Year": year_id,
        "VATCode": a.vat_code,
    }
    if single:  # BalanceCarriedForward only on the per-account GET [OpenAPI AccountSingleItem]
        out["BalanceCarriedForward"] = closing if closing is not None else a.opening
        out["TransactionInformation"] = ""
        out["TransactionInformationSettings"] = "ALLOWED"
        out["QuantitySettings"] = "ALLOWED" if a.quantity_unit else "NOTALLOWED"
        out["QuantityUnit"] = a.quantity_unit
        out["OpeningQuantities"] = []
    return out


def voucher_series(base: str, s: VoucherSeries, next_number: int | None = None) -> Json:
    out: Json = {
        "@url": f"{base}/3/voucherseries/{s.code}?financialyear={s.year_id}",
        "Code": s.code,
        "Description": s.description,
        "Manual": s.manual,
        "Year": s.year_id,
        "Approver": {"Id": 0, "Name": ""},  # [UNCERTAIN] no approver → zero id, empty name
    }
    if next_number is not None:
        out["NextVoucherNumber"] = next_number
    return out


def voucher_url(base: str, v: Voucher) -> str:
    return f"{base}/3/vouchers/{v.series}/{v.number}?financialyear={v.year_id}"


def voucher_list_item(base: str, v: Voucher) -> Json:
    """A list item: no rows (the N+1 problem the tap must solve) [S-VOUCHERS]."""
    return {
        "@url": voucher_url(base, v),
        "Comments": v.comments,
        "Description": v.description,
        "ReferenceNumber": v.reference_number,
        "ReferenceType": v.reference_type,
        "TransactionDate": _d(v.transaction_date),
        "VoucherNumber": v.number,
        "VoucherSeries": v.series,
        "Year": v.year_id,
        "ApprovalState": v.approval_state,
    }


def voucher_row(r: VoucherRow, account_names: dict[int, str]) -> Json:
    return {
        "Account": r.account,
        "CostCenter": r.cost_center,  # [UNCERTAIN] "" when unset (vs null); we send ""
        "Credit": r.credit,
        "Debit": r.debit,
        "Description": account_names.get(r.account, ""),  # the account name [OpenAPI]
        "Project": r.project,
        # [UNCERTAIN] the spec types Quantity as a plain double: 0 when the row has none
        "Quantity": r.quantity if r.quantity is not None else 0,
        "Removed": r.removed,
        "TransactionInformation": r.transaction_information,
    }


def voucher(base: str, v: Voucher, account_names: dict[int, str]) -> Json:
    """The single voucher. [UNCERTAIN] row order after a correction: original rows stay in
    place (struck ones flagged Removed) and replacement rows are appended at the end."""
    out = voucher_list_item(base, v)
    out["CostCenter"] = v.cost_center
    out["Project"] = v.project
    out["VoucherRows"] = [voucher_row(r, account_names) for r in v.rows]
    return out


def voucher_file_connection(base: str, f: VoucherFileConnection, v: Voucher | None) -> Json:
    return {
        "@url": f"{base}/3/voucherfileconnections/{f.file_id}",
        "FileId": f.file_id,
        "Name": f.name,
        "VoucherDescription": v.description if v else "",
        # [CONFLICT] spec: string, doc example: int. We follow the spec (string).
        "VoucherNumber": str(f.number),
        "VoucherSeries": f.series,
        "VoucherYear": f.year_id,
    }


def supplier_invoice_file_connection(
    base: str, f: SupplierInvoiceFileConnection, supplier_name: str
) -> Json:
    return {
        "@url": f"{base}/3/supplierinvoicefileconnections/{f.file_id}",
        "FileId": f.file_id,
        "Name": f.name,
        "SupplierInvoiceNumber": str(f.given_number),
        "SupplierName": supplier_name,
    }


def supplier_invoice(base: str, s: SupplierInvoice, single: bool = False) -> Json:
    """Amounts as strings, as Fortnox sends them on supplier invoices [§4.11]."""
    out: Json = {
        "@url": f"{base}/3/supplierinvoices/{s.given_number}",
        "Balance": str(s.balance),
        "Booked": s.booked,
        "Cancel": s.cancelled,
        "CostCenter": s.cost_center,
        "Credit": False,
        "Currency": "SEK",
        "CurrencyRate": "1",
        "CurrencyUnit": 1,
        "DueDate": _d(s.due_date),
        "ExternalInvoiceNumber": "",
        "ExternalInvoiceSeries": "",
        "GivenNumber": str(s.given_number),  # [UNCERTAIN] string, as in the generated spec
        "InvoiceDate": _d(s.invoice_date),
        "InvoiceNumber": s.invoice_number,
        "Project": s.project,
        "SupplierNumber": s.supplier_number,
        "SupplierName": s.supplier_name,
        "Total": str(s.total),
        "AuthorizerName": "",
        "Vouchers": [
            {"Number": n, "Year": y, "Series": series, "ReferenceType": ref}
            for n, y, series, ref in s.vouchers
        ],
        "FinalPayDate": _d(s.due_date) if s.balance == ZERO else None,
    }
    if single:
        out.update(
            {
                "AccountingMethod": "ACCRUAL",
                "Comments": "",
                "Freight": "0.00",
                "OCR": s.ocr,
                "SalesType": "STOCK",
                "VAT": str(s.vat),
                "VATType": "NORMAL",
                "SupplierInvoiceRows": [_supplier_invoice_row(r) for r in s.rows],
            }
        )
    return out


def _supplier_invoice_row(r: VoucherRow) -> Json:
    code = "TOT" if r.account == 2440 else "VAT" if r.account == 2641 else ""
    return {
        "Account": r.account,
        "ArticleNumber": "",
        "Code": code,
        "CostCenter": r.cost_center,
        "AccountDescription": "",
        "ItemDescription": r.transaction_information,
        "Debit": r.debit,
        "DebitCurrency": r.debit,
        "Credit": r.credit,
        "CreditCurrency": r.credit,
        "Project": r.project,
        "TransactionInformation": r.transaction_information,
        "Price": r.debit or r.credit,
        "Quantity": r.quantity if r.quantity is not None else 1,
        "Total": r.amount,
        "Unit": "",
    }


def invoice(base: str, i: Invoice, single: bool = False) -> Json:
    year_id, series, number = i.voucher
    out: Json = {
        "@url": f"{base}/3/invoices/{i.document_number}",
        "Balance": i.balance,
        "Booked": i.booked,
        "Cancelled": i.cancelled,
        "CostCenter": "",
        "Currency": "SEK",
        "CurrencyRate": 1,
        "CurrencyUnit": 1,
        "CustomerName": i.customer_name,
        "CustomerNumber": i.customer_number,
        "DocumentNumber": str(i.document_number),  # [UNCERTAIN] string as in the spec
        "DueDate": _d(i.due_date),
        "ExternalInvoiceReference1": "",
        "ExternalInvoiceReference2": "",
        "InvoiceDate": _d(i.invoice_date),
        "InvoiceType": "INVOICE",
        "NoxFinans": False,
        "OCR": i.ocr,
        "VoucherNumber": number,
        "VoucherSeries": series,
        "VoucherYear": year_id,
        "WayOfDelivery": "EMAIL",
        "TermsOfPayment": "30",
        "Project": "",
        "Sent": i.sent,
        "Total": i.total,
        "FinalPayDate": _d(i.final_pay_date),
    }
    if single:
        out.update(
            {
                "Credit": "false",  # a string in spec and practice [erp-mafia/accounted #2839]
                "Net": i.net,
                "TotalVAT": i.vat,
                "VATIncluded": False,
            }
        )
    return out


def invoice_attachment(a: InvoiceAttachment) -> Json:
    return {
        "id": a.id,
        "entityId": a.entity_id,
        "entityType": a.entity_type,
        "fileId": a.file_id,
        "includeOnSend": a.include_on_send,
    }


def archive_file(base: str, f: ArchiveFile) -> Json:
    return {
        "@url": f"{base}/3/archive/{f.id}",
        "Comments": f.comments,
        "Id": f.id,
        "Name": f.name,
        "Path": f.path,
        "Size": f.size,
        # [UNCERTAIN] relation of ArchiveFileId to Id; we use the same id for both, and the
        # FileId of file connections is that id too.
        "ArchiveFileId": f.id,
    }


def folder(base: str, c: Company, f: ArchiveFolder) -> Json:
    return {
        "@url": f"{base}/3/archive/{f.id}",
        "Email": "",
        "Files": [archive_file(base, c.files[i]) for i in f.file_ids if i in c.files],
        "Folders": [
            {"@url": f"{base}/3/archive/{i}", "Id": i, "Name": c.folders[i].name}
            for i in f.folder_ids
        ],
        "Id": f.id,
        "Name": f.name,
    }
