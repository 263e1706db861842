"""End-to-end fixtures: a real Meltano 4.4 with the project's meltano.yml, and a sandbox.

Meltano lives in its own venv (.venv-meltano, created here if missing, as `make demo`
does); its plugins are installed once per test session into a temporary system
directory (MELTANO_SYS_DIR_ROOT), so tests never touch a developer's .meltano.
Each test gets its own Meltano system database, hence its own state.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from fortnox_sandbox.testing import Sandbox, running_sandbox
from target_senseworks.ledger.digest import LEDGER_TABLES

ROOT = Path(__file__).resolve().parents[2]
MELTANO_VENV = ROOT / ".venv-meltano"
MELTANO_VERSION = "4.4.1"


def _ensure_meltano() -> Path:
    meltano = MELTANO_VENV / "bin" / "meltano"
    if not meltano.exists():
        subprocess.run([sys.executable, "-m", "venv", str(MELTANO_VENV)], check=True)
        subprocess.run([str(MELTANO_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet",
                        f"meltano=={MELTANO_VERSION}"], check=True, timeout=900)
    return meltano


@dataclass
class Meltano:
    executable: Path
    env: dict[str, str]

    def __call__(self, *args: str, env: dict[str, str] | None = None,
                 timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.executable), *args], cwd=ROOT, capture_output=True, text=True,
                              env={**self.env, **(env or {})}, timeout=timeout, check=False)


@pytest.fixture(scope="session")
def meltano_installed(tmp_path_factory: pytest.TempPathFactory) -> Meltano:
    sys_dir = tmp_path_factory.mktemp("meltano-sys")
    env = {**os.environ, "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
           "MELTANO_CLI_DISABLE_VERSION_CHECK": "true", "MELTANO_SYS_DIR_ROOT": str(sys_dir)}
    meltano = Meltano(_ensure_meltano(), env)
    done = meltano("install", timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return meltano


@pytest.fixture
def meltano(meltano_installed: Meltano, tmp_path: Path) -> Meltano:
    """A Meltano with this test's own system database (state) and ledger."""
    env = {**meltano_installed.env,
           "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path / 'meltano.db'}",
           "TARGET_SENSEWORKS_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.db'}",
           "TARGET_JSONL_DESTINATION_PATH": str(tmp_path / "jsonl")}
    return Meltano(meltano_installed.executable, env)


@pytest.fixture
def sandbox(meltano: Meltano) -> Iterator[Sandbox]:
    with running_sandbox(seed=1, profile="tiny", years=3) as sb:
        meltano.env["TAP_FORTNOX_API_URL"] = sb.api_url
        meltano.env["TAP_FORTNOX_AUTH_URL"] = sb.auth_url
        yield sb


def ledger(meltano: Meltano) -> sqlite3.Connection:
    return sqlite3.connect(meltano.env["TARGET_SENSEWORKS_DATABASE_URL"].removeprefix("sqlite:///"))


def dump_ledger(meltano: Meltano) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the ledger's tables (not the log of loads): equal dumps, equal ledgers."""
    with ledger(meltano) as db:
        return {t: db.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in LEDGER_TABLES}


def vouchers_by_year(meltano: Meltano, tenant: int, url: str | None = None) -> dict[str, tuple[int, int]]:
    """Vouchers and rows per financial year in the ledger (SQLite by default, or `url`)."""
    engine = create_engine(url or meltano.env["TARGET_SENSEWORKS_DATABASE_URL"])
    with engine.connect() as db:
        rows = db.execute(text(
            "SELECT y.start_date, count(DISTINCT v.id), count(r.id) FROM vouchers v"
            " JOIN financial_years y ON y.id = v.year_id JOIN companies c ON c.id = y.company_id"
            " LEFT JOIN voucher_rows r ON r.voucher_id = v.id WHERE c.tenant_id = :t"
            " GROUP BY y.start_date"), {"t": tenant}).fetchall()
    engine.dispose()
    return {str(start): (n, rows) for start, n, rows in rows}


def books_by_year(sb: Sandbox, tenant: int) -> dict[str, tuple[int, int]]:
    company = sb.books.companies[tenant]
    out: dict[str, tuple[int, int]] = {}
    for year in company.years:
        vouchers = company.vouchers.get(year.id, {}).values()
        out[year.from_date.isoformat()] = (len(vouchers), sum(len(v.rows) for v in vouchers))
    return out


def last_ok(done: subprocess.CompletedProcess[str]) -> Any:
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-4000:])
    return done
