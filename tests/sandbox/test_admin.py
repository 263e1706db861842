"""Admin mutations change what the API serves, and `lastmodified` sees them."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import requests
from sandbox_helpers import Api

from fortnox_sandbox.testing import Sandbox
from fortnox_sandbox.timeutil import STOCKHOLM, now_utc


def _stockholm_minute_ago() -> str:
    return (now_utc() - timedelta(minutes=1)).astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M")


def _last_year(sb: Sandbox, tenant: int) -> int:
    return sb.books.companies[tenant].years[-1].id


def test_lastmodified_returns_only_what_changed(fresh: Sandbox) -> None:
    tenant = fresh.tenant_ids[0]
    api, year = Api(fresh, tenant), _last_year(fresh, tenant)
    since = _stockholm_minute_ago()
    assert api.json("/3/vouchers", financialyear=year, lastmodified=since)["Vouchers"] == []

    added = requests.post(f"{fresh.admin_url}/tenants/{tenant}/vouchers", timeout=5, json={
        "series": "LEV", "financial_year_id": year, "description": "Taxi",
        "rows": [{"account": 5800, "debit": "200.00", "cost_center": "100"},
                 {"account": 2641, "debit": "12.00"},
                 {"account": 1930, "credit": "212.00"}]})
    assert added.status_code == 201, added.text
    new = added.json()["Voucher"]

    old = fresh.books.companies[tenant].year_vouchers(year)[0]
    struck = requests.post(
        f"{fresh.admin_url}/tenants/{tenant}/vouchers/{year}/{old.series}/{old.number}/strike",
        timeout=5, json={"rows": [0], "replacements": [
            {"account": old.rows[0].account, "amount": str(old.rows[0].amount)}]})
    assert struck.status_code == 200, struck.text

    changed = api.json("/3/vouchers", financialyear=year, lastmodified=since)["Vouchers"]
    assert {(v["VoucherSeries"], v["VoucherNumber"]) for v in changed} == {
        ("LEV", new["VoucherNumber"]), (old.series, old.number)}
    # a Stockholm-local cut-off in the future excludes them again
    later = (now_utc() + timedelta(minutes=2)).astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M")
    assert api.json("/3/vouchers", financialyear=year, lastmodified=later)["Vouchers"] == []

    detail = api.json(f"/3/vouchers/{old.series}/{old.number}", financialyear=year)["Voucher"]
    assert detail["VoucherRows"][0]["Removed"] is True
    assert detail["VoucherRows"][-1]["Removed"] is False
    booked = [r for r in detail["VoucherRows"] if not r["Removed"]]
    assert sum(r["Debit"] - r["Credit"] for r in booked) == Decimal(0)


def test_unbalanced_mutations_are_refused(fresh: Sandbox) -> None:
    tenant = fresh.tenant_ids[0]
    bad = requests.post(f"{fresh.admin_url}/tenants/{tenant}/vouchers", timeout=5, json={
        "rows": [{"account": 6110, "debit": "10.00"}, {"account": 1930, "credit": "9.99"}]})
    assert bad.status_code == 400
    assert "balance" in bad.json()["error"]
    year = _last_year(fresh, tenant)
    strike = requests.post(f"{fresh.admin_url}/tenants/{tenant}/vouchers/{year}/A/1/strike",
                           json={"rows": [0]}, timeout=5)
    assert strike.status_code == 400


def test_delete_last_voucher_of_a_series_and_reuse_its_number(fresh: Sandbox) -> None:
    tenant = fresh.tenant_ids[0]
    api, year = Api(fresh, tenant), _last_year(fresh, tenant)
    company = fresh.books.companies[tenant]
    last = company.last_number(year, "B")
    gone = requests.delete(f"{fresh.admin_url}/tenants/{tenant}/vouchers/{year}/B/last",
                           timeout=5)
    assert gone.json()["deleted"] == {"financial_year_id": year, "series": "B", "number": last}
    assert api.get(f"/3/vouchers/B/{last}", financialyear=year).status_code == 404
    numbers = [v["VoucherNumber"] for v in
               api.json("/3/vouchers/sublist/B", financialyear=year, limit=500)["Vouchers"]]
    assert max(numbers) == last - 1
    again = requests.post(f"{fresh.admin_url}/tenants/{tenant}/vouchers", timeout=5,
                          json={"series": "B", "financial_year_id": year})
    assert again.json()["Voucher"]["VoucherNumber"] == last


def test_connect_file_shows_up_in_connections_and_archive(fresh: Sandbox) -> None:
    tenant = fresh.tenant_ids[0]
    api, year = Api(fresh, tenant), _last_year(fresh, tenant)
    made = requests.post(f"{fresh.admin_url}/tenants/{tenant}/files", timeout=5, json={
        "voucher": {"financial_year_id": year, "series": "A", "number": 1}, "kind": "png"})
    assert made.status_code == 201, made.text
    file_id = made.json()["File"]["Id"]
    conns = api.json("/3/voucherfileconnections", voucheryear=year, voucherseries="A",
                     vouchernumber=1)["VoucherFileConnections"]
    assert file_id in {c["FileId"] for c in conns}
    assert api.get(f"/3/archive/{file_id}").content.startswith(b"\x89PNG")


def test_reset_restores_the_generated_books(fresh: Sandbox) -> None:
    tenant = fresh.tenant_ids[0]
    year = _last_year(fresh, tenant)
    before = len(fresh.books.companies[tenant].year_vouchers(year))
    requests.post(f"{fresh.admin_url}/tenants/{tenant}/vouchers", json={}, timeout=5)
    assert len(fresh.books.companies[tenant].year_vouchers(year)) == before + 1
    assert requests.post(f"{fresh.admin_url}/reset", json={}, timeout=5).status_code == 200
    assert len(fresh.books.companies[tenant].year_vouchers(year)) == before
    assert fresh.counters() == {}


def test_consent_and_token_expiry_over_admin(fresh: Sandbox) -> None:
    tenant = fresh.tenant_ids[0]
    got = requests.post(f"{fresh.admin_url}/consent", json={"tenant_id": tenant}, timeout=5)
    token = got.json()["refresh_token"]
    refreshed = requests.post(fresh.auth_url + "/token", timeout=5,
                              auth=(fresh.client_id, fresh.client_secret),
                              data={"grant_type": "refresh_token", "refresh_token": token})
    access = refreshed.json()["access_token"]
    url = fresh.api_url + "/3/companyinformation"
    headers = {"Authorization": f"Bearer {access}"}
    assert requests.get(url, headers=headers, timeout=5).status_code == 200
    expired = requests.post(f"{fresh.admin_url}/tokens/expire", json={}, timeout=5)
    assert expired.json()["expired"] >= 1
    assert requests.get(url, headers=headers, timeout=5).status_code == 401
