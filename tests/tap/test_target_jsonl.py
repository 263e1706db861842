"""The tap piped into a third-party target: `target-jsonl` 0.1.4 from PyPI, in its own venv.

target-jsonl validates each record against the SCHEMA the tap sent (jsonschema Draft 4)
and writes one file per stream, so this checks that the schemas and records work for a
target that knows nothing about Fortnox.
"""

from __future__ import annotations

import json
import subprocess
import venv
from decimal import Decimal
from pathlib import Path

import pytest

from .conftest import TAP, service_config

TARGET_JSONL = "target-jsonl==0.1.4"


@pytest.fixture(scope="session")
def target_jsonl(pytestconfig: pytest.Config) -> Path:
    """The target's executable, installed once into a venv kept in the pytest cache."""
    home = Path(pytestconfig.cache.mkdir("target-jsonl-0.1.4"))
    exe = home / "bin" / "target-jsonl"
    if not exe.exists():
        venv.EnvBuilder(with_pip=True, clear=True).create(home)
        subprocess.run([str(home / "bin" / "python"), "-m", "pip", "install", "-q", TARGET_JSONL],
                       check=True, timeout=300)
    return exe


def test_tap_into_target_jsonl(sandbox, tmp_path: Path, target_jsonl: Path) -> None:
    tenant = sandbox.tenant_ids[0]
    company = sandbox.books.companies[tenant]
    config = tmp_path / "tap.json"
    config.write_text(json.dumps(service_config(sandbox, tenant)))
    out = tmp_path / "out"
    target_config = tmp_path / "target.json"
    target_config.write_text(json.dumps({"destination_path": str(out), "do_timestamp_file": False}))
    tap = subprocess.Popen([TAP, "--config", str(config)], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL)
    target = subprocess.run([str(target_jsonl), "--config", str(target_config)], stdin=tap.stdout,
                            capture_output=True, text=True, timeout=120, check=False)
    assert tap.wait(timeout=60) == 0
    assert target.returncode == 0, target.stderr[-2000:]

    def read(stream: str) -> list[dict]:
        lines = (out / f"{stream}.jsonl").read_text().splitlines()
        return [json.loads(line, parse_float=Decimal) for line in lines]

    vouchers = read("vouchers")
    rows = read("voucher_rows")
    assert len(vouchers) == len(company.all_vouchers())
    assert len(rows) == sum(len(v.rows) for v in company.all_vouchers())
    for year in company.years:
        year_rows = [r for r in rows if r["financial_year_id"] == year.id]
        booked = [r for v in company.year_vouchers(year.id) for r in v.rows if not r.removed]
        assert sum(r["debit"] for r in year_rows if not r["removed"]) == sum(r.debit for r in booked)
    assert {s["financial_year_id"] for s in read("voucher_snapshots")} == {y.id for y in company.years}
    assert len(read("accounts")) == sum(len(company.accounts[y.id]) for y in company.years)
    assert read("company_information")[0]["tenant_id"] == tenant
    # the target's final STATE is the tap's: the per-year bookmarks, ready for the next run
    state = json.loads(target.stdout.strip().splitlines()[-1])
    parts = state["bookmarks"]["voucher_snapshots"]["partitions"]
    assert sorted(p["context"]["financial_year_id"] for p in parts if "ledger" in p) == [
        y.id for y in company.years]
