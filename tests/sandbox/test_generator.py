"""The generated books: deterministic, balanced, and carrying every Fortnox peculiarity."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from fortnox_sandbox import chart
from fortnox_sandbox.books import ZERO, Books, Company
from fortnox_sandbox.generator import generate, make_profile


def _books(seed: int = 1, **overrides: object) -> Books:
    return generate(seed, make_profile("tiny", **overrides))


def _fingerprint(books: Books) -> list[object]:
    out: list[object] = []
    for c in books.companies.values():
        for v in c.all_vouchers():
            out.append((c.tenant_id, v.key, v.transaction_date, v.description,
                        [(r.account, r.debit, r.credit, r.removed) for r in v.rows]))
        out.append(sorted((f.id, f.content) for f in c.files.values()))
    return out


def test_same_seed_same_books_other_seed_other_books() -> None:
    assert _fingerprint(_books(1)) == _fingerprint(_books(1))
    assert _fingerprint(_books(1)) != _fingerprint(_books(2))


def test_every_voucher_balances_to_the_ore_with_2_to_12_rows() -> None:
    for c in _books(vouchers_per_year=300).companies.values():
        for v in c.all_vouchers():
            booked = v.booked_rows()
            assert 2 <= len(booked) <= 12
            assert sum((r.amount for r in booked), ZERO) == ZERO
            for r in v.rows:
                assert isinstance(r.debit, Decimal)
                assert isinstance(r.credit, Decimal)
                assert r.debit.as_tuple().exponent == -2
                assert r.credit.as_tuple().exponent == -2
                assert ZERO in (r.debit, r.credit)


def _company(books: Books, name_part: str) -> Company:
    return next(c for c in books.companies.values() if name_part in c.name)


def test_calendar_and_broken_financial_years() -> None:
    books = _books(years=3)
    calendar = _company(books, "Kvarnbacken")
    assert [(y.from_date, y.to_date) for y in calendar.years] == [
        (date(2023, 1, 1), date(2023, 12, 31)),
        (date(2024, 1, 1), date(2024, 12, 31)),
        (date(2025, 1, 1), date(2025, 12, 31)),
    ]
    broken = _company(books, "Sjöbris")
    assert [(y.from_date, y.to_date) for y in broken.years][-1] == (
        date(2024, 7, 1), date(2025, 6, 30))
    assert [y.id for y in broken.years] == [1, 2, 3]
    for c in books.companies.values():
        for y in c.years:
            assert all(y.contains(v.transaction_date) for v in c.year_vouchers(y.id))


def test_opening_balances_are_the_previous_closing_balances() -> None:
    for c in _books(years=3).companies.values():
        assert sum(a.opening for a in c.accounts[1].values()) == ZERO
        for prev, year in zip(c.years, c.years[1:], strict=False):
            closing = c.closing_balances(prev.id)
            for number, account in c.accounts[year.id].items():
                if number < chart.RESULT_ACCOUNT_START:
                    assert account.opening == closing.get(number, ZERO), number
                else:
                    assert account.opening == ZERO
            # the closing voucher zeroes the result accounts of a closed year
            assert sum(b for n, b in closing.items() if n >= 3000) == ZERO


def test_series_include_a_long_code_and_bas_chart() -> None:
    c = next(iter(_books().companies.values()))
    assert {"A", "B", "C", "D", "E", "LEV"} == set(c.series[1])
    assert any(v.series == "LEV" for v in c.all_vouchers())
    assert {1930, 1510, 2440, 2611, 2641, 3001} <= set(c.accounts[1])


def test_corrections_and_deleted_last_vouchers_exist() -> None:
    for c in _books().companies.values():
        for y in c.years:
            struck = [v for v in c.year_vouchers(y.id) if any(r.removed for r in v.rows)]
            assert struck, f"year {y.id} of {c.name} has no struck rows"
            for v in struck:
                assert any(r.added for r in v.rows)
                assert v.balance() == ZERO
        assert c.deleted_vouchers
        for year_id, series, number, deleted_at in c.deleted_vouchers:
            assert c.last_number(year_id, series) in (number - 1, number)
            reused = c.voucher(year_id, series, number)
            # the number is free, or re-used by a voucher registered after the deletion
            assert reused is None or reused.modified_at > deleted_at


def test_dimensions_and_quantities_on_some_rows() -> None:
    rows = [r for c in _books().companies.values() for v in c.all_vouchers() for r in v.rows]
    assert any(r.cost_center for r in rows)
    assert any(r.project for r in rows)
    assert any(r.quantity is not None for r in rows)


def test_invoices_link_to_their_vouchers_and_licences_gate_invoices() -> None:
    books = _books()
    for c in books.companies.values():
        for si in c.supplier_invoices.values():
            number, year_id, series, ref = si.vouchers[0]
            v = c.voucher(year_id, series, number)
            assert v is not None
            assert ref == "SUPPLIERINVOICE"
            assert v.reference_number == str(si.given_number)
            assert sum(r.credit for r in v.rows if r.account == 2440) == si.total
        for inv in c.invoices.values():
            v = c.voucher(*inv.voucher)
            assert v is not None
            assert v.reference_type == "INVOICE"
            assert sum(r.debit for r in v.rows if r.account == 1510) == inv.total
    cafe = _company(books, "Café")
    assert "invoice" not in cafe.licences
    assert not cafe.invoices


def test_attachments_are_real_pdf_and_png_files() -> None:
    c = _company(_books(attachment_share=0.6), "Kvarnbacken")
    kinds = {f.content_type for f in c.files.values()}
    assert kinds == {"application/pdf", "image/png"}
    for f in c.files.values():
        if f.content_type == "application/pdf":
            assert f.content.startswith(b"%PDF-1.4")
            assert f.content.rstrip().endswith(b"%%EOF")
        else:
            assert f.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert c.voucher_file_connections
    assert c.supplier_invoice_file_connections
    assert c.invoice_attachments
    for conn in c.voucher_file_connections:
        assert conn.file_id in c.files
        assert c.voucher(conn.year_id, conn.series, conn.number) is not None
