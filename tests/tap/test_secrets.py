"""Sentinel secrets through every failure path: never in stdout, stderr, state or records."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from fortnox_sandbox.testing import running_sandbox
from tap_fortnox.tap import TapFortnox

from .conftest import TIME_SCALE, refresh_config, run_cli, service_config

SECRET = "SENTINEL-CLIENT-SECRET-7f3a"
REFRESH = "SENTINEL-REFRESH-TOKEN-91cd"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _assert_clean(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text
    assert "Traceback" not in text


def test_failure_paths_never_show_secrets(tmp_path: Path) -> None:
    failing = {"kind": "status", "status": 500, "path": "^/3/financialyears", "every": 1}
    with running_sandbox(seed=1, profile="tiny", time_scale=TIME_SCALE) as sb:
        tenant = sb.tenant_ids[0]
        cases = {
            "wrong client secret": service_config(sb, client_secret=SECRET),
            "unknown refresh token": refresh_config(sb, tmp_path, refresh_token=REFRESH),
            "wrong secret on refresh": refresh_config(sb, tmp_path, client_secret=SECRET,
                                                      token_store_path=str(tmp_path / "b.json")),
            "token endpoint down": service_config(sb, client_secret=SECRET,
                                                  auth_url=f"http://127.0.0.1:{_closed_port()}/oauth-v1"),
            "api down": service_config(sb, client_secret=SECRET, max_retries=1,
                                       api_url=f"http://127.0.0.1:{_closed_port()}", request_timeout=2),
            "missing scope": refresh_config(
                sb, tmp_path, refresh_token=sb.issue_refresh_token(tenant, ["bookkeeping"]),
                token_store_path=str(tmp_path / "c.json")),
        }
        outputs = {}
        for name, config in cases.items():
            run = run_cli(config, tmp_path)
            assert run.returncode != 0, name
            outputs[name] = run
        # a run that works, then fails on a server error: its real tokens must not show either
        good = refresh_config(sb, tmp_path, token_store_path=str(tmp_path / "d.json"), max_retries=1)
        sb.set_faults(failing)
        failed = run_cli(good, tmp_path)
        assert failed.returncode != 0
        stored = json.loads(Path(good["token_store_path"]).read_text())
    for name, run in outputs.items():
        _assert_clean(run.stdout + run.stderr, SECRET, REFRESH, sb.client_secret)
        assert "tap-fortnox stopped:" in run.stderr, name
    _assert_clean(failed.stdout + failed.stderr, good["refresh_token"], stored["refresh_token"],
                  stored["access_token"], sb.client_secret)
    assert "gave up after" in failed.stderr


@pytest.mark.parametrize("field", ["client_secret", "refresh_token"])
def test_secrets_are_marked_secret_in_the_settings(field: str) -> None:
    prop = TapFortnox.config_jsonschema["properties"][field]
    assert prop.get("secret") is True
    assert prop.get("writeOnly") is True
