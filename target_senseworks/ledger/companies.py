"""Find companies by organisation number, however it is written.

"556677-8899", "5566778899" and "16556677-8899" (with the century prefix some
programs write) are one company: numbers compare by their ten digits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Connection, select

from .models import Company

_NOT_DIGIT = re.compile(r"\D")


def normalize_orgnr(orgnr: str | None) -> str:
    """The digits that identify the company ("" when none)."""
    digits = _NOT_DIGIT.sub("", orgnr or "")
    if len(digits) == 12 and digits.startswith("16"):
        digits = digits[2:]
    return digits


@dataclass(frozen=True)
class CompanyRow:
    """A company as the CLI shows it."""

    id: int
    organisation_number: str | None
    name: str | None
    tenant_id: int | None


def find_companies(conn: Connection, orgnr: str) -> list[CompanyRow]:
    """Every company whose organisation number is `orgnr` (usually none or one)."""
    wanted = normalize_orgnr(orgnr)
    if not wanted:
        return []
    c = Company.__table__
    rows = conn.execute(
        select(c.c.id, c.c.organisation_number, c.c.name, c.c.tenant_id)
        .where(c.c.organisation_number.is_not(None)).order_by(c.c.id)
    ).all()
    return [CompanyRow(*row) for row in rows if normalize_orgnr(row[1]) == wanted]


def create_company(conn: Connection, orgnr: str, name: str | None) -> CompanyRow:
    """A company known only from an SIE file: no Fortnox tenant yet."""
    c = Company.__table__
    new_id = conn.execute(
        c.insert().returning(c.c.id), {"organisation_number": orgnr, "name": name or None}
    ).scalar_one()
    return CompanyRow(new_id, orgnr, name or None, None)
