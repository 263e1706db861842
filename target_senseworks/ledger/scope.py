"""Which companies and years a command looks at (`--company`, `--year`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, select

from .companies import normalize_orgnr
from .models import Company, FinancialYear


@dataclass(frozen=True)
class YearRef:
    """A financial year with its company, as commands name and show them."""

    year_id: int
    company_id: int
    company_name: str | None
    orgnr: str | None
    tenant_id: int | None
    start: dt.date
    end: dt.date
    ledger_source: str | None

    @property
    def label(self) -> str:
        """"Name (orgnr) start..end" for text output."""
        who = self.company_name or "(no name)"
        if self.orgnr:
            who += f" ({self.orgnr})"
        return f"{who} {self.start}..{self.end}"


class ScopeError(Exception):
    """`--company` or `--year` names nothing in the ledger."""


def years_in_scope(conn: Connection, company: str | None = None,
                   year: dt.date | None = None) -> list[YearRef]:
    """Years ordered by company then start date, narrowed by organisation number and start."""
    c, fy = Company.__table__, FinancialYear.__table__
    query = (
        select(fy.c.id, c.c.id, c.c.name, c.c.organisation_number, c.c.tenant_id,
               fy.c.start_date, fy.c.end_date, fy.c.ledger_source)
        .join(c, c.c.id == fy.c.company_id)
        .order_by(c.c.name, c.c.id, fy.c.start_date)
    )
    if year is not None:
        query = query.where(fy.c.start_date == year)
    refs = [YearRef(*row) for row in conn.execute(query)]
    if company is not None:
        wanted = normalize_orgnr(company)
        if not wanted:
            raise ScopeError(f"--company {company!r} is not an organisation number")
        refs = [y for y in refs if normalize_orgnr(y.orgnr) == wanted]
    if (company is not None or year is not None) and not refs:
        what = " and ".join(x for x in (
            company and f"company {company}", year and f"a year starting {year}") if x)
        raise ScopeError(f"the ledger has no financial year for {what}")
    return refs
