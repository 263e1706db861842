"""The Singer SDK's standard tap tests, run against a live sandbox."""

from __future__ import annotations

import tempfile

import pytest
from singer_sdk.testing import SuiteConfig, get_tap_test_class

from fortnox_sandbox.testing import running_sandbox
from tap_fortnox.tap import TapFortnox

# The test class reads its config when this module is imported, so the sandbox starts
# here and stops when the module's tests are done (the fixture below).
_SANDBOX = running_sandbox(seed=1, profile="tiny", time_scale=10.0)
_SB = _SANDBOX.__enter__()
_STORE = tempfile.mkdtemp(prefix="tap-fortnox-sdk-")

CONFIG = {
    "api_url": _SB.api_url, "auth_url": _SB.auth_url, "client_id": _SB.client_id,
    "client_secret": _SB.client_secret, "tenant_id": str(_SB.tenant_ids[0]),
    "rate_limit_window": 0.5, "token_store_path": f"{_STORE}/tokens.json",
}


@pytest.fixture(scope="module", autouse=True)
def _stop_sandbox():
    yield
    _SANDBOX.__exit__(None, None, None)


TestTapFortnox = get_tap_test_class(TapFortnox, config=CONFIG,
                                    suite_config=SuiteConfig(max_records_limit=500))
