"""A corpus of malformed files: each raises its SieError subclass naming the right line."""

from __future__ import annotations

from pathlib import Path

import pytest

import sie4
from sie4.files import read_file, validate_file

CORPUS = Path(__file__).parent / "malformed"

# file -> (error class, line, words the message must contain)
EXPECTED: dict[str, tuple[type[sie4.SieError], int, str]] = {
    "unterminated_quote.se": (sie4.SieSyntaxError, 10, "unterminated quoted field"),
    "unclosed_object_list.se": (sie4.SieSyntaxError, 12, "not closed"),
    "stray_close_brace_in_line.se": (sie4.SieSyntaxError, 12, "'}' without a '{'"),
    "nested_object_list.se": (sie4.SieSyntaxError, 12, "do not nest"),
    "bad_date.se": (sie4.SieValueError, 10, "expected a date YYYYMMDD"),
    "bad_date_format.se": (sie4.SieValueError, 10, "'2025-01-10'"),
    "decimal_comma.se": (sie4.SieValueError, 12, "'.' as decimal point"),
    "bad_amount.se": (sie4.SieValueError, 10, "expected an amount"),
    "amount_exponent.se": (sie4.SieValueError, 10, "'1E5'"),
    "voucher_never_closes.se": (sie4.SieTruncatedError, 13,
                                "ends inside the voucher block of #VER on line 10"),
    "ver_without_block.se": (sie4.SieStructureError, 11, "expected '{' on the line after #VER on line 10"),
    "ends_after_ver.se": (sie4.SieTruncatedError, 10, "expected its '{' block"),
    "row_outside_block.se": (sie4.SieStructureError, 10, "outside a voucher block"),
    "brace_without_ver.se": (sie4.SieStructureError, 10, "without a #VER"),
    "close_without_open.se": (sie4.SieStructureError, 15, "without an open voucher block"),
    "nested_voucher_block.se": (sie4.SieStructureError, 12, "inside the voucher block"),
    "ver_inside_block.se": (sie4.SieStructureError, 13, "expected '}' first"),
    "binary_garbage.se": (sie4.SieSyntaxError, 11, "binary data"),
    "truncated_in_quote.se": (sie4.SieSyntaxError, 12, "unterminated quoted field"),
    "empty.se": (sie4.SieTruncatedError, 1, "no SIE records"),
    "blank_only.se": (sie4.SieTruncatedError, 3, "no SIE records"),
    "no_label.se": (sie4.SieSyntaxError, 10, "expected a record starting with '#'"),
    "positive_year_index.se": (sie4.SieValueError, 10, "year index is 0 or negative"),
    "missing_mandatory_field.se": (sie4.SieValueError, 7, "#RAR needs 3 field(s)"),
    "odd_object_list.se": (sie4.SieValueError, 12, "pairs of dimension and object"),
    "bad_period.se": (sie4.SieValueError, 10, "expected a period YYYYMM"),
    "row_without_amount.se": (sie4.SieValueError, 12, "needs account, object list and amount"),
    "bad_ksumma_value.se": (sie4.SieSyntaxError, 10, "expected a checksum number"),
    "bad_label.se": (sie4.SieSyntaxError, 10, "expected a label"),
    "object_list_as_account.se": (sie4.SieValueError, 10, "got an object list"),
}


def test_corpus_is_complete() -> None:
    on_disk = {p.name for p in CORPUS.glob("*.se")}
    assert on_disk == set(EXPECTED)
    assert len(on_disk) >= 20


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_malformed_file_raises_named_error(name: str) -> None:
    cls, line, words = EXPECTED[name]
    path = CORPUS / name
    with pytest.raises(sie4.SieError) as info:
        read_file(path)
    error = info.value
    assert type(error) is cls
    assert error.line == line
    assert words in error.message
    assert str(path) in str(error)  # the file helpers name the file
    assert f":{line}:" in str(error)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_malformed_file_never_escapes_as_another_exception(name: str) -> None:
    data = (CORPUS / name).read_bytes()
    for step in (1, 7, len(data) or 1):  # however the bytes arrive
        parser = sie4.Parser()
        with pytest.raises(sie4.SieError):
            for i in range(0, len(data), step):
                parser.feed(data[i:i + step])
            parser.close()


def test_validate_file_also_names_file_and_line() -> None:
    path = CORPUS / "decimal_comma.se"
    with pytest.raises(sie4.SieValueError, match=r"decimal_comma\.se:12:"):
        validate_file(path)


def test_overlong_line_fails_fast_without_buffering_it_all() -> None:
    parser = sie4.Parser(max_line_bytes=1000)
    parser.feed(b"#FLAGGA 0\n")
    with pytest.raises(sie4.SieSyntaxError, match="longer than 1000 bytes") as info:
        for _ in range(100):
            parser.feed(b"x" * 100)
    assert info.value.line == 2
