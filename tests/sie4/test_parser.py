"""Parser behaviour on small hand-made inputs: quoting, pairing, #KSUMMA, encodings."""

from __future__ import annotations

import re
import zlib
from datetime import date
from decimal import Decimal

import pytest

import sie4
from sie4 import parser as parser_module

HEAD = b'#FLAGGA 0\n#FORMAT PC8\n#SIETYP 4\n#FNAMN "T AB"\n#RAR 0 20250101 20251231\n'


def parse(body: bytes, head: bytes = HEAD) -> tuple[list[sie4.Record], sie4.Parser]:
    parser = sie4.Parser()
    records = parser.feed(head + body) + parser.close()
    return records, parser


def codes(parser: sie4.Parser) -> list[str]:
    return [f.code for f in parser.findings]


def test_quoted_fields_escapes_and_backslashes() -> None:
    records, _ = parse(b'#PROSA "He said \\"hej\\" at C:\\dir"\n#FNR C:\\path\\\n')
    prosa, fnr = records[-2], records[-1]
    assert prosa == sie4.Prosa('He said "hej" at C:\\dir')
    assert fnr == sie4.CompanyId("C:\\path\\")


def test_text_ending_in_backslash_reads_when_it_ends_the_line() -> None:
    records, _ = parse(b'#FNR "C:\\dir\\"\n')
    assert records[-1] == sie4.CompanyId("C:\\dir\\")


def test_object_lists_quoted_dims_tabs_and_spaces() -> None:
    body = (b'#VER A 1 20250110 "x"\n{\n'
            b'\t#TRANS 1910\t{"1" "456"\t6 0001} 10.5\n'
            b'   #TRANS 3010  { } -10.50 "" "" 2.000000 "Anna"\n}\n')
    records, _ = parse(body)
    voucher = records[-1]
    assert isinstance(voucher, sie4.Voucher)
    first, second = voucher.rows
    assert first.objects == (("1", "456"), ("6", "0001"))
    assert first.amount == Decimal("10.5")
    assert second.objects == ()
    assert (second.date, second.text, second.quantity, second.sign) == (None, "", Decimal(2), "Anna")


def test_voucher_fields_and_empty_4i_series_and_number() -> None:
    records, _ = parse(b'#VER "" "" 20250125 "L\x94n januari" 20250126 "Eva"\n{\n}\n')
    voucher = records[-1]
    assert voucher == sie4.Voucher("", "", date(2025, 1, 25), "Lön januari", date(2025, 1, 26), "Eva")


def test_crlf_blank_lines_and_trailing_spaces() -> None:
    body = b'#VER A 1 20250110 "x"  \r\n\r\n{\r\n#TRANS 1910 {} 1 \r\n\r\n#TRANS 3010 {} -1\r\n}\r\n'
    records, _ = parse(body)
    assert [r.amount for r in records[-1].rows] == [1, -1]
    assert records[-1].rows[1].line == 11  # 5 header lines, then VER, blank, {, TRANS, blank


def test_last_line_without_newline() -> None:
    records, _ = parse(b"#KONTO 1910 Kassa")
    assert records[-1] == sie4.Account("1910", "Kassa")


def test_rtrans_is_paired_with_its_twin_and_not_booked() -> None:
    body = (b'#VER A 1 20250110 "x"\n{\n#TRANS 1910 {} -1200\n#TRANS 6250 {} 1200\n'
            b'#BTRANS 6250 {} 1200 "" "" "" "Eva"\n#RTRANS 6250 {} 960 "" "" "" "Eva"\n'
            b'#TRANS 6250 {} 960\n#RTRANS 2640 {} 240\n#TRANS 2640 {} 240\n}\n')
    records, parser = parse(body)
    voucher = records[-1]
    assert [(r.account, r.amount) for r in voucher.booked_rows] == [
        ("1910", -1200), ("6250", 1200), ("6250", 960), ("2640", 240)]
    assert [r.account for r in voucher.added_rows] == ["6250", "2640"]
    assert [r.sign for r in voucher.removed_rows] == ["Eva"]
    assert codes(parser) == []


def test_rtrans_without_twin_is_reported() -> None:
    body = b'#VER A 1 20250110 "x"\n{\n#RTRANS 1910 {} 5\n#TRANS 3010 {} -5\n}\n'
    _, parser = parse(body)
    assert codes(parser) == ["rtrans.unpaired"]
    assert parser.findings[0].line == 8


