"""Query parameters as Fortnox reads them (reference §3): lowercase names, page/limit/offset,
the global search params, and the `MetaInformation` list envelope."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, TypeVar

from .books import Company, FinancialYear
from .errors import invalid_parameter
from .timeutil import STOCKHOLM, now_utc, parse_lastmodified

T = TypeVar("T")

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
#: The global search params; an endpoint that does not take one answers 2000588,
#: as /3/currencies does for lastmodified [softwerkab #260]. Other unknown params are
#: ignored, and so are upper-case spellings ("all parameters should be in lower case").
GLOBAL_PARAMS = frozenset(
    {"lastmodified", "financialyear", "financialyeardate", "fromdate", "todate", "sortby",
     "sortorder", "filter"}
)


def check_supported(query: Mapping[str, str], supported: frozenset[str]) -> None:
    for name in query:
        if name in GLOBAL_PARAMS and name not in supported:
            raise invalid_parameter(name)


def int_param(query: Mapping[str, str], name: str, default: int, low: int, high: int | None) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid_parameter(name) from None
    # [UNCERTAIN] limit > 500: one report says Fortnox silently caps (softwerkab #291);
    # we refuse it with 2000588 so a client asking for more notices.
    if value < low or (high is not None and value > high):
        raise invalid_parameter(name)
    return value


def date_param(query: Mapping[str, str], name: str) -> date | None:
    raw = query.get(name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise invalid_parameter(name) from None


def lastmodified_param(query: Mapping[str, str]) -> datetime | None:
    raw = query.get("lastmodified")
    if not raw:
        return None
    try:
        return parse_lastmodified(raw)
    except ValueError:
        raise invalid_parameter("lastmodified") from None


def financial_year(query: Mapping[str, str], company: Company) -> FinancialYear:
    """The year selected by `financialyear` (id) or `financialyeardate`.

    [INFERRED] Without either, Fortnox uses the current/preselected year: we take the
    year containing today (Stockholm), else the latest year.
    """
    if query.get("financialyear"):
        try:
            year = company.year(int(query["financialyear"]))
        except ValueError:
            year = None
        if year is None:  # [UNCERTAIN] unknown year id: 400 2000588
            raise invalid_parameter("financialyear")
        return year
    day = date_param(query, "financialyeardate")
    if day is not None:
        year = company.year_for_date(day)
        if year is None:
            raise invalid_parameter("financialyeardate")
        return year
    today = now_utc().astimezone(STOCKHOLM).date()
    return company.year_for_date(today) or company.years[-1]


def sort_items(
    query: Mapping[str, str], items: list[T], keys: Mapping[str, Callable[[T], Any]]
) -> list[T]:
    sortby = query.get("sortby")
    order = query.get("sortorder", "ascending")
    if order not in ("ascending", "descending"):
        raise invalid_parameter("sortorder")
    if not sortby:
        return items[::-1] if order == "descending" else items
    if sortby not in keys:
        raise invalid_parameter("sortby")
    return sorted(items, key=keys[sortby], reverse=order == "descending")


def page(
    query: Mapping[str, str], items: Sequence[T], root: str, shape: Callable[[T], Any]
) -> dict[str, Any]:
    """One page in the list envelope.

    [UNCERTAIN] `offset` skips that many items before paging; @TotalResources counts all
    items; an empty result still reports @TotalPages 1; a page past the end is empty.
    """
    limit = int_param(query, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    current = int_param(query, "page", 1, 1, None)
    offset = int_param(query, "offset", 0, 0, None)
    total = len(items)
    pages = max(1, math.ceil(max(0, total - offset) / limit))
    start = offset + (current - 1) * limit
    return {
        "MetaInformation": {
            "@TotalResources": total,
            "@TotalPages": pages,
            "@CurrentPage": current,
        },
        root: [shape(item) for item in items[start : start + limit]],
    }
