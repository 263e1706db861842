"""The Fortnox endpoints (`/3/...` and `/api/...`), read-only, from the books.

Each handler declares the scope (and module licence) it needs with `@endpoint`; the
middleware in `app.py` authenticates, rate-limits, injects faults and enforces both
before the handler runs, and puts the caller's company in `request["company"]`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from aiohttp import web

from . import shapes
from .books import Company, Voucher
from .errors import ACCOUNT_NOT_FOUND, FortnoxError, invalid_parameter, not_found
from .files import make_pdf
from .jsonenc import dumpb
from .query import (
    date_param,
    financial_year,
    lastmodified_param,
    page,
    sort_items,
)
from .sie_export import sie_bytes
from .timeutil import now_utc

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
routes = web.RouteTableDef()

#: Module licences the endpoints need ([UNCERTAIN] which module gates which scope beyond
#: the obvious ones; archive, connectfile and companyinformation need no extra module here).
BOOKKEEPING, INVOICE, SUPPLIERINVOICE = "bookkeeping", "invoice", "supplierinvoice"


def endpoint(
    scope: str, licence: str | None = None, params: frozenset[str] = frozenset()
) -> Callable[[Handler], Handler]:
    """Attach the scope, licence and supported global params a handler needs."""

    def mark(handler: Handler) -> Handler:
        handler.fortnox_scope = scope  # type: ignore[attr-defined]
        handler.fortnox_licence = licence  # type: ignore[attr-defined]
        handler.fortnox_params = params  # type: ignore[attr-defined]
        return handler

    return mark


def ok(payload: Any) -> web.Response:
    return web.Response(body=dumpb(payload), content_type="application/json")


def base_url(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


COMPANY_KEY = web.RequestKey("company", Company)


def company(request: web.Request) -> Company:
    return request[COMPANY_KEY]


def _int(value: str, what: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise not_found(what) from None


# --- company ------------------------------------------------------------------------


@routes.get("/3/companyinformation")
@endpoint("companyinformation")
async def company_information(request: web.Request) -> web.Response:
    return ok({"CompanyInformation": shapes.company_information(company(request))})


@routes.get("/3/settings/company")
@endpoint("settings")
async def company_settings(request: web.Request) -> web.Response:
    """A subset of CompanySettings; DatabaseNumber equals the TenantId [S-CC]."""
    c = company(request)
    info = shapes.company_information(c)
    return ok(
        {
            "CompanySettings": {
                "Name": c.name,
                "OrganizationNumber": c.organisation_number,
                "DatabaseNumber": c.tenant_id,
                "Address": info["Address"],
                "City": info["City"],
                "ZipCode": info["ZipCode"],
                "CountryCode": "SE",
            }
        }
    )


# --- bookkeeping ------------------------------------------------------------------------


@routes.get("/3/financialyears")
@endpoint("bookkeeping", BOOKKEEPING)
async def financial_years(request: web.Request) -> web.Response:
    c, base = company(request), base_url(request)
    years = c.years
    day = date_param(request.query, "date")
    if day is not None:
        years = [y for y in years if y.contains(day)]
    return ok(
        page(request.query, years, "FinancialYears", lambda y: shapes.financial_year(base, y))
    )


@routes.get("/3/financialyears/{id}")
@endpoint("bookkeeping", BOOKKEEPING)
async def financial_year_single(request: web.Request) -> web.Response:
    c = company(request)
    year = c.year(_int(request.match_info["id"], "räkenskapsåret"))
    if year is None:
        raise not_found("räkenskapsåret")
    return ok({"FinancialYear": shapes.financial_year(base_url(request), year, single=True)})


@routes.get("/3/accounts")
@endpoint("bookkeeping", BOOKKEEPING, frozenset({"financialyear", "financialyeardate",
                                                  "lastmodified", "sortby", "sortorder"}))
async def accounts(request: web.Request) -> web.Response:
    c, base, q = company(request), base_url(request), request.query
    year = financial_year(q, c)
    items = sorted(c.accounts[year.id].values(), key=lambda a: a.number)
    since = lastmodified_param(q)
    if since is not None:
        items = [a for a in items if a.modified_at and a.modified_at >= since]
    if q.get("sru"):
        items = [a for a in items if str(a.sru) == q["sru"]]
    items = sort_items(q, items, {"number": lambda a: a.number})
    return ok(page(q, items, "Accounts", lambda a: shapes.account(base, a, year.id)))


@routes.get("/3/accounts/{number}")
@endpoint("bookkeeping", BOOKKEEPING, frozenset({"financialyear", "financialyeardate"}))
async def account_single(request: web.Request) -> web.Response:
    c = company(request)
    year = financial_year(request.query, c)
    number = request.match_info["number"]
    acc = c.accounts[year.id].get(int(number)) if number.isdigit() else None
    if acc is None:
        raise FortnoxError(404, ACCOUNT_NOT_FOUND, "Kontot hittades inte.")
    closing = c.closing_balances(year.id).get(acc.number)
    return ok({"Account": shapes.account(base_url(request), acc, year.id, closing, single=True)})


@routes.get("/3/voucherseries")
# [UNCERTAIN] voucher series accepting financialyear: series are per year (Year field).
@endpoint("bookkeeping", BOOKKEEPING, frozenset({"financialyear", "financialyeardate"}))
async def voucher_series(request: web.Request) -> web.Response:
    c, base = company(request), base_url(request)
    year = financial_year(request.query, c)
    items = sorted(c.series[year.id].values(), key=lambda s: s.code)
    return ok(
        page(request.query, items, "VoucherSeriesCollection",
             lambda s: shapes.voucher_series(base, s))
    )


@routes.get("/3/voucherseries/{code}")
@endpoint("bookkeeping", BOOKKEEPING, frozenset({"financialyear", "financialyeardate"}))
async def voucher_series_single(request: web.Request) -> web.Response:
    c = company(request)
    year = financial_year(request.query, c)
    series = c.series[year.id].get(request.match_info["code"])
    if series is None:
        raise not_found("verifikationsserien")
    nxt = c.last_number(year.id, series.code) + 1
    return ok({"VoucherSeries": shapes.voucher_series(base_url(request), series, nxt)})


_VOUCHER_PARAMS = frozenset(
    {"financialyear", "financialyeardate", "fromdate", "todate", "lastmodified", "sortby",
     "sortorder"}
)
_VOUCHER_SORT: dict[str, Callable[[Voucher], Any]] = {
    "vouchernumber": lambda v: v.number,
    "voucherseries": lambda v: (v.series, v.number),
    "referencenumber": lambda v: v.reference_number,
}


def _voucher_list(request: web.Request, series: str | None) -> web.Response:
    c, base, q = company(request), base_url(request), request.query
    year = financial_year(q, c)
    items = c.year_vouchers(year.id)
    series = series or q.get("voucherseries")
    if series:
        items = [v for v in items if v.series == series]
    start, end = date_param(q, "fromdate"), date_param(q, "todate")
    if start:
        items = [v for v in items if v.transaction_date >= start]
    if end:
        items = [v for v in items if v.transaction_date <= end]
    since = lastmodified_param(q)
    if since is not None:  # records modified at or after the Stockholm-local timestamp
        items = [v for v in items if v.modified_at >= since]
    cost_center = q.get("costcenter")
    if cost_center:
        items = [
            v for v in items
            if v.cost_center == cost_center
            or any(r.cost_center == cost_center and not r.removed for r in v.rows)
        ]
    items = sort_items(q, items, _VOUCHER_SORT)
    return ok(page(q, items, "Vouchers", lambda v: shapes.voucher_list_item(base, v)))


@routes.get("/3/vouchers")
@endpoint("bookkeeping", BOOKKEEPING, _VOUCHER_PARAMS)
async def vouchers(request: web.Request) -> web.Response:
    return _voucher_list(request, None)


@routes.get("/3/vouchers/sublist")
@endpoint("bookkeeping", BOOKKEEPING, _VOUCHER_PARAMS)
async def vouchers_sublist(request: web.Request) -> web.Response:
    return _voucher_list(request, None)


@routes.get("/3/vouchers/sublist/{series}")
@endpoint("bookkeeping", BOOKKEEPING, _VOUCHER_PARAMS)
async def vouchers_sublist_series(request: web.Request) -> web.Response:
    return _voucher_list(request, request.match_info["series"])


@routes.get("/3/vouchers/{series}/{number}")
@endpoint("bookkeeping", BOOKKEEPING, frozenset({"financialyear", "financialyeardate"}))
async def voucher_single(request: web.Request) -> web.Response:
    c = company(request)
    year = financial_year(request.query, c)
    v = c.voucher(year.id, request.match_info["series"],
                  _int(request.match_info["number"], "verifikationen"))
    if v is None:
        raise not_found("verifikationen")
    names = {n: a.description for n, a in c.accounts[year.id].items()}
    return ok({"Voucher": shapes.voucher(base_url(request), v, names)})


@routes.get("/3/sie/{type}")
@endpoint("bookkeeping", BOOKKEEPING, frozenset({"financialyear", "financialyeardate",
                                                  "fromdate", "todate"}))
async def sie(request: web.Request) -> web.StreamResponse:
    """The SIE file of one financial year, CP437 bytes written by `sie4` [§4.6].

    Only type 4 is served; [UNCERTAIN] the exact Content-Type Fortnox sends, we use
    application/octet-stream. `selection`/`exportall` are not implemented.
    """
    if request.match_info["type"] != "4":
        raise invalid_parameter("type (the sandbox serves SIE type 4 only)")
    c = company(request)
    year = financial_year(request.query, c)
    q = request.query
    body = sie_bytes(c, year, now_utc().date(), date_param(q, "fromdate"), date_param(q, "todate"))
    return web.Response(
        body=body,
        content_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{c.tenant_id}_{year.id}.se"'},
    )


# --- file connections -----------------------------------------------------------------


@routes.get("/3/voucherfileconnections")
@endpoint("connectfile", BOOKKEEPING)
async def voucher_file_connections(request: web.Request) -> web.Response:
    c, base, q = company(request), base_url(request), request.query
    items = list(c.voucher_file_connections)
    if q.get("voucheryear"):
        items = [f for f in items if str(f.year_id) == q["voucheryear"]]
    if q.get("voucherseries"):
        items = [f for f in items if f.series == q["voucherseries"]]
    if q.get("vouchernumber"):
        items = [f for f in items if str(f.number) == q["vouchernumber"]]

    def shape(f: Any) -> Any:
        return shapes.voucher_file_connection(base, f, c.voucher(f.year_id, f.series, f.number))

    if q.get("voucherdescription"):  # string search params are substring (ILIKE) matches
        needle = q["voucherdescription"].lower()
        items = [f for f in items if needle in shape(f)["VoucherDescription"].lower()]
    return ok(page(q, items, "VoucherFileConnections", shape))


@routes.get("/3/voucherfileconnections/{fileid}")
@endpoint("connectfile", BOOKKEEPING)
async def voucher_file_connection(request: web.Request) -> web.Response:
    c = company(request)
    fid = request.match_info["fileid"]
    f = next((f for f in c.voucher_file_connections if f.file_id == fid), None)
    if f is None:
        raise not_found("filkopplingen")
    v = c.voucher(f.year_id, f.series, f.number)
    return ok({"VoucherFileConnection": shapes.voucher_file_connection(base_url(request), f, v)})


@routes.get("/3/supplierinvoicefileconnections")
# [INFERRED in the reference] scope connectfile; licence: the supplier invoice module
@endpoint("connectfile", SUPPLIERINVOICE)
async def supplier_invoice_file_connections(request: web.Request) -> web.Response:
    c, base, q = company(request), base_url(request), request.query
    items = list(c.supplier_invoice_file_connections)
    if q.get("supplierinvoicenumber"):
        items = [f for f in items if str(f.given_number) == q["supplierinvoicenumber"]]
    return ok(
        page(q, items, "SupplierInvoiceFileConnections",
             lambda f: shapes.supplier_invoice_file_connection(
                 base, f, c.supplier_invoices[f.given_number].supplier_name))
    )


@routes.get("/3/supplierinvoicefileconnections/{fileid}")
@endpoint("connectfile", SUPPLIERINVOICE)
async def supplier_invoice_file_connection(request: web.Request) -> web.Response:
    c = company(request)
    fid = request.match_info["fileid"]
    f = next((f for f in c.supplier_invoice_file_connections if f.file_id == fid), None)
    if f is None:
        raise not_found("filkopplingen")
    name = c.supplier_invoices[f.given_number].supplier_name
    return ok(
        {"SupplierInvoiceFileConnection":
         shapes.supplier_invoice_file_connection(base_url(request), f, name)}
    )


# --- supplier invoices and invoices ------------------------------------------------------

_INVOICE_PARAMS = frozenset({"lastmodified", "fromdate", "todate", "filter", "sortby", "sortorder"})


def _dated(q: Any, items: list[Any], day: Callable[[Any], date]) -> list[Any]:
    start, end = date_param(q, "fromdate"), date_param(q, "todate")
    if start:
        items = [i for i in items if day(i) >= start]
    if end:
        items = [i for i in items if day(i) <= end]
    since = lastmodified_param(q)
    if since is not None:
        items = [i for i in items if i.modified_at >= since]
    return items


#: The `filter` values both invoice lists accept (supplier invoices add two).
_INVOICE_FILTERS: dict[str, Callable[[Any], bool]] = {
    "cancelled": lambda i: i.cancelled,
    "fullypaid": lambda i: not i.balance and not i.cancelled,
    "unpaid": lambda i: bool(i.balance) and not i.cancelled,
    "unpaidoverdue": lambda i: bool(i.balance) and i.due_date < now_utc().date(),
    "unbooked": lambda i: not i.booked,
}


def _filtered(q: Any, items: list[Any], filters: dict[str, Callable[[Any], bool]]) -> list[Any]:
    if not q.get("filter"):
        return items
    if q["filter"] not in filters:
        raise invalid_parameter("filter")
    return [i for i in items if filters[q["filter"]](i)]


@routes.get("/3/supplierinvoices")
@endpoint("supplierinvoice", SUPPLIERINVOICE, _INVOICE_PARAMS)
async def supplier_invoices(request: web.Request) -> web.Response:
    c, base, q = company(request), base_url(request), request.query
    items = _dated(q, list(c.supplier_invoices.values()), lambda i: i.invoice_date)
    items = _filtered(q, items, {**_INVOICE_FILTERS, "pendingpayment": lambda i: False,
                                 "authorizepending": lambda i: False})
    if q.get("suppliernumber"):
        items = [i for i in items if i.supplier_number == q["suppliernumber"]]
    items = sort_items(q, items, {"givennumber": lambda i: i.given_number,
                                  "invoicedate": lambda i: i.invoice_date})
    return ok(page(q, items, "SupplierInvoices", lambda i: shapes.supplier_invoice(base, i)))


@routes.get("/3/supplierinvoices/{number}")
@endpoint("supplierinvoice", SUPPLIERINVOICE)
async def supplier_invoice(request: web.Request) -> web.Response:
    c = company(request)
    inv = c.supplier_invoices.get(_int(request.match_info["number"], "leverantörsfakturan"))
    if inv is None:
        raise not_found("leverantörsfakturan")
    return ok({"SupplierInvoice": shapes.supplier_invoice(base_url(request), inv, single=True)})


@routes.get("/3/invoices")
@endpoint("invoice", INVOICE, _INVOICE_PARAMS)
async def invoices(request: web.Request) -> web.Response:
    c, base, q = company(request), base_url(request), request.query
    items = _dated(q, list(c.invoices.values()), lambda i: i.invoice_date)
    items = _filtered(q, items, _INVOICE_FILTERS)
    if q.get("customernumber"):
        items = [i for i in items if i.customer_number == q["customernumber"]]
    items = sort_items(q, items, {
        "documentnumber": lambda i: i.document_number, "invoicedate": lambda i: i.invoice_date,
        "customernumber": lambda i: i.customer_number, "customername": lambda i: i.customer_name,
        "total": lambda i: i.total, "ocr": lambda i: i.ocr,
    })
    return ok(page(q, items, "Invoices", lambda i: shapes.invoice(base, i)))


def _invoice(request: web.Request) -> Any:
    inv = company(request).invoices.get(_int(request.match_info["number"], "fakturan"))
    if inv is None:
        raise not_found("fakturan")
    return inv


@routes.get("/3/invoices/{number}")
@endpoint("invoice", INVOICE)
async def invoice(request: web.Request) -> web.Response:
    return ok({"Invoice": shapes.invoice(base_url(request), _invoice(request), single=True)})


def _invoice_pdf(request: web.Request) -> web.Response:
    inv, c = _invoice(request), company(request)
    text = f"Faktura {inv.document_number} {c.name} till {inv.customer_name}: {inv.total} SEK"
    return web.Response(body=make_pdf(text), content_type="application/pdf")


@routes.get("/3/invoices/{number}/preview")
@endpoint("invoice", INVOICE)
async def invoice_preview(request: web.Request) -> web.Response:
    """The invoice PDF without side effects (use this, not /print) [§4.10]."""
    return _invoice_pdf(request)


@routes.get("/3/invoices/{number}/print")
@endpoint("invoice", INVOICE)
async def invoice_print(request: web.Request) -> web.Response:
    """Like preview, but marks the invoice Sent — a write hidden in a GET, as in Fortnox."""
    inv = _invoice(request)
    response = _invoice_pdf(request)
    if not inv.sent:
        inv.sent = True
        inv.modified_at = now_utc()
    return response


# --- archive and file attachments -----------------------------------------------------------


def _file_response(c: Company, file_id: str) -> web.Response:
    f = c.files.get(file_id)
    if f is None:
        raise not_found("filen")
    return web.Response(
        body=f.content,
        content_type=f.content_type,
        headers={"Content-Disposition": f'inline; filename="{f.id}"'},
    )


@routes.get("/3/archive")
@endpoint("archive")
async def archive_root(request: web.Request) -> web.Response:
    """Root folder, `?path=` a folder by path, `?fileid=` a file's bytes [S-ARCHIVE, S-FILEATT]."""
    c, q = company(request), request.query
    if q.get("fileid"):
        return _file_response(c, q["fileid"])
    folder = c.folders[c.root_folder_id]
    if q.get("path"):
        folder = next((f for f in c.folders.values() if f.path == q["path"]), None)  # type: ignore[assignment]
        if folder is None:
            raise not_found("mappen")
    return ok({"Folder": shapes.folder(base_url(request), c, folder)})


