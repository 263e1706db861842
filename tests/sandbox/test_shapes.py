"""Every endpoint answers with the field names and types of the reference (§4)."""

from __future__ import annotations

from decimal import Decimal

from sandbox_helpers import Api

from fortnox_sandbox.testing import Sandbox

META = {"@TotalResources", "@TotalPages", "@CurrentPage"}
VOUCHER_ITEM = {"@url", "Comments", "Description", "ReferenceNumber", "ReferenceType",
                "TransactionDate", "VoucherNumber", "VoucherSeries", "Year", "ApprovalState"}
VOUCHER_ROW = {"Account", "CostCenter", "Credit", "Debit", "Description", "Project", "Quantity",
               "Removed", "TransactionInformation"}
ACCOUNT_ITEM = {"@url", "Active", "BalanceBroughtForward", "CostCenter", "CostCenterSettings",
                "Description", "Number", "Project", "ProjectSettings", "SRU", "Year", "VATCode"}
ACCOUNT_SINGLE_EXTRA = {"BalanceCarriedForward", "TransactionInformation",
                        "TransactionInformationSettings", "QuantitySettings", "QuantityUnit",
                        "OpeningQuantities"}
SUPPLIER_INVOICE_ITEM = {
    "@url", "Balance", "Booked", "Cancel", "CostCenter", "Credit", "Currency", "CurrencyRate",
    "CurrencyUnit", "DueDate", "ExternalInvoiceNumber", "ExternalInvoiceSeries", "GivenNumber",
    "InvoiceDate", "InvoiceNumber", "Project", "SupplierNumber", "SupplierName", "Total",
    "AuthorizerName", "Vouchers", "FinalPayDate"}
SUPPLIER_INVOICE_ROW = {
    "Account", "ArticleNumber", "Code", "CostCenter", "AccountDescription", "ItemDescription",
    "Debit", "DebitCurrency", "Credit", "CreditCurrency", "Project", "TransactionInformation",
    "Price", "Quantity", "Total", "Unit"}
INVOICE_ITEM = {
    "@url", "Balance", "Booked", "Cancelled", "CostCenter", "Currency", "CurrencyRate",
    "CurrencyUnit", "CustomerName", "CustomerNumber", "DocumentNumber", "DueDate",
    "ExternalInvoiceReference1", "ExternalInvoiceReference2", "InvoiceDate", "InvoiceType",
    "NoxFinans", "OCR", "VoucherNumber", "VoucherSeries", "VoucherYear", "WayOfDelivery",
    "TermsOfPayment", "Project", "Sent", "Total", "FinalPayDate"}


def _list(api: Api, path: str, root: str, **params: object) -> list[dict]:
    body = api.json(path, **params)
    assert set(body) == {"MetaInformation", root}
    assert set(body["MetaInformation"]) == META
    assert body[root], f"{path} returned no items"
    return body[root]


def test_company_information(api: Api, sandbox: Sandbox) -> None:
    info = api.json("/3/companyinformation")["CompanyInformation"]
    assert set(info) == {"Address", "City", "CountryCode", "DatabaseNumber", "CompanyName",
                         "OrganizationNumber", "VisitAddress", "VisitCity", "VisitCountryCode",
                         "VisitZipCode", "ZipCode"}
    assert info["DatabaseNumber"] == api.tenant == sandbox.tenant_ids[0]


def test_financial_years_list_single_and_date(api: Api) -> None:
    years = _list(api, "/3/financialyears", "FinancialYears")
    assert set(years[0]) == {"@url", "Id", "FromDate", "ToDate", "AccountingMethod",
                             "accountCharts"}
    single = api.json(f"/3/financialyears/{years[0]['Id']}")["FinancialYear"]
    assert set(single) == set(years[0]) | {"AccountChartType"}
    hit = api.json("/3/financialyears", date=years[-1]["FromDate"])["FinancialYears"]
    assert [y["Id"] for y in hit] == [years[-1]["Id"]]
    assert api.json("/3/financialyears", date="1999-01-01")["FinancialYears"] == []


def test_vouchers_list_has_no_rows_and_detail_has_them(api: Api) -> None:
    items = _list(api, "/3/vouchers", "Vouchers", financialyear=1)
    assert all(set(v) == VOUCHER_ITEM for v in items)
    assert all(isinstance(v["VoucherNumber"], int) and v["Year"] == 1 for v in items)
    first = items[0]
    detail = api.json(f"/3/vouchers/{first['VoucherSeries']}/{first['VoucherNumber']}",
                      financialyear=1)["Voucher"]
    assert set(detail) == VOUCHER_ITEM | {"CostCenter", "Project", "VoucherRows"}
    for row in detail["VoucherRows"]:
        assert set(row) == VOUCHER_ROW
        assert isinstance(row["Debit"], Decimal)
        assert isinstance(row["Removed"], bool)


def test_voucher_sublists_filter_by_series(api: Api) -> None:
    lev = api.json("/3/vouchers/sublist/LEV", financialyear=1)["Vouchers"]
    assert lev
    assert {v["VoucherSeries"] for v in lev} == {"LEV"}
    same = api.json("/3/vouchers", financialyear=1, voucherseries="LEV")["Vouchers"]
    assert same == lev
    everything = api.json("/3/vouchers/sublist", financialyear=1, limit=500)
    assert everything["MetaInformation"]["@TotalResources"] == len(
        api.sb.books.companies[api.tenant].year_vouchers(1))


