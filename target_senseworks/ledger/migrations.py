"""Versioned schema: a `schema_version` table and ordered migration steps.

A fresh database gets the current model in one go (``create_all``) and is stamped
with the latest version; an existing one runs only the steps above its version.
Each step runs in the same transaction as its stamp, so a crash never leaves a
half-migrated schema on PostgreSQL (DDL is transactional there).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, inspect, select, text

from .models import Base, SchemaVersion


@dataclass(frozen=True)
class Step:
    """One migration: `version` is applied when the database is below it."""

    version: int
    description: str
    apply: Callable[[Connection], None]


def _initial(conn: Connection) -> None:
    Base.metadata.create_all(conn)


#: Ordered steps. Append new ones (version = previous + 1); never edit an applied one.
STEPS: tuple[Step, ...] = (Step(1, "initial ledger schema", _initial),)

LATEST = STEPS[-1].version


def current_version(conn: Connection) -> int:
    """The highest applied version, 0 for an empty database."""
    if not inspect(conn).has_table(SchemaVersion.__tablename__):
        return 0
    return conn.execute(select(SchemaVersion.version).order_by(SchemaVersion.version.desc()))\
        .scalars().first() or 0


def migrate(engine: Engine) -> int:
    """Bring the schema to `LATEST`; safe to call from several processes at once."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Serialise concurrent migrators (e.g. parallel company syncs).
            conn.execute(text("SELECT pg_advisory_xact_lock(7361010)"))
        version = current_version(conn)
        if version == 0:
            Base.metadata.create_all(conn)
            conn.execute(
                SchemaVersion.__table__.insert(),
                [{"version": s.version, "description": s.description} for s in STEPS],
            )
            return LATEST
        if version > LATEST:
            raise RuntimeError(
                f"database schema version {version} is newer than this code ({LATEST})"
            )
        for step in STEPS:
            if step.version > version:
                step.apply(conn)
                conn.execute(
                    SchemaVersion.__table__.insert(),
                    {"version": step.version, "description": step.description},
                )
        return LATEST
