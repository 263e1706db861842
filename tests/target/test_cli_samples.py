"""Every real SIE sample through `senseworks load-sie` and `verify`, as SOURCES.md says.

The expected counts are SOURCES.md's (taken with grep and an independent checker);
`verify` must report exactly the inconsistencies the files are known to have, and
the same ones `sie4` finds in the file itself.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from ledgerstream import query
from siefiles import cli, samples_dir, unchanged

import sie4
from sie4.files import validate_file

# file -> (extra args, vouchers, booked rows, struck rows, #RTRANS rows)
LOADS: dict[str, tuple[tuple[str, ...], int, int, int, int]] = {
    "jokedst-SieFile__SIE4_Exempelfil.SE": ((), 295, 1330, 0, 0),
    "idstam-jsisie__BL0001_typ4.SE": ((), 84, 405, 3, 6),
    "idstam-jsisie__Bokslut_Norstedts_SIE_4E.se": ((), 177, 678, 0, 0),
    "Alipsa-SIEParser__44_sie4.se": ((), 286, 949, 0, 0),
    "idstam-jsisie__sie_4.SE": ((), 20, 76, 1, 1),
    "idstam-jsisie__Sie4.si": (("--company", "556000-0000"), 165, 869, 0, 0),
    "idstam-jsisie__SIE4_Exempelfil_med_underdim.SE": (("--accept-findings",), 295, 1330, 0, 0),
}


def _findings(url: str) -> list[dict[str, Any]]:
    raw = query(url, "SELECT findings FROM loads ORDER BY id DESC LIMIT 1")[0][0]
    return raw if isinstance(raw, list) else json.loads(raw)


def test_the_corpus_is_the_one_sources_describes() -> None:
    on_disk = {p.name for p in samples_dir().iterdir() if p.name != "SOURCES.md"}
    assert on_disk == set(LOADS)


@pytest.mark.parametrize("name", sorted(LOADS))
def test_sample_loads_and_verifies(db_url: str, name: str) -> None:
    args, vouchers, booked, struck, history = LOADS[name]
    path = samples_dir() / name
    run = cli(db_url, "load-sie", path, *args)
    assert run.code == 0, run.err
    counts = query(db_url, "SELECT count(*) FROM vouchers")[0][0], query(
        db_url, "SELECT count(*) FROM voucher_rows WHERE removed = :f", f=False)[0][0], query(
        db_url, "SELECT count(*) FROM voucher_rows WHERE removed = :t", t=True)[0][0]
    assert counts == (vouchers, booked, struck)
    assert f"{vouchers} vouchers, {booked} booked rows, {struck} struck rows ({history} " in run.out
    status = cli(db_url, "status", "--json").json()
    (company,) = status["companies"]
    (year,) = company["years"]
    assert (year["ledger_source"], year["vouchers"], year["booked_rows"]) == ("sie", vouchers, booked)
    assert (year["last_load"]["source"], year["last_load"]["status"]) == ("sie", "succeeded")

    verify = cli(db_url, "verify", "--json")
    found = verify.json()["findings"]
    if name == "idstam-jsisie__Sie4.si":
        _check_sie4_si(db_url, path, found)
        assert verify.code == 0  # warnings: an inconsistent export is reported, not an error
    else:
        assert found == [], found
        assert verify.code == 0


def _check_sie4_si(url: str, path: Any, found: list[dict[str, Any]]) -> None:
    """29 of the 48 #UB differ from IB + booked rows (SOURCES.md); sie4 sees the same."""
    assert query(url, "SELECT count(*) FROM account_balances WHERE closing IS NOT NULL") == [(48,)]
    codes = Counter(f["code"] for f in found)
    assert codes == {"balance.closing_mismatch": 29, "balance.closing_missing": 6}
    assert {f["severity"] for f in found} == {"warning"}
    report = validate_file(path)
    in_file = {(f.code, f.message.split(":")[0]) for f in report.findings
               if f.code.startswith("balance.closing")}
    in_ledger = {(f["code"], f["subject"]) for f in found}
    assert in_ledger == in_file
    # The differences themselves agree too.
    file_diffs = sorted(f.message.rsplit("difference ", 1)[1] for f in report.findings
                        if f.code == "balance.closing_mismatch")
    ledger_diffs = sorted(f["message"].rsplit("difference ", 1)[1] for f in found
                          if f["code"] == "balance.closing_mismatch")
    assert ledger_diffs == file_diffs


def test_bl_repeated_voucher_numbers_lose_no_voucher(db_url: str) -> None:
    """BL Administration numbers every asset-register voucher "# 1": all twelve are kept."""
    run = cli(db_url, "load-sie", samples_dir() / "idstam-jsisie__BL0001_typ4.SE")
    assert run.code == 0
    rows = query(db_url, "SELECT number, number_text, occurrence, transaction_date FROM vouchers"
                         " WHERE series = '#' ORDER BY occurrence")
    assert [(n, t, o) for n, t, o, _ in rows] == [(1, "1", i) for i in range(1, 13)]
    assert len({d for *_, d in rows}) == 12  # twelve different months, not one voucher
    warnings = [f for f in _findings(db_url) if f["code"] == "voucher.duplicate_number"]
    assert len(warnings) == 11 and all(f["severity"] == "warning" for f in warnings)
    assert "line 469: warning voucher.duplicate_number" in run.out


def test_file_without_orgnr_is_refused_without_company(db_url: str) -> None:
    before = unchanged(db_url)
    run = cli(db_url, "load-sie", samples_dir() / "idstam-jsisie__Sie4.si")
    assert run.code == 1
    assert "no #ORGNR" in run.err and "--company" in run.err
    assert unchanged(db_url) == before
    assert query(db_url, "SELECT status, source FROM loads") == [("failed", "sie")]


def test_damaged_encoding_is_refused_with_its_line(db_url: str) -> None:
    before = unchanged(db_url)
    path = samples_dir() / "idstam-jsisie__SIE4_Exempelfil_med_underdim.SE"
    run = cli(db_url, "load-sie", path)
    assert run.code == 1
    assert "line 6: error encoding.replacement_characters: 702 U+FFFD" in run.out
    assert "--accept-findings" in run.err
    assert unchanged(db_url) == before
    stored = _findings(db_url)
    assert stored[0]["code"] == "encoding.replacement_characters" and stored[0]["line"] == 6
    # Accepted explicitly: loaded, and the error stays on record with the load.
    run = cli(db_url, "load-sie", path, "--accept-findings")
    assert run.code == 0
    assert [f["code"] for f in _findings(db_url) if f["severity"] == "error"] == [
        "encoding.replacement_characters"]


def test_ksumma_files_record_their_checksum(db_url: str) -> None:
    for name in ("idstam-jsisie__Bokslut_Norstedts_SIE_4E.se", "Alipsa-SIEParser__44_sie4.se"):
        assert cli(db_url, "load-sie", samples_dir() / name).code == 0
    rows = query(db_url, "SELECT settings FROM loads ORDER BY id")
    settings = [s if isinstance(s, dict) else json.loads(s) for (s,) in rows]
    assert [s["ksumma"] for s in settings] == [sie4.KSUMMA_OK, sie4.KSUMMA_OK]
    assert all(len(s["sha256"]) == 64 for s in settings)
