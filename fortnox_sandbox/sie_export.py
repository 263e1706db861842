"""`GET /3/sie/4`: the books of one financial year as SIE 4 records, written by `sie4`.

The same books as the JSON: booked rows become #TRANS, struck rows (`Removed: true`)
#BTRANS, and replacement rows #RTRANS followed by their identical #TRANS twin (SIE 4B).
Balances: #IB/#UB for balance-sheet accounts and #RES for result accounts, for year 0
and, when it exists, the previous year (-1), as Fortnox exports them.
"""

from __future__ import annotations

from datetime import date

from sie4 import records as sie
from sie4.writer import write

from . import chart
from .books import Company, FinancialYear, VoucherRow

COST_CENTER_DIM = "1"
PROJECT_DIM = "6"


def _objects(row: VoucherRow) -> sie.ObjectList:
    out: list[tuple[str, str]] = []
    if row.cost_center:
        out.append((COST_CENTER_DIM, row.cost_center))
    if row.project:
        out.append((PROJECT_DIM, row.project))
    return tuple(out)


def _rows(rows: list[VoucherRow]) -> tuple[sie.VoucherRow, ...]:
    out: list[sie.VoucherRow] = []
    for r in rows:
        def make(kind: sie.RowKind, r: VoucherRow = r) -> sie.VoucherRow:
            return sie.VoucherRow(
                kind=kind, account=str(r.account), objects=_objects(r), amount=r.amount,
                text=r.transaction_information, quantity=r.quantity,
            )

        if r.removed:
            out.append(make(sie.RowKind.REMOVED))
        elif r.added:
            out.append(make(sie.RowKind.ADDED))
            out.append(make(sie.RowKind.BOOKED))
        else:
            out.append(make(sie.RowKind.BOOKED))
    return tuple(out)


def _balances(c: Company, year: FinancialYear, index: int) -> list[sie.Record]:
    closing = c.closing_balances(year.id)
    out: list[sie.Record] = []
    accounts = c.accounts[year.id]
    for number in sorted(accounts):
        if number < chart.RESULT_ACCOUNT_START:
            opening = accounts[number].opening
            if opening:
                out.append(sie.OpeningBalance(index, str(number), opening))
    for number in sorted(closing):
        amount = closing[number]
        if not amount:
            continue
        if number < chart.RESULT_ACCOUNT_START:
            out.append(sie.ClosingBalance(index, str(number), amount))
        else:
            out.append(sie.YearResult(index, str(number), amount))
    return out


def sie_records(
    c: Company,
    year: FinancialYear,
    generated: date,
    from_date: date | None = None,
    to_date: date | None = None,
) -> list[sie.Record]:
    """All records of the SIE 4 export for `year`, in file order.

    `from_date`/`to_date` (the API's fromdate/todate) limit the vouchers by transaction
    date; [UNCERTAIN] whether Fortnox then also limits the balances: we keep them whole.
    """
    position = c.years.index(year)
    previous = c.years[position - 1] if position > 0 else None
    out: list[sie.Record] = [
        sie.Flag(0),
        sie.Program("Fortnox sandbox", "1.0"),
        sie.Format("PC8"),
        sie.Generated(generated),
        sie.SieType(4),
        sie.OrgNumber(c.organisation_number),
        sie.CompanyName(c.name),
        sie.Address("", c.address, f"{c.zip_code} {c.city}", ""),
        sie.FinancialYear(0, year.from_date, year.to_date),
    ]
    if previous is not None:
        out.append(sie.FinancialYear(-1, previous.from_date, previous.to_date))
    out.append(sie.ChartType(year.chart_type.replace(" ", "")))
    for number, acc in sorted(c.accounts[year.id].items()):
        out.append(sie.Account(str(number), acc.description))
        if acc.sru is not None:
            out.append(sie.SruCode(str(number), str(acc.sru)))
    out.append(sie.Dimension(COST_CENTER_DIM, "Kostnadsställe"))
    out.append(sie.Dimension(PROJECT_DIM, "Projekt"))
    out += [sie.Object(COST_CENTER_DIM, k, v) for k, v in sorted(c.cost_centers.items())]
    out += [sie.Object(PROJECT_DIM, k, v) for k, v in sorted(c.projects.items())]
    out += _balances(c, year, 0)
    if previous is not None:
        out += _balances(c, previous, -1)
    for v in c.year_vouchers(year.id):
        if (from_date and v.transaction_date < from_date) or (
            to_date and v.transaction_date > to_date
        ):
            continue
        out.append(
            sie.Voucher(
                series=v.series, number=str(v.number), date=v.transaction_date,
                text=v.description, registered=v.registered, rows=_rows(v.rows),
            )
        )
    return out


def sie_bytes(
    c: Company,
    year: FinancialYear,
    generated: date,
    from_date: date | None = None,
    to_date: date | None = None,
) -> bytes:
    """The export's CP437 bytes, written by sie4 (as Fortnox's own export is PC8)."""
    return write(sie_records(c, year, generated, from_date, to_date))

