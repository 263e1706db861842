"""Versioned schema: a `schema_version` table and ordered migration steps.

A fresh database gets the current model in one go (``create_all``) and is stamped
with the latest version; an existing one runs only the steps above its version.
Each step runs in the same transaction as its stamp, so a crash never leaves a
half-migrated schema (DDL is transactional on PostgreSQL and SQLite alike).  On
SQLite foreign keys are off while migrating (a table rebuild needs that, and the
pragma cannot change inside a transaction) and checked before the commit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, inspect, select, text

from . import migration_2
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
STEPS: tuple[Step, ...] = (
    Step(1, "initial ledger schema", _initial),
    Step(2, "SIE loads: text and repeated voucher numbers, SIE row fields, account types,"
            " load findings, load_years", migration_2.apply),
)

LATEST = STEPS[-1].version


def current_version(conn: Connection) -> int:
    """The highest applied version, 0 for an empty database."""
    if not inspect(conn).has_table(SchemaVersion.__tablename__):
        return 0
    return conn.execute(select(SchemaVersion.version).order_by(SchemaVersion.version.desc()))\
        .scalars().first() or 0


def migrate(engine: Engine) -> int:
    """Bring the schema to `LATEST`; safe to call from several processes at once."""
    with engine.connect() as conn:
        raw = conn.connection.driver_connection if conn.dialect.name == "sqlite" else None
        if raw is not None:
            raw.execute("PRAGMA foreign_keys=OFF")  # outside a transaction, or it is ignored
        try:
            with conn.begin():
                version = _migrate(conn)
                if raw is not None:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").first()
                    if broken is not None:
                        raise RuntimeError(f"migration broke a foreign key: {tuple(broken)}")
            return version
        finally:
            if raw is not None:
                raw.execute("PRAGMA foreign_keys=ON")


def _migrate(conn: Connection) -> int:
    """Apply the missing steps on `conn` (inside its transaction)."""
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
