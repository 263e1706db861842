"""Pagination over several pages, Fortnox error codes, and parameter handling."""

from __future__ import annotations

import requests
from sandbox_helpers import Api, error_code

from fortnox_sandbox.testing import Sandbox


def test_pages_cover_every_voucher_exactly_once(api: Api) -> None:
    company = api.sb.books.companies[api.tenant]
    expected = [(v.series, v.number) for v in company.year_vouchers(1)]
    seen: list[tuple[str, int]] = []
    page = 1
    while True:
        body = api.json("/3/vouchers", financialyear=1, limit=7, page=page)
        meta = body["MetaInformation"]
        assert meta["@CurrentPage"] == page
        assert meta["@TotalResources"] == len(expected)
        assert meta["@TotalPages"] == -(-len(expected) // 7) > 3
        seen += [(v["VoucherSeries"], v["VoucherNumber"]) for v in body["Vouchers"]]
        if meta["@CurrentPage"] >= meta["@TotalPages"]:
            break
        page += 1
    assert seen == expected  # default order: series, then number


def test_limit_max_500_and_bad_numbers(api: Api) -> None:
    assert api.get("/3/vouchers", limit=500).status_code == 200
    for params in ({"limit": 501}, {"limit": 0}, {"page": "x"}, {"financialyear": 99}):
        response = api.get("/3/vouchers", **params)
        assert (response.status_code, error_code(response)) == (400, 2000588), params


def test_sorting_and_offset(api: Api) -> None:
    down = api.json("/3/vouchers", financialyear=1, sortby="vouchernumber",
                    sortorder="descending", limit=500)["Vouchers"]
    numbers = [v["VoucherNumber"] for v in down]
    assert numbers == sorted(numbers, reverse=True)
    assert api.get("/3/vouchers", sortby="bogus").status_code == 400
    everything = api.json("/3/vouchers", financialyear=1, limit=500)["Vouchers"]
    skipped = api.json("/3/vouchers", financialyear=1, offset=5, limit=3)["Vouchers"]
    assert skipped == everything[5:8]


def test_unknown_route_and_unsupported_lastmodified(api: Api) -> None:
    response = api.get("/3/nosuchthing")
    assert response.status_code == 404
    assert error_code(response) == 2000762
    response = api.get("/3/financialyears", lastmodified="2024-01-01 00:00")
    assert response.status_code == 400
    assert error_code(response) == 2000588
    response = api.get("/3/vouchers", lastmodified="yesterday")
    assert error_code(response) == 2000588
    # upper-case parameter names are not Fortnox parameters: ignored
    assert api.get("/3/financialyears", LastModified="x").status_code == 200


def test_missing_scope_gives_2000663(sandbox: Sandbox) -> None:
    api = Api(sandbox, sandbox.tenant_ids[0], scopes=["companyinformation"])
    assert api.get("/3/companyinformation").status_code == 200
    for path in ("/3/vouchers", "/3/archive", "/3/invoices", "/3/supplierinvoices",
                 "/3/voucherfileconnections", "/3/sie/4"):
        response = api.get(path)
        assert (response.status_code, error_code(response)) == (403, 2000663), path


def test_missing_licence_gives_2001101(sandbox: Sandbox) -> None:
    cafe = next(t for t, c in sandbox.books.companies.items() if "invoice" not in c.licences)
    api = Api(sandbox, cafe)
    for path in ("/3/invoices", "/api/fileattachments/attachments-v1"):
        response = api.get(path, entitytype="F")
        assert (response.status_code, error_code(response)) == (403, 2001101), path
    assert api.get("/3/supplierinvoices").status_code == 200


def test_authentication_errors(sandbox: Sandbox) -> None:


    url = sandbox.api_url + "/3/companyinformation"
    assert requests.get(url, timeout=5).status_code == 401
    legacy = {"Access-Token": "x", "Client-Secret": "y"}
    assert requests.get(url, headers=legacy, timeout=5).status_code == 401
    bad = requests.get(url, headers={"Authorization": "Bearer nope"}, timeout=5)
    assert bad.status_code == 401
    assert error_code(bad) == 2000310


def test_not_found_resources(api: Api) -> None:
    assert api.get("/3/vouchers/A/99999", financialyear=1).status_code == 404
    response = api.get("/3/accounts/1111", financialyear=1)
    assert response.status_code == 404
    assert error_code(response) == 2001304
    assert api.get("/3/archive/not-a-file").status_code == 404


def test_counters_count_per_endpoint(sandbox: Sandbox) -> None:


    api = Api(sandbox, sandbox.tenant_ids[1])
    before = sandbox.counters(tenant_id=api.tenant)
    api.get("/3/vouchers/A/1", financialyear=1)
    api.get("/3/vouchers/A/2", financialyear=1)
    api.get("/3/vouchers", financialyear=1)
    after = sandbox.counters(tenant_id=api.tenant)
    key = "/3/vouchers/{series}/{number}"
    assert after[key] - before.get(key, 0) == 2
    assert after["/3/vouchers"] - before.get("/3/vouchers", 0) == 1
    over_http = requests.get(sandbox.admin_url + "/counters", timeout=5).json()
    assert over_http == sandbox.counters()
