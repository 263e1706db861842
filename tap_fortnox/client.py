"""The base stream of tap-fortnox: every stream reads through the tap's one connection.

The SDK's RESTStream gives each stream its own session and retry loop; Fortnox's
limit is per client and tenant, so here all streams share the tap's
`FortnoxConnection` (one limiter, one authenticator, one worker pool) and
implement `get_records` on top of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from singer_sdk import Stream

if TYPE_CHECKING:
    from .connection import FortnoxConnection
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
