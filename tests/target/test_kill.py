"""SIGKILL mid-year leaves the previous ledger intact; the next run completes it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ledgerstream import Stream, dump, query, run_target

TABLES = ("financial_years", "vouchers", "voucher_rows", "documents", "document_links")


def _version(desc: str, amount: str, numbers: range) -> Stream:
    s = Stream().company().year(3, "2025-01-01", "2025-12-31")
    for n in numbers:
        s.voucher(3, "A", n, "2025-01-10", [("1930", amount), ("2611", "-0.25"),
                                             ("3001", f"-{float(amount) - 0.25:.2f}")],
                  description=desc)
    return s


def _ledger(url: str) -> dict:
    return {t: rows for t, rows in dump(url).items() if t in TABLES}


def test_sigkill_mid_year_then_rerun(db_url: str, tmp_path: Path) -> None:
    v1 = _version("v1", "10.25", range(1, 301))
    v1.snapshot(3, {"A": [(1, 300)]})
    run_target(db_url, v1)
    before = _ledger(db_url)

    # v2 changes every voucher and drops 50; the process dies before the snapshot.
    v2 = _version("v2", "20.25", range(1, 251))
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"database_url": db_url}))
    proc = subprocess.Popen(
        [sys.executable, "-m", "target_senseworks.target", "--config", str(config)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdin is not None
    proc.stdin.write(v2.text())
    proc.stdin.write(Stream().state({"mid": "year"}).text())
    # A marker committed at once tells us every line before it has been processed.
    proc.stdin.write(Stream().company(name="marker").text())
    proc.stdin.flush()
    deadline = time.monotonic() + 30
    while query(db_url, "SELECT name FROM companies") != [("marker",)]:
        assert time.monotonic() < deadline, "target never processed the marker"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert out.strip() == ""  # no STATE for a half-loaded year

    assert _ledger(db_url) == before  # readers still see v1, whole
    assert query(db_url, "SELECT status FROM loads ORDER BY id") == [("succeeded",), ("running",)]

    v2.snapshot(3, {"A": [(1, 250)]})
    run_target(db_url, v2)
    assert query(db_url, "SELECT count(*), min(description), max(description) FROM vouchers") == [
        (250, "v2", "v2")]
    assert query(db_url, "SELECT count(*) FROM voucher_rows") == [(750,)]
    # Converged: same ledger as a database that only ever saw v2.
    fresh = tmp_path / "fresh.db"
    run_target(f"sqlite:///{fresh}", v2)
    assert query(f"sqlite:///{fresh}", "SELECT series, number, description FROM vouchers "
                 "ORDER BY number") == query(
        db_url, "SELECT series, number, description FROM vouchers ORDER BY number")
