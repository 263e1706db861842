"""`senseworks status`, the database setting, secret masking, the progress bar, the script."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from ledgerstream import Stream, run_target
from siefiles import ORGNR, cli, sie_records, simple_year, voucher, write_sie

from target_senseworks import cli as cli_module
from target_senseworks import progress
from tests.postgres import PgCluster

SCRIPT = Path(sys.executable).parent / "senseworks"


def test_status_of_every_kind_of_year(db_url: str, tmp_path: Path) -> None:
    assert cli(db_url, "status").out.splitlines()[-1] == "the ledger holds no financial years yet"
    s = Stream().company().year(2, "2024-01-01", "2024-12-31").year(3, "2025-01-01", "2025-12-31")
    s.voucher(3, "A", 1, "2025-01-05", [("1930", "1"), ("3001", "-1"), ("3001", "-5", True)])
    s.snapshot(3, {"A": [(1, 1)]})
    s.attachment("f-1", b"one", [(3, "A", 1)]).attachment("f-2", b"two", [(3, "A", 2)])
    run_target(db_url, s)
    # A refused SIE load of the 2025 year: the year keeps its ledger, the attempt shows.
    bad = write_sie(tmp_path / "bad.se", sie_records([voucher("A", "1", "2025-01-05",
                                                              [("1930", "1"), ("3001", "-2")])]))
    assert cli(db_url, "load-sie", bad).code == 1
    status = cli(db_url, "status", "--json")
    assert status.code == 0
    (company,) = status.json()["companies"]
    assert (company["name"], company["organisation_number"], company["tenant_id"]) == (
        "Exempel AB", ORGNR, 1234567)
    y2024, y2025 = company["years"]
    assert (y2024["ledger_source"], y2024["vouchers"], y2024["last_load"]) == (None, 0, None)
    assert {k: y2025[k] for k in ("ledger_source", "vouchers", "booked_rows", "struck_rows",
                                   "documents", "documents_linked")} == {
        "ledger_source": "fortnox", "vouchers": 1, "booked_rows": 2, "struck_rows": 1,
        "documents": 2, "documents_linked": 1}
    last = y2025["last_load"]
    assert (last["source"], last["status"], last["outcome"]) == ("sie", "failed", "refused")
    assert "error-level finding" in last["error"] and last["file"].endswith("bad.se")
    text = cli(db_url, "status").out
    assert "2025-01-01..2025-12-31 fortnox" in text and "sie failed (refused)" in text
    assert "2024-01-01..2024-12-31 none" in text
    # The Fortnox load that applied the year is still on record under it.
    assert cli(db_url, "load-sie", simple_year(tmp_path / "ok.se")).code == 0
    last = cli(db_url, "status", "--json").json()["companies"][0]["years"][1]["last_load"]
    assert (last["source"], last["status"], last["outcome"]) == ("sie", "succeeded", "applied")


def test_database_from_environment_and_default(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    file = simple_year(tmp_path / "y.se")
    env_db = tmp_path / "from-env.db"
    monkeypatch.setenv("SENSEWORKS_DATABASE_URL", f"sqlite:///{env_db}")
    out = io.StringIO()
    assert cli_module.main(["load-sie", str(file)], stdout=out, stderr=io.StringIO()) == 0
    assert env_db.exists()
    # The flag wins over the environment; without either, the target's default file.
    flag_db = tmp_path / "from-flag.db"
    assert cli_module.main(["status", "--database-url", f"sqlite:///{flag_db}"],
                           stdout=io.StringIO(), stderr=io.StringIO()) == 0
    assert flag_db.exists()
    monkeypatch.delenv("SENSEWORKS_DATABASE_URL")
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    assert cli_module.main(["status"], stdout=out, stderr=io.StringIO()) == 0
    assert (tmp_path / "senseworks.db").exists()
    assert "ledger: sqlite:///senseworks.db" in out.getvalue()


def test_passwords_never_show(pg_cluster: PgCluster, tmp_path: Path) -> None:
    """The test cluster trusts every login, so a URL with a password works and must be masked."""
    secret = "s3cret-pw"
    db = pg_cluster.create_database("masked")
    url = db.replace("postgres@", f"postgres:{secret}@")
    runs = [
        cli(url, "load-sie", simple_year(tmp_path / "y.se")),
        cli(url, "status"), cli(url, "status", "--json"), cli(url, "verify", "--json"),
        cli(url, "export-sie", "--company", ORGNR, "--year", "2024-01-01", "-o", tmp_path / "x"),
        cli(url.replace(str(pg_cluster.port), "1"), "status"),  # nobody listens: an error
        cli(f"postgresql+psycopg://ledger:{secret}@/x?host=/nonexistent", "verify"),
    ]
    assert [r.code for r in runs] == [0, 0, 0, 0, 1, 1, 1]
    assert "postgres:***@" in runs[1].out
    for run in runs:
        assert secret not in run.out + run.err


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_only_on_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "MIN_BYTES", 0)
    file = simple_year(tmp_path / "y.se")
    url = f"sqlite:///{tmp_path / 'l.db'}"
    tty, pipe = _Tty(), io.StringIO()
    assert cli_module.main(["--database-url", url, "load-sie", str(file)], stdout=io.StringIO(),
                           stderr=tty) == 0
    assert "\ry.se [" in tty.getvalue() and "100%" in tty.getvalue()
    assert cli_module.main(["--database-url", url, "load-sie", str(file)], stdout=io.StringIO(),
                           stderr=pipe) == 0
    assert pipe.getvalue() == ""


def test_console_script(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'l.db'}"
    done = subprocess.run([str(SCRIPT), "--database-url", url, "load-sie",
                           str(simple_year(tmp_path / "y.se"))], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert "loaded" in done.stdout and done.stderr == ""  # no bar: stderr is a pipe here
    assert subprocess.run([str(SCRIPT), "verify", "--database-url", url],
                          capture_output=True, check=False).returncode == 0
    usage = subprocess.run([str(SCRIPT)], capture_output=True, text=True, check=False)
    assert usage.returncode == 2 and "load-sie" in usage.stderr
