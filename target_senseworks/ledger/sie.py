"""A test helper: put given vouchers and balances into a year as an SIE-sourced ledger.

Part 1's policy tests use it to set up an SIE year without a file, keyed by tenant.
The real load, from a file through `sie4`, is `sie_load.load_sie_file`
(``senseworks load-sie``); this helper writes the same columns the simple way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from .apply import _who
from .migrations import migrate
from .models import (
    AccountBalance,
    Company,
    FinancialYear,
    Load,
    Voucher,
    VoucherRow,
)


@dataclass
class SieRow:
    """A #TRANS (booked) or #BTRANS (struck, `removed=True`) row."""

    account: str
    amount: Decimal
    removed: bool = False
    description: str | None = None
    quantity: Decimal | None = None


@dataclass
class SieVoucher:
    """A #VER with its rows."""

    series: str
    number: int
    transaction_date: dt.date
    description: str | None = None
    registration_date: dt.date | None = None
    rows: list[SieRow] = field(default_factory=list)


def load_sie_year(
    engine: Engine,
    *,
    start_date: dt.date,
    end_date: dt.date,
    vouchers: Sequence[SieVoucher] = (),
    balances: dict[str, tuple[Decimal | None, Decimal | None, Decimal | None]] | None = None,
    tenant_id: int | None = None,
    organisation_number: str | None = None,
    company_name: str | None = None,
) -> int:
    """Replace the year's ledger with an SIE one; returns the load id.

    The company is found by `tenant_id`, else by `organisation_number` (created if
    missing); the year by its start date.  Documents linked to the year stay linked:
    links are by (year, series, number), not by voucher row id.
    """
    migrate(engine)
    with Session(engine) as session, session.begin():
        load = Load(source="sie", started_by=_who(), status="running",
                    settings={"start_date": start_date.isoformat()})
        session.add(load)
        if tenant_id is not None:
            company = session.scalar(select(Company).where(Company.tenant_id == tenant_id))
        else:
            company = session.scalar(
                select(Company).where(Company.organisation_number == organisation_number)
            )
        if company is None:
            company = Company(tenant_id=tenant_id, organisation_number=organisation_number,
                              name=company_name)
            session.add(company)
        session.flush()
        year = session.scalar(
            select(FinancialYear).where(FinancialYear.company_id == company.id,
                                        FinancialYear.start_date == start_date)
            .with_for_update()
        )
        if year is None:
            year = FinancialYear(company_id=company.id, start_date=start_date, end_date=end_date)
            session.add(year)
            session.flush()
        old = select(Voucher.id).where(Voucher.year_id == year.id)
        session.execute(delete(VoucherRow).where(VoucherRow.voucher_id.in_(old)))
        session.execute(delete(Voucher).where(Voucher.year_id == year.id))
        session.execute(delete(AccountBalance).where(AccountBalance.year_id == year.id))
        for v in vouchers:
            voucher = Voucher(
                company_id=company.id, year_id=year.id, series=v.series, number=v.number,
                number_text=str(v.number),
                transaction_date=v.transaction_date, description=v.description,
                registration_date=v.registration_date, load_id=load.id,
            )
            session.add(voucher)
            session.flush()
            session.add_all(
                VoucherRow(
                    voucher_id=voucher.id, row_index=i, account=r.account,
                    debit=r.amount if r.amount > 0 else Decimal(0),
                    credit=-r.amount if r.amount < 0 else Decimal(0),
                    amount=r.amount, description=r.description, quantity=r.quantity,
                    removed=r.removed,
                )
                for i, r in enumerate(v.rows)
            )
        for account, (opening, closing, result) in (balances or {}).items():
            session.add(AccountBalance(year_id=year.id, account=account, opening=opening,
                                       closing=closing, result=result))
        year.ledger_source = "sie"
        year.ledger_load_id = load.id
        year.ledger_updated_at = dt.datetime.now(dt.timezone.utc)
        load.status = "succeeded"
        load.finished_at = dt.datetime.now(dt.timezone.utc)
        load.counts = {"vouchers": len(vouchers)}
        session.flush()
        return load.id
