"""Schema step 2: what SIE loads need, applied to a version-1 database.

- vouchers: `number` becomes nullable, `number_text` and `occurrence` join the key
  (SIE numbers that are not integers, numbers repeated in a series), `signature`;
- voucher_rows: `transaction_date`, `objects`, `signature` (what only SIE rows carry);
- accounts: `account_type` (#KTYP); loads: `findings`; a new `load_years` table.

The tables are frozen here rather than taken from `models`, so that later changes
to the model never change what this step does.  PostgreSQL alters in place (DDL is
transactional there); SQLite cannot drop a table constraint, so `vouchers` is
rebuilt, which `migrations.migrate` runs with foreign keys off and checks after.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.schema import CreateIndex, CreateTable

from .models import NAMING, Json

_COPIED = ("id, company_id, year_id, series, number, transaction_date, description, comments,"
           " reference_type, reference_number, approval_state, registration_date, content_hash,"
           " load_id")


def _frozen() -> tuple[Table, Table]:
    """`vouchers` and `load_years` exactly as version 2 defines them."""
    meta = MetaData(naming_convention=NAMING)
    for name in ("companies", "financial_years", "loads"):
        Table(name, meta, Column("id", Integer, primary_key=True))
    vouchers = Table(
        "vouchers", meta,
        Column("id", Integer, primary_key=True),
        Column("company_id", ForeignKey("companies.id"), nullable=False, index=True),
        Column("year_id", ForeignKey("financial_years.id"), nullable=False),
        Column("series", String(16), nullable=False),
        Column("number", BigInteger),
        Column("number_text", String(32), nullable=False),
        Column("occurrence", Integer, nullable=False, server_default="1"),
        Column("transaction_date", Date, nullable=False),
        Column("description", Text),
        Column("comments", Text),
        Column("reference_type", String(64)),
        Column("reference_number", String(64)),
        Column("approval_state", Integer),
        Column("registration_date", Date),
        Column("content_hash", String(32)),
        Column("load_id", ForeignKey("loads.id")),
        Column("signature", String(200)),
        UniqueConstraint("year_id", "series", "number_text", "occurrence"),
        Index("ix_vouchers_number", "year_id", "series", "number"),
    )
    load_years = Table(
        "load_years", meta,
        Column("id", Integer, primary_key=True),
        Column("load_id", ForeignKey("loads.id"), nullable=False),
        Column("year_id", ForeignKey("financial_years.id"), nullable=False, index=True),
        Column("outcome", String(16), nullable=False),
        UniqueConstraint("load_id", "year_id"),
    )
    return vouchers, load_years


def apply(conn: Connection) -> None:
    """Bring a version-1 schema to version 2."""
    vouchers, load_years = _frozen()
    x = conn.exec_driver_sql
    if conn.dialect.name == "postgresql":
        x("ALTER TABLE vouchers ALTER COLUMN number DROP NOT NULL")
        x("ALTER TABLE vouchers ADD COLUMN number_text VARCHAR(32)")
        x("UPDATE vouchers SET number_text = CAST(number AS TEXT)")
        x("ALTER TABLE vouchers ALTER COLUMN number_text SET NOT NULL")
        x("ALTER TABLE vouchers ADD COLUMN occurrence INTEGER DEFAULT 1 NOT NULL")
        x("ALTER TABLE vouchers ADD COLUMN signature VARCHAR(200)")
        x("ALTER TABLE vouchers DROP CONSTRAINT uq_vouchers_year_id_series_number")
        x("ALTER TABLE vouchers ADD CONSTRAINT uq_vouchers_year_id_series_number_text_occurrence"
          " UNIQUE (year_id, series, number_text, occurrence)")
        x("CREATE INDEX ix_vouchers_number ON vouchers (year_id, series, number)")
    else:
        ddl = str(CreateTable(vouchers).compile(dialect=conn.dialect))
        x(ddl.replace("CREATE TABLE vouchers ", "CREATE TABLE vouchers__v2 ", 1))
        x(f"INSERT INTO vouchers__v2 ({_COPIED}, number_text, occurrence)"
          f" SELECT {_COPIED}, CAST(number AS TEXT), 1 FROM vouchers")
        x("DROP TABLE vouchers")
        x("ALTER TABLE vouchers__v2 RENAME TO vouchers")
        for index in vouchers.indexes:
            x(str(CreateIndex(index).compile(dialect=conn.dialect)))
    json = Json.compile(dialect=conn.dialect)
    x("ALTER TABLE voucher_rows ADD COLUMN transaction_date DATE")
    x(f"ALTER TABLE voucher_rows ADD COLUMN objects {json}")
    x("ALTER TABLE voucher_rows ADD COLUMN signature VARCHAR(200)")
    x("ALTER TABLE accounts ADD COLUMN account_type VARCHAR(1)")
    x(f"ALTER TABLE loads ADD COLUMN findings {json}")
    load_years.create(conn)
