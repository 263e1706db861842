"""JSON schemas of the streams, explicit field by field (see docs/singer-contract.md)."""

from __future__ import annotations

from typing import Any

STRING = {"type": ["string", "null"]}
INTEGER = {"type": ["integer", "null"]}
BOOLEAN = {"type": ["boolean", "null"]}
DATE = {"type": ["string", "null"], "format": "date"}
TENANT = {"type": "integer", "description": "Fortnox DatabaseNumber (the tenant id)"}


def _object(**properties: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "additionalProperties": False}


COMPANY_INFORMATION = _object(
    tenant_id=TENANT,
    organisation_number=STRING,
    company_name=STRING,
    address=STRING,
    zip_code=STRING,
    city=STRING,
    country_code=STRING,
    visit_address=STRING,
    visit_zip_code=STRING,
    visit_city=STRING,
    visit_country_code=STRING,
)

FINANCIAL_YEARS = _object(
    tenant_id=TENANT,
    id={"type": "integer", "description": "Fortnox financial year Id (not a calendar year)"},
    from_date={"type": "string", "format": "date"},
    to_date={"type": "string", "format": "date"},
    accounting_method=STRING,
    account_chart_type=STRING,
)

YEAR = {"type": "integer", "description": "Fortnox financial year Id (not a calendar year)"}
#: Exact amounts: JSON numbers written from Decimal, two decimals.
MONEY = {"type": "number"}
NULLABLE_MONEY = {"type": ["number", "null"]}
SERIES = {"type": "string", "description": "Voucher series code"}
VOUCHER_NUMBER = {"type": "integer", "description": "Number within series and financial year"}

ACCOUNTS = _object(
    tenant_id=TENANT,
    financial_year_id=YEAR,
    number={"type": "string", "description": "Account number of that year's chart"},
    description=STRING,
    active=BOOLEAN,
    sru=STRING,
    vat_code=STRING,
    balance_brought_forward=NULLABLE_MONEY,
)

VOUCHER_SERIES = _object(
    tenant_id=TENANT,
    financial_year_id=YEAR,
    code=SERIES,
    description=STRING,
    manual=BOOLEAN,
)

VOUCHERS = _object(
    tenant_id=TENANT,
    financial_year_id=YEAR,
    series=SERIES,
    number=VOUCHER_NUMBER,
    transaction_date={"type": "string", "format": "date"},
    description=STRING,
    comments=STRING,
    reference_type=STRING,
    reference_number=STRING,
    approval_state=INTEGER,
    registration_date={**DATE, "description": "Only in ledger_extraction=sie (SIE #VER); "
                                              "null in rest mode"},
)

VOUCHER_ROWS = _object(
    tenant_id=TENANT,
    financial_year_id=YEAR,
    series=SERIES,
    number=VOUCHER_NUMBER,
    row_index={"type": "integer", "description": "0-based position in Fortnox's VoucherRows"},
    account={"type": "string"},
    debit=MONEY,
    credit=MONEY,
    amount={**MONEY, "description": "debit - credit"},
    description={**STRING, "description": "The account's name"},
    transaction_information=STRING,
    cost_center=STRING,
    project=STRING,
    quantity={"type": ["number", "null"]},
    removed={"type": "boolean", "description": "Struck row (#BTRANS); not part of the balance"},
)

VOUCHER_SNAPSHOTS = _object(
    tenant_id=TENANT,
    financial_year_id=YEAR,
    voucher_count={"type": "integer"},
    series={"type": "array", "items": _object(
        code=SERIES,
        ranges={"type": "array", "items": {"type": "array", "items": {"type": "integer"},
                                           "minItems": 2, "maxItems": 2}},
    )},
    all_vouchers_sent={"type": "boolean"},
    extracted_at={"type": "string", "format": "date-time"},
)
