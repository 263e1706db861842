"""The stream contract (docs/singer-contract.md) as JSON Schemas, as this target reads it.

The target never needs these to run (it takes whatever SCHEMA the tap sends); they
exist so that tests and benchmarks can write streams that follow the contract.
"""

from __future__ import annotations

from typing import Any

_S: dict[str, Any] = {"type": "string"}
_NS: dict[str, Any] = {"type": ["string", "null"]}
_I: dict[str, Any] = {"type": "integer"}
_NI: dict[str, Any] = {"type": ["integer", "null"]}
_N: dict[str, Any] = {"type": "number"}
_NN: dict[str, Any] = {"type": ["number", "null"]}
_B: dict[str, Any] = {"type": "boolean"}
_D: dict[str, Any] = {"type": "string", "format": "date"}
_ND: dict[str, Any] = {"type": ["string", "null"], "format": "date"}


def _obj(props: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "properties": props,
            "required": required}


SCHEMAS: dict[str, dict[str, Any]] = {
    "company_information": _obj(
        {"tenant_id": _I, "organisation_number": _NS, "company_name": _NS, "address": _NS,
         "zip_code": _NS, "city": _NS, "country_code": _NS},
        ["tenant_id"],
    ),
    "financial_years": _obj(
        {"tenant_id": _I, "id": _I, "from_date": _D, "to_date": _D, "accounting_method": _NS,
         "account_chart_type": _NS},
        ["tenant_id", "id", "from_date", "to_date"],
    ),
    "accounts": _obj(
        {"tenant_id": _I, "financial_year_id": _I, "number": _S, "description": _NS,
         "active": {"type": ["boolean", "null"]}, "sru": _NS, "vat_code": _NS,
         "balance_brought_forward": _NN},
        ["tenant_id", "financial_year_id", "number"],
    ),
    "voucher_series": _obj(
        {"tenant_id": _I, "financial_year_id": _I, "code": _S, "description": _NS,
         "manual": {"type": ["boolean", "null"]}},
        ["tenant_id", "financial_year_id", "code"],
    ),
    "vouchers": _obj(
        {"tenant_id": _I, "financial_year_id": _I, "series": _S, "number": _I,
         "transaction_date": _D, "description": _NS, "comments": _NS, "reference_type": _NS,
         "reference_number": _NS, "approval_state": _NI, "registration_date": _ND},
        ["tenant_id", "financial_year_id", "series", "number", "transaction_date"],
    ),
    "voucher_rows": _obj(
        {"tenant_id": _I, "financial_year_id": _I, "series": _S, "number": _I, "row_index": _I,
         "account": _S, "debit": _N, "credit": _N, "amount": _N, "description": _NS,
         "transaction_information": _NS, "cost_center": _NS, "project": _NS, "quantity": _NN,
         "removed": _B},
        ["tenant_id", "financial_year_id", "series", "number", "row_index", "account", "debit",
         "credit", "amount", "removed"],
    ),
    "voucher_snapshots": _obj(
        {"tenant_id": _I, "financial_year_id": _I, "voucher_count": _I,
         "series": {"type": "array", "items": {"type": "object", "properties": {
             "code": _S, "ranges": {"type": "array", "items": {"type": "array",
                                                                "items": _I}}}}},
         "extracted_at": {"type": "string", "format": "date-time"}},
        ["tenant_id", "financial_year_id", "series"],
    ),
    "attachments": _obj(
        {"tenant_id": _I, "file_id": _S, "module": _S, "file_name": _NS, "content_type": _NS,
         "size": _NI, "sha256": _NS,  # null when the tap sent no bytes (metadata only)
         "vouchers": {"type": "array", "items": {"type": "object", "properties": {
             "financial_year_id": _I, "series": _S, "number": _I}}},
         "source": {"type": ["object", "null"], "properties": {"type": _S, "number": _NS}},
         "content": {"type": ["string", "null"], "contentEncoding": "base64"},
         "skipped_reason": _NS},
        ["tenant_id", "file_id"],
    ),
}

KEY_PROPERTIES: dict[str, list[str]] = {
    "company_information": ["tenant_id"],
    "financial_years": ["tenant_id", "id"],
    "accounts": ["tenant_id", "financial_year_id", "number"],
    "voucher_series": ["tenant_id", "financial_year_id", "code"],
    "vouchers": ["tenant_id", "financial_year_id", "series", "number"],
    "voucher_rows": ["tenant_id", "financial_year_id", "series", "number", "row_index"],
    "voucher_snapshots": ["tenant_id", "financial_year_id"],
    "attachments": ["tenant_id", "file_id"],
}


def schema_message(stream: str) -> dict[str, Any]:
    """The SCHEMA message for a contract stream."""
    return {"type": "SCHEMA", "stream": stream, "schema": SCHEMAS[stream],
            "key_properties": KEY_PROPERTIES[stream]}
