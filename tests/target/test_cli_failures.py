"""A failed load leaves the previous ledger intact: refused late, killed mid-load, rerun."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from ledgerstream import query
from siefiles import ORGNR, cli, simple_year, unchanged

from target_senseworks.ledger.bulk import BulkInsert

SCRIPT = Path(sys.executable).parent / "senseworks"
HEAD = (f'#FLAGGA 0\n#PROGRAM "Test" 1\n#FORMAT PC8\n#GEN 20260101\n#SIETYP 4\n#ORGNR {ORGNR}\n'
        '#FNAMN "Exempel AB"\n#RAR 0 20250101 20251231\n#KONTO 1930 Bank\n#KONTO 3001 Sales\n')


def _vouchers(first: int, count: int, *, unbalanced_last: bool = False) -> str:
    """`count` two-row vouchers; with `unbalanced_last` the last one is off by 1.00."""
    out = []
    for n in range(first, first + count):
        credit = "-2.00" if unbalanced_last and n == first + count - 1 else "-1.00"
        out.append(f'#VER A {n} 20250110 "V {n}"\n{{\n#TRANS 1930 {{}} 1.00\n'
                   f"#TRANS 3001 {{}} {credit}\n}}\n")
    return "".join(out)


def test_refused_after_writing_thousands_of_rows(db_url: str, tmp_path: Path) -> None:
    """The verdict comes at the end, after batches went into the year's tables: all undone."""
    assert cli(db_url, "load-sie", simple_year(tmp_path / "base.se")).code == 0
    before = unchanged(db_url)
    path = tmp_path / "late.se"
    path.write_text(HEAD + _vouchers(1, 15_000, unbalanced_last=True), encoding="cp437")
    run = cli(db_url, "load-sie", path)
    assert run.code == 1 and "voucher A 15000" in run.out
    assert unchanged(db_url) == before


def test_killed_mid_load_then_rerun(db_url: str, tmp_path: Path) -> None:
    """SIGKILL while the year is half replaced: readers keep the old ledger; a rerun loads."""
    assert cli(db_url, "load-sie", simple_year(tmp_path / "base.se")).code == 0
    before = unchanged(db_url)
    fifo = tmp_path / "slow.se"
    os.mkfifo(fifo)
    proc = subprocess.Popen([str(SCRIPT), "--database-url", db_url, "load-sie", str(fifo)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # 30,000 rows pass through the pipe; a write returns only once the loader has read all
    # but the pipe's buffer, so by then a batch of rows is in the year's tables, uncommitted.
    writer = open(fifo, "w", encoding="cp437")  # noqa: SIM115 - held open across the kill
    done = threading.Event()

    def feed() -> None:
        with contextlib.suppress(BrokenPipeError):
            writer.write(HEAD + _vouchers(1, 15_000))
            writer.flush()
        done.set()

    threading.Thread(target=feed, daemon=True).start()
    assert done.wait(60), "the loader never read the file"
    time.sleep(0.3)
    assert query(db_url, "SELECT status FROM loads ORDER BY id DESC LIMIT 1") == [("running",)]
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    with contextlib.suppress(BrokenPipeError):
        writer.close()
    assert unchanged(db_url) == before
    assert query(db_url, "SELECT count(*) FROM vouchers") == [(2,)]
    status = cli(db_url, "status", "--json").json()
    assert status["companies"][0]["years"][0]["last_load"]["status"] == "succeeded"  # the base
    # The next run completes the job.
    whole = tmp_path / "whole.se"
    whole.write_text(HEAD + _vouchers(1, 15_000), encoding="cp437")
    assert cli(db_url, "load-sie", whole).code == 0
    assert query(db_url, "SELECT count(*) FROM vouchers") == [(15_000,)]
    assert query(db_url, "SELECT status FROM loads ORDER BY id") == [
        ("succeeded",), ("running",), ("succeeded",)]


def test_database_failure_mid_load(db_url: str, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The database gives up on the second batch of rows: nothing of the load remains."""
    assert cli(db_url, "load-sie", simple_year(tmp_path / "base.se")).code == 0
    before = unchanged(db_url)
    real_write = BulkInsert.write
    batches: list[int] = []

    def failing_write(self: BulkInsert, rows: list) -> None:
        if self.table == "voucher_rows" and rows:
            batches.append(len(rows))
            if len(batches) == 2:
                raise OSError("disk full (simulated)")
        real_write(self, rows)

    monkeypatch.setattr(BulkInsert, "write", failing_write)
    path = tmp_path / "big.se"
    path.write_text(HEAD + _vouchers(1, 15_000), encoding="cp437")
    run = cli(db_url, "load-sie", path)
    assert run.code == 1
    assert "load failed: OSError: disk full (simulated)" in run.err
    assert len(batches) == 2
    assert unchanged(db_url) == before
    status, error = query(db_url, "SELECT status, error FROM loads ORDER BY id DESC")[0]
    assert status == "failed" and "disk full" in error
