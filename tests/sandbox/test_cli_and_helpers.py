"""The CLI banner, the running_sandbox helper's contract, and the exact-Decimal JSON encoder."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import requests

from fortnox_sandbox.cli import _config, _parser, banner
from fortnox_sandbox.jsonenc import dumps
from fortnox_sandbox.state import SandboxState
from fortnox_sandbox.testing import running_sandbox


def test_json_encoder_writes_decimals_exactly_and_refuses_floats() -> None:
    text = dumps({"a": Decimal("1234.50"), "b": [Decimal("-0.01"), 1, None, True, "åäö"]})
    assert text == '{"a":1234.50,"b":[-0.01,1,null,true,"åäö"]}'
    assert json.loads(text, parse_float=Decimal)["a"] == Decimal("1234.50")
    with pytest.raises(TypeError, match="float"):
        dumps({"x": 0.1})


def test_cli_config_and_banner() -> None:
    args = _parser().parse_args(
        ["serve", "--profile", "tiny", "--companies", "2", "--no-rate-limit", "--seed", "3"])
    config = _config(args)
    assert config.host == "127.0.0.1"
    assert config.profile.companies == 2
    assert config.rate_limit is False
    state = SandboxState(config)
    text = banner(state, config.host, 8765, 0.1)
    assert "http://127.0.0.1:8765" in text
    assert config.client_secret in text
    assert text.count("refresh_token") == 2
    for tenant in state.books.tenant_ids:
        assert str(tenant) in text


def test_running_sandbox_contract() -> None:
    with running_sandbox(seed=2, profile="tiny", companies=1, years=3,
                         rate_limit_requests=5) as sb:
        assert sb.api_url.startswith("http://127.0.0.1:")
        assert sb.auth_url == sb.api_url + "/oauth-v1"
        assert len(sb.tenant_ids) == 1
        assert len(sb.books.companies[sb.tenant_ids[0]].years) == 3
        token = sb.issue_refresh_token(sb.tenant_ids[0], scopes=["bookkeeping"])
        got = requests.post(sb.auth_url + "/token", auth=(sb.client_id, sb.client_secret),
                            data={"grant_type": "refresh_token", "refresh_token": token},
                            timeout=5)
        assert got.json()["scope"] == "bookkeeping"
        assert sb.counters() == {"/oauth-v1/token": 1}
    with pytest.raises(TypeError, match="unknown running_sandbox overrides"), \
            running_sandbox(nonsense=1):
        pass
