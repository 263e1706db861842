"""Sinks: thin adapters from the SDK's record pipeline to the shared `LedgerLoader`.

Every sink hands its records to the target's one loader at once, in arrival order;
`process_batch` only asks the loader to flush.  The loader decides write order
(years before accounts, staging before snapshots, ...), so nothing depends on the
order in which the SDK drains sinks.  Validation is a compiled top-level type check
instead of the SDK's jsonschema validator, which alone capped the target at about
9,000 records/s.
"""

from __future__ import annotations

import datetime as dt
import typing as t
from decimal import Decimal

from singer_sdk.exceptions import InvalidRecord
from singer_sdk.helpers.conform import DatetimeErrorTreatmentEnum
from singer_sdk.sinks import BatchSink
from singer_sdk.sinks.core import BaseJSONSchemaValidator

if t.TYPE_CHECKING:
    from .ledger.apply import LedgerLoader
    from .target import TargetSenseworks

_PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float, Decimal),
    "boolean": (bool,),
    "null": (type(None),),
    "object": (dict,),
    "array": (list,),
}


def _allowed_types(prop: dict[str, t.Any]) -> frozenset[type] | None:
    """Python types a JSON Schema property admits, or None when it does not say."""
    types = prop.get("type")
    if types is None and "anyOf" in prop:
        found: set[type] = set()
        for sub in prop["anyOf"]:
            sub_types = _allowed_types(sub)
            if sub_types is None:
                return None
            found |= sub_types
        return frozenset(found)
    if types is None:
        return None
    if isinstance(types, str):
        types = [types]
    allowed: set[type] = set()
    for name in types:
        if name not in _PY_TYPES:
            return None
        allowed.update(_PY_TYPES[name])
    return frozenset(allowed)


class LeanValidator(BaseJSONSchemaValidator):
    """Checks required fields and top-level types with exact `type()` lookups.

    `bool` is not accepted where an integer or number is expected (JSON Schema
    semantics), nor a string where a number is: a non-numeric amount fails here with
    the stream, key and field named.
    """

    def __init__(self, schema: dict[str, t.Any], stream: str, key_properties: t.Sequence[str]):
        super().__init__(schema)
        self.stream = stream
        self.key_properties = tuple(key_properties)
        self.required = tuple(schema.get("required") or ())
        self.checks = tuple(
            (name, allowed)
            for name, prop in (schema.get("properties") or {}).items()
            if isinstance(prop, dict) and (allowed := _allowed_types(prop)) is not None
        )

    def validate(self, record: dict[str, t.Any]) -> None:
        """Raise `InvalidRecord` naming stream, key and field."""
        for name in self.required:
            if name not in record:
                self._fail(record, f"required field {name!r} is missing")
        for name, allowed in self.checks:
            value = record.get(name)
            if type(value) not in allowed and (value is not None or name in record):
                self._fail(
                    record,
                    f"field {name!r} is {value!r} ({type(value).__name__}), expected "
                    + "/".join(sorted(tp.__name__ for tp in allowed)),
                )

    def _fail(self, record: dict[str, t.Any], problem: str) -> t.NoReturn:
        key = ", ".join(f"{k}={record.get(k)!r}" for k in self.key_properties)
        raise InvalidRecord(f"{self.stream} [{key}]: {problem}", record)


class LedgerSink(BatchSink):
    """Base for the contract's streams."""

    handler_name: t.ClassVar[str] = ""

    def __init__(
        self,
        target: TargetSenseworks,
        stream_name: str,
        schema: dict,
        key_properties: t.Sequence[str] | None,
    ) -> None:
        self._ledger_target = target
        self._handler: t.Callable[[dict], None] | None = None
        super().__init__(target, stream_name, schema, key_properties)
        self.date_fields = tuple(
            (name, prop.get("format"))
            for name, prop in self.schema.get("properties", {}).items()
            if isinstance(prop, dict) and prop.get("format") in ("date", "date-time")
        )

    @property
    def ledger_target(self) -> TargetSenseworks:
        """The target, typed."""
        return self._ledger_target

    @property
    def loader(self) -> LedgerLoader:
        """The run's shared loader."""
        return self.ledger_target.loader

    def get_validator(self) -> BaseJSONSchemaValidator | None:
        """The lean validator (unless `validate_records` is off)."""
        if not self.validate_schema:
            return None
        return LeanValidator(self.schema, self.stream_name, self.key_properties)

    def _parse_timestamps_in_record(
        self,
        record: dict,
        schema: dict,
        treatment: DatetimeErrorTreatmentEnum,
    ) -> None:
        """Parse only the date fields found once in the schema (the SDK walks every field)."""
        self.parse_dates(record)

    def parse_dates(self, record: dict) -> None:
        """ISO dates and date-times of the schema's date fields to `date` / `datetime`."""
        for name, fmt in self.date_fields:
            value = record.get(name)
            if isinstance(value, str):
                try:
                    record[name] = (
                        dt.date.fromisoformat(value) if fmt == "date"
                        else dt.datetime.fromisoformat(value)
                    )
                except ValueError:
                    key = ", ".join(f"{k}={record.get(k)!r}" for k in self.key_properties)
                    raise InvalidRecord(
                        f"{self.stream_name} [{key}]: {name} {value!r} is not an ISO {fmt}",
                        record,
                    ) from None

    def process_record(self, record: dict, context: dict) -> None:
        """Hand the record to the loader now, so arrival order is kept across streams."""
        getattr(self.loader, self.handler_name)(record)

    def process_batch(self, context: dict) -> None:
        """Commit everything the loader holds (all streams, in dependency order)."""
        self.loader.flush()


class CompanySink(LedgerSink):
    """company_information."""

    handler_name = "add_company"


class FinancialYearSink(LedgerSink):
    """financial_years."""

    handler_name = "add_financial_year"


class AccountSink(LedgerSink):
    """accounts."""

    handler_name = "add_account"


class VoucherSeriesSink(LedgerSink):
    """voucher_series."""

    handler_name = "add_voucher_series"


class VoucherSink(LedgerSink):
    """vouchers: staged until the year's snapshot."""

    handler_name = "add_voucher"


class VoucherRowSink(LedgerSink):
    """voucher_rows: staged with their voucher."""

    handler_name = "add_voucher_row"


class VoucherSnapshotSink(LedgerSink):
    """voucher_snapshots: applies the year at once (before any later STATE is released)."""

    handler_name = "apply_snapshot"


class AttachmentSink(LedgerSink):
    """attachments: small batches, since records carry file bytes."""

    MAX_SIZE_DEFAULT = 20
    handler_name = "add_attachment"


class IgnoredSink(BatchSink):
    """A stream outside the contract: logged once, then dropped."""

    def setup(self) -> None:
        """Say once that the stream is ignored."""
        self.logger.info("Ignoring stream '%s': not part of the tap-fortnox contract",
                         self.stream_name)

    def get_validator(self) -> BaseJSONSchemaValidator | None:
        """No validation for data we drop."""
        return None

    def process_record(self, record: dict, context: dict) -> None:
        """Drop the record."""

    def process_batch(self, context: dict) -> None:
        """Nothing to write."""


SINKS: dict[str, type[LedgerSink]] = {
    "company_information": CompanySink,
    "financial_years": FinancialYearSink,
    "accounts": AccountSink,
    "voucher_series": VoucherSeriesSink,
    "vouchers": VoucherSink,
    "voucher_rows": VoucherRowSink,
    "voucher_snapshots": VoucherSnapshotSink,
    "attachments": AttachmentSink,
}
