"""Every real export in shared/data/sie-samples, against the facts in its SOURCES.md."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

import sie4
from sie4.files import read_file, validate_file

# file -> (vouchers, booked #TRANS rows, added #RTRANS, removed #BTRANS, #KSUMMA, encoding)
FACTS = {
    "jokedst-SieFile__SIE4_Exempelfil.SE": (295, 1330, 0, 0, "absent", "cp437"),
    "idstam-jsisie__BL0001_typ4.SE": (84, 405, 6, 3, "absent", "cp437"),
    "idstam-jsisie__Bokslut_Norstedts_SIE_4E.se": (177, 678, 0, 0, "ok", "cp437"),
    "Alipsa-SIEParser__44_sie4.se": (286, 949, 0, 0, "ok", "cp437"),
    "idstam-jsisie__sie_4.SE": (20, 76, 1, 1, "absent", "cp437"),
    "idstam-jsisie__Sie4.si": (165, 869, 0, 0, "absent", "cp437"),
    "idstam-jsisie__SIE4_Exempelfil_med_underdim.SE": (295, 1330, 0, 0, "absent", "utf-8"),
}


def codes(report: sie4.Report) -> Counter[str]:
    return Counter(f.code for f in report.findings)


@pytest.mark.parametrize("name", sorted(FACTS))
def test_counts_checksum_and_encoding(samples: Path, name: str) -> None:
    vouchers, booked, added, removed, ksumma, encoding = FACTS[name]
    report = validate_file(samples / name)
    assert (report.vouchers, report.booked_rows) == (vouchers, booked)
    assert (report.added_rows, report.removed_rows) == (added, removed)
    assert report.ksumma == ksumma
    assert report.encoding == encoding


@pytest.mark.parametrize("name", sorted(FACTS))
def test_booked_rows_balance_every_voucher(samples: Path, name: str) -> None:
    """Booking #TRANS only (never #RTRANS/#BTRANS) balances every sample's vouchers."""
    report = validate_file(samples / name)
    assert codes(report)["voucher.unbalanced"] == 0


def test_summing_all_row_labels_would_unbalance_avendo(samples: Path) -> None:
    """The trap the reference warns of: #TRANS + #RTRANS + #BTRANS makes a voucher look unbalanced."""
    doc = read_file(samples / "idstam-jsisie__sie_4.SE")
    all_labels = [v for v in doc.vouchers if sum(r.amount for r in v.rows) != 0]
    booked_only = [v for v in doc.vouchers if v.total != 0]
    assert len(all_labels) == 1
    assert booked_only == []


@pytest.mark.parametrize("name", [
    "jokedst-SieFile__SIE4_Exempelfil.SE",
    "idstam-jsisie__BL0001_typ4.SE",
    "idstam-jsisie__Bokslut_Norstedts_SIE_4E.se",
    "Alipsa-SIEParser__44_sie4.se",
])
def test_consistent_exports_have_no_balance_findings(samples: Path, name: str) -> None:
    found = codes(validate_file(samples / name))
    assert not {c for c in found if c.startswith("balance.")}
    assert validate_file(samples / name).ok


def test_fortnox_2011_export_reports_29_closing_balances(samples: Path) -> None:
    """Sie4.si: 29 of its 48 #UB differ from IB + booked rows; reported, not refused."""
    report = validate_file(samples / "idstam-jsisie__Sie4.si")
    closing = [f for f in report.findings if f.code == "balance.closing_mismatch"]
    assert len(closing) == 29
    assert all(f.severity is sie4.Severity.WARNING for f in closing)
    assert report.ok  # inconsistent, but loadable
    # a .si file name promises 4I, which carries no balances: that is reported too
    assert codes(report)["balances_in_4i"] == 1


def test_fortnox_2011_quirks_read(samples: Path) -> None:
    doc = read_file(samples / "idstam-jsisie__Sie4.si")
    orgnr = doc.first(sie4.OrgNumber)
    assert orgnr is not None and orgnr.orgnr == ""
    assert doc.first(sie4.BalancesUntil).date.isoformat() == "1970-01-01"  # type: ignore[union-attr]
    first = doc.vouchers[0]
    assert (first.series, first.number) == ("A", "1")  # quoted series and number in the file


