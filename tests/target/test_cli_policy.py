"""SIE loads and Fortnox syncs over each other's years, under each source policy.

Loading an SIE file is an explicit act: it replaces the year whatever its source.
A Fortnox sync over an SIE year obeys the policy.  Documents from Fortnox link by
(year, series, number), so they find whichever vouchers the year holds.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from ledgerstream import T1, Stream, query, run_target
from siefiles import cli, simple_year
from sqlalchemy import select
from sqlalchemy.orm import Session

from target_senseworks.ledger.db import make_engine
from target_senseworks.ledger.models import DocumentLink

START = "2025-01-01"


def _fortnox(description: str = "Fortnox verifikation") -> Stream:
    s = Stream().company().year(3, START, "2025-12-31")
    s.account(3, "1930", "Bank", bbf="777.77").account(3, "3001", "Försäljning", bbf=None)
    for n in (1, 2, 3):
        s.voucher(3, "A", n, f"2025-01-0{n + 4}", [("1930", "12.50"), ("3001", "-12.50")],
                  description=f"{description} {n}")
    s.snapshot(3, {"A": [(1, 3)]})
    s.attachment("kvitto-1", b"receipt A1", [(3, "A", 1)])
    s.attachment("kvitto-3", b"receipt A3", [(3, "A", 3)])
    return s


def _links(url: str) -> dict[str, str | None]:
    """Each document's file name -> the description of the voucher its link finds."""
    engine = make_engine(url)
    with Session(engine) as s:
        out = {lk.document.file_name: lk.voucher.description if lk.voucher else None
               for lk in s.scalars(select(DocumentLink))}
    engine.dispose()
    return out


def _year(url: str) -> dict[str, Any]:
    (company,) = cli(url, "status", "--json").json()["companies"]
    (year,) = company["years"]
    return {**year, "tenant_id": company["tenant_id"]}


def test_sie_load_over_a_fortnox_year_relinks_documents(db_url: str, tmp_path: Path) -> None:
    run_target(db_url, _fortnox())
    assert _year(db_url)["ledger_source"] == "fortnox"
    # The file writes the organisation number without the dash: the same company.
    run = cli(db_url, "load-sie", simple_year(tmp_path / "y.se", orgnr="5566778899"))
    assert run.code == 0, run.err
    assert "ledger source sie (was: fortnox)" in run.out
    assert "replaced 3 vouchers" in run.out
    assert "documents of the year: 2, 1 linked to a voucher of this ledger, 1 without one" in run.out
    assert query(db_url, "SELECT count(*) FROM companies") == [(1,)]
    assert query(db_url, "SELECT fortnox_year_id, ledger_source FROM financial_years") == [
        (3, "sie")]
    assert _links(db_url) == {"kvitto-1.pdf": "SIE verifikation", "kvitto-3.pdf": None}
    year = _year(db_url)
    assert (year["documents"], year["documents_linked"]) == (2, 1)
    assert (year["last_load"]["source"], year["last_load"]["outcome"]) == ("sie", "applied")
    verify = cli(db_url, "verify", "--json")
    assert verify.code == 0
    assert [(f["code"], f["subject"]) for f in verify.json()["findings"]] == [
        ("document.voucher_missing", "voucher A 3")]


KEEP = ({"source_policy": "keep_sie"}, "sie")
OVERWRITE = ({"source_policy": "fortnox_overwrites"}, "fortnox")
THIS_YEAR = ({"overwrite_sie_years": [START]}, "fortnox")
OTHER_YEAR = ({"overwrite_sie_years": ["2024-01-01"]}, "sie")


@pytest.mark.parametrize(("config", "expect"), [KEEP, OVERWRITE, THIS_YEAR, OTHER_YEAR],
                         ids=["keep_sie", "fortnox_overwrites", "this_year", "other_year"])
def test_fortnox_sync_over_an_sie_year(db_url: str, tmp_path: Path, config: dict[str, Any],
                                       expect: str) -> None:
    sie_file = simple_year(tmp_path / "y.se")
    assert cli(db_url, "load-sie", sie_file).code == 0  # the company is new: created from the file
    run_target(db_url, _fortnox(), **config)
    # The Fortnox tenant adopted the company the SIE file created: one company, one year.
    assert query(db_url, "SELECT tenant_id, organisation_number FROM companies") == [
        (T1, "556677-8899")]
    year = _year(db_url)
    assert year["ledger_source"] == expect
    descriptions = [d for (d,) in query(db_url, "SELECT description FROM vouchers ORDER BY number")]
    balances = query(db_url, "SELECT opening, closing, result FROM account_balances"
                             " WHERE account = '1930'")
    money = [None if v is None else Decimal(v) for v in balances[0]]
    if expect == "sie":
        assert descriptions == ["SIE verifikation", "SIE only"]
        assert money in ([50000, 51100, None], [Decimal("500.00"), Decimal("511.00"), None])
        assert year["last_load"]["outcome"] == "kept"
        assert _links(db_url) == {"kvitto-1.pdf": "SIE verifikation", "kvitto-3.pdf": None}
    else:
        assert descriptions == [f"Fortnox verifikation {n}" for n in (1, 2, 3)]
        # Fortnox's opening balance; the SIE file's closing balance and result are gone.
        assert money in ([77777, None, None], [Decimal("777.77"), None, None])
        assert year["last_load"]["outcome"] == "applied"
        assert _links(db_url) == {"kvitto-1.pdf": "Fortnox verifikation 1",
                                  "kvitto-3.pdf": "Fortnox verifikation 3"}
        assert cli(db_url, "verify").code == 0
    assert year["last_load"]["source"] == "fortnox"
    # Loading the file again is an explicit act: the SIE ledger is back, whatever the policy.
    assert cli(db_url, "load-sie", sie_file).code == 0
    assert _year(db_url)["ledger_source"] == "sie"
    assert _links(db_url)["kvitto-1.pdf"] == "SIE verifikation"
