"""The same books twice: through tap-fortnox and the target, and as the sandbox's SIE exports.

The real `tap-fortnox` command reads the sandbox and its Singer output goes through
the target into one ledger; each financial year's `GET /3/sie/4` export goes
through `senseworks load-sie` into another.  The two ledgers must be identical in
everything both sources carry (what only one of them carries is named below).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from ledgerstream import query, run_target
from siefiles import cli

from fortnox_sandbox.testing import Sandbox, running_sandbox
from tests.postgres import PgCluster

TAP = Path(sys.executable).parent / "tap-fortnox"
TIME_SCALE = 10.0  # the sandbox's 5-second rate window shrunk tenfold, as in the tap's tests

#: Compared: what both an SIE export and Fortnox's API say about a year.  Not compared:
#: the ledger source, voucher comments/references/approval (only Fortnox has them),
#: closing balances, results and #KONTO-less details (only SIE has them).
SHARED = {
    "companies": "SELECT organisation_number, name FROM companies",
    "years": "SELECT start_date, end_date FROM financial_years",
    "accounts": "SELECT y.start_date, a.number, a.description, a.sru FROM accounts a"
                " JOIN financial_years y ON y.id = a.year_id",
    "openings": "SELECT y.start_date, b.account, b.opening FROM account_balances b"
                " JOIN financial_years y ON y.id = b.year_id WHERE b.opening <> 0",
    "series": "SELECT y.start_date, s.code FROM voucher_series s"
              " JOIN financial_years y ON y.id = s.year_id",
    "vouchers": "SELECT y.start_date, v.series, v.number, v.number_text, v.occurrence,"
                " v.transaction_date, v.description, v.registration_date FROM vouchers v"
                " JOIN financial_years y ON y.id = v.year_id",
    "rows": "SELECT y.start_date, v.series, v.number, r.row_index, r.account, r.debit,"
            " r.credit, r.amount, r.description, r.transaction_information, r.cost_center,"
            " r.project, r.quantity, r.removed FROM voucher_rows r"
            " JOIN vouchers v ON v.id = r.voucher_id JOIN financial_years y ON y.id = v.year_id",
}


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with running_sandbox(seed=1, profile="tiny", time_scale=TIME_SCALE) as sb:
        yield sb


@pytest.fixture
def other_url(db_url: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A second empty database on the same backend as `db_url`."""
    if db_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'sie.db'}"
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    return cluster.create_database(f"{Path(tmp_path).name[:40]}_sie")


def _shared(url: str) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    for name, sql in SHARED.items():
        rows = []
        for found in query(url, sql):
            row = list(found)
            if name == "rows" and row[12] is not None:
                row[12] = Decimal(row[12])  # text on SQLite: compare the numbers
            rows.append(tuple(row))
        out[name] = sorted(rows, key=repr)
    return out


def test_tap_and_sie_export_give_the_same_ledger(sandbox: Sandbox, db_url: str, other_url: str,
                                                tmp_path: Path) -> None:
    tenant = sandbox.tenant_ids[0]
    config = tmp_path / "tap.json"
    config.write_text(json.dumps({
        "api_url": sandbox.api_url, "auth_url": sandbox.auth_url,
        "client_id": sandbox.client_id, "client_secret": sandbox.client_secret,
        "tenant_id": str(tenant), "rate_limit_window": 5.0 / TIME_SCALE,
    }))
    tap = subprocess.run([str(TAP), "--config", str(config)], capture_output=True, text=True,
                         timeout=300, check=False)
    assert tap.returncode == 0, tap.stderr[-3000:]
    streams = {json.loads(line).get("stream") for line in tap.stdout.splitlines()
               if line.startswith('{"type":"RECORD"') or line.startswith('{"type": "RECORD"')}
    assert {"vouchers", "voucher_rows", "voucher_snapshots"} <= streams, sorted(streams)
    run_target(db_url, tap.stdout)

    token = sandbox.issue_access_token(tenant)
    years = sandbox.books.companies[tenant].years
    assert len(years) >= 2
    for year in years:
        answer = requests.get(f"{sandbox.api_url}/3/sie/4", params={"financialyear": year.id},
                              headers={"Authorization": f"Bearer {token}"}, timeout=60)
        assert answer.status_code == 200, answer.text
        path = tmp_path / f"{tenant}_{year.id}.se"
        path.write_bytes(answer.content)
        run = cli(other_url, "load-sie", path)
        assert run.code == 0, run.out + run.err

    via_tap, via_sie = _shared(db_url), _shared(other_url)
    assert via_tap["vouchers"], "the books have vouchers"
    assert any(row[13] for row in via_tap["rows"]), "and struck rows"
    for name in SHARED:
        assert via_sie[name] == via_tap[name], name
    assert [s for (s,) in query(db_url, "SELECT ledger_source FROM financial_years")] == [
        "fortnox"] * len(years)
    assert [s for (s,) in query(other_url, "SELECT ledger_source FROM financial_years")] == [
        "sie"] * len(years)
    # Both ledgers hold together, and say so in the same words.
    checks = [cli(url, "verify", "--json") for url in (db_url, other_url)]
    assert [c.code for c in checks] == [0, 0]
    assert [c.json()["findings"] for c in checks] == [[], []]