def test_damaged_encoding_is_an_error_with_702_lost_letters(samples: Path) -> None:
    report = validate_file(samples / "idstam-jsisie__SIE4_Exempelfil_med_underdim.SE")
    damaged = [f for f in report.findings if f.code == "encoding.replacement_characters"]
    assert len(damaged) == 1
    assert damaged[0].severity is sie4.Severity.ERROR
    assert "702 U+FFFD" in damaged[0].message
    assert not report.ok


def test_underdim_sample_reads_subdimensions(samples: Path) -> None:
    doc = read_file(samples / "idstam-jsisie__SIE4_Exempelfil_med_underdim.SE")
    subs = doc.all(sie4.SubDimension)
    assert {(s.dimension, s.parent) for s in subs} == {("61", "6"), ("62", "6")}


def test_latin1_byte_in_example_is_decoded_and_reported(samples: Path) -> None:
    doc = read_file(samples / "jokedst-SieFile__SIE4_Exempelfil.SE")
    fnr = doc.first(sie4.CompanyId)
    assert fnr is not None and "Företag" in fnr.value  # 0xF6 read as Latin-1 ö, not CP437 ÷
    assert "\\" in fnr.value  # the Windows path keeps its backslashes
    report = validate_file(samples / "jokedst-SieFile__SIE4_Exempelfil.SE")
    mixed = [f for f in report.findings if f.code == "encoding.mixed"]
    assert [f.line for f in mixed] == [fnr.line]
    name = doc.first(sie4.CompanyName)
    assert name is not None and name.name == "Övningsbolaget AB"  # CP437 0x99


def test_example_objects_keep_leading_zeros(samples: Path) -> None:
    doc = read_file(samples / "jokedst-SieFile__SIE4_Exempelfil.SE")
    pairs = {pair for v in doc.vouchers for row in v.rows for pair in row.objects}
    assert ("1", "Nord") in pairs  # unquoted object id
    assert ("6", "0001") in pairs  # leading zeros kept: object ids are strings
    quantities = [row.quantity for v in doc.vouchers for row in v.rows if row.quantity]
    assert quantities, "salary rows carry quantities (hours)"


def test_bl_rtrans_twins_pair_despite_differences(samples: Path) -> None:
    report = validate_file(samples / "idstam-jsisie__BL0001_typ4.SE")
    assert codes(report)["rtrans.twin_differs"] == 6
    assert codes(report)["rtrans.unpaired"] == 0
    doc = read_file(samples / "idstam-jsisie__BL0001_typ4.SE")
    signed = [r for v in doc.vouchers for r in v.removed_rows if r.sign]
    assert len(signed) == 3  # the #BTRANS rows carry who struck them


def test_norstedts_broken_year_and_empty_vouchers(samples: Path) -> None:
    doc = read_file(samples / "idstam-jsisie__Bokslut_Norstedts_SIE_4E.se")
    year0 = next(y for y in doc.all(sie4.FinancialYear) if y.index == 0)
    assert (year0.start.month, year0.start.day, year0.end.month, year0.end.day) == (7, 1, 6, 30)
    assert sum(1 for v in doc.vouchers if not v.rows) == 3


@pytest.mark.parametrize("name", sorted(FACTS))
def test_strict_mode_raises_only_on_error_findings(samples: Path, name: str) -> None:
    report = validate_file(samples / name)
    if report.ok:
        validate_file(samples / name, strict=True)
    else:
        with pytest.raises(sie4.SieValidationError) as e:
            validate_file(samples / name, strict=True)
        assert e.value.finding.code == report.errors[0].code


@pytest.mark.parametrize("name", sorted(FACTS))
def test_byte_by_byte_streaming_gives_the_same_records(samples: Path, name: str) -> None:
    data = (samples / name).read_bytes()
    whole = sie4.parse_bytes(data).records
    parser = sie4.Parser()
    streamed = []
    step = 997  # an odd chunk size that splits lines, quotes and CRLFs
    for i in range(0, len(data), step):
        streamed += parser.feed(data[i:i + step])
    streamed += parser.close()
    assert streamed == whole
    assert [x.line for x in streamed] == [x.line for x in whole]
