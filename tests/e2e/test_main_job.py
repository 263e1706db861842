"""`meltano run tap-fortnox target-senseworks` and friends, for real, against the sandbox."""

from __future__ import annotations

import json
from pathlib import Path

import requests

from .conftest import books_by_year, dump_ledger, last_ok, ledger, vouchers_by_year

KVARNBACKEN, SJOBRIS = 7212532, 1923454


def test_main_job_loads_the_company_books(meltano, sandbox) -> None:
    done = last_ok(meltano("run", "tap-fortnox", "target-senseworks"))
    assert "Block run completed" in done.stderr
    assert vouchers_by_year(meltano, KVARNBACKEN) == books_by_year(sandbox, KVARNBACKEN)
    with ledger(meltano) as db:
        sources = db.execute("SELECT DISTINCT ledger_source FROM financial_years").fetchall()
    assert sources == [("fortnox",)]


def test_second_run_is_incremental_and_changes_nothing(meltano, sandbox) -> None:
    last_ok(meltano("run", "tap-fortnox", "target-senseworks"))
    before = dump_ledger(meltano)
    sandbox.reset_counters()
    last_ok(meltano("run", "tap-fortnox", "target-senseworks"))
    years = len(sandbox.books.companies[KVARNBACKEN].years)
    requests_made = sum(n for ep, n in sandbox.counters().items() if ep.startswith("/3/"))
    assert requests_made <= 3 * years + 3, sandbox.counters()
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
