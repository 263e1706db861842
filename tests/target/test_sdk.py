"""The SDK's standard target tests (singer_sdk.testing), all of which apply.

Their streams are not part of the contract, so the target must ignore them cleanly
while still honouring the generic Singer rules (schema before record, key
properties, invalid schema, relaying every drained STATE).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from singer_sdk.testing import get_target_test_class

from target_senseworks.target import TargetSenseworks

_DB = Path(tempfile.mkdtemp(prefix="senseworks-sdk-")) / "ledger.db"

TestTargetSenseworks = get_target_test_class(
    TargetSenseworks, config={"database_url": f"sqlite:///{_DB}"}
)
