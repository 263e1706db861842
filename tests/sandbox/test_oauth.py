"""OAuth 2 as Fortnox runs it: consent, code exchange, rotating refresh, client credentials."""

from __future__ import annotations

import base64
import json
import time
from urllib.parse import parse_qs, urlparse

import requests

from fortnox_sandbox.testing import Sandbox, running_sandbox


def _token(sb: Sandbox, data: dict[str, str], **headers: str) -> requests.Response:
    return requests.post(sb.auth_url + "/token", data=data, headers=headers,
                         auth=(sb.client_id, sb.client_secret), timeout=5)


def _refresh(sb: Sandbox, token: str) -> requests.Response:
    return _token(sb, {"grant_type": "refresh_token", "refresh_token": token})


def _company_info(sb: Sandbox, access: str) -> requests.Response:
    return requests.get(sb.api_url + "/3/companyinformation",
                        headers={"Authorization": f"Bearer {access}"}, timeout=5)


def test_authorization_code_flow_without_browser(sandbox: Sandbox) -> None:
    tenant = sandbox.tenant_ids[1]
    params = {"client_id": sandbox.client_id, "response_type": "code", "state": "xyz",
              "scope": "companyinformation bookkeeping", "access_type": "offline",
              "redirect_uri": "http://127.0.0.1:9/cb"}
    page = requests.get(sandbox.auth_url + "/auth", params=params, timeout=5)
    assert page.status_code == 200
    assert "<form" in page.text
    assert str(tenant) in page.text

    approved = requests.get(sandbox.auth_url + "/auth", allow_redirects=False, timeout=5,
                            params={**params, "approve": "1", "tenant": str(tenant)})
    assert approved.status_code == 302
    location = urlparse(approved.headers["Location"])
    query = parse_qs(location.query)
    assert location.netloc == "127.0.0.1:9"
    assert query["state"] == ["xyz"]
    code = query["code"][0]

    wrong = _token(sandbox, {"grant_type": "authorization_code", "code": code,
                             "redirect_uri": "http://elsewhere/cb"})
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"

    # the code was burnt by the failed attempt (single use); get a new one by POSTing the form
    posted = requests.post(sandbox.auth_url + "/auth", allow_redirects=False, timeout=5,
                           data={**params, "approve": "1", "tenant": str(tenant)})
    code = parse_qs(urlparse(posted.headers["Location"]).query)["code"][0]
    got = _token(sandbox, {"grant_type": "authorization_code", "code": code,
                           "redirect_uri": params["redirect_uri"]})
    assert got.status_code == 200
    body = got.json()
    assert set(body) == {"access_token", "refresh_token", "scope", "expires_in", "token_type"}
    assert body["expires_in"] == 3600
    assert body["token_type"] == "bearer"
    claims = json.loads(base64.urlsafe_b64decode(body["access_token"].split(".")[1] + "=="))
    assert claims["tenantId"] == tenant
    assert _company_info(sandbox, body["access_token"]).json()[
        "CompanyInformation"]["DatabaseNumber"] == tenant
    again = _token(sandbox, {"grant_type": "authorization_code", "code": code,
                             "redirect_uri": params["redirect_uri"]})
    assert again.status_code == 400


def test_denied_consent_and_bad_scope_redirect_with_errors(sandbox: Sandbox) -> None:
    params = {"client_id": sandbox.client_id, "response_type": "code", "state": "s",
              "scope": "bookkeeping", "redirect_uri": "http://127.0.0.1:9/cb"}
    denied = requests.get(sandbox.auth_url + "/auth", params={**params, "approve": "0"},
                          allow_redirects=False, timeout=5)
    assert parse_qs(urlparse(denied.headers["Location"]).query)["error"] == ["access_denied"]
    bad = requests.get(sandbox.auth_url + "/auth", params={**params, "scope": "everything"},
                       allow_redirects=False, timeout=5)
    assert parse_qs(urlparse(bad.headers["Location"]).query)["error"] == ["invalid_scope"]


def test_refresh_token_is_single_use_and_rotates(sandbox: Sandbox) -> None:
    first = sandbox.issue_refresh_token(sandbox.tenant_ids[0], scopes=["companyinformation"])
    one = _refresh(sandbox, first)
    assert one.status_code == 200
    second = one.json()["refresh_token"]
    assert second != first
    assert one.json()["scope"] == "companyinformation"
    reuse = _refresh(sandbox, first)
    assert reuse.status_code == 400
    assert reuse.json()["error"] == "invalid_grant"
    assert _refresh(sandbox, second).status_code == 200
    assert _refresh(sandbox, second).status_code == 400


def test_bad_client_credentials_are_invalid_client(sandbox: Sandbox) -> None:
    token = sandbox.issue_refresh_token(sandbox.tenant_ids[0])
    response = requests.post(sandbox.auth_url + "/token", auth=(sandbox.client_id, "wrong"),
                             data={"grant_type": "refresh_token", "refresh_token": token},
                             timeout=5)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert _refresh(sandbox, token).status_code == 200  # not consumed by the failed call


def test_client_credentials_with_tenant_header(sandbox: Sandbox) -> None:
    tenant = sandbox.tenant_ids[2]
    got = _token(sandbox, {"grant_type": "client_credentials"}, TenantId=str(tenant))
    assert got.status_code == 200
    assert "refresh_token" not in got.json()
    info = _company_info(sandbox, got.json()["access_token"]).json()["CompanyInformation"]
    assert info["DatabaseNumber"] == tenant
    unknown = _token(sandbox, {"grant_type": "client_credentials"}, TenantId="1")
    assert unknown.status_code == 400
    assert unknown.json()["error"] == "invalid_grant"
    missing = _token(sandbox, {"grant_type": "client_credentials"})
    assert missing.status_code == 400


def test_access_tokens_expire() -> None:
    with running_sandbox(token_lifetime=1, rate_limit=False) as sb:
        got = _refresh(sb, sb.issue_refresh_token(sb.tenant_ids[0]))
        assert got.json()["expires_in"] == 1
        access = got.json()["access_token"]
        assert _company_info(sb, access).status_code == 200
        time.sleep(1.05)
        expired = _company_info(sb, access)
        assert expired.status_code == 401
        assert expired.json()["ErrorInformation"]["code"] == 2000310
