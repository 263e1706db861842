"""A digest of what the ledger says, independent of how and when it got there.

Two ledgers loaded from the same books must have the same digest whatever happened
on the way: a clean run, a run killed at any point and then resumed, a run through
faults and retries.  So the digest covers every content column of the ledger's
tables and leaves out what only records the path: surrogate ids (foreign keys are
replaced by the natural keys they point to), the load that wrote a row, and
timestamps.  The log of loads itself is not part of the ledger.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine, MetaData, Table, select

#: The ledger's content tables, parents before children.
LEDGER_TABLES = ("companies", "financial_years", "accounts", "account_balances", "voucher_series",
                 "vouchers", "voucher_rows", "documents", "document_sources", "document_links")
#: How a row of a parent table is named without its surrogate id.
NATURAL_KEYS = {
    "companies": ("tenant_id", "organisation_number"),
    "financial_years": ("company_id", "start_date"),
    "vouchers": ("year_id", "series", "number", "number_text", "occurrence"),
    "documents": ("sha256",),
    "document_sources": ("company_id", "file_id"),
}
#: Foreign-key columns and the table they point to.
REFERENCES = {"company_id": "companies", "year_id": "financial_years", "voucher_id": "vouchers",
              "document_id": "documents", "source_id": "document_sources"}
#: Columns that record the path, not the content.
PATH_COLUMNS = {"id", "load_id", "ledger_load_id"}


def _content_columns(table: Table) -> list[str]:
    return [c.name for c in table.columns
            if c.name not in PATH_COLUMNS and not c.name.endswith("_at")]


def ledger_rows(engine: Engine) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """Every content row of the ledger as (table, values), foreign keys resolved, sorted."""
    meta = MetaData()
    meta.reflect(engine, only=list(LEDGER_TABLES))
    names: dict[str, dict[Any, tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for name in LEDGER_TABLES:
            table = meta.tables[name]
            columns = _content_columns(table)
            natural = [c for c in NATURAL_KEYS.get(name, ()) if c in table.columns]
            rows = []
            ids: dict[Any, tuple[Any, ...]] = {}
            for row in conn.execute(select(table)).mappings():
                values = tuple(_resolve(c, row[c], names) for c in columns)
                rows.append(values)
                if natural:
                    ids[row["id"]] = tuple(_resolve(c, row[c], names) for c in natural)
            names[name] = ids
            for values in sorted(rows, key=repr):
                yield name, values


def _resolve(column: str, value: Any, names: dict[str, dict[Any, tuple[Any, ...]]]) -> Any:
    target = REFERENCES.get(column)
    if target is None or value is None:
        return _normal(value)
    return names.get(target, {}).get(value, ("missing", value))


def _normal(value: Any) -> Any:
    """One spelling per value across backends (SQLite and PostgreSQL)."""
    if isinstance(value, memoryview):
        return bytes(value)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, bytes | bytearray):
        return hashlib.sha256(value).hexdigest()  # compare file bytes by hash, not in full
    return value


def ledger_digest(engine: Engine) -> str:
    """sha256 over every content row: equal digests, equal ledgers."""
    h = hashlib.sha256()
    for name, values in ledger_rows(engine):
        h.update(repr((name, values)).encode())
    return h.hexdigest()
