"""Where a company's documents are, module by module, and which vouchers each belongs to.

Only list calls happen here (500 items a page); the file bytes are fetched later
through the worker pool.  Each module answers with `Document`s that say where
the bytes are and which vouchers (financial year id, series, number) the file
belongs to:

- accounting: `/3/voucherfileconnections?voucheryear=` per financial year;
- suppliers: `/3/supplierinvoicefileconnections`, linked through the supplier
  invoice's `Vouchers` (its booking and its payments) from `/3/supplierinvoices`;
- billing: every booked customer invoice's PDF through `/preview` (never
  `/print`, which marks the invoice as sent) and the files attached to it through
  `/api/fileattachments/attachments-v1`, linked to the invoice's voucher.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from .errors import MISSING_SCOPE, NO_LICENCE_FOR_SCOPE, FortnoxAPIError

if TYPE_CHECKING:
    from .connection import FortnoxConnection

logger = logging.getLogger("tap_fortnox")

MODULES = ("accounting", "suppliers", "billing")
ATTACHMENT_BATCH = 500  # invoice ids per file-attachments call: one call per page of invoices
VoucherKey = tuple[int, str, int]  # (financial year id, series, number)


@dataclass
class Document:
    """One file to emit: where its bytes are and what it belongs to."""

    file_id: str
    module: str
    source_type: str  # voucher | supplier_invoice | invoice
    source_number: str
    vouchers: set[VoucherKey]
    file_name: str | None
    path: str
    endpoint: str
    params: dict[str, Any] | None = None

    def links(self) -> str:
        """The file's links as stable text: a change means the emitted record is out of date."""
        vouchers = ";".join(f"{y}/{s}/{n}" for y, s, n in sorted(self.vouchers))
        return f"{self.source_type}:{self.source_number}|{vouchers}"


class ModuleUnavailable(Exception):
    """The company or the connection may not read this module (licence or scope)."""


#: A module's lister: (connection, selected financial year ids) -> documents.
Lister = Callable[["FortnoxConnection", "frozenset[int]"], list[Document]]


def _refused(error: FortnoxAPIError) -> bool:
    if error.code in (MISSING_SCOPE, NO_LICENCE_FOR_SCOPE):
        return True
    # /api/* answers {error, id, message} without Fortnox's numeric codes.
    return error.status == 403 and error.path.startswith("/api/")


