"""Fixtures for tap-fortnox tests: a sandbox, configs pointing at it, and ways to run the tap."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from fortnox_sandbox.testing import Sandbox, running_sandbox
from tap_fortnox.tap import TapFortnox

TAP = str(Path(sys.executable).parent / "tap-fortnox")
#: The sandbox's rate window is shrunk 10x (25 per 0.5 s) so that tests keep Fortnox's
#: shape but do not wait 5 s per 25 requests; the tap is told the same window.
TIME_SCALE = 10.0


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with running_sandbox(seed=1, profile="tiny", time_scale=TIME_SCALE) as sb:
        yield sb


def refresh_config(sb: Sandbox, tmp_path: Path, tenant: int | None = None, **extra: Any) -> dict[str, Any]:
    tenant = tenant if tenant is not None else sb.tenant_ids[0]
    return {
        "api_url": sb.api_url, "auth_url": sb.auth_url, "client_id": sb.client_id,
        "client_secret": sb.client_secret, "refresh_token": sb.issue_refresh_token(tenant),
        "token_store_path": str(tmp_path / f"tokens-{tenant}.json"),
        "rate_limit_window": 5.0 / TIME_SCALE, **extra,
    }


def service_config(sb: Sandbox, tenant: int | None = None, **extra: Any) -> dict[str, Any]:
    tenant = tenant if tenant is not None else sb.tenant_ids[0]
    return {
        "api_url": sb.api_url, "auth_url": sb.auth_url, "client_id": sb.client_id,
        "client_secret": sb.client_secret, "tenant_id": str(tenant),
        "rate_limit_window": 5.0 / TIME_SCALE, **extra,
    }


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    messages: list[dict[str, Any]] = field(default_factory=list)

    def records(self, stream: str) -> list[dict[str, Any]]:
        return [m["record"] for m in self.messages if m["type"] == "RECORD" and m["stream"] == stream]


def run_cli(config: dict[str, Any], tmp_path: Path, *args: str, timeout: float = 120) -> Run:
    """The real `tap-fortnox` command in its own process."""
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    done = subprocess.run([TAP, "--config", str(path), *args], capture_output=True, text=True,
                          timeout=timeout, check=False)
    messages = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return Run(done.returncode, done.stdout, done.stderr, messages)


def run_in_process(config: dict[str, Any]) -> tuple[TapFortnox, list[dict[str, Any]]]:
    """A run inside the test process (fast enough for loops of a hundred runs)."""
    out = io.StringIO()
    tap = TapFortnox(config=config, parse_env_config=False)
    with contextlib.redirect_stdout(out):
        tap.sync_all()
    return tap, [json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")]


# --- part 2: ledger runs with STATE, records read exactly (Decimal) ------------------------


@dataclass
class Sync:
    """One in-process run: its messages (numbers as Decimal), exit code and final STATE."""

    messages: list[dict[str, Any]]
    exit_code: int = 0

    def records(self, stream: str, year: int | None = None) -> list[dict[str, Any]]:
        return [m["record"] for m in self.messages
                if m["type"] == "RECORD" and m["stream"] == stream
                and (year is None or m["record"].get("financial_year_id") == year)]

    @property
    def state(self) -> dict[str, Any]:
        states = [m["value"] for m in self.messages if m["type"] == "STATE"]
        return states[-1] if states else {}


def sync(config: dict[str, Any], state: dict[str, Any] | None = None) -> Sync:
    """Run the tap in this process with an optional input STATE; a failed run still returns
    what it wrote before it stopped (as the SDK's output would reach a target)."""
    out = io.StringIO()
    tap = TapFortnox(config=config, state=state, parse_env_config=False)
    code = 0
    with contextlib.redirect_stdout(out):
        try:
            tap.sync_all()
        except SystemExit as e:
            code = int(e.code or 0)
    return Sync([json.loads(line, parse_float=Decimal) for line in out.getvalue().splitlines()
                 if line.startswith("{")], code)


def admin(sb: Sandbox, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """The sandbox's admin API (/_sandbox/...), as a demo or a person would change the books."""
    response = requests.request(method, f"{sb.admin_url}{path}", json=body, timeout=10)
    assert response.status_code < 400, response.text
    return response.json(parse_float=Decimal)
