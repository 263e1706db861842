"""Source policy matrix: (no ledger | fortnox | sie) x (keep_sie | fortnox_overwrites |
overwrite_sie_years), with documents linking whatever the ledger's source."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from ledgerstream import T1, Stream, query, run_target
from sqlalchemy import select
from sqlalchemy.orm import Session

from target_senseworks.ledger.db import make_engine
from target_senseworks.ledger.models import DocumentLink
from target_senseworks.ledger.policy import SourcePolicy
from target_senseworks.ledger.sie import SieRow, SieVoucher, load_sie_year

START = "2025-01-01"


def _sie(url: str) -> None:
    engine = make_engine(url)
    load_sie_year(
        engine, tenant_id=T1, start_date=dt.date(2025, 1, 1), end_date=dt.date(2025, 12, 31),
        vouchers=[
            SieVoucher("A", 1, dt.date(2025, 1, 5), "SIE verifikation",
                       rows=[SieRow("1930", Decimal("10.00")), SieRow("3001", Decimal("-10.00")),
                             SieRow("3001", Decimal("-99.00"), removed=True)]),
            SieVoucher("A", 2, dt.date(2025, 1, 6), "SIE only", rows=[
                SieRow("1930", Decimal("1.00")), SieRow("3001", Decimal("-1.00"))]),
        ],
        balances={"1930": (Decimal("500.00"), Decimal("511.00"), None)},
    )
    engine.dispose()


def _fortnox_stream(description: str = "Fortnox verifikation") -> Stream:
    s = Stream().company().year(3, START, "2025-12-31")
    s.account(3, "1930", "Bank", bbf="777.77")
    s.voucher(3, "A", 1, "2025-01-05", [("1930", "12.50"), ("3001", "-12.50")],
              description=description)
    s.snapshot(3, {"A": [(1, 1)]})
    s.attachment("kvitto-1", b"receipt A1", [(3, "A", 1)])
    return s


def _state(url: str) -> tuple[Any, list[tuple[Any, ...]], Any]:
    source = query(url, "SELECT ledger_source FROM financial_years WHERE start_date = :d",
                   d=dt.date(2025, 1, 1))
    vouchers = query(url, "SELECT series, number, description FROM vouchers ORDER BY number")
    opening = query(url, "SELECT opening FROM account_balances WHERE account = '1930'")
    return source[0][0] if source else None, vouchers, opening


SIE_VOUCHERS = [("A", 1, "SIE verifikation"), ("A", 2, "SIE only")]
FORTNOX_VOUCHERS = [("A", 1, "Fortnox verifikation")]
KEEP = {"source_policy": "keep_sie"}
OVERWRITE = {"source_policy": "fortnox_overwrites"}
THIS_YEAR = {"overwrite_sie_years": [START]}
OTHER_YEAR = {"overwrite_sie_years": ["2024-01-01"]}


@pytest.mark.parametrize(
    ("initial", "config", "expect_source"),
    [
        ("none", KEEP, "fortnox"),
        ("none", OVERWRITE, "fortnox"),
        ("none", THIS_YEAR, "fortnox"),
        ("fortnox", KEEP, "fortnox"),
        ("fortnox", OVERWRITE, "fortnox"),
        ("fortnox", THIS_YEAR, "fortnox"),
        ("sie", KEEP, "sie"),
        ("sie", OVERWRITE, "fortnox"),
        ("sie", THIS_YEAR, "fortnox"),
        ("sie", OTHER_YEAR, "sie"),
    ],
)
def test_policy_matrix(db_url: str, initial: str, config: dict[str, Any],
                       expect_source: str) -> None:
    if initial == "sie":
        _sie(db_url)
    elif initial == "fortnox":
        run_target(db_url, _fortnox_stream("old Fortnox text"))
    run_target(db_url, _fortnox_stream(), **config)

    source, vouchers, opening = _state(db_url)
    assert source == expect_source
    if expect_source == "sie":
        assert vouchers == SIE_VOUCHERS
        assert [Decimal(o) for (o,) in opening] in ([Decimal(50000)], [Decimal("500.00")])
        year_load = query(db_url, "SELECT l.source FROM financial_years y JOIN loads l "
                          "ON l.id = y.ledger_load_id")
        assert year_load == [("sie",)]
    else:
        assert vouchers == FORTNOX_VOUCHERS
        assert [Decimal(o) for (o,) in opening] in ([Decimal(77777)], [Decimal("777.77")])
    # Documents load and link in every case, to the voucher the ledger holds now.
    engine = make_engine(db_url)
    with Session(engine) as s:
        link = s.scalars(select(DocumentLink)).one()
        assert link.document.content == b"receipt A1"
        assert link.voucher is not None
        assert link.voucher.description == vouchers[0][2]
    engine.dispose()


def test_document_follows_voucher_when_sie_replaces_year(db_url: str) -> None:
    run_target(db_url, _fortnox_stream())
    _sie(db_url)  # an explicit SIE load replaces the Fortnox ledger
    engine = make_engine(db_url)
    with Session(engine) as s:
        link = s.scalars(select(DocumentLink)).one()
        assert link.voucher.description == "SIE verifikation"
        assert link.voucher.year.ledger_source == "sie"
    engine.dispose()
    assert _state(db_url)[0] == "sie"


def test_first_fortnox_load_of_year_must_be_complete(db_url: str) -> None:
    """A year with no ledger only switches to Fortnox when the run sent all its vouchers."""
    s = Stream().company().year(3, START, "2025-12-31")
    s.voucher(3, "A", 2, "2025-01-05", [("1930", "1"), ("3001", "-1")])
    s.snapshot(3, {"A": [(1, 2)]})  # A1 exists in Fortnox but was not sent (old bookmark)
    run_target(db_url, s)
    assert _state(db_url)[:2] == (None, [])
    status, error = query(db_url, "SELECT status, error FROM loads")[0]
    assert status == "incomplete"
    assert "sent 1 of the year's 2 vouchers" in error


def test_policy_config_validation() -> None:
    with pytest.raises(ValueError, match="overwrite_sie_years"):
        SourcePolicy.from_config("keep_sie", ["2025"])
    with pytest.raises(ValueError, match="source_policy"):
        SourcePolicy.from_config("always", [])
    p = SourcePolicy.from_config(None, ["2025-01-01"])
    assert p.fortnox_may_write("sie", dt.date(2025, 1, 1))
    assert not p.fortnox_may_write("sie", dt.date(2024, 1, 1))
    assert p.fortnox_may_write(None, dt.date(2024, 1, 1))