def test_rtrans_twin_with_other_date_is_paired_and_reported() -> None:
    body = (b'#VER A 1 20250110 "x"\n{\n#RTRANS 1930 {} 500 20100326 "" "" "2 C B"\n'
            b'#TRANS 1930 {} 500 20100122 ""\n#TRANS 3010 {} -500\n}\n')
    _, parser = parse(body)
    assert codes(parser) == ["rtrans.twin_differs"]


def test_unknown_labels_and_extra_fields_are_kept_and_reported() -> None:
    records, parser = parse(b'#MOMSKOD 2610 10\n#KONTO 1910 "Kassa" "extra" 7\n')
    assert records[-2] == sie4.UnknownRecord("#MOMSKOD", ("2610", "10"))
    assert records[-1] == sie4.Account("1910", "Kassa", extra=("extra", "7"))
    assert codes(parser) == ["label.unknown", "fields.extra"]


def test_lower_case_label_is_read_and_reported() -> None:
    records, parser = parse(b'#konto 1910 "Kassa"\n')
    assert records[-1] == sie4.Account("1910", "Kassa")
    assert codes(parser) == ["label.case"]


def test_first_record_must_be_flag() -> None:
    _, parser = parse(b"", head=b'#FNAMN "x"\n#FLAGGA 0\n')
    assert codes(parser) == ["structure.flag_not_first"]


def _with_ksumma(body: bytes) -> bytes:
    crc = 0
    for line in body.splitlines():
        fields = sie4.lexer.split_fields(line.strip(), 0) if line.strip() not in (b"{", b"}") else []
        crc = zlib.crc32(sie4.lexer.flatten(fields), crc) if fields else crc
    return b"#FLAGGA 0\n#KSUMMA\n" + body + b"#KSUMMA " + str(crc).encode() + b"\n"


KS_BODY = (b'#PROGRAM "P" 1\n#FNAMN "\x8fkeri \\"AB\\""\n#VER A 1 20250110 "x"\n{\n'
           b'#TRANS 1910 {1 "2"} 1.50\n#TRANS 3010 {} -1.50\n}\n')


def test_ksumma_ok_mismatch_truncated_absent() -> None:
    data = _with_ksumma(KS_BODY)
    ok = sie4.Parser()
    ok.feed(data)
    ok.close()
    assert ok.ksumma == sie4.KSUMMA_OK

    changed = sie4.Parser()
    changed.feed(data.replace(b"1.50", b"1.60"))
    changed.close()
    assert changed.ksumma == sie4.KSUMMA_MISMATCH
    assert codes(changed) == ["ksumma.mismatch"]

    truncated = sie4.Parser()
    truncated.feed(data[: data.rindex(b"#KSUMMA ")])
    truncated.close()
    assert truncated.ksumma == sie4.KSUMMA_TRUNCATED
    assert codes(truncated) == ["ksumma.truncated"]

    absent = sie4.Parser()
    absent.feed(HEAD)
    absent.close()
    assert absent.ksumma == sie4.KSUMMA_ABSENT


def test_ksumma_accepts_signed_int32_form() -> None:
    data = _with_ksumma(KS_BODY)
    value = int(data.rsplit(b" ", 1)[1])
    signed = value - (1 << 32) if value >= 1 << 31 else value
    parser = sie4.Parser()
    parser.feed(data.rsplit(b" ", 1)[0] + b" " + str(signed).encode() + b"\n")
    parser.close()
    assert parser.ksumma == sie4.KSUMMA_OK


def test_ksumma_mismatch_raises_in_strict_mode() -> None:
    parser = sie4.Parser(strict=True)
    with pytest.raises(sie4.SieValidationError, match=r"ksumma\.mismatch"):
        parser.feed(_with_ksumma(KS_BODY).replace(b"1.50", b"1.60"))


@pytest.mark.parametrize(("encoding", "detected"), [("cp437", "cp437"), ("utf-8", "utf-8"),
                                                    ("latin-1", "latin-1")])