def _int(value: Any, what: str, call: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise FortnoxAPIError(f"{call}: {what} is not a number: {str(value)[:40]!r}") from None


def _text(item: Mapping[str, Any], key: str, call: str) -> str:
    value = item.get(key)
    if value is None or str(value) == "":
        raise FortnoxAPIError(f"{call}: an item has no '{key}'")
    return str(value)


def _flag(value: Any) -> bool:
    """Fortnox sends some booleans as strings ("true"/"false")."""
    return value is True or str(value).strip().lower() == "true"


def _archive(file_id: str) -> tuple[str, str]:
    return f"/3/archive/{file_id}", "/3/archive/{id}"


# --- accounting ------------------------------------------------------------------------------


def accounting(connection: FortnoxConnection, years: frozenset[int]) -> list[Document]:
    """Files connected to vouchers, one list per financial year."""
    call = "GET /3/voucherfileconnections"
    out: list[Document] = []
    for year in sorted(years):
        items = connection.paginate("/3/voucherfileconnections", "VoucherFileConnections",
                                    {"voucheryear": str(year)})
        for item in items:
            # VoucherYear is the financial year id; filter in case `voucheryear` is ignored.
            item_year = _int(item.get("VoucherYear", year), "VoucherYear", call)
            if item_year != year:
                continue
            file_id = _text(item, "FileId", call)
            series = _text(item, "VoucherSeries", call)
            number = _int(item.get("VoucherNumber"), "VoucherNumber", call)  # a string in the spec
            path, endpoint = _archive(file_id)
            out.append(Document(file_id, "accounting", "voucher", f"{series} {number}",
                                {(year, series, number)}, item.get("Name") or None, path, endpoint))
    return out


# --- suppliers -------------------------------------------------------------------------------


def _supplier_vouchers(connection: FortnoxConnection) -> dict[str, set[VoucherKey]]:
    call = "GET /3/supplierinvoices"
    out: dict[str, set[VoucherKey]] = {}
    for item in connection.paginate("/3/supplierinvoices", "SupplierInvoices"):
        number = str(_int(item.get("GivenNumber"), "GivenNumber", call))  # a string in Fortnox
        out[number] = {
            (_int(v.get("Year"), "Vouchers.Year", call), _text(v, "Series", call),
             _int(v.get("Number"), "Vouchers.Number", call))
            for v in item.get("Vouchers") or []
        }
    return out


def suppliers(connection: FortnoxConnection, years: frozenset[int]) -> list[Document]:
    """Files connected to supplier invoices, linked to the invoice's booking and payments."""
    call = "GET /3/supplierinvoicefileconnections"
    connections = list(connection.paginate("/3/supplierinvoicefileconnections",
                                           "SupplierInvoiceFileConnections"))
    if not connections:
        return []
    vouchers = _supplier_vouchers(connection)
    out: list[Document] = []
    for item in connections:
        file_id = _text(item, "FileId", call)
        number = str(_int(item.get("SupplierInvoiceNumber"), "SupplierInvoiceNumber", call))
        path, endpoint = _archive(file_id)
        out.append(Document(file_id, "suppliers", "supplier_invoice", number,
                            set(vouchers.get(number, ())), item.get("Name") or None, path, endpoint))
    return out


# --- billing ---------------------------------------------------------------------------------


def _invoice_voucher(item: Mapping[str, Any], call: str) -> VoucherKey | None:
    """The voucher of a booked invoice; None for drafts and cancelled invoices (no voucher)."""
    if not _flag(item.get("Booked")) or _flag(item.get("Cancelled")):
        return None
    number, series, year = item.get("VoucherNumber"), item.get("VoucherSeries"), item.get("VoucherYear")
    if number in (None, "", 0, "0") or not series or year in (None, "", 0, "0"):
        return None
    return _int(year, "VoucherYear", call), str(series), _int(number, "VoucherNumber", call)


def _attachments(connection: FortnoxConnection, invoices: dict[str, VoucherKey]) -> list[Document]:
    call = "GET /api/fileattachments/attachments-v1"
    numbers = sorted(invoices, key=int)
    out: list[Document] = []
    for start in range(0, len(numbers), ATTACHMENT_BATCH):
        batch = numbers[start:start + ATTACHMENT_BATCH]
        response = connection.request("GET", "/api/fileattachments/attachments-v1",
                                      {"entitytype": "F", "entityid": ",".join(batch)})
        try:
            items = response.json()
        except (ValueError, RecursionError):
            raise FortnoxAPIError(f"{call}: the answer is not JSON") from None
        if not isinstance(items, list):
            raise FortnoxAPIError(f"{call}: expected a JSON list, got {type(items).__name__}")
        for item in items:
            number = str(_int(item.get("entityId"), "entityId", call))
            if number not in invoices or str(item.get("entityType", "F")) != "F":
                continue
            file_id = _text(item, "fileId", call)
            out.append(Document(file_id, "billing", "invoice", number, {invoices[number]}, None,
                                "/3/archive", "/3/archive?fileid", {"fileid": file_id}))
    return out


def billing(connection: FortnoxConnection, years: frozenset[int]) -> list[Document]:
    """Every booked invoice's PDF (via /preview) and the files attached to it."""
    call = "GET /3/invoices"
    booked: dict[str, VoucherKey] = {}
    for item in connection.paginate("/3/invoices", "Invoices"):
        voucher = _invoice_voucher(item, call)
        if voucher is not None and voucher[0] in years:
            booked[str(_int(item.get("DocumentNumber"), "DocumentNumber", call))] = voucher
    out = [
        Document(f"invoice-preview-{n}", "billing", "invoice", n, {voucher}, f"invoice-{n}.pdf",
                 f"/3/invoices/{n}/preview", "/3/invoices/{n}/preview")
        for n, voucher in booked.items()
    ]
    if not booked:
        return out
    try:
        out.extend(_attachments(connection, booked))
    except FortnoxAPIError as e:
        if not _refused(e):
            raise
        logger.warning("attachments: files attached to customer invoices are skipped, the invoice "
                       "PDFs are not: %s", e)
    return out


LISTERS: dict[str, Lister] = {"accounting": accounting, "suppliers": suppliers, "billing": billing}


# --- putting the modules together ------------------------------------------------------------


def _number(doc: Document) -> int:
    return int(doc.source_number) if doc.source_number.isdigit() else 0


def _order(doc: Document) -> tuple[int, int, tuple[VoucherKey, ...], str]:
    """Module, then invoice number, then voucher: the order records come out in."""
    return MODULES.index(doc.module), _number(doc), tuple(sorted(doc.vouchers))[:1], doc.file_id


def merge(documents: Iterable[Document]) -> list[Document]:
    """One document per file id, in a stable order.

    A file listed twice (connected to two vouchers, or to a voucher and a supplier
    invoice) keeps every voucher link; the more specific module (suppliers, then
    billing) names its source over accounting.
    """
    rank = {"suppliers": 0, "billing": 1, "accounting": 2}
    by_id: dict[str, Document] = {}
    for doc in sorted(documents, key=lambda d: (rank[d.module], *_order(d)[1:])):
        seen = by_id.get(doc.file_id)
        if seen is None:
            by_id[doc.file_id] = replace(doc, vouchers=set(doc.vouchers))
        else:
            seen.vouchers |= doc.vouchers
            seen.file_name = seen.file_name or doc.file_name
    return sorted(by_id.values(), key=_order)


def list_documents(connection: FortnoxConnection, modules: Iterable[str],
                   years: frozenset[int]) -> tuple[list[Document], dict[str, str]]:
    """Every document of the chosen modules that belongs to a voucher of the chosen years.

    Returns the documents and, per module that could not be read, why (a missing
    licence or scope is a warning, not a failed run: the other modules still count).
    """
    found: list[Document] = []
    unavailable: dict[str, str] = {}
    for module in modules:
        try:
            found.extend(LISTERS[module](connection, years))
        except FortnoxAPIError as e:
            if not _refused(e):
                raise
            unavailable[module] = str(e)
    documents = [d for d in merge(found) if any(y in years for y, _, _ in d.vouchers)]
    return documents, unavailable