def test_accounts_list_and_single(api: Api) -> None:
    items = _list(api, "/3/accounts", "Accounts", financialyear=1, limit=500)
    assert all(set(a) == ACCOUNT_ITEM for a in items)
    assert [a["Number"] for a in items] == sorted(a["Number"] for a in items)
    single = api.json("/3/accounts/1930", financialyear=1)["Account"]
    assert set(single) == ACCOUNT_ITEM | ACCOUNT_SINGLE_EXTRA
    company = api.sb.books.companies[api.tenant]
    assert single["BalanceCarriedForward"] == company.closing_balances(1)[1930]


def test_voucher_series(api: Api) -> None:
    items = _list(api, "/3/voucherseries", "VoucherSeriesCollection", financialyear=1)
    assert {s["Code"] for s in items} == {"A", "B", "C", "D", "E", "LEV"}
    assert all(set(s) == {"@url", "Code", "Description", "Manual", "Year", "Approver"}
               for s in items)
    single = api.json("/3/voucherseries/LEV", financialyear=1)["VoucherSeries"]
    company = api.sb.books.companies[api.tenant]
    assert single["NextVoucherNumber"] == company.last_number(1, "LEV") + 1


def test_file_connections_and_archive_bytes(api: Api) -> None:
    conns = _list(api, "/3/voucherfileconnections", "VoucherFileConnections")
    assert all(set(c) == {"@url", "FileId", "Name", "VoucherDescription", "VoucherNumber",
                          "VoucherSeries", "VoucherYear"} for c in conns)
    one = api.json(f"/3/voucherfileconnections/{conns[0]['FileId']}")["VoucherFileConnection"]
    assert one == conns[0]
    company = api.sb.books.companies[api.tenant]
    raw = api.get(f"/3/archive/{conns[0]['FileId']}")
    assert raw.status_code == 200
    assert raw.content == company.files[conns[0]["FileId"]].content
    assert raw.content[:4] in (b"%PDF", b"\x89PNG")
    assert api.get("/3/archive", fileid=conns[0]["FileId"]).content == raw.content

    sconns = _list(api, "/3/supplierinvoicefileconnections", "SupplierInvoiceFileConnections")
    assert all(set(c) == {"@url", "FileId", "Name", "SupplierInvoiceNumber", "SupplierName"}
               for c in sconns)


def test_archive_folders(api: Api) -> None:
    root = api.json("/3/archive")["Folder"]
    assert set(root) == {"@url", "Email", "Files", "Folders", "Id", "Name"}
    sub = root["Folders"][0]
    assert set(sub) == {"@url", "Id", "Name"}
    folder = api.json(f"/3/archive/{sub['Id']}")["Folder"]
    assert folder["Files"]
    assert set(folder["Files"][0]) == {"@url", "Comments", "Id", "Name", "Path", "Size",
                                       "ArchiveFileId"}
    by_path = api.json("/3/archive", path=folder["Files"][0]["Path"])["Folder"]
    assert by_path["Id"] == sub["Id"]


def test_supplier_invoices_have_string_amounts(api: Api) -> None:
    items = _list(api, "/3/supplierinvoices", "SupplierInvoices")
    assert all(set(s) == SUPPLIER_INVOICE_ITEM for s in items)
    assert isinstance(items[0]["Total"], str)
    assert Decimal(items[0]["Total"]) > 0
    assert set(items[0]["Vouchers"][0]) == {"Number", "Year", "Series", "ReferenceType"}
    detail = api.json(f"/3/supplierinvoices/{items[0]['GivenNumber']}")["SupplierInvoice"]
    assert {r["Code"] for r in detail["SupplierInvoiceRows"]} >= {"TOT", "VAT"}
    assert all(set(r) == SUPPLIER_INVOICE_ROW for r in detail["SupplierInvoiceRows"])


def test_invoices_preview_and_attachments(api: Api) -> None:
    items = _list(api, "/3/invoices", "Invoices")
    assert all(set(i) == INVOICE_ITEM for i in items)
    assert isinstance(items[0]["Total"], Decimal)
    detail = api.json(f"/3/invoices/{items[0]['DocumentNumber']}")["Invoice"]
    assert detail["Credit"] == "false"
    pdf = api.get(f"/3/invoices/{items[0]['DocumentNumber']}/preview")
    assert pdf.headers["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    attachments = api.json("/api/fileattachments/attachments-v1", entitytype="F")
    assert attachments
    assert set(attachments[0]) == {"id", "entityId", "entityType", "fileId", "includeOnSend"}
    entity = attachments[0]["entityId"]
    counted = api.json("/api/fileattachments/attachments-v1/numberofattachments",
                       entitytype="F", entityids=f"{entity},99999")
    assert counted == [{"entityId": entity, "numberOfAttachments": sum(
        1 for a in attachments if a["entityId"] == entity)}]
    assert api.get("/3/archive", fileid=attachments[0]["fileId"]).status_code == 200


def test_amounts_are_exact_json_numbers(api: Api) -> None:
    raw = api.get("/3/vouchers/A/1", financialyear=1).text
    company = api.sb.books.companies[api.tenant]
    for row in company.voucher(1, "A", 1).rows:  # type: ignore[union-attr]
        assert f'"Debit":{row.debit},' in raw or f'"Credit":{row.credit},' in raw
