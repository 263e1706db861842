"""Ledger streams against the sandbox: the records equal the books, in both extraction modes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from fortnox_sandbox.books import Company, Voucher
from tap_fortnox.keyset import as_records, to_ranges

from .conftest import service_config, sync

ZERO = Decimal(0)


def _quantity(q: Decimal | None) -> Decimal | None:
    return q if q else None


def book_rows(company: Company, v: Voucher) -> list[dict[str, Any]]:
    """A voucher's rows as the contract says they must arrive, straight from the books."""
    names = {n: a.description for n, a in company.accounts[v.year_id].items()}
    return [{
        "tenant_id": company.tenant_id, "financial_year_id": v.year_id, "series": v.series,
        "number": v.number, "row_index": i, "account": str(r.account), "debit": r.debit,
        "credit": r.credit, "amount": r.debit - r.credit, "description": names[r.account],
        "transaction_information": r.transaction_information or None,
        "cost_center": r.cost_center or None, "project": r.project or None,
        "quantity": _quantity(r.quantity), "removed": r.removed,
    } for i, r in enumerate(v.rows)]


def book_voucher(v: Voucher, tenant: int, mode: str) -> dict[str, Any]:
    return {
        "tenant_id": tenant, "financial_year_id": v.year_id, "series": v.series,
        "number": v.number, "transaction_date": v.transaction_date.isoformat(),
        "description": v.description or None, "comments": v.comments or None,
        "reference_type": v.reference_type or None, "reference_number": v.reference_number or None,
        "approval_state": v.approval_state,
        "registration_date": v.registered.isoformat() if mode == "sie" else None,
    }


def assert_year_matches_books(run: Any, company: Company, year_id: int, mode: str) -> None:
    tenant = company.tenant_id
    vouchers = company.year_vouchers(year_id)
    got = {(r["series"], r["number"]): r for r in run.records("vouchers", year_id)}
    assert sorted(got) == [(v.series, v.number) for v in vouchers]
    rows = run.records("voucher_rows", year_id)
    by_voucher: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for r in rows:
        by_voucher.setdefault((r["series"], r["number"]), []).append(r)
    for v in vouchers:
        assert got[(v.series, v.number)] == book_voucher(v, tenant, mode)
        assert by_voucher[(v.series, v.number)] == book_rows(company, v)
    # counts and sums per year, booked and struck apart
    booked = [r for v in vouchers for r in v.rows if not r.removed]
    struck = [r for v in vouchers for r in v.rows if r.removed]
    assert len(rows) == len(booked) + len(struck)
    assert sum((r["debit"] for r in rows if not r["removed"]), ZERO) == sum((r.debit for r in booked), ZERO)
    assert sum((r["credit"] for r in rows if r["removed"]), ZERO) == sum((r.credit for r in struck), ZERO)
    assert sum((r["amount"] for r in rows if not r["removed"]), ZERO) == ZERO
    assert struck, "the sandbox books at least one correction per year"
    [snapshot] = run.records("voucher_snapshots", year_id)
    assert snapshot["series"] == as_records(to_ranges((v.series, v.number) for v in vouchers))
    assert snapshot["voucher_count"] == len(vouchers)
    assert snapshot["all_vouchers_sent"] is True
    accounts = {a["number"]: a for a in run.records("accounts", year_id)}
    assert {n: a["balance_brought_forward"] for n, a in accounts.items()} == {
        str(n): a.opening for n, a in company.accounts[year_id].items()}
    assert sorted(s["code"] for s in run.records("voucher_series", year_id)) == sorted(
        company.series[year_id])


@pytest.mark.parametrize("mode", ["sie", "rest"])
@pytest.mark.parametrize("company_index", [0, 1], ids=["calendar-year", "broken-year"])
def test_records_equal_the_books(sandbox, mode: str, company_index: int) -> None:
    tenant = sandbox.tenant_ids[company_index]
    company = sandbox.books.companies[tenant]
    run = sync(service_config(sandbox, tenant, ledger_extraction=mode))
    assert run.exit_code == 0
    for year in company.years:
        assert_year_matches_books(run, company, year.id, mode)
    requests = sandbox.counters(tenant)
    if mode == "sie":  # one export per year, no per-voucher requests
        assert requests["/3/sie/{type}"] == len(company.years)
        assert "/3/vouchers/{series}/{number}" not in requests
    else:
        assert "/3/sie/{type}" not in requests
        assert requests["/3/vouchers/{series}/{number}"] >= len(company.all_vouchers())


def _without(records: list[dict[str, Any]], *fields: str) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in fields} for r in records]


def test_both_modes_give_identical_records(sandbox) -> None:
    """Every stream, every field, in the same order; registration_date exists only in SIE."""
    sie = sync(service_config(sandbox, ledger_extraction="sie"))
    rest = sync(service_config(sandbox, ledger_extraction="rest"))
    for stream in ("company_information", "financial_years", "accounts", "voucher_series",
                   "voucher_rows"):
        assert sie.records(stream) == rest.records(stream), stream
    assert _without(sie.records("vouchers"), "registration_date") == _without(
        rest.records("vouchers"), "registration_date")
    assert all(v["registration_date"] for v in sie.records("vouchers"))
    assert not any(v["registration_date"] for v in rest.records("vouchers"))
    assert _without(sie.records("voucher_snapshots"), "extracted_at") == _without(
        rest.records("voucher_snapshots"), "extracted_at")


