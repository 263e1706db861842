"""Malformed and odd SIE files through `load-sie`: each refused or accepted as specified.

Every file meets a ledger that already holds a year (company 556677-8899, 2025); a
refused file must leave it exactly as it was, ids included, and the attempt is
recorded as a failed load.  The `sie4` corpus of unreadable files is loaded with
`--company` naming that very company and year, so the loader is already replacing
the year when the parser gives up halfway: the transaction must take it all back.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from ledgerstream import query
from siefiles import ORGNR, ROOT, cli, simple_year, unchanged

import sie4
from sie4.files import validate_file
from tests.postgres import PgCluster

CORPUS = sorted((ROOT / "tests" / "sie4" / "malformed").glob("*.se"))
HEAD = (b'#FLAGGA 0\n#PROGRAM "Test" 1.0\n#FORMAT PC8\n#GEN 20250115\n#SIETYP 4\n'
        b'#FNAMN "Test AB"\n')
_orgnrs = itertools.count(1)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
               ) -> str:
    """One database per backend for the module, holding the year every file is aimed at."""
    tmp = tmp_path_factory.mktemp("malformed")
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'ledger.db'}"
    else:
        cluster: PgCluster = request.getfixturevalue("pg_cluster")
        url = cluster.create_database(f"malformed_{next(_orgnrs)}")
    assert cli(url, "load-sie", simple_year(tmp / "base.se")).code == 0
    return url


def _line_of(path: Path) -> int:
    """Where sie4 itself says the file breaks."""
    with pytest.raises(sie4.SieError) as info:
        sie4.parse_bytes(path.read_bytes())
    assert info.value.line is not None
    return info.value.line


def test_the_corpus_is_there() -> None:
    assert len(CORPUS) >= 30


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_unreadable_file_is_refused_and_rolled_back(ledger_url: str, path: Path) -> None:
    before = unchanged(ledger_url)
    run = cli(ledger_url, "load-sie", path, "--company", ORGNR)
    assert run.code == 2, run.err
    assert f"cannot read the file: {path}:{_line_of(path)}:" in run.err
    assert "the ledger is unchanged" in run.err
    assert unchanged(ledger_url) == before
    status, error = query(ledger_url, "SELECT status, error FROM loads ORDER BY id DESC")[0]
    assert status == "failed" and f"{path.name}:{_line_of(path)}:" in error


def _orgnr() -> str:
    """A fresh company for each accepted file, so that accepted files never meet."""
    return f"559{next(_orgnrs):03d}-0000"


def _file(tmp: Path, body: str | bytes, *, orgnr: str | None = ORGNR,
          rar: str = "#RAR 0 20250101 20251231", suffix: str = ".se",
          encoding: str = "cp437") -> Path:
    head = HEAD + (f"#ORGNR {orgnr}\n".encode() if orgnr is not None else b"")
    head += rar.encode() + b"\n#KONTO 1930 Bank\n#KONTO 3001 Sales\n"
    data = body if isinstance(body, bytes) else body.encode(encoding)
    path = tmp / f"case{suffix}"
    path.write_bytes(head + data)
    return path


def _ver(number: str = "1", rows: str = "#TRANS 1930 {} 10.00\n#TRANS 3001 {} -10.00\n",
         series: str = "A", date: str = "20250110") -> str:
    return f'#VER {series} {number} {date} "Sale"\n{{\n{rows}}}\n'


# name -> (body, file options, extra args, expected code, words in the output)
REFUSED: dict[str, tuple[str | bytes, dict, tuple[str, ...], str]] = {
    "unbalanced_voucher": (_ver(rows="#TRANS 1930 {} 10.00\n#TRANS 3001 {} -9.00\n"), {}, (),
                           "line 11: error voucher.unbalanced"),
    "ksumma_mismatch": ("#KSUMMA 12345\n", {}, (), "ksumma"),
    "replacement_characters": ('#VER A 1 20250110 "\ufffdvning"\n{\n#TRANS 1930 {} 1\n'
                               '#TRANS 3001 {} -1\n}\n', {"encoding": "utf-8"}, (),
                               "error encoding.replacement_characters"),
    "no_rar": (_ver(), {"rar": ""}, (), "no #RAR 0"),
    "no_orgnr": (_ver(), {"orgnr": None}, (), "no #ORGNR"),
    "empty_orgnr": (_ver(), {"orgnr": '""'}, (), "no #ORGNR"),
    "three_decimals": (_ver(rows="#TRANS 1930 {} 10.005\n#TRANS 3001 {} -10.005\n"), {},
                       ("--accept-findings",), "line 13: amount 10.005 has more than two"),
    "long_series": (_ver(series="ABCDEFGHIJKLMNOPQ"), {}, ("--accept-findings",),
                    "series 'ABCDEFGHIJKLMNOPQ' is longer than"),
    "long_account": (_ver(rows="#TRANS 19301930193019301 {} 1\n#TRANS 3001 {} -1\n"), {},
                     ("--accept-findings",), "account '19301930193019301' is longer"),
    "long_object": (_ver(rows=f'#TRANS 1930 {{1 "{"x" * 65}"}} 1\n#TRANS 3001 {{}} -1\n'), {},
                    ("--accept-findings",), "is longer than the ledger's 64"),
    "year_overlaps": (_ver(), {"rar": "#RAR 0 20250701 20260630"}, ("--accept-findings",),
                      "overlaps it"),
    "same_start_other_end": (_ver(), {"rar": "#RAR 0 20250101 20250630"},
                             ("--accept-findings",), "overlaps it"),
    "year_reversed": (_ver(), {"rar": "#RAR 0 20251231 20250101"}, ("--accept-findings",),
                      "ends (2025-01-01) before it starts"),
    "company_not_an_orgnr": (_ver(), {}, ("--company", "Test AB"), "not an organisation number"),
    "ksumma_never_closed": (b"", {}, (), "ksumma.truncated"),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_file_leaves_the_ledger_alone(ledger_url: str, tmp_path: Path, name: str) -> None:
    body, options, args, words = REFUSED[name]
    path = _file(tmp_path, body, **options)
    if name == "ksumma_never_closed":  # #KSUMMA opened after #FLAGGA and never closed
        path.write_bytes(path.read_bytes().replace(b"#FLAGGA 0\n", b"#FLAGGA 0\n#KSUMMA\n", 1))
    before = unchanged(ledger_url)
    run = cli(ledger_url, "load-sie", path, *args)
    assert run.code == 1, run.out + run.err
    assert words in run.out + run.err
    assert "refused" in run.err
    assert unchanged(ledger_url) == before
    assert query(ledger_url, "SELECT status FROM loads ORDER BY id DESC LIMIT 1") == [("failed",)]


# name -> (body, file options, extra args, finding code that must be reported (or None))
ACCEPTED: dict[str, tuple[str | bytes, dict, tuple[str, ...], str | None]] = {
    "date_outside_year": (_ver(date="20240110"), {}, (), "voucher.date_outside_year"),
    "duplicate_numbers": (_ver() + _ver() + _ver(), {}, (), "voucher.duplicate_number"),
    "text_number": (_ver(number='"2025-A"'), {}, (), "voucher.number_not_numeric"),
    "empty_number": (_ver(number='""'), {}, (), None),
    "utf8_text": ('#VER A 1 20250110 "Försäljning"\n{\n#TRANS 1930 {} 1\n#TRANS 3001 {} -1\n}\n',
                  {"encoding": "utf-8"}, (), "encoding.not_cp437"),
    "rtrans_without_twin": (_ver(rows="#RTRANS 1930 {} 5\n#TRANS 1930 {} 1\n"
                                 "#TRANS 3001 {} -1\n"), {}, (), "rtrans.unpaired"),
    "voucher_without_rows": (_ver(rows=""), {}, (), "voucher.empty"),
    "undeclared_account": (_ver(rows="#TRANS 1999 {} 1\n#TRANS 3001 {} -1\n"), {}, (),
                           "account.undeclared"),
    "closing_mismatch": ("#IB 0 1930 100\n#UB 0 1930 50\n" + _ver(), {}, (),
                         "balance.closing_mismatch"),
    "head_only": ("#IB 0 1930 100\n#UB 0 1930 100\n", {}, (), None),
    "format_not_pc8": (_ver(), {}, (), None),
    "duplicate_balance": ("#IB 0 1930 1\n#IB 0 1930 2\n" + _ver(), {}, (), "balance.duplicate"),
    "unknown_label": ("#FOO bar\n" + _ver(), {}, (), "label.unknown"),
    "import_file_4i": (_ver(number='""') + _ver(number='""'), {"suffix": ".si"}, (), None),
    "unbalanced_accepted": (_ver(rows="#TRANS 1930 {} 10.00\n#TRANS 3001 {} -9.00\n"), {},
                            ("--accept-findings",), "voucher.unbalanced"),
}


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_accepted_file_loads_every_voucher(ledger_url: str, tmp_path: Path, name: str) -> None:
    body, options, args, code = ACCEPTED[name]
    orgnr = _orgnr()
    path = _file(tmp_path, body, orgnr=orgnr, **options)
    if name == "format_not_pc8":
        path.write_bytes(path.read_bytes().replace(b"#FORMAT PC8", b"#FORMAT PC9"))
        code = "format.not_pc8"
    run = cli(ledger_url, "load-sie", path, *args)
    assert run.code == 0, run.out + run.err
    if code is not None:
        assert f" {code}: " in run.out
    report = validate_file(path)
    held = query(ledger_url, "SELECT count(*) FROM vouchers v JOIN companies c"
                             " ON c.id = v.company_id WHERE c.organisation_number = :o", o=orgnr)
    assert held == [(report.vouchers,)]
    verify = cli(ledger_url, "verify", "--company", orgnr)
    assert verify.code == (1 if name == "unbalanced_accepted" else 0), verify.out


def test_dry_run_writes_nothing(ledger_url: str, tmp_path: Path) -> None:
    good = _file(tmp_path, _ver() + _ver("2"))
    before = unchanged(ledger_url)
    loads = query(ledger_url, "SELECT count(*) FROM loads")
    run = cli(ledger_url, "load-sie", good, "--dry-run")
    assert run.code == 0 and "dry run, nothing written: would load" in run.out
    assert "2 vouchers" in run.out and "replaced 2 vouchers" in run.out
    bad = _file(tmp_path, _ver(rows="#TRANS 1930 {} 1\n#TRANS 3001 {} -2\n"))
    run = cli(ledger_url, "load-sie", bad, "--dry-run")
    assert run.code == 1 and "dry run: would be refused" in run.out
    assert unchanged(ledger_url) == before
    assert query(ledger_url, "SELECT count(*) FROM loads") == loads


def test_missing_file(ledger_url: str, tmp_path: Path) -> None:
    run = cli(ledger_url, "load-sie", tmp_path / "nope.se")
    assert run.code == 2 and "no such file" in run.err
