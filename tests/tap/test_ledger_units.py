"""Units of the ledger extraction: cut-off text, key ranges, SIE rows, year choice, the plan."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

import pytest
import requests_mock

from tap_fortnox.auth import FortnoxAuthenticator
from tap_fortnox.connection import FortnoxConnection
from tap_fortnox.errors import FortnoxAPIError, FortnoxConfigError
from tap_fortnox.keyset import count, from_ranges, to_ranges
from tap_fortnox.ledger import CHANGED, FULL, UNCHANGED, YearExtraction, lastmodified_text
from tap_fortnox.ledger_records import money
from tap_fortnox.ratelimit import SlidingWindowLimiter
from tap_fortnox.sie_rows import SieBroken, sie_vouchers
from tap_fortnox.years import select_years

UTC = timezone.utc


# --- lastmodified cut-off ------------------------------------------------------------------


@pytest.mark.parametrize(("instant", "text"), [
    (datetime(2025, 6, 1, 10, 15, 42, tzinfo=UTC), "2025-06-01 12:15"),  # CEST, floored
    (datetime(2025, 1, 10, 10, 15, 59, tzinfo=UTC), "2025-01-10 11:15"),  # CET
    # 2025-10-26: 02:00-02:59 happens twice. First pass (CEST): a reader taking the
    # second pass would be an hour late, so step back before the repeated hour.
    (datetime(2025, 10, 26, 0, 30, tzinfo=UTC), "2025-10-26 01:59"),
    # second pass (CET): either reading of 02:30 is at or before the instant
    (datetime(2025, 10, 26, 1, 30, tzinfo=UTC), "2025-10-26 02:30"),
    (datetime(2025, 3, 30, 1, 0, 30, tzinfo=UTC), "2025-03-30 03:00"),  # spring: 02:xx never exists
])
def test_lastmodified_is_stockholm_wall_time_never_late(instant: datetime, text: str) -> None:
    assert lastmodified_text(instant) == text


# --- key ranges ------------------------------------------------------------------------------


def test_key_ranges_are_compact_and_exact() -> None:
    keys = {("A", n) for n in [*range(1, 121), *range(122, 301)]} | {("B", 1), ("LEV", 7)}
    ranges = to_ranges(keys)
    assert ranges == {"A": [[1, 120], [122, 300]], "B": [[1, 1]], "LEV": [[7, 7]]}
    assert from_ranges(ranges) == keys
    assert count(ranges) == len(keys)
    assert to_ranges([]) == {}


# --- SIE rows --------------------------------------------------------------------------------

SIE = """#FLAGGA 0
#SIETYP 4
#RAR 0 20250101 20251231
#KONTO 1930 "Företagskonto"
#KONTO 6110 "Kontorsmateriel"
#KONTO 6250 "Porto"
#VER A 1 20250105 "Rättad" 20250107
{
#TRANS 6110 {1 "100"} 100.00 "" "" 0
#BTRANS 6110 {1 "100"} 40.00 20250110 "fel konto"
#TRANS 1930 {} -140.00 "" "Bank"
#RTRANS 6250 {6 "P1"} 40.00 20250110 "" 2.50
#TRANS 6250 {6 "P1"} 40.00 20250110 "" 2.50
}
"""


def test_sie_rows_keep_voucher_row_order_and_flag_struck_rows() -> None:
    data = SIE.encode("cp437")
    chunks = [data[i:i + 7] for i in range(0, len(data), 7)]  # streamed in small pieces
    [v] = list(sie_vouchers(chunks, from_date=date(2025, 1, 1), to_date=date(2025, 12, 31)))
    assert (v.series, v.number, v.transaction_date, v.text, v.registration_date) == (
        "A", 1, "2025-01-05", "Rättad", "2025-01-07")
    assert [(r["row_index"], r["account"], r["amount"], r["removed"]) for r in v.rows] == [
        (0, "6110", Decimal("100.00"), False),
        (1, "6110", Decimal("40.00"), True),  # #BTRANS in place
        (2, "1930", Decimal("-140.00"), False),
        (3, "6250", Decimal("40.00"), False),  # #RTRANS skipped, its #TRANS twin kept
    ]
    first, struck, bank, added = v.rows
    assert (first["cost_center"], first["quantity"], first["description"]) == (
        "100", None, "Kontorsmateriel")
    assert (bank["debit"], bank["credit"], bank["transaction_information"]) == (
        Decimal("0.00"), Decimal("140.00"), "Bank")
    assert struck["transaction_information"] == "fel konto"
    assert (added["project"], added["quantity"], added["cost_center"]) == ("P1", Decimal("2.5"), None)


@pytest.mark.parametrize(("text", "message"), [
    (SIE[: SIE.index("#TRANS 1930")], "cannot be read"),
    (SIE.replace("-140.00", "-139.00"), "does not balance"),
    (SIE.replace("#RAR 0 20250101", "#RAR 0 20240101"), "not the financial year"),
])
def test_a_damaged_export_raises_before_bad_data_is_handed_on(text: str, message: str) -> None:
    with pytest.raises(SieBroken, match=message):
        list(sie_vouchers([text.encode("cp437")], from_date=date(2025, 1, 1),
                          to_date=date(2025, 12, 31)))


# --- which years -------------------------------------------------------------------------------

BROKEN_YEARS = [  # July-June, as the sandbox's second company keeps them
    {"Id": 1, "FromDate": "2023-07-01", "ToDate": "2024-06-30"},
    {"Id": 2, "FromDate": "2024-07-01", "ToDate": "2025-06-30"},
    {"Id": 3, "FromDate": "2025-07-01", "ToDate": "2026-06-30"},
]


@pytest.mark.parametrize(("config", "today", "ids"), [
    ({"last_n_years": 1}, date(2025, 3, 1), [2]),  # the year containing today, not 2025's
    ({"last_n_years": 2}, date(2025, 8, 1), [2, 3]),
    ({"last_n_years": 2}, date(2030, 1, 1), [2, 3]),  # no year contains today: the latest
    ({"last_n_years": 9}, date(2024, 1, 1), [1]),  # nothing after the current year
    ({"financial_year_ids": [3, 1]}, date(2025, 3, 1), [1, 3]),
    ({"start_date": "2024-06-30"}, date(2025, 3, 1), [1, 2, 3]),
    ({"start_date": "2024-07-01T00:00:00Z"}, date(2025, 3, 1), [2, 3]),
    ({}, date(2025, 3, 1), [1, 2, 3]),
])
def test_select_years(config: dict[str, Any], today: date, ids: list[int]) -> None:
    assert [y["Id"] for y in select_years(BROKEN_YEARS, config, today)] == ids


@pytest.mark.parametrize("config", [{"financial_year_ids": [9]}, {"last_n_years": 0},
                                    {"last_n_years": 1, "financial_year_ids": [1]}])
def test_select_years_refuses_what_cannot_work(config: dict[str, Any]) -> None:
    with pytest.raises(FortnoxConfigError):
        select_years(BROKEN_YEARS, config, date(2025, 3, 1))


# --- the plan, against requests-mock ---------------------------------------------------------

API = "https://fortnox.test"
DATE = "Wed, 26 Nov 2025 09:41:07 GMT"  # 10:41 in Stockholm (CET)


def _conn() -> FortnoxConnection:
    auth = FortnoxAuthenticator(auth_url="https://auth.test/oauth-v1", client_id="c",
                                client_secret="s", tenant_id="42")
    return FortnoxConnection(api_url=API, authenticator=auth, limiter=SlidingWindowLimiter(100, 1.0),
                             max_tries=2)


def _list(items: list[dict[str, Any]], total: int) -> dict[str, Any]:
    return {"MetaInformation": {"@TotalResources": total, "@TotalPages": 1, "@CurrentPage": 1},
            "Vouchers": items}


def _item(series: str, number: int) -> dict[str, Any]:
    return {"VoucherSeries": series, "VoucherNumber": number, "TransactionDate": "2025-11-20",
            "Description": "x", "Year": 3}


BOOKMARK = {"tenant_id": 42, "cutoff": "2025-11-25T08:00:30+00:00", "voucher_count": 3,
            "series": {"A": [[1, 2]], "B": [[1, 1]]}, "recent": {}, "mode": "sie"}
YEAR = {"Id": 3, "FromDate": "2025-01-01", "ToDate": "2025-12-31"}


def _plan(changed: list[dict[str, Any]], total: int) -> tuple[YearExtraction, requests_mock.Mocker]:
    with requests_mock.Mocker() as m:
        m.post("https://auth.test/oauth-v1/token", json={"access_token": "AT", "expires_in": 3600})

        def answer(request: Any, context: Any) -> dict[str, Any]:
            context.headers["Date"] = DATE
            if "lastmodified" in request.qs:
                return _list(changed, len(changed))
            return _list([_item("A", 1)], total)

        m.get(f"{API}/3/vouchers", json=answer)
        year = YearExtraction(_conn(), 42, YEAR, mode="sie", bookmark=BOOKMARK)
        year.plan()
    return year, m


def test_plan_asks_for_changes_since_the_previous_cutoff_in_stockholm_time() -> None:
    year, m = _plan([], 3)
    lastmodified, counting = [r for r in m.request_history if r.path == "/3/vouchers"]
    assert lastmodified.qs["lastmodified"] == ["2025-11-25 09:00"]  # 08:00:30 UTC, floored
    assert lastmodified.qs["financialyear"] == ["3"]
    assert counting.qs["limit"] == ["1"] and "lastmodified" not in counting.qs
    assert year.status == UNCHANGED
    assert year.keys == {("A", 1), ("A", 2), ("B", 1)}
    assert year.cutoff == datetime(2025, 11, 26, 9, 41, 7, tzinfo=UTC)  # Fortnox's clock


def test_plan_reads_deletions_from_the_count() -> None:
    year, _ = _plan([], 2)
    assert year.status == CHANGED and year.keys is None  # which one went: read the key set


def test_plan_with_a_new_voucher_and_a_matching_count_knows_the_key_set() -> None:
    year, _ = _plan([_item("B", 2)], 4)
    assert year.status == CHANGED
    assert year.keys == {("A", 1), ("A", 2), ("B", 1), ("B", 2)}
    assert list(year.changed) == [("B", 2)]


def test_plan_reads_the_year_again_when_fortnox_counts_more_than_it_can_explain() -> None:
    year, _ = _plan([], 5)
    assert year.status == FULL and not year.changed


def test_a_bookmark_of_another_company_is_ignored() -> None:
    year = YearExtraction(_conn(), 43, YEAR, mode="sie", bookmark=BOOKMARK)
    assert year.plan() == FULL


@pytest.mark.parametrize(("value", "expected"), [
    (Decimal("100.5"), Decimal("100.50")), ("100.50", Decimal("100.50")), (7, Decimal("7.00")),
    ("", Decimal("0.00")), (None, Decimal("0.00")), ("-0.01", Decimal("-0.01")),
])
def test_amounts_as_numbers_or_strings_are_exact(value, expected) -> None:
    assert money(value) == expected
    assert str(money(value)) == str(expected)


@pytest.mark.parametrize("value", ["abc", "1,50", "NaN", "Infinity", Decimal("100.005"), "1e-5"])
def test_amounts_that_are_not_exact_money_are_refused(value) -> None:
    with pytest.raises(FortnoxAPIError, match=r"refusing to round|not a number"):
        money(value, "a row's debit")
