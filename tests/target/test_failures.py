"""Bad records fail the load clearly and write nothing half; STATE waits for applied years."""

from __future__ import annotations

import pytest
from ledgerstream import Stream, dump, query, run_target
from singer_sdk.exceptions import InvalidRecord

from target_senseworks.ledger.apply import LoadError
from target_senseworks.ledger.db import mask_secrets, safe_url
from target_senseworks.target import TargetFailed


def _base() -> Stream:
    s = Stream().company().year(3, "2025-01-01", "2025-12-31")
    s.voucher(3, "A", 1, "2025-01-10", [("1930", "100"), ("3001", "-100")])
    s.snapshot(3, {"A": [(1, 1)]})
    return s


def _start(s: Stream) -> Stream:
    return s.company().year(3, "2025-01-01", "2025-12-31")


def _fails(db_url: str, stream: Stream | str, exc: type[Exception], *needles: str) -> str:
    before = dump(db_url)
    with pytest.raises(exc) as info:
        run_target(db_url, stream)
    message = str(info.value)
    for needle in needles:
        assert needle in message
    # Nothing of the bad year was written; the load says failed, with the reason.
    assert dump(db_url) == before
    status, error = query(db_url, "SELECT status, error FROM loads ORDER BY id DESC")[0]
    assert status == "failed"
    assert needles[0] in error
    return message


def test_row_for_unknown_voucher(db_url: str) -> None:
    run_target(db_url, _base())
    s = _start(Stream())
    s.voucher(3, "A", 1, "2025-01-10", [("1930", "50"), ("3001", "-50")])
    s.record("voucher_rows", {**s.messages[-1]["record"], "number": 9, "row_index": 0})
    s.snapshot(3, {"A": [(1, 1)]})
    _fails(db_url, s, LoadError, "voucher_rows [", "number=9", "unknown voucher")


def test_non_numeric_amount(db_url: str) -> None:
    run_target(db_url, _base())
    s = _start(Stream())
    s.voucher(3, "A", 1, "2025-01-10", [("1930", "50"), ("3001", "-50")])
    body = s.text().replace('"amount": 50', '"amount": "50,00"')
    body += _start(Stream()).snapshot(3, {"A": [(1, 1)]}).text()
    _fails(db_url, body, InvalidRecord, "voucher_rows [", "'amount'", "number=1")


def test_amount_with_three_decimals(db_url: str) -> None:
    run_target(db_url, _base())
    s = _start(Stream())
    s.voucher(3, "A", 1, "2025-01-10", [("1930", "50.001"), ("3001", "-50.001")])
    s.snapshot(3, {"A": [(1, 1)]})
    _fails(db_url, s, LoadError, "voucher_rows [", "more than two decimals")


def test_sha256_mismatch(db_url: str) -> None:
    run_target(db_url, _base())
    s = Stream().attachment("f-9", b"real bytes", [(3, "A", 1)], sha256="0" * 64)
    _fails(db_url, s, LoadError, "attachments [", "file_id='f-9'", "sha256 mismatch")


def test_year_without_snapshot_is_not_applied_and_state_is_held(db_url: str) -> None:
    run_target(db_url, _base())
    before = dump(db_url)
    s = Stream().state({"n": 1})
    _start(s)
    s.voucher(3, "A", 1, "2025-01-10", [("1930", "1"), ("3001", "-1")])
    s.state({"n": 2})  # covers half a year: must never be released
    states = run_target(db_url, s)
    assert states == [{"n": 1}]
    assert dump(db_url) == before
    status, error = query(db_url, "SELECT status, error FROM loads ORDER BY id DESC")[0]
    assert status == "incomplete" and "no voucher_snapshots record" in error


def test_state_held_mid_year_is_released_after_apply(db_url: str) -> None:
    s = _start(Stream())
    s.voucher(3, "A", 1, "2025-01-10", [("1930", "1"), ("3001", "-1")])
    s.state({"n": 2})
    s.snapshot(3, {"A": [(1, 1)]})
    assert run_target(db_url, s) == [{"n": 2}]


def test_secrets_are_masked(tmp_path: object) -> None:
    url = "postgresql+psycopg://ledger:s3cret-pw@127.0.0.1:1/ledger"
    assert "s3cret-pw" not in safe_url(url)
    assert mask_secrets(f"could not connect to {url}", url).count("s3cret-pw") == 0
    assert "s3cret-pw" not in mask_secrets("host=x password=s3cret-pw user=y")
    with pytest.raises(TargetFailed) as info:
        run_target(url, _base())
    assert "s3cret-pw" not in str(info.value)
