"""PostgreSQL writes an empty year into the ledger while it streams (ledger/open_year.py).

The loader is driven directly with a small `staging_row_flush`, so a short stream
makes many chunks.  The portable path (SQLite: stage the year, apply it at the
snapshot) is the reference the chunked path must match.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from ledgerstream import Stream, query
from sqlalchemy import event, text

from target_senseworks.ledger import apply
from target_senseworks.ledger.apply import LedgerLoader
from target_senseworks.ledger.db import make_engine
from target_senseworks.ledger.open_year import Chunk
from target_senseworks.ledger.policy import SourcePolicy
from target_senseworks.sinks import SINKS


@pytest.fixture
def pg_url(pg_cluster: Any, request: pytest.FixtureRequest) -> str:
    return pg_cluster.create_database(f"open_{os.getpid()}_{request.node.name[:40].lower()}")


def _loader(url: str) -> LedgerLoader:
    return LedgerLoader(make_engine(url, writer=True), SourcePolicy.from_config(None, None),
                        staging_row_flush=8)


def _feed(loader: LedgerLoader, stream: Stream) -> None:
    for message in stream.messages:
        if message["type"] == "RECORD":
            getattr(loader, SINKS[message["stream"]].handler_name)(dict(message["record"]))


def _start(vouchers: range, desc: str = "v1") -> Stream:
    s = Stream().company().year(3, "2025-01-01", "2025-12-31")
    for n in vouchers:
        s.voucher(3, "A", n, "2025-01-10", [("1930", f"{n}.50"), ("3001", f"-{n}.50")],
                  description=desc, rows_first=True)
    return s


def _chunks(monkeypatch: pytest.MonkeyPatch) -> list[Chunk]:
    """Record every chunk the loader writes."""
    seen: list[Chunk] = []
    real = apply.apply_chunk

    def spy(conn: Any, year: Any, chunk: Chunk) -> None:
        seen.append(chunk)
        real(conn, year, chunk)

    monkeypatch.setattr(apply, "apply_chunk", spy)
    return seen


def _count(url: str, table: str) -> int:
    return query(url, f"SELECT count(*) FROM {table}")[0][0]


def test_year_is_written_while_it_streams_and_seen_at_its_snapshot(
        pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    chunks = _chunks(monkeypatch)
    loader = _loader(pg_url)
    _feed(loader, _start(range(1, 41)))
    loader._wait()
    # Inside the year's transaction the chunks are already in the ledger tables...
    written = loader.conn.execute(text("SELECT count(*) FROM vouchers")).scalar_one()
    assert written >= 30 and len(chunks) >= 5
    # ...while every other connection still sees the year as it was: empty.
    assert _count(pg_url, "vouchers") == 0
    assert query(pg_url, "SELECT ledger_source FROM financial_years") == [(None,)]

    _feed(loader, Stream().snapshot(3, {"A": [(1, 40)]}))
    assert loader.finish() == "succeeded"
    loader.close()
    assert _count(pg_url, "vouchers") == 40 and _count(pg_url, "voucher_rows") == 80
    assert query(pg_url, "SELECT ledger_source FROM financial_years") == [("fortnox",)]
    assert loader.counts["vouchers_inserted"] == 40
    assert loader.counts["voucher_rows_inserted"] == 80


def _tricky() -> Stream:
    """Re-sent vouchers, a late row, a voucher outside the snapshot, years re-sent mid-way."""
    s = _start(range(1, 31))
    s.year(3, "2025-01-01", "2025-12-31").company(name="Exempel AB (ny)")  # joins the year
    s.account(3, "1930", "Bank", "100")
    s.voucher(3, "A", 5, "2025-01-11", [("1930", "7"), ("2440", "-7")],
              description="A5 v2", rows_first=True)  # its first version is written already
    # Parent-first here: in child-first order a re-sent voucher's rows would read as
    # more rows of the voucher still open.
    s.voucher(3, "A", 31, "2025-01-12", [("1930", "1"), ("3001", "-1")], description="A31 v1")
    s.voucher(3, "A", 31, "2025-01-12", [("1930", "2"), ("3001", "-2")],
              description="A31 v2")  # replaces v1 before v1 was written
    s.voucher(3, "A", 99, "2025-01-13", [("1930", "9"), ("3001", "-9")],
              description="not in the snapshot", rows_first=True)
    for index in range(2, 12):  # rows for A10, long after A10 (more than one flush's worth)
        s.record("voucher_rows", {
            "tenant_id": 1234567, "financial_year_id": 3, "series": "A", "number": 10,
            "row_index": index, "account": "6570", "debit": Decimal("0"),
            "credit": Decimal("0"), "amount": Decimal("0"), "description": "late",
            "transaction_information": None, "cost_center": None, "project": None,
            "quantity": None, "removed": False})
    return s.snapshot(3, {"A": [(1, 31)]})


def _ledger(url: str) -> list[tuple[Any, ...]]:
    vouchers = query(url, "SELECT v.series, v.number, v.description, v.content_hash IS NULL,"
                     " r.row_index, r.account, r.description FROM vouchers v"
                     " JOIN voucher_rows r ON r.voucher_id = v.id ORDER BY 1, 2, 5")
    amounts = query(url, "SELECT r.debit, r.credit, r.amount FROM vouchers v JOIN voucher_rows r"
                    " ON r.voucher_id = v.id ORDER BY v.series, v.number, r.row_index")
    # SQLite keeps öre, PostgreSQL numeric: compare as exact decimals in kronor.
    money = [tuple(Decimal(a) / (100 if isinstance(a, int) else 1) for a in row)
             for row in amounts]
    return [(*v, *m) for v, m in zip(vouchers, money, strict=True)]


def test_chunked_year_matches_the_portable_path(
        pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sqlite_url = f"sqlite:///{tmp_path / 'reference.db'}"
    reference = _loader(sqlite_url)
    _feed(reference, _tricky())
    assert reference.finish() == "succeeded"
    reference.close()

    chunks = _chunks(monkeypatch)
    loader = _loader(pg_url)
    _feed(loader, _tricky())
    assert loader.finish() == "succeeded"
    loader.close()

    # Every case of the chunked path was taken: written then re-sent (gone), replaced
    # before written (skip), late rows (again).
    assert len(chunks) >= 5
    assert any(c.gone for c in chunks) and any(c.skip for c in chunks)
    assert any(c.again for c in chunks)

    ledger = _ledger(pg_url)
    assert ledger == _ledger(sqlite_url)
    by_number = {(n, i): (d, unhashed, acc) for _, n, d, unhashed, i, acc, *_ in ledger}
    assert by_number[(5, 0)] == ("A5 v2", False, "1930")
    assert by_number[(31, 0)][0] == "A31 v2"
    assert by_number[(10, 11)] == ("v1", True, "6570")  # late rows kept; no fingerprint
    assert len([k for k in by_number if k[0] == 10]) == 12
    assert 99 not in {n for n, _ in by_number}
    assert _count(pg_url, "vouchers") == 31
    for name in ("vouchers_inserted", "vouchers_deleted", "voucher_rows_inserted"):
        assert loader.counts[name] == reference.counts[name], name
    assert query(pg_url, "SELECT name FROM companies") == [("Exempel AB (ny)",)]
    assert query(pg_url, "SELECT number FROM accounts") == [("1930",)]


def test_incomplete_first_load_leaves_the_year_empty(pg_url: str) -> None:
    loader = _loader(pg_url)
    _feed(loader, _start(range(1, 21)))
    _feed(loader, Stream().snapshot(3, {"A": [(1, 25)]}))  # 25 exist, 20 came
    assert loader.finish() == "incomplete"
    loader.close()
    assert _count(pg_url, "vouchers") == 0 and _count(pg_url, "voucher_rows") == 0
    assert query(pg_url, "SELECT ledger_source FROM financial_years") == [(None,)]
    assert query(pg_url, "SELECT outcome FROM load_years") == [("incomplete",)]


def test_stream_ending_without_snapshot_rolls_the_open_year_back(pg_url: str) -> None:
    loader = _loader(pg_url)
    _feed(loader, Stream().company().year(3, "2025-01-01", "2025-12-31"))
    loader.flush()  # committed before the year opens
    _feed(loader, _start(range(1, 21)).account(3, "1930", "Bank", "100"))
    loader.flush()  # the account joins the open year's transaction
    assert loader.finish() == "incomplete"
    loader.close()
    assert _count(pg_url, "vouchers") == 0
    assert _count(pg_url, "accounts") == 0  # rolled back with the year; STATE was held
    assert _count(pg_url, "financial_years") == 1
    assert loader.counts["vouchers_received"] == 20 and loader.counts["accounts"] == 0
    assert query(pg_url, "SELECT status FROM loads") == [("incomplete",)]

    # The next run (the tap sends the year again) completes it.
    again = _loader(pg_url)
    _feed(again, _start(range(1, 21)).account(3, "1930", "Bank", "100")
          .snapshot(3, {"A": [(1, 20)]}))
    assert again.finish() == "succeeded"
    again.close()
    assert _count(pg_url, "vouchers") == 20 and _count(pg_url, "accounts") == 1


def test_sigkill_during_a_first_load_leaves_the_year_empty(pg_url: str, tmp_path: Path) -> None:
    stream = _start(range(1, 12_001))  # 24,000 rows: past the first chunk (20,000 rows)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"database_url": pg_url}))
    proc = subprocess.Popen(
        [sys.executable, "-m", "target_senseworks.target", "--config", str(config)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    assert proc.stdin is not None
    proc.stdin.write(stream.text())
    proc.stdin.flush()  # stdin stays open: the target waits for the rest of the year
    deadline = time.monotonic() + 60
    # Uncommitted rows already take room in the table's files.
    while not query(pg_url, "SELECT pg_relation_size('voucher_rows') > 0")[0][0]:
        assert time.monotonic() < deadline, "no chunk was written"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    out, _ = proc.communicate(timeout=30)
    assert out.strip() == ""
    assert _count(pg_url, "vouchers") == 0 and _count(pg_url, "voucher_rows") == 0
    assert query(pg_url, "SELECT ledger_source FROM financial_years") == [(None,)]

    loader = LedgerLoader(make_engine(pg_url, writer=True), SourcePolicy.from_config(None, None))
    _feed(loader, stream.snapshot(3, {"A": [(1, 12_000)]}))
    assert loader.finish() == "succeeded"
    loader.close()
    assert _count(pg_url, "vouchers") == 12_000 and _count(pg_url, "voucher_rows") == 24_000


def test_staged_apply_plans_no_nested_loops_on_stale_statistics(pg_url: str) -> None:
    """The portable path (a small year) must not trust statistics that call the ledger empty.

    With vouchers analysed while empty, the planner once chose a nested loop that
    rescanned the year for each staged voucher (410 s for 250,000).
    """
    loader = _loader(pg_url)
    _feed(loader, _start(range(1, 3)).snapshot(3, {"A": [(1, 2)]}))
    loader.finish()
    loader.close()
    with make_engine(pg_url).connect() as conn:
        conn.execute(text("TRUNCATE voucher_rows, vouchers, load_years"))
        conn.execute(text("UPDATE financial_years SET ledger_source = NULL"))
        conn.commit()
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(
            text("VACUUM ANALYZE vouchers, voucher_rows"))

    engine = make_engine(pg_url, writer=True)
    plans: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def explain(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.startswith(("INSERT INTO vouchers", "INSERT INTO voucher_rows")):
            lines = cursor.connection.execute("EXPLAIN " + statement, parameters).fetchall()
            plans.append("\n".join(line[0] for line in lines))

    loader = LedgerLoader(engine, SourcePolicy.from_config(None, None))
    _feed(loader, _start(range(1, 201)).snapshot(3, {"A": [(1, 200)]}))
    assert loader.finish() == "succeeded"
    loader.close()
    assert len(plans) == 2 and _count(pg_url, "voucher_rows") == 400
    for plan in plans:
        assert "Nested Loop" not in plan, plan


def test_a_year_that_trickles_in_is_not_opened(
        pg_url: str, pg_cluster: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A rate-limited tap fills a chunk slowly: the year stays on the portable path."""
    clock = [1000.0]
    monkeypatch.setattr(apply, "_clock", lambda: clock[0])
    chunks = _chunks(monkeypatch)
    loader = LedgerLoader(make_engine(pg_url, writer=True), SourcePolicy.from_config(None, None),
                          staging_row_flush=8, open_within_seconds=30)
    for message in _start(range(1, 41)).snapshot(3, {"A": [(1, 40)]}).messages:
        if message["type"] != "RECORD":
            continue
        if message["stream"] == "vouchers":
            clock[0] += 15  # a voucher every 15 s: its first chunk fills in 45 s
        getattr(loader, SINKS[message["stream"]].handler_name)(dict(message["record"]))
    assert loader.finish() == "succeeded"
    loader.close()
    assert chunks == [] and _count(pg_url, "vouchers") == 40

    # The same year, fast, in a fresh ledger: opened (the test can fail both ways).
    fast_url = pg_cluster.create_database(f"open_fast_{os.getpid()}")
    loader = LedgerLoader(make_engine(fast_url, writer=True),
                          SourcePolicy.from_config(None, None),
                          staging_row_flush=8, open_within_seconds=30)
    _feed(loader, _start(range(1, 41)).snapshot(3, {"A": [(1, 40)]}))
    assert loader.finish() == "succeeded"
    loader.close()
    assert chunks and _count(fast_url, "vouchers") == 40
