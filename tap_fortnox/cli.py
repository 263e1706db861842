"""The `tap-fortnox` command: the Singer tap, plus `tap-fortnox authorize` for onboarding."""

from __future__ import annotations

import sys

from .authorize import main as authorize
from .tap import TapFortnox


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "authorize":
        sys.exit(authorize(sys.argv[2:]))
    TapFortnox.cli()
