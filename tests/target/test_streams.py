"""Fixture replays: every stream lands where it should, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from decimal import Decimal
from pathlib import Path

import pytest
from ledgerstream import T1, Stream, dump, query, run_target
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from target_senseworks.ledger.apply import LoadError
from target_senseworks.ledger.db import make_engine
from target_senseworks.ledger.models import (
    AccountBalance,
    Company,
    DocumentLink,
    FinancialYear,
    Load,
    Voucher,
    VoucherRow,
)

FIXTURES = Path(__file__).parent / "fixtures"
BASIC = (FIXTURES / "basic.singer").read_text()


def test_basic_fixture_loads_every_stream(db_url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    states = run_target(db_url, BASIC)
    # Only the last STATE is emitted, after everything is committed.
    assert states[-1]["bookmarks"]["attachments"] == {"replication_key_value": "f-3"}
    assert sum("Ignoring stream 'customers'" in r.getMessage() for r in caplog.records) == 1

    engine = make_engine(db_url)
    with Session(engine) as s:
        company = s.scalars(select(Company)).one()
        assert (company.tenant_id, company.organisation_number, company.name) == (
            T1, "556677-8899", "Exempel AB")
        assert company.address == {"address": "Storgatan 1", "zip_code": "11122",
                                   "city": "Stockholm", "country_code": "SE"}
        years = {y.fortnox_year_id: y for y in s.scalars(select(FinancialYear))}
        assert years[3].start_date == dt.date(2025, 1, 1)
        assert years[3].end_date == dt.date(2025, 12, 31)
        assert years[3].ledger_source == "fortnox"
        assert years[3].ledger_load.status == "succeeded"
        assert years[2].ledger_source is None  # no vouchers/snapshot for 2024: no ledger yet

        bal = s.scalars(select(AccountBalance).where(AccountBalance.year_id == years[3].id,
                                                     AccountBalance.account == "1930")).one()
        assert bal.opening == Decimal("15000.50")
        assert isinstance(bal.opening, Decimal)
        accounts = s.execute(select(func.count()).select_from(AccountBalance)).scalar()
        assert accounts == 4  # the two accounts with a null balance have none
        assert query(db_url, "SELECT count(*) FROM accounts") == [(6,)]
        assert sorted(query(db_url, "SELECT code, description FROM voucher_series")) == [
            ("A", "Redovisning"), ("B", "Kundfakturor")]

        a2 = s.scalars(select(Voucher).where(Voucher.series == "A", Voucher.number == 2)).one()
        assert a2.transaction_date == dt.date(2025, 2, 3)
        assert a2.description == "Felbokning rättad"
        assert [(r.account, r.amount) for r in a2.booked_rows] == [
            ("6110", Decimal("50.10")), ("1930", Decimal("-50.10"))]
        assert [(r.account, r.amount) for r in a2.struck_rows] == [
            ("6110", Decimal("500.00")), ("1930", Decimal("-500.00"))]
        # Booked rows balance to exactly zero in SQL, on both backends.
        total = s.scalar(select(func.sum(VoucherRow.amount)).where(VoucherRow.removed.is_(False)))
        assert total == 0
        debit = s.scalar(select(func.sum(VoucherRow.debit)).where(VoucherRow.removed.is_(False)))
        assert debit == Decimal("1400.10")

        links = s.scalars(select(DocumentLink)).all()
        assert len(links) == 4
        by_file = {}
        for link in links:
            by_file.setdefault(link.document.file_name, []).append(
                (link.voucher.series, link.voucher.number))
        assert sorted(by_file["f-2.pdf"]) == [("A", 2), ("B", 1)]
        f1 = next(lk.document for lk in links if lk.document.file_name == "f-1.pdf")
        assert f1.content == b"%PDF-1.4 kvitto kontorsmaterial\n"
        assert f1.sha256 == hashlib.sha256(f1.content).hexdigest()
        big = next(lk.document for lk in links if lk.document.file_name == "big.pdf")
        assert big.content is None and big.size == 100
        load = s.scalars(select(Load)).one()
        assert load.status == "succeeded" and load.finished_at is not None
        assert load.counts["vouchers_inserted"] == 3
        assert load.counts["voucher_rows_inserted"] == 10
    engine.dispose()


def test_replay_changes_nothing(db_url: str) -> None:
    run_target(db_url, BASIC)
    before = dump(db_url)
    run_target(db_url, BASIC)
    assert dump(db_url) == before
    loads = query(db_url, "SELECT status FROM loads ORDER BY id")
    assert loads == [("succeeded",), ("succeeded",)]


def _books(rows_first: bool) -> Stream:
    s = Stream().company().year(3, "2025-01-01", "2025-12-31")
    s.voucher(3, "A", 1, "2025-01-10", [("1930", "100"), ("3001", "-100")], rows_first=rows_first)
    s.voucher(3, "A", 2, "2025-01-11", [("1930", "5"), ("3001", "-3"), ("2611", "-2"),
                                        ("3001", "-1", True)], rows_first=rows_first)
    s.voucher(3, "B", 1, "2025-02-01", [("1930", "-7"), ("6110", "7")], rows_first=rows_first)
    return s.snapshot(3, {"A": [(1, 2)], "B": [(1, 1)]})


def test_rows_before_their_voucher_load_like_rows_after(db_url: str) -> None:
    """tap-fortnox writes a voucher's rows (a child stream) just before the voucher."""
    run_target(db_url, _books(rows_first=True))
    tap_order = dump(db_url)
    rows = query(db_url, "SELECT v.series, v.number, r.row_index, r.account, r.amount, r.removed"
                         " FROM voucher_rows r JOIN vouchers v ON v.id = r.voucher_id"
                         " ORDER BY v.series, v.number, r.row_index")
    assert [(s, n, i, a) for s, n, i, a, _, _ in rows] == [
        ("A", 1, 0, "1930"), ("A", 1, 1, "3001"), ("A", 2, 0, "1930"), ("A", 2, 1, "3001"),
        ("A", 2, 2, "2611"), ("A", 2, 3, "3001"), ("B", 1, 0, "1930"), ("B", 1, 1, "6110")]
    assert [bool(r[5]) for r in rows].count(True) == 1
    [(counts,)] = query(db_url, "SELECT counts FROM loads")
    counts = counts if isinstance(counts, dict) else json.loads(counts)
    assert counts["vouchers_received"] == 3
    assert "unbalanced_vouchers" not in counts  # balances are summed from the right column
    run_target(db_url, _books(rows_first=True))
    assert dump(db_url) == tap_order  # replay changes nothing, ids included: hashes matched


