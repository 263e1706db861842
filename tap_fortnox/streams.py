"""The streams of tap-fortnox, declared; the HTTP work is in connection.py."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from . import schemas
from .client import FortnoxStream
from .errors import FortnoxAPIError


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


class CompanyInformationStream(FortnoxStream):
    """The company the connection belongs to: one record."""

    name = "company_information"
    primary_keys = ("tenant_id",)
    schema = schemas.COMPANY_INFORMATION

    def get_records(self, context: dict | None) -> Iterable[dict[str, Any]]:
        info = self.fortnox.company_information
        yield {
            "tenant_id": self.tenant_id,
            "organisation_number": _text(info.get("OrganizationNumber")),
            "company_name": _text(info.get("CompanyName")),
            "address": _text(info.get("Address")),
            "zip_code": _text(info.get("ZipCode")),
            "city": _text(info.get("City")),
            "country_code": _text(info.get("CountryCode")),
            "visit_address": _text(info.get("VisitAddress")),
            "visit_zip_code": _text(info.get("VisitZipCode")),
            "visit_city": _text(info.get("VisitCity")),
            "visit_country_code": _text(info.get("VisitCountryCode")),
        }


class FinancialYearsStream(FortnoxStream):
    """Every financial year of the company, with its dates and accounting method."""

    name = "financial_years"
    primary_keys = ("tenant_id", "id")
    schema = schemas.FINANCIAL_YEARS

    def get_records(self, context: dict | None) -> Iterable[dict[str, Any]]:
        call = "GET /3/financialyears"
        for year in self.fortnox.financial_years:
            yield {
                "tenant_id": self.tenant_id,
                "id": int(_required(year, "Id", call)),
                "from_date": _required(year, "FromDate", call),
                "to_date": _required(year, "ToDate", call),
                "accounting_method": _text(year.get("AccountingMethod")),
                "account_chart_type": _text(year.get("AccountChartType") or year.get("accountCharts")),
            }


def _required(item: dict[str, Any], key: str, call: str) -> Any:
    if key not in item:
        raise FortnoxAPIError(f"{call}: an item has no '{key}' field")
    return item[key]
