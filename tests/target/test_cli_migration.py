"""Schema step 2 on a database that part 1 created: data kept, new keys work, same schema."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ledgerstream import query
from siefiles import ORGNR, cli, sie_records, voucher, write_sie
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    inspect,
)
from sqlalchemy.engine import Engine

from target_senseworks.ledger.db import make_engine
from target_senseworks.ledger.migrations import LATEST, migrate
from target_senseworks.ledger.models import NAMING, Money
from target_senseworks.ledger.models import ExactDecimal as Qty


def _v1_voucher_tables() -> MetaData:
    """`vouchers` and `voucher_rows` as schema version 1 made them."""
    from sqlalchemy import Table  # noqa: PLC0415

    meta = MetaData(naming_convention=NAMING)
    for name in ("companies", "financial_years", "loads"):
        Table(name, meta, Column("id", Integer, primary_key=True))
    Table("vouchers", meta,
          Column("id", Integer, primary_key=True),
          Column("company_id", ForeignKey("companies.id"), nullable=False, index=True),
          Column("year_id", ForeignKey("financial_years.id"), nullable=False),
          Column("series", String(16), nullable=False),
          Column("number", BigInteger, nullable=False),
          Column("transaction_date", Date, nullable=False),
          Column("description", Text), Column("comments", Text),
          Column("reference_type", String(64)), Column("reference_number", String(64)),
          Column("approval_state", Integer), Column("registration_date", Date),
          Column("content_hash", String(32)), Column("load_id", ForeignKey("loads.id")),
          UniqueConstraint("year_id", "series", "number"))
    Table("voucher_rows", meta,
          Column("id", Integer, primary_key=True),
          Column("voucher_id", ForeignKey("vouchers.id"), nullable=False),
          Column("row_index", Integer, nullable=False),
          Column("account", String(16), nullable=False),
          Column("debit", Money, nullable=False), Column("credit", Money, nullable=False),
          Column("amount", Money, nullable=False), Column("description", Text),
          Column("transaction_information", Text), Column("cost_center", String(64)),
          Column("project", String(64)), Column("quantity", Qty),
          Column("removed", Boolean, nullable=False),
          UniqueConstraint("voucher_id", "row_index"))
    return meta


def _version_1(engine: Engine) -> None:
    """Today's schema taken back to version 1, with part 1's kind of data in it."""
    migrate(engine)
    v1 = _v1_voucher_tables()
    with engine.begin() as conn:
        x = conn.exec_driver_sql
        for sql in ("DROP TABLE load_years", "DROP TABLE voucher_rows", "DROP TABLE vouchers",
                    "ALTER TABLE accounts DROP COLUMN account_type",
                    "ALTER TABLE loads DROP COLUMN findings",
                    "DELETE FROM schema_version WHERE version > 1"):
            x(sql)
        v1.tables["vouchers"].create(conn)
        v1.tables["voucher_rows"].create(conn)
        x(f"INSERT INTO companies (id, tenant_id, organisation_number, name) VALUES"
          f" (1, 1234567, '{ORGNR}', 'Exempel AB')")
        x("INSERT INTO financial_years (id, company_id, start_date, end_date, fortnox_year_id,"
          " ledger_source) VALUES (1, 1, '2025-01-01', '2025-12-31', 3, 'fortnox')")
        conn.execute(v1.tables["vouchers"].insert(), [
            {"id": 10, "company_id": 1, "year_id": 1, "series": "A", "number": 5,
             "transaction_date": dt.date(2025, 1, 5), "description": "part 1 voucher"}])
        conn.execute(v1.tables["voucher_rows"].insert(), [
            {"voucher_id": 10, "row_index": i, "account": a, "debit": d, "credit": c,
             "amount": d - c, "removed": False}
            for i, (a, d, c) in enumerate([("1930", 7, 0), ("3001", 0, 7)])])
        x("INSERT INTO documents (id, sha256, file_name) VALUES (1, '" + "a" * 64 + "', 'k.pdf')")
        x("INSERT INTO document_links (document_id, company_id, year_id, series, number)"
          " VALUES (1, 1, 1, 'A', 5)")


def _schema(engine: Engine) -> dict[str, tuple[list[str], list[tuple[str, ...]]]]:
    insp = inspect(engine)
    return {t: (sorted(c["name"] for c in insp.get_columns(t)),
                sorted(tuple(u["column_names"]) for u in insp.get_unique_constraints(t)))
            for t in insp.get_table_names()}


def test_version_1_database_is_migrated(db_url: str, tmp_path: Path) -> None:
    engine = make_engine(db_url)
    _version_1(engine)
    assert migrate(engine) == LATEST == 2
    fresh_url = f"sqlite:///{tmp_path / 'fresh.db'}"
    fresh = make_engine(fresh_url)
    migrate(fresh)
    if db_url.startswith("sqlite"):
        assert _schema(engine) == _schema(fresh)
    else:
        assert _schema(engine).keys() == _schema(fresh).keys()
        assert _schema(engine)["vouchers"] == _schema(fresh)["vouchers"]
    engine.dispose()
    fresh.dispose()
    assert query(db_url, "SELECT id, number, number_text, occurrence, description FROM vouchers"
                 ) == [(10, 5, "5", 1, "part 1 voucher")]
    assert query(db_url, "SELECT count(*) FROM voucher_rows WHERE voucher_id = 10") == [(2,)]
    # The migrated ledger takes an SIE file with a repeated number; the document relinks.
    path = write_sie(tmp_path / "y.se", sie_records([
        voucher("A", "5", "2025-01-05", [("1930", "3"), ("3001", "-3")], text="SIE A5"),
        voucher("A", "5", "2025-01-06", [("1930", "4"), ("3001", "-4")], text="SIE A5 again")]))
    run = cli(db_url, "load-sie", path)
    assert run.code == 0, run.err
    assert "documents of the year: 1, 1 linked" in run.out
    assert query(db_url, "SELECT number_text, occurrence, description FROM vouchers"
                         " ORDER BY occurrence") == [("5", 1, "SIE A5"), ("5", 2, "SIE A5 again")]
    assert query(db_url, "SELECT version FROM schema_version ORDER BY version") == [(1,), (2,)]
