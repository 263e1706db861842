"""Incremental ledger runs against the sandbox: every change arrives once, nothing else does."""

from __future__ import annotations

import dataclasses
import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from fortnox_sandbox.books import Company, FinancialYear
from fortnox_sandbox.mutations import add_voucher
from fortnox_sandbox.timeutil import now_utc
from tap_fortnox.keyset import as_records, to_ranges

from .conftest import TIME_SCALE, Sync, admin, service_config, sync
from .test_ledger_streams import book_rows

CONSTANT = {"/3/companyinformation", "/3/financialyears", "/oauth-v1/token"}


def voucher_keys(run: Sync) -> list[tuple[int, str, int]]:
    return [(v["financial_year_id"], v["series"], v["number"]) for v in run.records("vouchers")]


def assert_snapshots_match_books(run: Sync, company: Company, all_sent: bool) -> None:
    snapshots = {s["financial_year_id"]: s for s in run.records("voucher_snapshots")}
    assert sorted(snapshots) == [y.id for y in company.years]
    for year in company.years:
        keys = [(v.series, v.number) for v in company.year_vouchers(year.id)]
        assert snapshots[year.id]["series"] == as_records(to_ranges(keys))
        assert snapshots[year.id]["voucher_count"] == len(keys)
        assert snapshots[year.id]["all_vouchers_sent"] is all_sent


def assert_sends_exactly(run: Sync, company: Company, keys: list[tuple[int, str, int]]) -> None:
    assert run.exit_code == 0
    assert sorted(voucher_keys(run)) == sorted(keys)
    for year_id, series, number in keys:
        v = company.voucher(year_id, series, number)
        assert v is not None
        got = [r for r in run.records("voucher_rows", year_id)
               if (r["series"], r["number"]) == (series, number)]
        assert got == book_rows(company, v)  # all its rows, struck ones flagged, same row_index
    assert len(run.records("voucher_rows")) == sum(
        len(company.voucher(*k).rows) for k in keys)  # type: ignore[union-attr]


def open_next_year(company: Company) -> FinancialYear:
    """A new financial year as Fortnox opens it (the admin API has no endpoint for this)."""
    last = company.years[-1]
    year = FinancialYear(id=last.id + 1, from_date=last.to_date + timedelta(days=1),
                         to_date=last.to_date.replace(year=last.to_date.year + 1))
    company.years.append(year)
    company.accounts[year.id] = {n: dataclasses.replace(a, modified_at=now_utc())
                                 for n, a in company.accounts[last.id].items()}
    company.series[year.id] = {c: dataclasses.replace(s, year_id=year.id)
                               for c, s in company.series[last.id].items()}
    for _ in range(3):
        add_voucher(company, now=now_utc(), year_id=year.id, transaction_date=year.from_date)
    return year