def test_files_that_declare_pc8_are_decoded_as_what_they_are(encoding: str, detected: str) -> None:
    text = '#FLAGGA 0\n#FORMAT PC8\n#FNAMN "Åkeri Östra AB"\n#KONTO 3010 "Försäljning är här"\n'
    parser = sie4.Parser()
    records = parser.feed(text.encode(encoding)) + parser.close()
    assert records[2] == sie4.CompanyName("Åkeri Östra AB")
    assert records[3] == sie4.Account("3010", "Försäljning är här")
    assert parser.encoding == detected
    assert codes(parser) == ([] if detected == "cp437" else ["encoding.not_cp437"])


def test_utf8_bom_is_skipped_and_reported() -> None:
    parser = sie4.Parser()
    records = parser.feed(b"\xef\xbb\xbf#FLAGGA 0\n") + parser.close()
    assert records == [sie4.Flag(0)]
    assert codes(parser) == ["encoding.bom"]


def test_more_than_two_decimals_is_a_warning() -> None:
    _, parser = parse(b"#IB 0 1910 1.005\n")
    assert codes(parser) == ["amount.precision"]


TRICKY_ROWS = [
    b"#TRANS 1910 {} 1",
    b"#TRANS 1910 {} 1 20250110",
    b'#TRANS 1910 {} 1 "" "a \\"b\\""',
    b'#TRANS 1910 {1 "x y"} 1 "" "" 3',
    b'#TRANS 1910 {1 "x"} 1 "" bare 3 sign',
    b'#TRANS 1910 {  1   "x"  } 1',
    b'#TRANS 1910 {} 1 "" "C:\\dir" 3',
    b'#RTRANS 1910 {} 1 20250110 "t" 1.5 "Eva"',
    b'#TRANS 1910 {} 1 "" bare\r',  # CRLF: the CR is no part of the last field
    b'#TRANS 1910 {1 "x"} 1 "" "" 3 sign\r',
    b'#TRANS 1910 {1 "a}b"} 1',
    b'#TRANS 1910 {1 "a{b"} 1',
    b'#TRANS 1910 {1 "a\\"b"} 1',
    b'#BTRANS\t1910\t{}\t-1.5\t20250110\t"t"\t2\t"s"',
    b'  #TRANS  1910  {1 "x"}  1.50  ""  "t"  ""  "s"  ',
    b'#TRANS 1910 {} 1 "" "t" "" "s" extra',
]
TRICKY_VERS = [
    b'#VER A 1 20250110 "x"',
    b'#VER A 1 20250110 bare\r',
    b'#VER "A" "" 20250110 "t" 20250111 sign\r',
    b'#VER\tB\t7\t20250110\t""\t""\t"Eva"',
    b'  #VER  "A \\"1\\""  12  20250110  ',
]


def _both_ways(body: bytes) -> tuple[sie4.Voucher, sie4.Voucher]:
    """A running #KSUMMA turns the fast paths off, so the same lines go both ways."""
    fast, _ = parse(body)
    parser = sie4.Parser()
    general = parser.feed(b"#FLAGGA 0\n#KSUMMA\n" + HEAD[10:] + body) + parser.close()
    return fast[-1], general[-1]


@pytest.mark.parametrize("row", TRICKY_ROWS)
def test_fast_and_general_paths_agree(row: bytes) -> None:
    fast, general = _both_ways(b'#VER A 1 20250110 "x"\n{\n' + row + b"\n}\n")
    assert fast.rows == general.rows
    assert fast == general
    assert [r.line + 1 for r in fast.rows] == [r.line for r in general.rows]  # one more line there


@pytest.mark.parametrize("ver", TRICKY_VERS)
def test_fast_and_general_paths_agree_on_vouchers(ver: bytes) -> None:
    fast, general = _both_ways(ver + b"\n{\n#TRANS 1910 {} 0\n}\n")
    assert fast == general
    assert fast.line + 1 == general.line


@pytest.mark.parametrize("line", TRICKY_ROWS + TRICKY_VERS)
def test_fast_patterns_read_the_same_without_possessive_quantifiers(line: bytes) -> None:
    """Python 3.10 gets the fast-path patterns with plain quantifiers: same matches."""
    for pattern in (parser_module._FAST_ROW, parser_module._FAST_VER):
        plain = re.compile(pattern.pattern.replace(b"*+", b"*").replace(b"++", b"+"))
        for text in (line, line.strip(), b"\t" + line):
            expected = plain.fullmatch(text)
            got = pattern.fullmatch(text)
            assert (got and got.groups()) == (expected and expected.groups())