def test_rows_whose_voucher_never_comes_are_refused(db_url: str) -> None:
    s = Stream().company().year(3, "2025-01-01", "2025-12-31")
    s.voucher(3, "A", 1, "2025-01-10", [("1930", "1"), ("3001", "-1")])
    s.record("voucher_rows", {
        "tenant_id": T1, "financial_year_id": 3, "series": "A", "number": 9, "row_index": 0,
        "account": "1930", "debit": 1, "credit": 0, "amount": 1, "description": None,
        "transaction_information": None, "cost_center": None, "project": None,
        "quantity": None, "removed": False})
    s.snapshot(3, {"A": [(1, 1)]})
    with pytest.raises(LoadError, match=r"voucher_rows \[.*number=9.*row for an unknown voucher"):
        run_target(db_url, s)
    assert query(db_url, "SELECT count(*) FROM vouchers") == [(0,)]


def _year(s: Stream) -> Stream:
    return s.company().year(3, "2025-01-01", "2025-12-31")


def test_resent_voucher_replaces_rows_and_snapshot_deletes(db_url: str) -> None:
    first = _year(Stream())
    first.voucher(3, "A", 1, "2025-01-10", [("1930", "100"), ("3001", "-100")])
    first.voucher(3, "A", 2, "2025-01-11", [("1930", "5"), ("3001", "-3"), ("2611", "-2")])
    first.voucher(3, "A", 3, "2025-01-12", [("1930", "7"), ("3001", "-7")])
    first.snapshot(3, {"A": [(1, 3)]})
    run_target(db_url, first)
    a1_id = query(db_url, "SELECT id FROM vouchers WHERE number = 1")

    second = _year(Stream())
    # A2 re-sent with one row fewer and a struck row; A3 deleted in Fortnox.
    second.voucher(3, "A", 2, "2025-01-11", [("1930", "5"), ("3001", "-5"), ("2611", "-2", True)])
    second.snapshot(3, {"A": [(1, 2)]})
    run_target(db_url, second)

    rows = query(db_url, "SELECT v.number, r.row_index, r.account, r.removed FROM vouchers v "
                 "JOIN voucher_rows r ON r.voucher_id = v.id ORDER BY v.number, r.row_index")
    assert [(n, i, a, bool(rm)) for n, i, a, rm in rows] == [
        (1, 0, "1930", False), (1, 1, "3001", False),
        (2, 0, "1930", False), (2, 1, "3001", False), (2, 2, "2611", True)]
    # A1 was not re-sent: untouched (same id), still there because the snapshot covers it.
    assert query(db_url, "SELECT id FROM vouchers WHERE number = 1") == a1_id
    counts = query(db_url, "SELECT counts FROM loads ORDER BY id DESC LIMIT 1")[0][0]
    counts = counts if isinstance(counts, dict) else __import__("json").loads(counts)
    assert counts["vouchers_deleted"] == 2  # A2 (changed) and A3 (gone)
    assert counts["vouchers_inserted"] == 1


def test_voucher_sent_twice_in_one_run_last_wins(db_url: str) -> None:
    s = _year(Stream())
    s.voucher(3, "A", 1, "2025-01-10", [("1930", "100"), ("3001", "-100")])
    s.voucher(3, "A", 1, "2025-01-10", [("1930", "90"), ("3001", "-90")], description="v2")
    s.snapshot(3, {"A": [(1, 1)]})
    run_target(db_url, s)
    assert query(db_url, "SELECT description FROM vouchers") == [("v2",)]
    amounts = query(db_url, "SELECT amount FROM voucher_rows ORDER BY row_index")
    assert [Decimal(a) for (a,) in amounts] in (
        [Decimal(9000), Decimal(-9000)], [Decimal("90.00"), Decimal("-90.00")])