@pytest.mark.parametrize("mode", ["sie", "rest"])
def test_each_change_reaches_the_next_run_and_nothing_else(sandbox, mode: str) -> None:
    tenant = sandbox.tenant_ids[0]
    company = sandbox.books.companies[tenant]
    config = service_config(sandbox, tenant, ledger_extraction=mode)
    first = sync(config)
    assert len(first.records("vouchers")) == len(company.all_vouchers())
    assert_snapshots_match_books(first, company, all_sent=True)
    state = first.state

    # a new voucher
    new = admin(sandbox, "POST", f"/tenants/{tenant}/vouchers",
                {"series": "A", "financial_year_id": 2})["Voucher"]
    run = sync(config, state)
    assert_sends_exactly(run, company, [(2, "A", new["VoucherNumber"])])
    assert_snapshots_match_books(run, company, all_sent=False)
    assert not run.records("voucher_series", 1)  # year 1 did not change: no series read

    # rows struck and replaced on an old voucher of the other year
    old = company.year_vouchers(1)[3]
    row = next(i for i, r in enumerate(old.rows) if not r.removed)
    struck = old.rows[row]
    admin(sandbox, "POST", f"/tenants/{tenant}/vouchers/1/{old.series}/{old.number}/strike",
          {"rows": [row], "replacements": [
              {"account": 6110, "debit": str(struck.debit), "credit": str(struck.credit)}]})
    run = sync(config, run.state)
    assert_sends_exactly(run, company, [(1, old.series, old.number)])
    rows = run.records("voucher_rows")
    assert rows[row]["removed"] is True and rows[-1]["account"] == "6110"  # appended

    # the last voucher of a series deleted: no voucher record, the snapshot drops its key
    gone = admin(sandbox, "DELETE", f"/tenants/{tenant}/vouchers/2/B/last")["deleted"]
    run = sync(config, run.state)
    assert_sends_exactly(run, company, [])
    assert_snapshots_match_books(run, company, all_sent=False)
    [snapshot] = run.records("voucher_snapshots", 2)
    b = next(s for s in snapshot["series"] if s["code"] == "B")
    assert b["ranges"][-1][1] == gone["number"] - 1

    # a new financial year: read in full, the others not at all
    year = open_next_year(company)
    run = sync(config, run.state)
    assert_sends_exactly(run, company, [(year.id, v.series, v.number)
                                        for v in company.year_vouchers(year.id)])
    assert [s["all_vouchers_sent"] for s in run.records("voucher_snapshots")] == [False, False, True]

    # nothing changed: nothing but the snapshots. (Within the same minute the changes
    # above are still inside the `lastmodified` overlap, so they are read again and
    # dropped by fingerprint; the request cost of a quiet run is the next test's.)
    run = sync(config, run.state)
    assert_sends_exactly(run, company, [])
    assert len(run.records("voucher_snapshots")) == 3

    # a full refresh (no STATE, as `meltano run --full-refresh`) re-reads everything
    full = sync(config)
    assert sorted(voucher_keys(full)) == sorted(
        (v.year_id, v.series, v.number) for v in company.all_vouchers())
    assert_snapshots_match_books(full, company, all_sent=True)


def _quiet(sandbox: Any) -> None:
    """Let the sandbox's rate window empty, as between scheduled runs: the counters count
    429-rejected requests too, and the previous run's burst would cause some."""
    time.sleep(5.0 / TIME_SCALE + 0.1)
    sandbox.reset_counters()


def _requests(sandbox: Any, tenant: int) -> dict[str, int]:
    counts = sandbox.counters(tenant)
    sandbox.reset_counters()
    return counts


@pytest.mark.parametrize("mode", ["sie", "rest"])
def test_a_run_without_changes_costs_three_requests_per_year(sandbox, mode: str) -> None:
    tenant = sandbox.tenant_ids[0]
    company = sandbox.books.companies[tenant]
    # the ledger's own cost: documents (attachments) are measured in test_attachments.py
    config = service_config(sandbox, tenant, ledger_extraction=mode, attachment_modules=[])
    state = sync(config).state
    _quiet(sandbox)
    run = sync(config, state)
    requests = _requests(sandbox, tenant)
    years = len(company.years)
    assert requests["/3/vouchers"] == 2 * years  # changes since the cut-off, and the count
    assert requests["/3/accounts"] == years  # accounts changed since the cut-off
    assert set(requests) - CONSTANT == {"/3/vouchers", "/3/accounts"}
    assert sum(requests.values()) <= 3 * years + 3
    assert not run.records("vouchers") and not run.records("accounts")
    assert_snapshots_match_books(run, company, all_sent=False)

    # one new voucher costs a few requests more, never a pass over the year
    admin(sandbox, "POST", f"/tenants/{tenant}/vouchers", {"financial_year_id": 2})
    _quiet(sandbox)
    run = sync(config, run.state)
    more = _requests(sandbox, tenant)
    assert len(run.records("vouchers")) == 1
    assert sum(more.values()) - sum(requests.values()) <= 5
    assert more.get("/3/vouchers/{series}/{number}", 0) == (1 if mode == "rest" else 0)
    assert more.get("/3/sie/{type}", 0) == (1 if mode == "sie" else 0)


def test_a_voucher_seen_again_in_the_overlap_is_not_sent_twice(sandbox) -> None:
    """Runs within the same minute see the same `lastmodified` window; a voucher the last
    run already sent is compared by fingerprint, and sent again only if it changed."""
    tenant = sandbox.tenant_ids[0]
    company = sandbox.books.companies[tenant]
    config = service_config(sandbox, tenant)
    state = sync(config).state
    new = admin(sandbox, "POST", f"/tenants/{tenant}/vouchers", {"financial_year_id": 2})["Voucher"]
    run = sync(config, state)
    assert len(run.records("vouchers")) == 1
    again = sync(config, run.state)
    assert not again.records("vouchers")
    # changed again within the same minute: sent again, with its new rows
    admin(sandbox, "POST", f"/tenants/{tenant}/vouchers/2/A/{new['VoucherNumber']}/strike",
          {"rows": [0], "replacements": [{"account": 6110, "debit": "100.00"}]})
    third = sync(config, again.state)
    assert_sends_exactly(third, company, [(2, "A", new["VoucherNumber"])])


