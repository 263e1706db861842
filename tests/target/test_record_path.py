"""The target's lean RECORD path loads exactly what the SDK's own per-record path loads.

`TargetSenseworks._process_record_message` replaces the SDK's generic per-record steps
for the contract's streams; these tests run the same streams through both paths.
"""

from __future__ import annotations

import io
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from ledgerstream import LOAD_TABLES, Stream, dump, query, run_target
from singer_sdk.exceptions import InvalidInputLine, InvalidRecord

from target_senseworks.contract import schema_message
from target_senseworks.target import LedgerReader, TargetFailed, TargetSenseworks

#: Tables whose rows carry the wall-clock time of the load.
TIMED = ("companies", "financial_years", "schema_version")


def _second_database(request: pytest.FixtureRequest, db_url: str, tmp_path: Path) -> str:
    if db_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'sdk-path.db'}"
    return request.getfixturevalue("pg_cluster").create_database(f"sdk_{tmp_path.name[-20:]}")


def _rich_stream() -> Stream:
    s = Stream().state({"n": 0}).company().year(3, "2025-01-01", "2025-12-31")
    s.account(3, "1930", "Bank", "1000.25").account(3, "3001", "Försäljning", None)
    s.series(3, "A", "Redovisning")
    s.voucher(3, "A", 1, "2025-01-10", [("1930", "100.50"), ("3001", "-100.50")])
    s.voucher(3, "A", 2, "2025-01-11", [("1930", "7"), ("3001", "-7"), ("1930", "3", True)],
              rows_first=True)
    s.state({"n": 1})  # mid-year: held until the year is applied
    s.voucher(3, "A", 1, "2025-01-10", [("1930", "99"), ("3001", "-99")])  # sent again
    s.attachment("f-1", b"pdf bytes", [(3, "A", 1)])
    s.snapshot(3, {"A": [(1, 2)]})
    return s.state({"n": 2})


def _ledger(url: str) -> tuple[dict[str, Any], Any]:
    tables = dump(url, skip=(*LOAD_TABLES, *TIMED))
    counts = query(url, "SELECT status, counts FROM loads ORDER BY id")
    return tables, counts


def test_lean_path_loads_what_the_sdk_path_loads(
    db_url: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = _rich_stream().text()
    states = run_target(db_url, body)
    sdk_url = _second_database(request, db_url, tmp_path)
    with monkeypatch.context() as m:
        m.setattr(TargetSenseworks, "_fast_stream", lambda self, stream: None)
        sdk_states = run_target(sdk_url, body)
    assert states == sdk_states == [{"n": 2}]
    assert _ledger(db_url) == _ledger(sdk_url)
    assert query(db_url, "SELECT count(*) FROM voucher_rows") == [(5,)]


def test_sdc_metadata_fields_are_dropped(db_url: str) -> None:
    s = Stream().company().year(3, "2025-01-01", "2025-12-31")
    s.voucher(3, "A", 1, "2025-01-10", [("1930", "5"), ("3001", "-5")])
    for message in s.messages:
        if message["type"] == "RECORD":
            message["record"]["_sdc_extracted_at"] = "2026-11-26T01:00:00+00:00"
            message["record"]["_sdc_sequence"] = 7
    s.snapshot(3, {"A": [(1, 1)]})
    run_target(db_url, s)
    assert query(db_url, "SELECT count(*) FROM voucher_rows") == [(2,)]
    (address,) = query(db_url, "SELECT address FROM companies")[0]
    assert "_sdc_extracted_at" not in str(address)


def test_missing_key_property_is_refused(db_url: str) -> None:
    s = Stream().company().year(3, "2025-01-01", "2025-12-31")
    schema = schema_message("vouchers")
    schema["schema"] = {**schema["schema"], "required": ["tenant_id"]}  # keys not required
    s.messages.append(schema)
    s.messages.append({"type": "RECORD", "stream": "vouchers", "record": {
        "tenant_id": 1234567, "financial_year_id": 3, "series": "A",
        "transaction_date": "2025-01-10"}})
    with pytest.raises(TargetFailed, match=r"MissingKeyPropertiesError: Record is missing"):
        run_target(db_url, s)


def test_invalid_record_is_logged_and_refused(db_url: str, caplog: pytest.LogCaptureFixture) -> None:
    s = Stream().company().year(3, "2025-01-01", "2025-12-31")
    s.voucher(3, "A", 1, "2025-01-10", [("1930", "5"), ("3001", "-5")])
    s.messages[-1]["record"]["removed"] = "no"
    with pytest.raises(InvalidRecord, match=r"voucher_rows \[.*'removed'"):
        run_target(db_url, s)
    assert "Record validation failed" in caplog.text


def test_stream_maps_take_the_sdk_path(db_url: str) -> None:
    s = Stream().company().year(3, "2025-01-01", "2025-12-31")
    s.voucher(3, "A", 1, "2025-01-10", [("1930", "5"), ("3001", "-5")])
    s.snapshot(3, {"A": [(1, 1)]})
    run_target(db_url, s, stream_maps={"vouchers": {"comments": "'mapped'"}})
    assert query(db_url, "SELECT comments FROM vouchers") == [("mapped",)]


def test_the_reader_reads_numbers_exactly_and_refuses_bad_lines_as_the_sdk_does() -> None:
    got: list[dict[str, Any]] = []
    callbacks = {"RECORD": got.append}
    lines = ('{"type":"RECORD","stream":"s","record":{"a":0.1,"b":12.50,"c":3,"d":"x"}}\n'
             '  {"type": "RECORD", "stream": "s", "record": {"a": NaN}}  \n')
    counts = LedgerReader().process_lines(io.StringIO(lines), callbacks)
    assert counts == {"RECORD": 2}
    first, second = got[0]["record"], got[1]["record"]
    assert first == {"a": Decimal("0.1"), "b": Decimal("12.50"), "c": 3, "d": "x"}
    assert type(first["a"]) is Decimal and type(first["c"]) is int
    assert math.isnan(second["a"])  # only Python's json reads NaN: the SDK's decoder takes it
    with pytest.raises(InvalidInputLine, match="Unable to parse"):
        LedgerReader().process_lines(io.StringIO('{"type": "RECORD", "stream"\n'), callbacks)
    with pytest.raises(Exception, match="type"):
        LedgerReader().process_lines(io.StringIO('{"stream": "s"}\n'), callbacks)
