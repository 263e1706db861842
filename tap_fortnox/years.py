"""Which financial years a run reads: `financial_year_ids`, `last_n_years`, or all; `start_date`.

Fortnox years are ids, not calendar years, and may be broken (July-June), so the
"current" year is the one whose dates contain today in Stockholm, not today's
calendar year.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from .errors import FortnoxConfigError

STOCKHOLM = ZoneInfo("Europe/Stockholm")


def stockholm_today() -> date:
    return datetime.now(STOCKHOLM).date()


def _dates(year: Mapping[str, Any]) -> tuple[date, date]:
    return date.fromisoformat(str(year["FromDate"])), date.fromisoformat(str(year["ToDate"]))


def current_year_index(years: Sequence[Mapping[str, Any]], today: date) -> int:
    """The year containing `today`; else the latest year that has started; else the first."""
    started = -1
    for i, year in enumerate(years):
        start, end = _dates(year)
        if start <= today <= end:
            return i
        if start <= today:
            started = i
    return started if started >= 0 else 0


def select_years(years: Sequence[Mapping[str, Any]], config: Mapping[str, Any],
                 today: date | None = None) -> list[Mapping[str, Any]]:
    """The years to sync, oldest first (`years` must be sorted by FromDate)."""
    ids = config.get("financial_year_ids")
    last_n = config.get("last_n_years")
    if ids and last_n is not None:
        raise FortnoxConfigError("set financial_year_ids or last_n_years, not both")
    chosen: list[Mapping[str, Any]]
    if ids:
        wanted = {int(i) for i in ids}
        known = {int(y["Id"]) for y in years}
        if wanted - known:
            raise FortnoxConfigError(
                f"financial_year_ids {sorted(wanted - known)} are not financial years of this "
                f"company (it has {sorted(known)})")
        chosen = [y for y in years if int(y["Id"]) in wanted]
    elif last_n is not None:
        if int(last_n) < 1:
            raise FortnoxConfigError("last_n_years must be at least 1")
        if not years:
            return []
        current = current_year_index(years, today or stockholm_today())
        chosen = list(years[max(0, current - int(last_n) + 1): current + 1])
    else:
        chosen = list(years)
    start = config.get("start_date")
    if start:
        first = date.fromisoformat(str(start)[:10])
        chosen = [y for y in chosen if _dates(y)[1] >= first]
    return chosen
