"""Fortnox vouchers and rows as contract records, the same whichever way they were read.

Both extraction modes end here, so `sie` and `rest` produce identical records:
amounts are exact two-decimal `Decimal`s, quantities drop trailing zeros and a
quantity of 0 (REST's "none") becomes null, and empty text becomes null.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import FortnoxAPIError

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
Record = dict[str, Any]


def text(value: Any) -> str | None:
    """Optional text: Fortnox sends "" for unset, the contract says null."""
    if value is None:
        return None
    value = str(value)
    return value or None


def money(value: Any, what: str = "an amount") -> Decimal:
    """An exact amount in öre precision; anything else is refused, never rounded.

    Fortnox sends amounts as JSON numbers (read as Decimal) and, in places, as strings.
    """
    if value in (None, ""):
        return ZERO
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise FortnoxAPIError(f"Fortnox sent {what} that is not a number: {str(value)[:40]!r}") from None
    if not amount.is_finite() or amount != amount.quantize(CENT):
        raise FortnoxAPIError(f"Fortnox sent {what} that is not a whole number of öre: "
                              f"{str(value)[:40]!r}; refusing to round it")
    return amount.quantize(CENT)


def quantity(value: Any) -> Decimal | None:
    """None for no quantity (REST sends 0, SIE omits it); trailing zeros dropped."""
    if value in (None, ""):
        return None
    q = Decimal(str(value))
    if not q:
        return None
    q = q.normalize()
    return q.quantize(Decimal(1)) if q.as_tuple().exponent > 0 else q  # type: ignore[operator]


def voucher_record(tenant_id: int, year_id: int, item: Mapping[str, Any],
                   registration_date: str | None = None) -> Record:
    """A `vouchers` record from a list item or a detail (the same voucher-level fields)."""
    approval = item.get("ApprovalState")
    return {
        "tenant_id": tenant_id,
        "financial_year_id": year_id,
        "series": str(item["VoucherSeries"]),
        "number": int(item["VoucherNumber"]),
        "transaction_date": str(item["TransactionDate"]),
        "description": text(item.get("Description")),
        "comments": text(item.get("Comments")),
        "reference_type": text(item.get("ReferenceType")),
        "reference_number": text(item.get("ReferenceNumber")),
        "approval_state": int(approval) if approval is not None else None,
        "registration_date": registration_date,
    }


def row_record(*, account: Any, debit: Any, credit: Any, description: Any,
               transaction_information: Any, cost_center: Any, project: Any, quantity_: Any,
               removed: bool, row_index: int) -> Record:
    """One `voucher_rows` record without its voucher key (the child stream adds it)."""
    d, c = money(debit, "a row's debit"), money(credit, "a row's credit")
    return {
        "row_index": row_index,
        "account": str(account),
        "debit": d,
        "credit": c,
        "amount": d - c,
        "description": text(description),
        "transaction_information": text(transaction_information),
        "cost_center": text(cost_center),
        "project": text(project),
        "quantity": quantity(quantity_),
        "removed": bool(removed),
    }


def rest_rows(detail: Mapping[str, Any]) -> list[Record]:
    """The rows of `GET /3/vouchers/{series}/{number}`, in Fortnox's VoucherRows order."""
    return [
        row_record(account=r.get("Account"), debit=r.get("Debit"), credit=r.get("Credit"),
                   description=r.get("Description"),
                   transaction_information=r.get("TransactionInformation"),
                   cost_center=r.get("CostCenter"), project=r.get("Project"),
                   quantity_=r.get("Quantity"), removed=bool(r.get("Removed")), row_index=i)
        for i, r in enumerate(detail.get("VoucherRows") or [])
    ]


def digest(voucher: Record, rows: Iterable[Record]) -> str:
    """A short fingerprint of a voucher's content, to skip re-sending what a target has."""
    payload = json.dumps([voucher, list(rows)], sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()[:16]
