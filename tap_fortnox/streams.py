"""The streams of tap-fortnox, declared; the HTTP work is in connection.py."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any, ClassVar

from singer_sdk import metrics

from . import schemas
from .client import FortnoxStream, YearStream
from .errors import FortnoxAPIError
from .ledger_records import money


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


class AccountsStream(YearStream):
    """The chart of accounts of each financial year, with the balance brought forward."""

    name = "accounts"
    primary_keys = ("tenant_id", "financial_year_id", "number")
    schema = schemas.ACCOUNTS

    def get_records(self, context: Mapping[str, Any] | None) -> Iterable[dict[str, Any]]:
        year = self.extraction(context)
        for item in year.accounts():
            balance = item.get("BalanceBroughtForward")
            yield {
                "tenant_id": self.tenant_id,
                "financial_year_id": year.year_id,
                "number": str(_required(item, "Number", "GET /3/accounts")),
                "description": _text(item.get("Description")),
                "active": item.get("Active"),
                "sru": _text(item.get("SRU")),
                "vat_code": _text(item.get("VATCode")) or None,
                "balance_brought_forward": money(balance) if balance is not None else None,
            }


class VoucherSeriesStream(YearStream):
    """The voucher series of each financial year (read when the year changed)."""

    name = "voucher_series"
    primary_keys = ("tenant_id", "financial_year_id", "code")
    schema = schemas.VOUCHER_SERIES

    def get_records(self, context: Mapping[str, Any] | None) -> Iterable[dict[str, Any]]:
        year = self.extraction(context)
        for item in year.voucher_series():
            yield {
                "tenant_id": self.tenant_id,
                "financial_year_id": year.year_id,
                "code": str(_required(item, "Code", "GET /3/voucherseries")),
                "description": _text(item.get("Description")),
                "manual": item.get("Manual"),
            }


class VouchersStream(YearStream):
    """Vouchers per financial year: all of them on a first sync, else what changed."""

    name = "vouchers"
    primary_keys = ("tenant_id", "financial_year_id", "series", "number")
    schema = schemas.VOUCHERS

    def get_records(self, context: Mapping[str, Any] | None) -> Iterable[dict[str, Any]]:
        year = self.extraction(context)
        for voucher, rows in year.vouchers():
            key = (voucher["series"], voucher["number"])
            year.stash[key] = rows  # the child stream takes them before the voucher is written
            yield voucher
            year.stash.pop(key, None)

    def get_child_context(self, record: dict[str, Any],
                          context: Mapping[str, Any] | None) -> dict[str, Any]:
        return {"tenant_id": record["tenant_id"], "financial_year_id": record["financial_year_id"],
                "series": record["series"], "number": record["number"]}


class VoucherRowsStream(YearStream):
    """The rows of each voucher the parent sends, all of them, struck ones flagged."""

    name = "voucher_rows"
    primary_keys = ("tenant_id", "financial_year_id", "series", "number", "row_index")
    schema = schemas.VOUCHER_ROWS
    parent_stream_type = VouchersStream
    state_partitioning_keys: ClassVar[list[str]] = []  # one voucher is not a bookmark

    def get_records(self, context: Mapping[str, Any] | None) -> Iterable[dict[str, Any]]:
        assert context is not None
        year = self.extraction(context)
        key = (context["series"], context["number"])
        for row in year.stash.pop(key, []):
            yield {"tenant_id": self.tenant_id, "financial_year_id": year.year_id,
                   "series": key[0], "number": key[1], **row}

    # The SDK re-sends the child's SCHEMA and a STATE with every parent record; the rows
    # have no state of their own and the schema does not change within a run.
    def _write_schema_message(self) -> None:
        if not getattr(self, "_schema_sent", False):
            super()._write_schema_message()
            self._schema_sent = True

    def _write_state_message(self) -> None:
        self.state_manager.is_flushed = True

    def log(self, message: str, *args: Any, level: int = logging.INFO, **kwargs: Any) -> None:
        """The SDK's "Beginning sync" for every voucher is noise at INFO: keep it for debugging."""
        super().log(message, *args, level=logging.DEBUG if level == logging.INFO else level, **kwargs)

    # Two METRIC lines per voucher would drown the log (and cost more CPU than writing the
    # rows); the parent's metrics and the per-year progress lines say what happens.
    def get_record_counter(self, **kwargs: Any) -> metrics.Counter:
        counter = super().get_record_counter(**kwargs)
        counter.logger = _QUIET_METRICS
        return counter

    def get_sync_timer(self) -> metrics.Timer:
        timer = super().get_sync_timer()
        timer.logger = _QUIET_METRICS
        return timer


class VoucherSnapshotsStream(YearStream):
    """Per financial year, the complete set of voucher keys: the deletion contract.

    Its per-year STATE partition holds the year's bookmark, written only after the
    snapshot (which comes after all the year's vouchers), so a run that dies earlier
    leaves the bookmark where it was.
    """

    name = "voucher_snapshots"
    primary_keys = ("tenant_id", "financial_year_id")
    schema = schemas.VOUCHER_SNAPSHOTS
    state_partitioning_keys = None  # a bookmark per (tenant, year) partition
    BOOKMARK = "ledger"

    def get_records(self, context: Mapping[str, Any] | None) -> Iterable[dict[str, Any]]:
        year = self.extraction(context)
        snapshot = year.snapshot(datetime.now(timezone.utc))
        yield snapshot
        self.logger.info("%s: %s, %d vouchers and %d rows sent; the snapshot lists %d vouchers",
                         year.label, year.status, year.sent_vouchers, year.sent_rows,
                         snapshot["voucher_count"])
        bookmark = year.new_bookmark()
        if bookmark is not None:
            self.get_context_state(context)[self.BOOKMARK] = bookmark


#: Where the voucher_rows child stream's metrics go: nowhere below WARNING.
_QUIET_METRICS = logging.getLogger("singer_sdk.metrics.voucher_rows")
_QUIET_METRICS.setLevel(logging.WARNING)


def _required(item: dict[str, Any], key: str, call: str) -> Any:
    if key not in item:
        raise FortnoxAPIError(f"{call}: an item has no '{key}' field")
    return item[key]