def test_two_companies_in_one_database(db_url: str) -> None:
    t2 = 7654321
    s = Stream()
    for tenant, name in ((T1, "Ett AB"), (t2, "Två AB")):
        s.company(tenant, name=name, org=f"55{tenant}")
        s.year(3, "2025-01-01", "2025-12-31", tenant=tenant)
        s.voucher(3, "A", 1, "2025-01-10", [("1930", str(tenant % 1000)),
                                              ("3001", str(-(tenant % 1000)))], tenant=tenant)
        s.snapshot(3, {"A": [(1, 1)]}, tenant=tenant)
        s.attachment(f"file-{tenant}", f"bytes {tenant}".encode(), [(3, "A", 1)], tenant=tenant)
    # Same Fortnox year id, series and number for both tenants: nothing may mix.
    run_target(db_url, s)
    rows = query(db_url, "SELECT c.name, v.number, r.debit FROM companies c "
                 "JOIN vouchers v ON v.company_id = c.id JOIN voucher_rows r "
                 "ON r.voucher_id = v.id WHERE r.row_index = 0 ORDER BY c.name")
    assert [(n, num) for n, num, _ in rows] == [("Ett AB", 1), ("Två AB", 1)]
    assert [Decimal(d) for _, _, d in rows] in (
        [Decimal(56700), Decimal(32100)], [Decimal("567.00"), Decimal("321.00")])
    linked = query(db_url, "SELECT c.name, d.file_name FROM document_links l "
                   "JOIN companies c ON c.id = l.company_id JOIN documents d "
                   "ON d.id = l.document_id JOIN vouchers v ON v.year_id = l.year_id "
                   "AND v.series = l.series AND v.number = l.number AND v.company_id = c.id "
                   "ORDER BY c.name")
    assert linked == [("Ett AB", f"file-{T1}.pdf"), ("Två AB", f"file-{t2}.pdf")]

    # A snapshot for tenant 2 removing its voucher leaves tenant 1's alone.
    run_target(db_url, Stream().snapshot(3, {}, tenant=t2))
    assert query(db_url, "SELECT c.name FROM vouchers v JOIN companies c "
                 "ON c.id = v.company_id") == [("Ett AB",)]


def test_document_stored_once_and_content_filled_later(db_url: str) -> None:
    data = b"same receipt bytes"
    s = _year(Stream())
    s.voucher(3, "A", 1, "2025-01-10", [("1930", "1"), ("3001", "-1")])
    s.voucher(3, "A", 2, "2025-01-10", [("1930", "1"), ("3001", "-1")])
    s.snapshot(3, {"A": [(1, 2)]})
    s.attachment("f-1", data, [(3, "A", 1)], with_content=False)
    s.attachment("f-2", data, [(3, "A", 2)])
    run_target(db_url, s)
    docs = query(db_url, "SELECT sha256, size, content FROM documents")
    assert len(docs) == 1
    assert bytes(docs[0][2]) == data and docs[0][1] == len(data)
    assert query(db_url, "SELECT count(*) FROM document_sources") == [(2,)]
    # A file re-sent with other vouchers: its links become exactly those.
    run_target(db_url, Stream().attachment("f-1", data, [(3, "A", 2)]))
    assert sorted(query(db_url, "SELECT s.file_id, l.number FROM document_links l JOIN "
                        "document_sources s ON s.id = l.source_id")) == [("f-1", 2), ("f-2", 2)]


def test_documents_without_bytes_are_counted_not_refused(db_url: str) -> None:
    """The tap's metadata-only mode (and files over its size limit) send no bytes and no hash."""
    s = Stream().company().year(3, "2025-01-01", "2025-12-31")
    s.voucher(3, "A", 1, "2025-01-10", [("1930", "1"), ("3001", "-1")])
    s.snapshot(3, {"A": [(1, 1)]})
    s.record("attachments", {
        "tenant_id": T1, "file_id": "f-1", "module": "accounting", "file_name": "kvitto.pdf",
        "content_type": None, "size": None, "sha256": None,
        "vouchers": [{"financial_year_id": 3, "series": "A", "number": 1}],
        "source": {"type": "voucher", "number": "A 1"}, "content": None,
        "skipped_reason": "metadata only (include_attachment_content is false)"})
    run_target(db_url, s)
    assert query(db_url, "SELECT count(*) FROM documents") == [(0,)]
    [(counts,)] = query(db_url, "SELECT counts FROM loads")
    counts = counts if isinstance(counts, dict) else json.loads(counts)
    assert counts["documents_without_content"] == 1
    assert query(db_url, "SELECT count(*) FROM vouchers") == [(1,)]  # the load succeeded
