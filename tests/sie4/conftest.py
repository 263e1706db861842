"""Shared fixtures for the sie4 tests: where the real sample exports are."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = Path(os.environ.get("SIE_SAMPLES_DIR", ROOT.parent / "shared" / "data" / "sie-samples"))


@pytest.fixture(scope="session")
def samples() -> Path:
    if not SAMPLES.is_dir():  # a missing corpus must fail loudly, never skip
        pytest.fail(f"SIE samples not found at {SAMPLES}; set SIE_SAMPLES_DIR")
    return SAMPLES
