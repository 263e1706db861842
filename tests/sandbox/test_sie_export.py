"""GET /3/sie/4 parses with sie4 and holds exactly the ledger the JSON API serves."""

from __future__ import annotations

from decimal import Decimal

import requests
from sandbox_helpers import Api

import sie4
from fortnox_sandbox.testing import Sandbox


def _json_ledger(api: Api, year: int) -> dict[tuple[str, int], dict]:
    out = {}
    page = 1
    while True:
        body = api.json("/3/vouchers", financialyear=year, limit=500, page=page)
        for item in body["Vouchers"]:
            detail = api.json(f"/3/vouchers/{item['VoucherSeries']}/{item['VoucherNumber']}",
                              financialyear=year)["Voucher"]
            out[(item["VoucherSeries"], item["VoucherNumber"])] = detail
        if page >= body["MetaInformation"]["@TotalPages"]:
            return out
        page += 1


def _row_key(account: object, amount: Decimal, cost_center: str, project: str,
             text: str) -> tuple[object, ...]:
    return (str(account), amount, cost_center, project, text)


def _check_year(api: Api, year: int) -> None:
    response = api.get("/3/sie/4", financialyear=year)
    assert response.status_code == 200
    doc, report = sie4.parse_and_validate(response.content)
    assert report.ok, [f.as_dict() for f in report.errors]
    assert report.encoding == "cp437"
    ledger = _json_ledger(api, year)
    sie_vouchers = {(v.series, int(v.number)): v for v in doc.vouchers}
    assert set(sie_vouchers) == set(ledger)
    for key, detail in ledger.items():
        v = sie_vouchers[key]
        assert v.date.isoformat() == detail["TransactionDate"]
        assert v.text == detail["Description"]
        json_booked = [
            _row_key(r["Account"], r["Debit"] - r["Credit"], r["CostCenter"], r["Project"],
                     r["TransactionInformation"])
            for r in detail["VoucherRows"] if not r["Removed"]
        ]
        json_removed = [
            _row_key(r["Account"], r["Debit"] - r["Credit"], r["CostCenter"], r["Project"],
                     r["TransactionInformation"])
            for r in detail["VoucherRows"] if r["Removed"]
        ]

        def keys(rows: list[sie4.VoucherRow]) -> list[tuple[object, ...]]:
            return [_row_key(r.account, r.amount, dict(r.objects).get("1", ""),
                             dict(r.objects).get("6", ""), r.text) for r in rows]

        assert keys(v.booked_rows) == json_booked, key
        assert keys(v.removed_rows) == json_removed, key
        assert sum(r.amount for r in v.booked_rows) == 0


def test_sie_matches_json_ledger_for_every_year_and_company(sandbox: Sandbox) -> None:
    for tenant in sandbox.tenant_ids:
        api = Api(sandbox, tenant)
        for year in sandbox.books.companies[tenant].years:
            _check_year(api, year.id)


def test_sie_correction_rows_and_balances(sandbox: Sandbox) -> None:
    tenant = sandbox.tenant_ids[0]
    api = Api(sandbox, tenant)
    company = sandbox.books.companies[tenant]
    doc = sie4.parse_bytes(api.get("/3/sie/4", financialyear=2).content)
    corrected = [v for v in doc.vouchers if v.removed_rows]
    assert corrected
    assert all(v.added_rows for v in corrected)
    for v in corrected:  # every #RTRANS is followed by its identical #TRANS twin
        for i, row in enumerate(v.rows):
            if row.kind is sie4.RowKind.ADDED:
                twin = v.rows[i + 1]
                assert twin.kind is sie4.RowKind.BOOKED
                assert (twin.account, twin.amount) == (row.account, row.amount)
    closing = company.closing_balances(2)
    ub = {r.account: r.amount for r in doc.all(sie4.ClosingBalance) if r.year == 0}
    res = {r.account: r.amount for r in doc.all(sie4.YearResult) if r.year == 0}
    for number, amount in closing.items():
        expected = ub if number < 3000 else res
        assert expected.get(str(number), Decimal(0)) == amount, number
    ib = {r.account: r.amount for r in doc.all(sie4.OpeningBalance) if r.year == 0}
    accounts = api.json("/3/accounts", financialyear=2, limit=500)["Accounts"]
    for account in accounts:
        assert ib.get(str(account["Number"]), Decimal(0)) == account["BalanceBroughtForward"]


def test_sie_after_a_mutation_matches_json(fresh: Sandbox) -> None:
    tenant = fresh.tenant_ids[1]
    year = fresh.books.companies[tenant].years[-1].id
    requests.post(f"{fresh.admin_url}/tenants/{tenant}/vouchers/{year}/A/2/strike", timeout=5,
                  json={"rows": [0], "replacements": [
                      {"account": 6540, "amount": str(fresh.books.companies[tenant]
                                                      .voucher(year, "A", 2).rows[0].amount)}]})
    requests.delete(f"{fresh.admin_url}/tenants/{tenant}/vouchers/{year}/C/last", timeout=5)
    _check_year(Api(fresh, tenant), year)


def test_only_sie_type_4(api: Api) -> None:
    response = api.get("/3/sie/1", financialyear=1)
    assert response.status_code == 400


def test_sie_date_range_limits_vouchers(api: Api) -> None:
    everything = sie4.parse_bytes(api.get("/3/sie/4", financialyear=1).content).vouchers
    march = sie4.parse_bytes(api.get("/3/sie/4", financialyear=1, fromdate="2024-03-01",
                                     todate="2024-03-31").content).vouchers
    assert march
    assert len(march) < len(everything)
    assert all(v.date.month == 3 for v in march)
    assert march == [v for v in everything if v.date.month == 3]
