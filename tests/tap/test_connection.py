"""Requests through the connection, against requests-mock: retries, errors, secrets."""

from __future__ import annotations

import json
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
import requests_mock

from tap_fortnox.auth import FortnoxAuthenticator
from tap_fortnox.connection import FortnoxConnection
from tap_fortnox.errors import FortnoxAPIError, FortnoxAuthError, scrub
from tap_fortnox.ratelimit import SlidingWindowLimiter
from tap_fortnox.tokens import StoredTokens, TokenStore, digest

API = "https://fortnox.test"
AUTH = "https://auth.test/oauth-v1"
SECRET = "SENTINEL-CLIENT-SECRET"


def error(code: int, message: str = "Fel") -> dict[str, Any]:
    return {"ErrorInformation": {"error": 1, "message": message, "code": code}}


@pytest.fixture
def mock() -> requests_mock.Mocker:
    with requests_mock.Mocker() as m:
        m.post(f"{AUTH}/token", json={"access_token": "AT1", "expires_in": 3600})
        yield m


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "sleep", lambda s: None)


def conn() -> FortnoxConnection:
    auth = FortnoxAuthenticator(auth_url=AUTH, client_id="cid", client_secret=SECRET, tenant_id="42")
    return FortnoxConnection(api_url=API, authenticator=auth, limiter=SlidingWindowLimiter(100, 1.0),
                             max_tries=3)


def test_client_credentials_request_shape(mock: requests_mock.Mocker) -> None:
    mock.get(f"{API}/3/companyinformation", json={"CompanyInformation": {"DatabaseNumber": 42}})
    body = conn().get_json("/3/companyinformation")
    assert body["CompanyInformation"]["DatabaseNumber"] == 42
    token_call, api_call = mock.request_history
    assert token_call.headers["TenantId"] == "42"
    assert token_call.headers["Authorization"].startswith("Basic ")
    assert "grant_type=client_credentials" in token_call.text
    assert api_call.headers["Authorization"] == "Bearer AT1"


def test_amounts_are_decimals(mock: requests_mock.Mocker) -> None:
    mock.get(f"{API}/3/accounts", text='{"Accounts": [{"BalanceBroughtForward": 0.1}]}')
    body = conn().get_json("/3/accounts")
    assert body["Accounts"][0]["BalanceBroughtForward"] == Decimal("0.1")


def test_pagination_reads_every_page(mock: requests_mock.Mocker) -> None:
    pages = {1: [1, 2], 2: [3, 4], 3: [5]}
    mock.get(f"{API}/3/financialyears", [
        {"json": {"MetaInformation": {"@TotalPages": 3, "@CurrentPage": p}, "FinancialYears": pages[p]}}
        for p in (1, 2, 3)])
    assert list(conn().paginate("/3/financialyears", "FinancialYears")) == [1, 2, 3, 4, 5]
    params = [c.qs for c in mock.request_history if c.path == "/3/financialyears"]
    assert [q["page"] for q in params] == [["1"], ["2"], ["3"]]
    assert all(q["limit"] == ["500"] for q in params)


@pytest.mark.parametrize(("code", "words"), [
    (2000663, "lacks the scope 'bookkeeping'"),
    (2001101, "licence for Bokföring (Accounting)"),
    (2001103, "an API (integration) licence"),
    (2000588, "rejected a query parameter"),
    (2000762, "no such endpoint"),
])
def test_fortnox_codes_become_actionable_messages(mock: requests_mock.Mocker, code: int, words: str) -> None:
    mock.get(f"{API}/3/vouchers", status_code=403 if code != 2000762 else 404, json=error(code))
    with pytest.raises(FortnoxAPIError) as info:
        conn().get_json("/3/vouchers")
    assert words in str(info.value)
    assert "GET /3/vouchers" in str(info.value)
    assert info.value.code == code
    assert len(mock.request_history) == 2  # 4xx fails fast: token + one call


def test_missing_scope_names_the_scope_of_the_endpoint(mock: requests_mock.Mocker) -> None:
    mock.get(f"{API}/3/supplierinvoicefileconnections", status_code=403, json=error(2000663))
    with pytest.raises(FortnoxAPIError, match="'connectfile'"):
        conn().get_json("/3/supplierinvoicefileconnections")


def test_5xx_is_retried_then_succeeds(mock: requests_mock.Mocker) -> None:
    mock.get(f"{API}/3/financialyears", [{"status_code": 503, "text": "busy"},
                                          {"status_code": 500, "text": "oops"},
                                          {"json": {"FinancialYears": []}}])
    c = conn()
    assert c.get_json("/3/financialyears") == {"FinancialYears": []}
    assert c.stats.retries == 2
    assert c.stats.by_endpoint["/3/financialyears"] == 3


def test_5xx_gives_up_after_max_tries(mock: requests_mock.Mocker) -> None:
    mock.get(f"{API}/3/financialyears", status_code=502, text="<html>Bad gateway</html>")
    with pytest.raises(FortnoxAPIError, match=r"HTTP 502.*gave up after 3 tries"):
        conn().get_json("/3/financialyears")


