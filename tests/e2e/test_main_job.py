"""`meltano run tap-fortnox target-senseworks` and friends, for real, against the sandbox."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import requests

from .conftest import ROOT, books_by_year, dump_ledger, last_ok, ledger, vouchers_by_year

KVARNBACKEN, SJOBRIS = 7212532, 1923454
LEDGER_ENDPOINTS = {"/3/companyinformation", "/3/financialyears", "/3/accounts", "/3/voucherseries",
                    "/3/vouchers", "/3/vouchers/{series}/{number}", "/3/sie/{type}"}
DOWNLOADS = {"/3/archive/{id}", "/3/archive", "/3/invoices/{number}/preview"}


def test_main_job_loads_the_company_books(meltano, sandbox) -> None:
    done = last_ok(meltano("run", "tap-fortnox", "target-senseworks"))
    assert "Block run completed" in done.stderr
    assert vouchers_by_year(meltano, KVARNBACKEN) == books_by_year(sandbox, KVARNBACKEN)
    with ledger(meltano) as db:
        sources = db.execute("SELECT DISTINCT ledger_source FROM financial_years").fetchall()
    assert sources == [("fortnox",)]


def test_main_job_into_postgresql(meltano, sandbox, pg_cluster) -> None:
    url = pg_cluster.create_database("e2e_ledger")
    pg = {"TARGET_SENSEWORKS_DATABASE_URL": url}
    last_ok(meltano("run", "tap-fortnox", "target-senseworks", env=pg))
    assert vouchers_by_year(meltano, KVARNBACKEN, url) == books_by_year(sandbox, KVARNBACKEN)
    sandbox.reset_counters()
    last_ok(meltano("run", "tap-fortnox", "target-senseworks", env=pg))  # incremental
    assert vouchers_by_year(meltano, KVARNBACKEN, url) == books_by_year(sandbox, KVARNBACKEN)
    assert not DOWNLOADS & set(sandbox.counters())


def test_second_run_is_incremental_and_changes_nothing(meltano, sandbox) -> None:
    last_ok(meltano("run", "tap-fortnox", "target-senseworks"))
    before = dump_ledger(meltano)
    sandbox.reset_counters()
    last_ok(meltano("run", "tap-fortnox", "target-senseworks"))
    years = len(sandbox.books.companies[KVARNBACKEN].years)
    counters = sandbox.counters()
    ledger = sum(n for ep, n in counters.items() if ep in LEDGER_ENDPOINTS)
    assert ledger <= 3 * years + 3, counters  # the ledger: three requests a year and a few more
    assert not DOWNLOADS & set(counters), counters  # documents: list pages only, no download
    assert dump_ledger(meltano) == before


def test_a_new_voucher_in_fortnox_reaches_the_ledger(meltano, sandbox) -> None:
    last_ok(meltano("run", "tap-fortnox", "target-senseworks"))
    year = sandbox.books.companies[KVARNBACKEN].years[-1]
    answer = requests.post(f"{sandbox.admin_url}/tenants/{KVARNBACKEN}/vouchers", timeout=10,
                           json={"financial_year_id": year.id, "series": "A",
                                 "description": "Kontorsmaterial e2e"})
    assert answer.status_code == 201, answer.text
    new = answer.json()["Voucher"]
    last_ok(meltano("run", "tap-fortnox", "target-senseworks"))
    with ledger(meltano) as db:
        found = db.execute("SELECT v.description, count(r.id) FROM vouchers v"
                           " JOIN voucher_rows r ON r.voucher_id = v.id"
                           " WHERE v.series = ? AND v.number = ? AND v.description = ?"
                           " GROUP BY v.id", ("A", new["VoucherNumber"], "Kontorsmaterial e2e")
                           ).fetchall()
    assert found == [("Kontorsmaterial e2e", 3)]
    assert vouchers_by_year(meltano, KVARNBACKEN) == books_by_year(sandbox, KVARNBACKEN)


def test_two_company_instances_share_one_ledger_without_mixing(meltano, sandbox) -> None:
    last_ok(meltano("run", "sync-kvarnbacken"))
    last_ok(meltano("run", "sync-sjobris"))
    for tenant in (KVARNBACKEN, SJOBRIS):
        assert vouchers_by_year(meltano, tenant) == books_by_year(sandbox, tenant)
    states = last_ok(meltano("state", "list")).stdout
    assert "tap-fortnox--kvarnbacken-to-target-senseworks" in states
    assert "tap-fortnox--sjobris-to-target-senseworks" in states


def test_records_for_any_target_through_target_jsonl(meltano, sandbox, tmp_path: Path) -> None:
    last_ok(meltano("run", "tap-fortnox", "target-jsonl"))
    out = Path(meltano.env["TARGET_JSONL_DESTINATION_PATH"])
    files = {p.name.split("-")[0]: p for p in out.glob("*.jsonl")}
    vouchers = [json.loads(line) for line in files["vouchers"].read_text().splitlines()]
    books = books_by_year(sandbox, KVARNBACKEN)
    assert len(vouchers) == sum(n for n, _ in books.values())
    assert {v["tenant_id"] for v in vouchers} == {KVARNBACKEN}


def test_config_test_passes_and_fails_clearly(meltano, sandbox, tmp_path: Path) -> None:
    # `meltano config` ignores the default environment: name it.
    done = meltano("--environment=dev", "config", "test", "tap-fortnox")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Plugin configuration is valid" in done.stdout + done.stderr
    narrow = sandbox.issue_refresh_token(KVARNBACKEN, scopes=["bookkeeping"])
    bad = meltano("--environment=dev", "config", "test", "tap-fortnox", env={
        "TAP_FORTNOX_TENANT_ID": "", "TAP_FORTNOX_REFRESH_TOKEN": narrow,
        "TAP_FORTNOX_TOKEN_STORE_PATH": str(tmp_path / "tokens.json")})
    assert bad.returncode != 0
    assert "lacks the scope 'companyinformation'" in bad.stdout + bad.stderr


def test_nightly_schedule_syncs_the_two_latest_years(meltano, sandbox) -> None:
    last_ok(meltano("schedule", "run", "nightly-kvarnbacken"))
    books = books_by_year(sandbox, KVARNBACKEN)
    latest_two = dict(sorted(books.items())[-2:])
    assert len(books) == 3
    assert vouchers_by_year(meltano, KVARNBACKEN) == latest_two


def test_a_killed_meltano_run_converges_on_the_next_run(meltano, sandbox) -> None:
    """SIGKILL of `meltano run` and its plugins mid-sync, then one more run."""
    proc = subprocess.Popen([str(meltano.executable), "run", "tap-fortnox", "target-senseworks"],
                            cwd=ROOT, env=meltano.env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not sandbox.counters().get("/3/vouchers") and time.monotonic() < deadline:
        time.sleep(0.05)  # kill once the tap is reading the ledger
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(30)
    # Meltano still holds the killed run as running in its system database, for five
    # minutes until it calls it stale; --force says the run is gone (see the README).
    refused = meltano("run", "tap-fortnox", "target-senseworks")
    assert refused.returncode != 0
    assert "pipeline is already running" in refused.stderr
    done = last_ok(meltano("run", "--force", "tap-fortnox", "target-senseworks"))
    assert "Block run completed" in done.stderr
    assert vouchers_by_year(meltano, KVARNBACKEN) == books_by_year(sandbox, KVARNBACKEN)
