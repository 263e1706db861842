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
