"""The base stream of tap-fortnox: every stream reads through the tap's one connection.

The SDK's RESTStream gives each stream its own session and retry loop; Fortnox's
limit is per client and tenant, so here all streams share the tap's
`FortnoxConnection` (one limiter, one authenticator, one worker pool) and
implement `get_records` on top of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from singer_sdk import Stream
from singer_sdk.helpers.conform import TypeConformanceLevel

if TYPE_CHECKING:
    from .connection import FortnoxConnection
    from .ledger import YearExtraction
    from .tap import TapFortnox


def strict_schema(properties: dict[str, Any]) -> dict[str, Any]:
    """An explicit schema: targets create real columns, nothing is guessed."""
    return {"type": "object", "properties": properties, "additionalProperties": False}


class FortnoxStream(Stream):
    """Base for all Fortnox streams."""

    @property
    def fortnox(self) -> TapFortnox:
        return self._tap  # type: ignore[return-value]

    @property
    def connection(self) -> FortnoxConnection:
        return self.fortnox.connection

    @property
    def tenant_id(self) -> int:
        return self.fortnox.tenant_id


class YearStream(FortnoxStream):
    """A stream with one partition per selected financial year: {tenant_id, financial_year_id}.

    All year streams read through the tap's per-year `YearExtraction`, so a year's
    plan (full, changed or unchanged) is made once and shared.
    """

    state_partitioning_keys: ClassVar[list[str] | None] = []  # no bookmark of their own
    #: The records are built field by field to the schema (ledger_records.py), so the SDK's
    #: per-value conformance pass, a third of the CPU of a large year, is skipped.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    @property
    def partitions(self) -> list[dict[str, Any]]:
        return self.fortnox.ledger.partitions()

    def extraction(self, context: Mapping[str, Any] | None) -> YearExtraction:
        if not context or "financial_year_id" not in context:
            raise ValueError(f"stream {self.name} runs per financial year; got context {context!r}")
        return self.fortnox.ledger.year(int(context["financial_year_id"]))