def test_connection_errors_and_timeouts_are_retried(mock: requests_mock.Mocker) -> None:
    mock.get(f"{API}/3/financialyears", [{"exc": requests.exceptions.ConnectionError},
                                          {"exc": requests.exceptions.ReadTimeout},
                                          {"json": {"FinancialYears": [1]}}])
    assert conn().get_json("/3/financialyears") == {"FinancialYears": [1]}


def test_429_honours_retry_after_through_the_limiter(mock: requests_mock.Mocker,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    mock.get(f"{API}/3/financialyears", [{"status_code": 429, "headers": {"Retry-After": "7"},
                                          "json": {"message": "Too many"}},
                                         {"json": {"FinancialYears": []}}])
    c = conn()
    penalties: list[float] = []
    monkeypatch.setattr(c.limiter, "penalise", penalties.append)
    c.get_json("/3/financialyears")
    assert penalties == [7.0]
    assert c.stats.throttled == 1


def test_401_renews_the_token_once(mock: requests_mock.Mocker) -> None:
    mock.post(f"{AUTH}/token", [{"json": {"access_token": "AT1", "expires_in": 3600}},
                                {"json": {"access_token": "AT2", "expires_in": 3600}}])
    mock.get(f"{API}/3/financialyears", [{"status_code": 401, "json": error(2000310)},
                                          {"json": {"FinancialYears": []}}])
    c = conn()
    c.get_json("/3/financialyears")
    calls = [h for h in mock.request_history if h.path == "/3/financialyears"]
    assert [h.headers["Authorization"] for h in calls] == ["Bearer AT1", "Bearer AT2"]


def test_repeated_401_is_a_credentials_error(mock: requests_mock.Mocker) -> None:
    mock.get(f"{API}/3/financialyears", status_code=401, json=error(2000310))
    with pytest.raises(FortnoxAPIError, match="refused the credentials"):
        conn().get_json("/3/financialyears")


def test_html_page_with_200_is_a_clear_error(mock: requests_mock.Mocker) -> None:
    mock.get(f"{API}/3/financialyears", text="<html>Maintenance</html>",
             headers={"Content-Type": "text/html"})
    with pytest.raises(FortnoxAPIError, match="expected JSON, got text/html"):
        conn().get_json("/3/financialyears")


def test_error_bodies_are_scrubbed_of_tokens(mock: requests_mock.Mocker) -> None:
    mock.get(f"{API}/3/financialyears", status_code=400,
             text='{"message": "bad", "access_token": "LEAKED-TOKEN", "hint": "Bearer LEAKED2"}')
    with pytest.raises(FortnoxAPIError) as info:
        conn().get_json("/3/financialyears")
    assert "LEAKED" not in str(info.value)
    assert SECRET not in str(info.value)


def test_scrubbing_keeps_fortnox_error_codes_and_masks_oauth_codes() -> None:
    body = '{"ErrorInformation": {"error": 1, "message": "Kan inte hitta kontot.", "code": 2000423}}'
    assert "2000423" in scrub(body)  # what went wrong, for the person reading the log
    assert "ab12-SECRET" not in scrub('{"code": "ab12-SECRET", "state": "x"}')
    assert "987654321" not in scrub("redirect?code=987654321&state=x")  # digits, not a Fortnox code
    assert "LEAK" not in scrub('{"Code": "LEAK"}')


def test_worker_pool_keeps_order_and_bounds_threads(mock: requests_mock.Mocker) -> None:
    for n in range(20):
        mock.get(f"{API}/3/vouchers/A/{n}", json={"Voucher": {"VoucherNumber": n}})
    c = conn()
    c.max_concurrency = 4
    with c.parallel(lambda n: c.get_json(f"/3/vouchers/A/{n}")["Voucher"]["VoucherNumber"],
                    range(20)) as results:
        got = list(results)
    assert got == list(range(20))


def test_leaving_the_pool_early_leaves_no_work_running() -> None:
    """A consumer that stops (or fails) mid-way: in-flight work is awaited, the rest never starts."""
    c = conn()
    c.max_concurrency = 4
    started: list[int] = []
    release = threading.Event()
    threading.Timer(0.3, release.set).start()

    def work(n: int) -> int:
        started.append(n)
        if n:
            release.wait(5)  # still "downloading" when the consumer leaves
        return n

    with c.parallel(work, range(100)) as results:
        assert next(results) == 0
    assert not [t for t in threading.enumerate() if t.name.startswith("fortnox_")]  # pool threads
    assert len(started) <= 2 * c.max_concurrency


def test_worker_pool_error_stops_the_run(mock: requests_mock.Mocker) -> None:
    mock.get(f"{API}/3/vouchers/A/3", status_code=404, json=error(2000423, "Kan inte hitta"))
    for n in (0, 1, 2, 4, 5):
        mock.get(f"{API}/3/vouchers/A/{n}", json={"Voucher": {}})
    c = conn()
    with (pytest.raises(FortnoxAPIError, match="not found"),
          c.parallel(lambda n: c.get_json(f"/3/vouchers/A/{n}"), range(6)) as results):
        list(results)


# --- the refresh-token chain ------------------------------------------------------------------


def refresh_auth(tmp_path: Path, seed: str | None = "SEED") -> FortnoxAuthenticator:
    return FortnoxAuthenticator(auth_url=AUTH, client_id="cid", client_secret=SECRET,
                                refresh_token=seed, store=TokenStore(tmp_path / "t.json"))


def test_each_rotation_is_stored_before_use(tmp_path: Path) -> None:
    with requests_mock.Mocker() as m:
        m.post(f"{AUTH}/token", [{"json": {"access_token": f"AT{i}", "refresh_token": f"RT{i}",
                                            "expires_in": 3600}} for i in (1, 2)])
        auth = refresh_auth(tmp_path)
        auth.start()
        assert auth.access_token() == "AT1"
        assert "refresh_token=SEED" in m.request_history[0].text
        stored = json.loads((tmp_path / "t.json").read_text())
        assert stored["refresh_token"] == "RT1"
        assert stored["seed_digest"] == digest("SEED")
        auth.invalidate("AT1")
        assert auth.access_token() == "AT2"
        assert "refresh_token=RT1" in m.request_history[1].text
        assert json.loads((tmp_path / "t.json").read_text())["refresh_token"] == "RT2"
        auth.stop()


def test_next_run_continues_the_stored_chain_not_the_config_seed(tmp_path: Path) -> None:
    TokenStore(tmp_path / "t.json").save(StoredTokens("RT7", seed_digest=digest("SEED")))
    with requests_mock.Mocker() as m:
        m.post(f"{AUTH}/token", json={"access_token": "AT8", "refresh_token": "RT8", "expires_in": 3600})
        auth = refresh_auth(tmp_path, seed="SEED")
        auth.start()
        auth.access_token()
        assert "refresh_token=RT7" in m.request_history[0].text
        auth.stop()


def test_a_new_consent_in_config_starts_a_new_chain(tmp_path: Path) -> None:
    TokenStore(tmp_path / "t.json").save(StoredTokens("RT7", seed_digest=digest("OLD")))
    with requests_mock.Mocker() as m:
        m.post(f"{AUTH}/token", json={"access_token": "A", "refresh_token": "R", "expires_in": 3600})
        auth = refresh_auth(tmp_path, seed="NEW")
        auth.start()
        auth.access_token()
        assert "refresh_token=NEW" in m.request_history[0].text
        auth.stop()


def test_cached_access_token_is_reused_across_runs(tmp_path: Path) -> None:
    TokenStore(tmp_path / "t.json").save(StoredTokens("RT7", "AT-CACHED", time.time() + 3000,
                                                      digest("SEED")))
    with requests_mock.Mocker() as m:
        auth = refresh_auth(tmp_path)
        auth.start()
        assert auth.access_token() == "AT-CACHED"
        assert m.call_count == 0
        auth.stop()


def test_invalid_grant_says_reconsent(tmp_path: Path) -> None:
    with requests_mock.Mocker() as m:
        m.post(f"{AUTH}/token", status_code=400, json={"error": "invalid_grant",
                                                       "error_description": "used"})
        auth = refresh_auth(tmp_path)
        auth.start()
        with pytest.raises(FortnoxAuthError) as info:
            auth.access_token()
        auth.stop()
    assert "invalid_grant" in str(info.value)
    assert "tap-fortnox authorize" in str(info.value)
    assert "SEED" not in str(info.value)


def test_no_seed_and_no_store_is_a_config_error(tmp_path: Path) -> None:
    auth = refresh_auth(tmp_path, seed=None)
    with pytest.raises(Exception, match="Run `tap-fortnox authorize"):
        auth.start()
    auth.stop()


def test_token_request_reset_after_sending_is_not_repeated(tmp_path: Path) -> None:
    """A refresh that may have reached Fortnox spent its token: retrying would only get invalid_grant."""
    with requests_mock.Mocker() as m:
        m.post(f"{AUTH}/token", exc=requests.exceptions.ConnectionError("Connection aborted."))
        auth = refresh_auth(tmp_path)
        auth.start()
        with pytest.raises(FortnoxAuthError, match="may have rotated unseen"):
            auth.access_token()
        auth.stop()
        assert m.call_count == 1


def test_a_json_bomb_is_a_clear_error(mock: requests_mock.Mocker) -> None:
    """Nesting deep enough to exhaust the decoder's recursion: an error naming the call."""
    mock.get(f"{API}/3/financialyears", text="[" * 100_000 + "]" * 100_000,
             headers={"Content-Type": "application/json"})
    with pytest.raises(FortnoxAPIError, match=r"GET /3/financialyears: expected JSON"):
        conn().get_json("/3/financialyears")


def test_error_bodies_that_are_json_bombs_still_give_the_status(mock: requests_mock.Mocker) -> None:
    mock.get(f"{API}/3/financialyears", status_code=400, text="[" * 100_000 + "]" * 100_000)
    with pytest.raises(FortnoxAPIError, match="HTTP 400"):
        conn().get_json("/3/financialyears")
