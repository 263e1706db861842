"""Faults and kills: the ledger always converges to what a clean run produces.

The short version of benchmarks/reliability.py, for every CI run.
"""

from __future__ import annotations

import json
import random
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from fortnox_sandbox.testing import Sandbox, running_sandbox

from ..pipeline import Pipeline

SCALE = 10.0  # the sandbox's 25-per-5-s window shrunk to 0.5 s: same shape, faster


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with running_sandbox(seed=3, profile="tiny", companies=1, years=2, vouchers_per_year=600,
                         time_scale=SCALE) as sb:
        yield sb


@pytest.fixture(scope="module")
def clean(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    pipeline = Pipeline(sandbox, tmp_path_factory.mktemp("clean"), sandbox.tenant_ids[0],
                        rate_limit_window=5.0 / SCALE)
    result = pipeline.run()
    assert result.ok, pipeline.stderr()[-3000:]
    return pipeline


def _pipeline(sandbox: Sandbox, path: Path, **extra) -> Pipeline:
    return Pipeline(sandbox, path, sandbox.tenant_ids[0], rate_limit_window=5.0 / SCALE,
                    tap_extra=extra)


@pytest.mark.parametrize("seed", range(4))
def test_a_killed_run_converges_to_the_clean_ledger(sandbox, clean, tmp_path, seed: int) -> None:
    rnd = random.Random(seed)
    who = ("tap", "target", "both", "target")[seed]
    at = rnd.uniform(0.2, 1.5)
    pipeline = _pipeline(sandbox, tmp_path)
    killed = pipeline.run(kill=(who, at))
    assert killed.killed is not None  # the kill happened mid-run
    assert pipeline.converge().ok, pipeline.stderr()[-3000:]
    assert pipeline.digest() == clean.digest()
    assert not (clean.rows() - pipeline.rows())  # no row lost
    assert not (pipeline.rows() - clean.rows())  # no row duplicated
    assert "Traceback" not in pipeline.stderr()
    assert pipeline.states_saved  # the runs handed their committed state on, as Meltano does


def test_the_harness_resumes_from_the_saved_state(sandbox, clean, tmp_path) -> None:
    """A second run after a clean one is incremental: the saved state reaches the tap."""
    pipeline = _pipeline(sandbox, tmp_path)
    assert pipeline.run().ok
    state = json.loads(pipeline.state_file.read_text())
    assert state["bookmarks"]["voucher_snapshots"]["partitions"]
    assert pipeline.run().ok
    assert "unchanged (0 changed vouchers" in pipeline.stderr()
    assert pipeline.digest() == clean.digest()


def test_hostile_fortnox_still_gives_the_clean_ledger(sandbox, clean, tmp_path) -> None:
    pipeline = _pipeline(sandbox, tmp_path)
    results = []
    try:
        for _ in range(4):
            sandbox.set_faults("hostile")  # one broken SIE export per run, among the rest
            results.append(pipeline.run())
            if results[-1].ok:
                break
        fired = sum(rule["fired"] for rule in sandbox.state.faults.describe())
    finally:
        sandbox.set_faults(None)
    assert results[-1].ok, pipeline.stderr()[-3000:]
    assert fired > 0
    assert pipeline.digest() == clean.digest()
    assert "Traceback" not in pipeline.stderr()


def test_a_kill_during_a_token_refresh_is_explained_next_run(tmp_path) -> None:
    late = {"kind": "late", "path": "^/oauth-v1/token", "delay": 5.0, "first": 1}
    with running_sandbox(seed=3, profile="tiny", companies=1, years=1, time_scale=SCALE,
                         faults=late) as sb:
        store = tmp_path / "tokens.json"
        pipeline = Pipeline(sb, tmp_path, sb.tenant_ids[0], rate_limit_window=5.0 / SCALE,
                            tap_extra={"tenant_id": "", "token_store_path": str(store),
                                       "refresh_token": sb.issue_refresh_token(sb.tenant_ids[0])})
        start = time.monotonic()
        result = pipeline.run(kill=("both", 2.0))  # Fortnox has rotated; the answer never came
        assert result.killed == "both"
        assert time.monotonic() - start < 5
        stored = json.loads(store.read_text())  # the store is intact, never half-written
        assert stored["refresh_started_at"] > 0
        again = pipeline.run()
    assert not again.ok
    errors = pipeline.stderr()
    assert "invalid_grant" in errors
    assert "stopped during a token refresh" in errors
    assert "tap-fortnox authorize" in errors
    assert "Traceback" not in errors


def test_a_kill_outside_a_refresh_leaves_a_usable_token_store(tmp_path) -> None:
    slow = {"kind": "slow", "path": "^/3/financialyears", "delay": 3.0, "first": 1}
    with running_sandbox(seed=3, profile="tiny", companies=1, years=1, time_scale=SCALE,
                         faults=slow) as sb:
        pipeline = Pipeline(sb, tmp_path, sb.tenant_ids[0], rate_limit_window=5.0 / SCALE,
                            tap_extra={"tenant_id": "", "token_store_path": str(tmp_path / "t.json"),
                                       "refresh_token": sb.issue_refresh_token(sb.tenant_ids[0])})
        assert pipeline.run(kill=("tap", 1.5)).killed == "tap"
        assert pipeline.run().ok, pipeline.stderr()[-2000:]


def test_a_hostile_file_name_is_data_not_a_path(tmp_path) -> None:
    """A document named like a path traversal (and ".pdf" on a PNG): stored as data, nothing more."""
    escape = f"../../../../{tmp_path.name}-escaped.pdf"
    with running_sandbox(seed=3, profile="tiny", companies=1, years=1, time_scale=SCALE) as sb:
        tenant = sb.tenant_ids[0]
        company = sb.books.companies[tenant]
        year = company.years[0]
        series, number = next(iter(company.vouchers[year.id]))
        answer = requests.post(f"{sb.admin_url}/tenants/{tenant}/files", timeout=10, json={
            "voucher": {"financial_year_id": year.id, "series": series, "number": number},
            "name": escape, "kind": "png"})
        assert answer.status_code == 201, answer.text
        name = answer.json()["File"]["Name"]  # the name as Fortnox holds it
        assert name.startswith(escape)
        pipeline = Pipeline(sb, tmp_path / "run", tenant, rate_limit_window=5.0 / SCALE)
        assert pipeline.run().ok, pipeline.stderr()[-2000:]
    with sqlite3.connect(pipeline.ledger_url.removeprefix("sqlite:///")) as db:
        stored = db.execute("SELECT d.content_type, s.file_name FROM documents d JOIN document_sources s"
                            " ON s.document_id = d.id WHERE s.file_name = ?", (name,)).fetchall()
    assert stored == [("image/png", name)]  # the bytes decide the type; the name is kept as data
    assert not list(tmp_path.parent.glob(f"{tmp_path.name}-escaped*"))
    assert not list(Path("/").glob(f"*{tmp_path.name}-escaped*"))


def test_secrets_never_reach_the_ledger_state_or_logs(tmp_path) -> None:
    """A sentinel client secret and the run's real tokens, through a good run and a failed one."""
    secret = "SENTINEL-SECRET-4f9c2a"
    failing = {"kind": "status", "status": 500, "path": "^/3/financialyears", "every": 1}
    with running_sandbox(seed=3, profile="tiny", companies=1, years=1, time_scale=SCALE,
                         client_secret=secret) as sb:
        tenant = sb.tenant_ids[0]
        refresh = sb.issue_refresh_token(tenant)
        pipeline = Pipeline(sb, tmp_path, tenant, rate_limit_window=5.0 / SCALE,
                            tap_extra={"tenant_id": "", "refresh_token": refresh, "max_retries": 1,
                                       "token_store_path": str(tmp_path / "store" / "tokens.json")})
        assert pipeline.run().ok, pipeline.stderr()[-2000:]
        sb.set_faults(failing)
        assert not pipeline.run(timeout=120).ok
    store = json.loads((tmp_path / "store" / "tokens.json").read_text())
    sentinels = [secret, refresh, store["refresh_token"], store["access_token"]]
    artefacts = [tmp_path / "ledger.db", tmp_path / "state.json", tmp_path / "stderr.log"]
    artefacts += list(tmp_path.glob("ledger.db-*"))  # SQLite's WAL and shared memory files
    for path in artefacts:
        data = path.read_bytes()
        for sentinel in sentinels:
            assert sentinel.encode() not in data, f"{sentinel[:12]}... in {path.name}"
    assert oct((tmp_path / "store" / "tokens.json").stat().st_mode & 0o777) == "0o600"