@pytest.mark.parametrize("mode", ["sie", "rest"])
def test_a_run_that_dies_mid_year_resumes_without_redoing_finished_years(sandbox, mode: str) -> None:
    tenant = sandbox.tenant_ids[0]
    company = sandbox.books.companies[tenant]
    config = service_config(sandbox, tenant, ledger_extraction=mode)
    # A failure Fortnox will not fix by retrying, in year 2: its SIE export (sie mode), or
    # the detail of its 10th voucher (rest mode: year 1 takes the first 40 detail requests).
    if mode == "sie":
        sandbox.set_faults({"kind": "status", "status": 400, "path": r"^/3/sie/", "every": 2})
    else:
        sandbox.set_faults({"kind": "status", "status": 400, "path": r"^/3/vouchers/\w+/\d+$",
                            "every": 50})
    crashed = sync(config)
    assert crashed.exit_code == 1
    assert crashed.records("vouchers", 1) and not crashed.records("voucher_snapshots", 2)
    assert [s["financial_year_id"] for s in crashed.records("voucher_snapshots")] == [1]
    if mode == "rest":
        assert crashed.records("vouchers", 2)  # it died in the middle of year 2
    parts = crashed.state["bookmarks"]["voucher_snapshots"]["partitions"]
    assert [p["context"]["financial_year_id"] for p in parts if "ledger" in p] == [1]

    sandbox.set_faults(None)
    sandbox.reset_counters()
    resumed = sync(config, crashed.state)
    assert resumed.exit_code == 0
    assert not resumed.records("vouchers", 1)  # year 1 is not redone
    assert sorted(voucher_keys(resumed)) == [(2, v.series, v.number) for v in company.year_vouchers(2)]
    assert [s["all_vouchers_sent"] for s in resumed.records("voucher_snapshots")] == [False, True]
    requests = sandbox.counters(tenant)
    if mode == "rest":
        assert requests["/3/vouchers/{series}/{number}"] < len(company.year_vouchers(1)) + len(
            company.year_vouchers(2))
    else:
        assert requests["/3/sie/{type}"] == 1


def test_amounts_stay_exact_across_runs(sandbox) -> None:
    tenant = sandbox.tenant_ids[0]
    config = service_config(sandbox, tenant)
    state = sync(config).state
    admin(sandbox, "POST", f"/tenants/{tenant}/vouchers", {"financial_year_id": 2, "rows": [
        {"account": 6110, "debit": "0.10"}, {"account": 6110, "debit": "0.20"},
        {"account": 1930, "credit": "0.30"}]})
    run = sync(config, state)
    rows = run.records("voucher_rows")
    assert [r["amount"] for r in rows] == [Decimal("0.10"), Decimal("0.20"), Decimal("-0.30")]
    assert sum(r["amount"] for r in rows) == 0


def test_a_count_the_bookmark_cannot_explain_reads_the_year_again(sandbox) -> None:
    """If Fortnox counts vouchers that neither the bookmark nor `lastmodified` explain (a
    change Fortnox did not stamp), the tap does not guess: it reads the year in full."""
    tenant = sandbox.tenant_ids[0]
    company = sandbox.books.companies[tenant]
    config = service_config(sandbox, tenant)
    first = sync(config)
    state = first.state
    for part in state["bookmarks"]["voucher_snapshots"]["partitions"]:
        if part["context"]["financial_year_id"] == 2:
            part["ledger"]["series"]["A"][-1][1] -= 1  # the bookmark "forgets" voucher A/last
            part["ledger"]["recent"] = {f"{v.series}:{v.number}": "0" for v in company.year_vouchers(2)}
    run = sync(config, state)
    assert sorted(voucher_keys(run)) == [(2, v.series, v.number) for v in company.year_vouchers(2)]
    assert [s["all_vouchers_sent"] for s in run.records("voucher_snapshots")] == [False, True]