@routes.get("/3/archive/{id}")
@endpoint("archive")
async def archive_item(request: web.Request) -> web.Response:
    """A folder id gives Folder JSON; a file id gives the file's bytes."""
    c, item = company(request), request.match_info["id"]
    if item in c.folders:
        return ok({"Folder": shapes.folder(base_url(request), c, c.folders[item])})
    return _file_response(c, item)


def _api_error(status: int, message: str) -> web.Response:
    """/api/* errors are shaped {error, id, message} [NEWSPEC]."""
    return web.Response(
        status=status,
        body=dumpb({"error": "invalid_request", "id": "sandbox", "message": message}),
        content_type="application/json",
    )


def _entity_ids(raw: list[str]) -> list[int] | None:
    try:
        return [int(x) for part in raw for x in part.split(",") if x]
    except ValueError:
        return None


@routes.get("/api/fileattachments/attachments-v1")
# [UNCERTAIN] the scope of /api/fileattachments is not in the captured scope table; entity
# type F is customer invoices, so we require scope and licence `invoice`.
@endpoint("invoice", INVOICE)
async def file_attachments(request: web.Request) -> web.Response:
    c, q = company(request), request.query
    if q.get("entitytype") not in ("F", "O", "OF", "C", "LGR_IO", "LGR_IG"):
        return _api_error(400, "entitytype is required (F, O, OF, ...)")
    ids = _entity_ids(q.getall("entityid", []))
    if ids is None:
        return _api_error(400, "entityid must be integers")
    found = [
        shapes.invoice_attachment(a)
        for a in c.invoice_attachments
        if a.entity_type == q["entitytype"] and (not ids or a.entity_id in ids)
    ]
    return ok(found)


@routes.get("/api/fileattachments/attachments-v1/numberofattachments")
@endpoint("invoice", INVOICE)
async def number_of_attachments(request: web.Request) -> web.Response:
    c, q = company(request), request.query
    ids = _entity_ids(q.getall("entityids", []))
    if ids is None or not q.get("entitytype"):
        return _api_error(400, "entitytype and entityids are required")
    counts: dict[int, int] = {}
    for a in c.invoice_attachments:
        if a.entity_type == q["entitytype"] and a.entity_id in ids:
            counts[a.entity_id] = counts.get(a.entity_id, 0) + 1
    # entities without attachments are omitted [S-FILEATT]
    return ok([{"entityId": i, "numberOfAttachments": counts[i]} for i in ids if i in counts])
