"""tap-fortnox part 1 against the sandbox: real HTTP, real OAuth, real limits and faults."""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import stat
import subprocess
import time
from pathlib import Path

import pytest
import requests

from fortnox_sandbox.testing import running_sandbox
from tap_fortnox.errors import FortnoxAPIError
from tap_fortnox.tap import TapFortnox

from .conftest import TAP, TIME_SCALE, refresh_config, run_cli, run_in_process, service_config


def test_client_credentials_run_emits_company_and_years(sandbox, tmp_path: Path) -> None:
    tenant = sandbox.tenant_ids[1]
    company = sandbox.books.companies[tenant]
    run = run_cli(service_config(sandbox, tenant), tmp_path)
    assert run.returncode == 0, run.stderr
    [info] = run.records("company_information")
    assert info["tenant_id"] == tenant
    assert info["organisation_number"] == company.organisation_number
    assert info["company_name"] == company.name
    years = run.records("financial_years")
    assert [(y["id"], y["from_date"], y["to_date"]) for y in years] == [
        (y.id, y.from_date.isoformat(), y.to_date.isoformat()) for y in company.years]
    assert all(y["tenant_id"] == tenant for y in years)
    # part 2: a default run also reads the ledger; company and years are still read once
    assert "/3/companyinformation 1, /3/financialyears 1," in run.stderr


def test_refresh_token_run_rotates_and_stores_the_token(sandbox, tmp_path: Path) -> None:
    config = refresh_config(sandbox, tmp_path)
    run = run_cli(config, tmp_path)
    assert run.returncode == 0, run.stderr
    store = Path(config["token_store_path"])
    assert stat.S_IMODE(os.stat(store).st_mode) == 0o600
    stored = json.loads(store.read_text())
    assert stored["refresh_token"] != config["refresh_token"]
    tokens_before = sandbox.counters().get("/oauth-v1/token", 0)
    again = run_cli(config, tmp_path)  # the cached access token is still valid: no refresh
    assert again.returncode == 0, again.stderr
    assert sandbox.counters().get("/oauth-v1/token", 0) == tokens_before
    assert again.records("company_information")


def test_a_hundred_refreshes_across_runs_keep_the_chain(sandbox, tmp_path: Path) -> None:
    config = refresh_config(sandbox, tmp_path)
    seen = set()
    for _ in range(100):
        sandbox.expire_tokens()  # the stored access token dies: every run must refresh
        _, messages = run_in_process(config)
        assert any(m["type"] == "RECORD" for m in messages)
        seen.add(json.loads(Path(config["token_store_path"]).read_text())["refresh_token"])
    assert len(seen) == 100  # a new refresh token each run, each one accepted next time
    assert sandbox.counters()["/oauth-v1/token"] >= 100


