"""Time in the sandbox: UTC inside, Europe/Stockholm at the `lastmodified` boundary.

[INFERRED in the reference §5] Fortnox interprets `lastmodified` as Swedish local time
(DST-dependent); the .NET SDK computes cut-offs in Europe/Stockholm. We do the same.
"""

from __future__ import annotations

from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

STOCKHOLM = ZoneInfo("Europe/Stockholm")
UTC = timezone.utc

_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d")


def now_utc() -> datetime:
    return datetime.now(UTC)


def stockholm_to_utc(day: date, at: time) -> datetime:
    """A Stockholm wall-clock moment as an aware UTC datetime."""
    return datetime.combine(day, at, tzinfo=STOCKHOLM).astimezone(UTC)


def parse_lastmodified(value: str) -> datetime:
    """Parse `YYYY-MM-DD HH:MM[:SS]` or `YYYY-MM-DD` as Stockholm local time → UTC.

    Raises ValueError for anything else (the API answers 2000588). A `T` separator is
    accepted too: [UNCERTAIN] whether Fortnox does; clients following the docs send a space.
    """
    text = value.strip().replace("T", " ")
    for fmt in _FORMATS:
        try:
            local = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return local.replace(tzinfo=STOCKHOLM).astimezone(UTC)
    raise ValueError(f"not a lastmodified timestamp: {value!r}")


def format_stockholm(moment: datetime, seconds: bool = False) -> str:
    """An aware datetime as Fortnox-style Stockholm local text (`YYYY-MM-DD HH:MM`)."""
    local = moment.astimezone(STOCKHOLM)
    return local.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
