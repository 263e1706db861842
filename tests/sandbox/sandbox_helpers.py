"""Test helpers for the sandbox suite (a module name unlikely to clash with other suites)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import requests

from fortnox_sandbox.testing import Sandbox


class Api:
    """requests with a bearer token for one tenant; JSON parsed with Decimal floats."""

    def __init__(self, sb: Sandbox, tenant: int, scopes: Iterable[str] | None = None) -> None:
        self.sb = sb
        self.tenant = tenant
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {sb.issue_access_token(tenant, scopes)}"

    def get(self, route: str, **params: Any) -> requests.Response:
        return self.session.get(self.sb.api_url + route, params=params, timeout=10)

    def json(self, route: str, **params: Any) -> Any:
        response = self.get(route, **params)
        assert response.status_code == 200, response.text
        return json.loads(response.text, parse_float=Decimal)


def error_code(response: requests.Response) -> int:
    return int(response.json()["ErrorInformation"]["code"])
