"""`senseworks status`: what is loaded, per company and financial year.

The auditor's first view: whose ledger each year holds (Fortnox, an SIE file or
none yet), how big it is, how many of its documents find their voucher, and the
last load that touched the year with its outcome, failed ones included.
Counts come from a handful of grouped queries, not one per year.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, case, func, select

from .models import DocumentLink, Load, LoadYear, Voucher, VoucherRow
from .scope import YearRef


@dataclass
class YearStatus:
    """One line of the status view."""

    ref: YearRef
    vouchers: int = 0
    booked_rows: int = 0
    struck_rows: int = 0
    documents: int = 0
    documents_linked: int = 0
    last_load: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "start": self.ref.start.isoformat(), "end": self.ref.end.isoformat(),
            "ledger_source": self.ref.ledger_source, "vouchers": self.vouchers,
            "booked_rows": self.booked_rows, "struck_rows": self.struck_rows,
            "documents": self.documents, "documents_linked": self.documents_linked,
            "last_load": self.last_load,
        }


def year_status(conn: Connection, years: list[YearRef]) -> list[YearStatus]:
    """Status of each year, in the order given."""
    ids = [y.year_id for y in years]
    out = {y.year_id: YearStatus(y) for y in years}
    if not ids:
        return []
    v, r, lk = Voucher.__table__, VoucherRow.__table__, DocumentLink.__table__
    for year_id, n in conn.execute(
        select(v.c.year_id, func.count()).where(v.c.year_id.in_(ids)).group_by(v.c.year_id)
    ):
        out[year_id].vouchers = n
    for year_id, booked, struck in conn.execute(
        select(v.c.year_id,
               func.sum(case((r.c.removed.is_(False), 1), else_=0)),
               func.sum(case((r.c.removed.is_(True), 1), else_=0)))
        .join(v, v.c.id == r.c.voucher_id)
        .where(v.c.year_id.in_(ids)).group_by(v.c.year_id)
    ):
        out[year_id].booked_rows, out[year_id].struck_rows = int(booked or 0), int(struck or 0)
    found = (select(v.c.id).where(v.c.year_id == lk.c.year_id, v.c.series == lk.c.series,
                                  v.c.number == lk.c.number).exists())
    for year_id, documents, linked in conn.execute(
        select(lk.c.year_id, func.count(lk.c.document_id.distinct()),
               func.count(case((found, lk.c.document_id)).distinct()))
        .where(lk.c.year_id.in_(ids)).group_by(lk.c.year_id)
    ):
        out[year_id].documents, out[year_id].documents_linked = documents, linked
    _last_loads(conn, ids, out)
    return [out[i] for i in ids]


def _last_loads(conn: Connection, ids: list[int], out: dict[int, YearStatus]) -> None:
    ly, ld = LoadYear.__table__, Load.__table__
    latest = (select(ly.c.year_id, func.max(ly.c.load_id).label("load_id"))
              .where(ly.c.year_id.in_(ids)).group_by(ly.c.year_id).subquery())
    rows = conn.execute(
        select(latest.c.year_id, ld.c.id, ld.c.source, ld.c.status, ly.c.outcome,
               ld.c.started_at, ld.c.finished_at, ld.c.started_by, ld.c.error, ld.c.settings)
        .join(ld, ld.c.id == latest.c.load_id)
        .join(ly, and_(ly.c.load_id == latest.c.load_id, ly.c.year_id == latest.c.year_id))
    ).all()
    for year_id, load_id, source, status, outcome, started, finished, by, error, settings in rows:
        out[year_id].last_load = {
            "id": load_id, "source": source, "status": status, "outcome": outcome,
            "started_at": _iso(started), "finished_at": _iso(finished), "started_by": by,
            "file": (settings or {}).get("file") if source == "sie" else None,
            "error": (error or "").splitlines()[0][:300] if error else None,
        }


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite hands back naive datetimes; they were written in UTC
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.isoformat(timespec="seconds")
