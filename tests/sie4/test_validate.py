"""Each consumer check, triggered by a small file made for it."""

from __future__ import annotations

import pytest

import sie4
from sie4.document import validate_chunks

HEAD = (b'#FLAGGA 0\n#FORMAT PC8\n#SIETYP 4\n#FNAMN "T AB"\n#ORGNR 556677-8899\n'
        b"#RAR 0 20250101 20251231\n#RAR -1 20240101 20241231\n"
        b'#KONTO 1910 "Kassa"\n#KONTO 2440 "Lev"\n#KONTO 3010 "Fsg"\n')


def voucher(number: str, day: str, *rows: tuple[str, str], series: str = "A") -> bytes:
    body = b"".join(f"#TRANS {a} {{}} {x}\n".encode() for a, x in rows)
    return f'#VER {series} {number} {day} "v"\n{{\n'.encode() + body + b"}\n"


def check(body: bytes, kind: str | None = None) -> sie4.Report:
    return validate_chunks([HEAD + body], kind=kind)


def found(report: sie4.Report) -> list[tuple[str, str, int]]:
    return [(f.severity.value, f.code, f.line) for f in report.findings]


def test_clean_file_has_no_findings() -> None:
    report = check(b"#IB 0 1910 100\n#UB 0 1910 150\n#RES 0 3010 -50\n#UB -1 1910 100\n"
                   + voucher("1", "20250110", ("1910", "50"), ("3010", "-50")))
    assert report.findings == []
    assert report.ok
    assert (report.vouchers, report.booked_rows) == (1, 2)


def test_unbalanced_voucher_is_an_error_with_its_line() -> None:
    report = check(voucher("1", "20250110", ("1910", "50"), ("3010", "-49.99")))
    assert found(report) == [("error", "voucher.unbalanced", 11)]
    assert "0.01" in report.findings[0].message
    assert not report.ok


def test_closing_balance_mismatch_and_missing() -> None:
    report = check(b"#IB 0 1910 100\n#UB 0 1910 100\n#UB 0 2440 0\n"
                   + voucher("1", "20250110", ("1910", "50"), ("2440", "-50")))
    assert [(c, line) for _, c, line in found(report)] == [
        ("balance.closing_mismatch", 12), ("balance.closing_mismatch", 13)]
    report = check(b"#UB 0 2440 0\n" + voucher("1", "20250110", ("1910", "50"), ("2440", "-50")))
    assert ("warning", "balance.closing_missing", 14) in found(report)


def test_result_mismatch() -> None:
    report = check(b"#RES 0 3010 -40\n" + voucher("1", "20250110", ("1910", "50"), ("3010", "-50")))
    assert found(report) == [("warning", "balance.result_mismatch", 11)]


def test_continuity_between_years() -> None:
    report = check(b"#UB -1 1910 100\n#IB 0 1910 90\n#UB 0 1910 90\n")
    assert found(report) == [("warning", "balance.continuity", 12)]


def test_duplicate_and_descending_numbers() -> None:
    body = (voucher("2", "20250110", ("1910", "1"), ("3010", "-1"))
            + voucher("1", "20250111", ("1910", "1"), ("3010", "-1"))
            + voucher("2", "20250112", ("1910", "1"), ("3010", "-1"))
            + voucher("1", "20250112", ("1910", "1"), ("3010", "-1"), series="B"))
    report = check(body)
    assert [(c, line) for _, c, line in found(report)] == [
        ("voucher.number_order", 16), ("voucher.duplicate_number", 21)]


def test_voucher_dated_outside_the_year() -> None:
    report = check(voucher("1", "20260101", ("1910", "1"), ("3010", "-1")))
    assert found(report) == [("warning", "voucher.date_outside_year", 11)]


def test_undeclared_account_in_4e_but_not_in_4i() -> None:
    body = voucher("1", "20250110", ("1910", "1"), ("4010", "-1"))
    assert found(check(body, kind="4E")) == [("warning", "account.undeclared", 14)]
    assert found(check(body, kind="4I")) == []


def test_balances_in_4i() -> None:
    report = check(b"#IB 0 1910 0\n", kind="4I")
    assert found(report) == [("warning", "balances_in_4i", 11)]


def test_strict_validation_raises_at_first_error() -> None:
    body = voucher("1", "20250110", ("1910", "50"), ("3010", "-49"))
    with pytest.raises(sie4.SieValidationError) as info:
        validate_chunks([HEAD + body], strict=True)
    assert info.value.finding.code == "voucher.unbalanced"
    assert info.value.line == 11


def test_report_as_dict_has_the_cli_fields() -> None:
    report = check(b'#PROGRAM "Fortnox" 3.1\n' + voucher("1", "20250110", ("1910", "1"), ("3010", "-1")))
    data = report.as_dict()
    assert data["program"] == "Fortnox 3.1"
    assert data["company"] == {"name": "T AB", "orgnr": "556677-8899"}
    assert data["years"] == [{"index": 0, "start": "2025-01-01", "end": "2025-12-31"},
                             {"index": -1, "start": "2024-01-01", "end": "2024-12-31"}]
    assert (data["vouchers"], data["booked_rows"]) == (1, 2)
    assert data["history_rows"] == {"added": 0, "removed": 0}
    assert (data["ksumma"], data["encoding"]) == ("absent", "ascii")
