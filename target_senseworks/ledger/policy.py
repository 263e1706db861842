"""Source policy: may this run's Fortnox ledger replace what a year holds?"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

KEEP_SIE = "keep_sie"
FORTNOX_OVERWRITES = "fortnox_overwrites"
POLICIES = (KEEP_SIE, FORTNOX_OVERWRITES)


@dataclass(frozen=True)
class SourcePolicy:
    """`keep_sie` keeps SIE-loaded years unless listed in `overwrite_sie_years`."""

    policy: str = KEEP_SIE
    overwrite_sie_years: frozenset[dt.date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ValueError(f"source_policy must be one of {POLICIES}, not {self.policy!r}")

    @classmethod
    def from_config(cls, policy: str | None, years: Iterable[str] | None) -> SourcePolicy:
        """Build from target settings; years are ISO start dates."""
        parsed = set()
        for y in years or ():
            try:
                parsed.add(dt.date.fromisoformat(str(y)))
            except ValueError as exc:
                raise ValueError(
                    f"overwrite_sie_years: {y!r} is not a year start date (YYYY-MM-DD)"
                ) from exc
        return cls(policy or KEEP_SIE, frozenset(parsed))

    def fortnox_may_write(self, ledger_source: str | None, start_date: dt.date) -> bool:
        """No ledger or a Fortnox ledger: yes; an SIE ledger: only if policy or year says so."""
        if ledger_source in (None, "fortnox"):
            return True
        if ledger_source == "sie":
            return self.policy == FORTNOX_OVERWRITES or start_date in self.overwrite_sie_years
        raise ValueError(f"unknown ledger_source {ledger_source!r}")
