"""Shared fixtures: one read-only tiny sandbox per module, and sandboxes of one's own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sandbox_helpers import Api

from fortnox_sandbox.testing import Sandbox, running_sandbox


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    """A read-only sandbox: tests using it must not mutate the books."""
    with running_sandbox(seed=1, profile="tiny", rate_limit=False) as sb:
        yield sb


@pytest.fixture
def fresh() -> Iterator[Sandbox]:
    """A sandbox of one's own, for tests that mutate books, grants or faults."""
    with running_sandbox(seed=1, profile="tiny", rate_limit=False) as sb:
        yield sb


@pytest.fixture(scope="module")
def api(sandbox: Sandbox) -> Api:
    """A client for the first company (calendar years, every licence)."""
    return Api(sandbox, sandbox.tenant_ids[0])
