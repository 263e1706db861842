"""`senseworks verify`: each check finds what it should, and only that."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from ledgerstream import Stream, run_target
from siefiles import ORGNR, cli, sie_records, voucher, write_sie

from sie4 import records as r

BALANCED = [("1930", "10.00"), ("3001", "-10.00")]


def _two_years(tmp: Path, url: str) -> None:
    """2024 closes 1930 at 100; 2025 opens it at 90 and books a result that #RES gets wrong."""
    y1 = sie_records([voucher("A", "1", "2024-03-01", [("1930", "100.00"), ("2081", "-100.00")])],
                     start="2024-01-01", end="2024-12-31",
                     balances=[r.ClosingBalance(0, "1930", Decimal("100.00")),
                               r.ClosingBalance(0, "2081", Decimal("-100.00"))])
    y2 = sie_records([voucher("A", "1", "2025-03-01", BALANCED),
                      voucher("A", "2", "2025-03-02", [("1930", "5.00"), ("3001", "-4.00")])],
                     balances=[r.OpeningBalance(0, "1930", Decimal("90.00")),
                               r.OpeningBalance(0, "2081", Decimal("-100.00")),
                               r.ClosingBalance(0, "1930", Decimal("106.00")),
                               r.ClosingBalance(0, "2081", Decimal("-100.00")),
                               r.YearResult(0, "3001", Decimal("-10.00"))])
    assert cli(url, "load-sie", write_sie(tmp / "2024.se", y1)).code == 0
    assert cli(url, "load-sie", write_sie(tmp / "2025.se", y2), "--accept-findings").code == 0


def test_each_check(db_url: str, tmp_path: Path) -> None:
    _two_years(tmp_path, db_url)
    run = cli(db_url, "verify", "--json")
    assert run.code == 1  # the unbalanced voucher is an error
    found = [(f["year"], f["severity"], f["code"], f["subject"]) for f in run.json()["findings"]]
    assert found == [
        ("2025-01-01", "error", "voucher.unbalanced", "voucher A 2"),
        ("2025-01-01", "warning", "balance.closing_mismatch", "account 1930"),
        ("2025-01-01", "warning", "balance.result_mismatch", "account 3001"),
        ("2025-01-01", "warning", "balance.continuity", "account 1930"),
    ]
    messages = [f["message"] for f in run.json()["findings"]]
    assert "booked rows sum to 1.00" in messages[0]
    assert "closing balance 106.00 but opening + booked rows = 105.00" in messages[1]
    assert "result -10.00 but booked rows sum to -14.00" in messages[2]
    assert "opening balance 90.00 but the year starting 2024-01-01 closed at 100.00" in messages[3]
    assert run.json()["summary"] == {"error": 1, "warning": 3}
    # Narrowed to the sound year: nothing to report, exit 0; the text view says so.
    run = cli(db_url, "verify", "--year", "2024-01-01", "--company", "5566778899")
    assert run.code == 0
    assert run.out.splitlines()[-1] == "verify: 1 financial year(s), 0 error(s), 0 warning(s)"
    assert "2024-01-01..2024-12-31 [sie]: ok" in run.out


def test_unknown_scope_is_an_error(db_url: str, tmp_path: Path) -> None:
    _two_years(tmp_path, db_url)
    run = cli(db_url, "verify", "--company", "559999-9999")
    assert run.code == 1 and "no financial year for company 559999-9999" in run.err
    run = cli(db_url, "verify", "--year", "2023-01-01")
    assert run.code == 1 and "no financial year for a year starting 2023-01-01" in run.err
    assert cli(db_url, "verify", "--year", "2023").code == 2  # not a date: usage error


def test_fortnox_years_continuity_from_opening_plus_booked(db_url: str) -> None:
    """Fortnox sends no closing balances: last year's closing is its opening + booked rows."""
    s = Stream().company().year(1, "2024-01-01", "2024-12-31").year(2, "2025-01-01", "2025-12-31")
    s.account(1, "1930", "Bank", bbf="50.00").account(1, "2081", "Kapital", bbf="-50.00")
    s.account(1, "3001", "Försäljning", bbf=None)
    s.voucher(1, "A", 1, "2024-02-01", [("1930", "25.00"), ("3001", "-25.00")])
    s.snapshot(1, {"A": [(1, 1)]})
    s.account(2, "1930", "Bank", bbf="75.00").account(2, "2081", "Kapital", bbf="-75.00")
    s.voucher(2, "A", 1, "2025-02-01", BALANCED)
    s.snapshot(2, {"A": [(1, 1)]})
    run_target(db_url, s)
    run = cli(db_url, "verify", "--json")
    assert run.code == 0
    found = [(f["year"], f["code"], f["subject"], f["message"]) for f in run.json()["findings"]]
    # 1930 carried over right (50 + 25); 2081 should have taken the result (-25) and did not.
    assert found == [("2025-01-01", "balance.continuity", "account 2081",
                      "account 2081: opening balance -75.00 but the year starting 2024-01-01 "
                      "closed at -50.00 (opening + booked rows)")]


def test_documents_without_their_voucher(db_url: str) -> None:
    s = Stream().company().year(3, "2025-01-01", "2025-12-31")
    s.voucher(3, "A", 1, "2025-01-05", BALANCED).snapshot(3, {"A": [(1, 1)]})
    s.attachment("f-1", b"one", [(3, "A", 1)]).attachment("f-9", b"nine", [(3, "B", 9)])
    run_target(db_url, s)
    run = cli(db_url, "verify")
    assert run.code == 0
    assert "warning document.voucher_missing: f-9.pdf (file f-9) belongs to voucher B 9" in run.out
    assert "0 error(s), 1 warning(s)" in run.out.splitlines()[-1]
    assert ORGNR in run.out