def test_second_run_on_one_credential_is_refused_and_the_chain_survives(tmp_path: Path) -> None:
    slow = {"kind": "slow", "path": "^/3/financialyears", "delay": 3.0, "first": 1}
    with running_sandbox(seed=1, profile="tiny", time_scale=TIME_SCALE, faults=slow) as sb:
        config = refresh_config(sb, tmp_path)
        path = tmp_path / "first.json"
        path.write_text(json.dumps(config))
        first = subprocess.Popen([TAP, "--config", str(path)], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 10
        while sb.counters().get("/3/companyinformation", 0) == 0 and time.time() < deadline:
            time.sleep(0.05)  # the first run holds the lock and is inside its slow request
        (tmp_path / "second").mkdir()
        second = run_cli(config, tmp_path / "second")
        _, err = first.communicate(timeout=30)
        assert first.returncode == 0, err
        assert second.returncode != 0
        assert "another tap-fortnox run is using the token store" in second.stderr
        assert "Traceback" not in second.stderr
        assert sb.counters()["/oauth-v1/token"] == 1  # only the first run refreshed
        third = run_cli(config, tmp_path)
        assert third.returncode == 0, third.stderr


def test_short_lived_tokens_refresh_mid_run_and_300_requests_draw_no_429(tmp_path: Path) -> None:
    with running_sandbox(seed=1, profile="tiny", time_scale=TIME_SCALE, token_lifetime=2) as sb:
        tap = TapFortnox(config=refresh_config(sb, tmp_path), parse_env_config=False)
        connection = tap.connection
        started = time.monotonic()
        for _ in range(300):
            connection.get_json("/3/companyinformation")
        elapsed = time.monotonic() - started
        stats = connection.stats
        tap._close_connection()
    assert stats.throttled == 0
    assert stats.retries == 0
    assert connection.auth.refreshes >= 2  # 2 s tokens over a run of several seconds
    window = 5.0 / TIME_SCALE
    assert elapsed >= (300 / 24 - 1) * window  # the limiter really paced the run


def test_ten_percent_server_errors_still_complete(tmp_path: Path) -> None:
    flaky = {"kind": "status", "status": 503, "probability": 0.1, "path": "^/3/"}
    with running_sandbox(seed=1, profile="tiny", time_scale=TIME_SCALE, faults=flaky) as sb:
        runs = [run_cli(service_config(sb, t), tmp_path) for t in sb.tenant_ids for _ in range(3)]
    assert all(r.returncode == 0 for r in runs), [r.stderr[-500:] for r in runs if r.returncode]
    assert all(len(r.records("company_information")) == 1 for r in runs)
    assert sum(" retried" in r.stderr and "0 retried" not in r.stderr for r in runs) >= 1


def test_missing_scope_fails_clearly(sandbox, tmp_path: Path) -> None:
    config = refresh_config(sandbox, tmp_path)
    config["refresh_token"] = sandbox.issue_refresh_token(sandbox.tenant_ids[0], scopes=["bookkeeping"])
    run = run_cli(config, tmp_path)
    assert run.returncode != 0
    assert "lacks the scope 'companyinformation'" in run.stderr
    assert "Traceback" not in run.stderr


def test_missing_licence_fails_clearly(sandbox, tmp_path: Path) -> None:
    """The sandbox's third company has no invoice licence."""
    tenant = next(t for t, c in sandbox.books.companies.items() if "invoice" not in c.licences)
    tap = TapFortnox(config=service_config(sandbox, tenant), parse_env_config=False)
    try:
        with pytest.raises(FortnoxAPIError) as info:
            tap.connection.get_json("/3/invoices")
    finally:
        tap._close_connection()
    assert "no active licence" in str(info.value)
    assert "Fakturering (Billing)" in str(info.value)


def test_spent_refresh_token_says_reconsent(sandbox, tmp_path: Path) -> None:
    config = refresh_config(sandbox, tmp_path)
    assert run_cli(config, tmp_path).returncode == 0
    Path(config["token_store_path"]).unlink()  # the chain is lost; the seed was spent
    run = run_cli(config, tmp_path)
    assert run.returncode != 0
    assert "invalid_grant" in run.stderr
    assert "tap-fortnox authorize" in run.stderr
    assert "Traceback" not in run.stderr


def test_authorize_end_to_end(sandbox, tmp_path: Path) -> None:
    tenant = sandbox.tenant_ids[2]
    config = {"api_url": sandbox.api_url, "auth_url": sandbox.auth_url, "client_id": sandbox.client_id,
              "client_secret": sandbox.client_secret, "token_store_path": str(tmp_path / "t.json"),
              "rate_limit_window": 5.0 / TIME_SCALE}
    (tmp_path / "c.json").write_text(json.dumps(config))
    port = _free_port()
    proc = subprocess.Popen([TAP, "authorize", "--config", str(tmp_path / "c.json"), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = ""
    while not url.startswith("http"):
        url = proc.stdout.readline().strip()  # type: ignore[union-attr]
    assert "access_type=offline" in url
    assert f"redirect_uri=http%3A%2F%2F127.0.0.1%3A{port}%2Fcallback" in url
    # The administrator approves; the browser follows the redirect to the listener.
    answer = requests.get(f"{url}&approve=1&tenant={tenant}", timeout=10)
    assert answer.status_code == 200
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert f"(tenant {tenant})" in out
    stored = json.loads((tmp_path / "t.json").read_text())
    assert stored["refresh_token"] not in out + err
    run = run_cli(config, tmp_path)  # the stored chain works without any refresh_token in config
    assert run.returncode == 0, run.stderr
    assert run.records("company_information")[0]["tenant_id"] == tenant


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_answer_of_an_unexpected_shape_is_one_clear_line(sandbox, monkeypatch: pytest.MonkeyPatch,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    """A voucher list item without its series (an API change): no traceback, a clear stop."""
    from fortnox_sandbox import shapes  # noqa: PLC0415 - patched for this test only

    original = shapes.voucher_list_item

    def without_series(base, voucher):
        item = original(base, voucher)
        item.pop("VoucherSeries")
        return item

    monkeypatch.setattr(shapes, "voucher_list_item", without_series)
    tap = TapFortnox(config=service_config(sandbox), parse_env_config=False)
    with pytest.raises(SystemExit), contextlib.redirect_stdout(io.StringIO()):
        tap.sync_all()
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert "did not have the shape the tap expects (KeyError: 'VoucherSeries')" in errors[-1].message
    assert not any(r.exc_info for r in errors)  # the traceback only at debug level