def test_streams_come_year_by_year_in_dependency_order(sandbox) -> None:
    run = sync(service_config(sandbox))
    kinds = [(m["type"], m.get("stream"), m.get("record", {}).get("financial_year_id"))
             for m in run.messages if m["type"] in ("RECORD", "STATE")]
    records = [k for k in kinds if k[0] == "RECORD"]
    assert [s for _, s, _ in records[:3]] == ["company_information", "financial_years",
                                               "financial_years"]
    ledger = [r for r in records[3:] if r[1] != "attachments"]
    assert records[3:len(ledger) + 3] == ledger  # the documents come after the whole ledger
    years = [y for _, _, y in ledger]
    assert years == sorted(years)  # year 1 entirely before year 2
    for year in set(years):
        streams = [s for _, s, y in ledger if y == year]
        order = ["accounts", "voucher_series", "voucher_rows", "voucher_snapshots"]
        firsts = [streams.index(s) for s in order]
        assert firsts == sorted(firsts)
        assert streams[-1] == "voucher_snapshots"
        assert streams.index("vouchers") > streams.index("voucher_rows")
    # each voucher's rows come immediately before it
    messages = [m for m in run.messages if m["type"] == "RECORD"]
    for i, m in enumerate(messages):
        if m["stream"] == "vouchers":
            key = (m["record"]["series"], m["record"]["number"])
            before = messages[i - 1]["record"]
            assert before.get("series"), before
            assert (before["series"], before["number"]) == key
    # a STATE with the year's bookmark follows each snapshot
    for i, m in enumerate(run.messages):
        if m["type"] == "RECORD" and m["stream"] == "voucher_snapshots":
            state = next(x for x in run.messages[i:] if x["type"] == "STATE")["value"]
            parts = state["bookmarks"]["voucher_snapshots"]["partitions"]
            assert any(p["context"]["financial_year_id"] == m["record"]["financial_year_id"]
                       and "ledger" in p for p in parts)


@pytest.mark.parametrize(("settings", "expected"), [
    ({}, [1, 2]),
    ({"last_n_years": 1}, [2]),
    ({"last_n_years": 5}, [1, 2]),
    ({"financial_year_ids": [1]}, [1]),
    ({"start_date": "2024-07-01"}, [2]),  # the broken year 1 ends 2024-06-30
    ({"start_date": "2024-06-30"}, [1, 2]),
    ({"last_n_years": 2, "start_date": "2024-07-01"}, [2]),
])
def test_years_selected_by_each_setting(sandbox, settings: dict[str, Any], expected: list[int]) -> None:
    tenant = sandbox.tenant_ids[1]  # July-June years: 2023-07-01..2024-06-30, 2024-07-01..2025-06-30
    run = sync(service_config(sandbox, tenant, **settings))
    assert run.exit_code == 0
    assert [s["financial_year_id"] for s in run.records("voucher_snapshots")] == expected
    assert sorted({v["financial_year_id"] for v in run.records("vouchers")}) == expected
    assert len(run.records("financial_years")) == 2  # the years stream always lists every year
    assert sandbox.counters(tenant)["/3/sie/{type}"] == len(expected)


def test_conflicting_year_settings_stop_the_run_with_a_message(sandbox, caplog) -> None:
    run = sync(service_config(sandbox, last_n_years=1, financial_year_ids=[1]))
    assert run.exit_code == 1
    assert "set financial_year_ids or last_n_years, not both" in caplog.text
    assert not run.records("vouchers")


@pytest.mark.parametrize("variant", ["truncated", "unbalanced"])
def test_a_broken_sie_export_is_asked_for_again(sandbox, variant: str) -> None:
    """One damaged export: the tap fetches it again; nothing wrong reaches the target."""
    sandbox.set_faults({"kind": "broken_sie", "first": 1, "variant": variant})
    tenant = sandbox.tenant_ids[0]
    company = sandbox.books.companies[tenant]
    run = sync(service_config(sandbox))
    assert run.exit_code == 0
    for year in company.years:
        assert_year_matches_books(run, company, year.id, "sie")
    assert sandbox.counters(tenant)["/3/sie/{type}"] == len(company.years) + 1
    keys = [(v["financial_year_id"], v["series"], v["number"]) for v in run.records("vouchers")]
    assert len(keys) == len(set(keys))  # vouchers sent before the damage are not sent twice


def test_an_sie_export_that_stays_broken_falls_back_to_rest(sandbox) -> None:
    sandbox.set_faults({"kind": "broken_sie", "every": 1, "variant": "unbalanced"})
    tenant = sandbox.tenant_ids[0]
    company = sandbox.books.companies[tenant]
    run = sync(service_config(sandbox))
    assert run.exit_code == 0
    for year in company.years:
        assert_year_matches_books(run, company, year.id, "rest")
    assert sandbox.counters(tenant)["/3/vouchers/{series}/{number}"] >= len(company.all_vouchers())
