"""Injected faults behave as their real counterparts do on the wire."""

from __future__ import annotations

import time

import pytest
import requests
from sandbox_helpers import Api

import sie4
from fortnox_sandbox.faults import PROFILES, FaultInjector, FaultRule, build_rules
from fortnox_sandbox.testing import Sandbox, running_sandbox


def test_status_every_nth_request(fresh: Sandbox) -> None:
    fresh.set_faults({"kind": "status", "status": 503, "every": 3})
    api = Api(fresh, fresh.tenant_ids[0])
    codes = [api.get("/3/companyinformation").status_code for _ in range(6)]
    assert codes == [200, 200, 503, 200, 200, 503]


def test_rate_limit_burst(fresh: Sandbox) -> None:
    fresh.set_faults({"kind": "rate_limit", "first": 1, "burst": 3})
    api = Api(fresh, fresh.tenant_ids[0])
    codes = [api.get("/3/companyinformation").status_code for _ in range(5)]
    assert codes == [429, 429, 429, 200, 200]


def test_connection_reset_and_truncation(fresh: Sandbox) -> None:
    api = Api(fresh, fresh.tenant_ids[0])
    fresh.set_faults({"kind": "reset", "first": 1})
    with pytest.raises(requests.ConnectionError):
        api.get("/3/vouchers")
    assert api.get("/3/vouchers").status_code == 200
    fresh.set_faults({"kind": "truncate", "first": 1})
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        api.get("/3/vouchers")
    assert api.get("/3/vouchers").status_code == 200


def test_slow_response_only_on_matching_path(fresh: Sandbox) -> None:
    api = Api(fresh, fresh.tenant_ids[0])
    fresh.set_faults({"kind": "slow", "delay": 0.3, "path": "^/3/vouchers$", "first": 5})
    start = time.monotonic()
    assert api.get("/3/companyinformation").status_code == 200
    assert time.monotonic() - start < 0.25
    start = time.monotonic()
    assert api.get("/3/vouchers").status_code == 200
    assert time.monotonic() - start >= 0.3


def test_expired_token_fault_kills_the_token(fresh: Sandbox) -> None:
    api = Api(fresh, fresh.tenant_ids[0])
    fresh.set_faults({"kind": "expire_token", "first": 1})
    assert api.get("/3/companyinformation").status_code == 401
    fresh.set_faults(None)
    assert api.get("/3/companyinformation").status_code == 401  # stays expired
    assert Api(fresh, fresh.tenant_ids[0]).get("/3/companyinformation").status_code == 200


@pytest.mark.parametrize("variant", ["truncated", "unbalanced", "utf8"])
def test_broken_sie_export_is_detectable(fresh: Sandbox, variant: str) -> None:
    api = Api(fresh, fresh.tenant_ids[0])
    good = api.get("/3/sie/4", financialyear=1).content
    fresh.set_faults({"kind": "broken_sie", "first": 1, "variant": variant})
    broken = api.get("/3/sie/4", financialyear=1)
    assert broken.status_code == 200
    assert broken.content != good
    try:
        _, report = sie4.parse_and_validate(broken.content)
        detected = not report.ok or report.encoding != "cp437"
    except sie4.SieError:
        detected = True
    assert detected, variant
    assert api.get("/3/sie/4", financialyear=1).content == good  # only the first one


def test_named_profiles_build_and_are_seeded() -> None:
    for name in PROFILES:
        build_rules(name)
    with pytest.raises(ValueError, match="unknown fault profile"):
        build_rules("nonsense")
    with pytest.raises(ValueError, match="unknown fault kind"):
        FaultRule(kind="meteor")

    def run() -> list[bool]:
        injector = FaultInjector("flaky", seed=7)
        return [injector.pick("/3/vouchers", 1) is not None for _ in range(2000)]

    first = run()
    assert first == run()
    assert 0 < sum(first) < 400


def test_faults_set_at_start_and_over_admin_api() -> None:
    with running_sandbox(rate_limit=False, faults="rate_limit_bursts") as sb:
        api = Api(sb, sb.tenant_ids[0])
        codes = [api.get("/3/companyinformation").status_code for _ in range(22)]
        assert codes.count(429) == 3
        assert codes[19:22] == [429, 429, 429]
        put = requests.put(sb.admin_url + "/faults", timeout=5,
                           json={"rules": [{"kind": "status", "status": 502, "first": 1}]})
        assert put.status_code == 200
        assert put.json()[0]["status"] == 502
        assert api.get("/3/companyinformation").status_code == 502
        assert requests.get(sb.admin_url + "/faults", timeout=5).json()[0]["fired"] == 1
