"""The ledger model: companies, financial years, accounts, vouchers, documents, loads.

Amounts are exact on every backend: ``NUMERIC(18,2)`` on PostgreSQL and integer
öre (hundredths) on SQLite, whose NUMERIC affinity would otherwise turn them into
binary floats.  Through this model (ORM or Core) both read back as ``Decimal``.

Documents link to vouchers by (company, financial year, series, number) rather
than by a voucher id, so a document still finds its voucher after the year's
ledger has been replaced, whether by a later Fortnox load or an SIE file.

Vouchers are keyed by (year, series, number_text, occurrence): Fortnox numbers
are integers, but real SIE files carry numbers that are not (empty in 4I files,
"2010-001") and numbers repeated within a series (BL Administration writes every
asset-register voucher as "# 1").  `number` holds the integer when there is one,
`number_text` the number exactly as the source wrote it, and `occurrence` counts
repeats in file order, so no voucher is lost and export writes each one back.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    and_,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, foreign, mapped_column, relationship
from sqlalchemy.types import JSON, TypeDecorator

CENT = Decimal("0.01")

#: JSONB on PostgreSQL so values compare (upserts skip unchanged rows).
Json = JSON().with_variant(JSONB(), "postgresql")

LEDGER_SOURCES = ("fortnox", "sie")
LOAD_STATUSES = ("running", "succeeded", "incomplete", "failed")


class Money(TypeDecorator[Decimal]):
    """An exact amount with two decimals; integer öre on SQLite, NUMERIC elsewhere."""

    impl = Numeric(18, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        """Store integers on SQLite so that sums stay exact in SQL too."""
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(18, 2, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        """Refuse floats and sub-öre precision instead of silently rounding."""
        if value is None:
            return None
        cents = to_cents(value)
        if dialect.name == "sqlite":
            return cents
        return Decimal(cents).scaleb(-2)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        """Always hand back a Decimal with two places."""
        if value is None:
            return None
        if dialect.name == "sqlite":
            return Decimal(int(value)).scaleb(-2)
        return Decimal(value).quantize(CENT)


class ExactDecimal(TypeDecorator[Decimal]):
    """A decimal of any scale (quantities); text on SQLite so nothing is rounded."""

    impl = Numeric()
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        """Text on SQLite, plain NUMERIC elsewhere."""
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(64))
        return dialect.type_descriptor(Numeric(asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        """Bind as text on SQLite, as Decimal elsewhere."""
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("quantities must be Decimal or int, never float")
        d = Decimal(value)
        return str(d) if dialect.name == "sqlite" else d

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        """Read back as Decimal."""
        return None if value is None else Decimal(value)


def to_cents(value: Any) -> int:
    """Convert an int/Decimal amount to integer öre, refusing floats and fractions of öre."""
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise TypeError(f"amount {value!r} is not an exact number (int or Decimal)")
    if isinstance(value, int):
        return value * 100
    if not value.is_finite():
        raise ValueError(f"amount {value!r} is not finite")
    scaled = value.scaleb(2)
    cents = int(scaled)
    if cents != scaled:
        raise ValueError(f"amount {value} has more than two decimals")
    return cents


NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with stable constraint names (migrations can refer to them)."""

    metadata = MetaData(naming_convention=NAMING)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Load(Base):
    """One run that wrote into the ledger: a Fortnox sync or an SIE file."""

    __tablename__ = "loads"
    __table_args__ = (
        CheckConstraint("status IN ('running','succeeded','incomplete','failed')", name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(16))  # 'fortnox' | 'sie'
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    started_by: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="running")
    settings: Mapped[dict[str, Any] | None] = mapped_column(Json)
    counts: Mapped[dict[str, Any] | None] = mapped_column(Json)
    error: Mapped[str | None] = mapped_column(Text)
    #: Findings of an SIE load (`sie4` and the loader's own), capped; see `counts`.
    findings: Mapped[list[dict[str, Any]] | None] = mapped_column(Json)


class LoadYear(Base):
    """Which years a load touched and what it did to each (applied, kept, refused, ...).

    Lets `senseworks status` show a year's last load, whatever its outcome.
    """

    __tablename__ = "load_years"
    __table_args__ = (UniqueConstraint("load_id", "year_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    load_id: Mapped[int] = mapped_column(ForeignKey("loads.id"))
    year_id: Mapped[int] = mapped_column(ForeignKey("financial_years.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(16))


class Company(Base):
    """A client company; `tenant_id` is Fortnox's DatabaseNumber (NULL for SIE-only)."""

    __tablename__ = "companies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    organisation_number: Mapped[str | None] = mapped_column(String(32), index=True)
    name: Mapped[str | None] = mapped_column(String(400))
    address: Mapped[dict[str, Any] | None] = mapped_column(Json)
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    years: Mapped[list[FinancialYear]] = relationship(back_populates="company")


class FinancialYear(Base):
    """A financial year, keyed by its dates; `ledger_source` says whose vouchers it holds."""

    __tablename__ = "financial_years"
    __table_args__ = (
        UniqueConstraint("company_id", "start_date"),
        UniqueConstraint("company_id", "fortnox_year_id"),
        CheckConstraint("ledger_source IN ('fortnox','sie')", name="ledger_source"),
        CheckConstraint("end_date >= start_date", name="dates"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date] = mapped_column(Date)
    fortnox_year_id: Mapped[int | None] = mapped_column(BigInteger)
    accounting_method: Mapped[str | None] = mapped_column(String(16))
    account_chart_type: Mapped[str | None] = mapped_column(String(64))
    ledger_source: Mapped[str | None] = mapped_column(String(16))
    ledger_load_id: Mapped[int | None] = mapped_column(ForeignKey("loads.id"))
    ledger_updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    company: Mapped[Company] = relationship(back_populates="years")
    ledger_load: Mapped[Load | None] = relationship()
    vouchers: Mapped[list[Voucher]] = relationship(back_populates="year", viewonly=True)


class Account(Base):
    """An account of one year's chart of accounts."""

    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("year_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    year_id: Mapped[int] = mapped_column(ForeignKey("financial_years.id"))
    number: Mapped[str] = mapped_column(String(16))
    description: Mapped[str | None] = mapped_column(String(400))
    active: Mapped[bool | None] = mapped_column(Boolean)
    sru: Mapped[str | None] = mapped_column(String(16))
    vat_code: Mapped[str | None] = mapped_column(String(16))
    #: SIE #KTYP: T asset, S liability/equity, K cost, I income; None means "by number".
    account_type: Mapped[str | None] = mapped_column(String(1))


class AccountBalance(Base):
    """Opening (IB), closing (UB) and result (RES) balance of an account in a year."""

    __tablename__ = "account_balances"
    __table_args__ = (UniqueConstraint("year_id", "account"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    year_id: Mapped[int] = mapped_column(ForeignKey("financial_years.id"))
    account: Mapped[str] = mapped_column(String(16))
    opening: Mapped[Decimal | None] = mapped_column(Money)
    closing: Mapped[Decimal | None] = mapped_column(Money)
    result: Mapped[Decimal | None] = mapped_column(Money)


class VoucherSeries(Base):
    """A voucher series (A, B, ...) of a year."""

    __tablename__ = "voucher_series"
    __table_args__ = (UniqueConstraint("year_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    year_id: Mapped[int] = mapped_column(ForeignKey("financial_years.id"))
    code: Mapped[str] = mapped_column(String(16))
    description: Mapped[str | None] = mapped_column(String(400))
    manual: Mapped[bool | None] = mapped_column(Boolean)


class Voucher(Base):
    """A voucher (verifikation); `content_hash` lets a replay skip unchanged vouchers.

    `number` is NULL when the source's number is not an integer; `number_text` is
    always set (``str(number)`` for Fortnox); `occurrence` is 1 unless the same
    (series, number_text) came earlier in the same SIE file.
    """

    __tablename__ = "vouchers"
    __table_args__ = (
        UniqueConstraint("year_id", "series", "number_text", "occurrence"),
        Index("ix_vouchers_number", "year_id", "series", "number"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), index=True)
    year_id: Mapped[int] = mapped_column(ForeignKey("financial_years.id"))
    series: Mapped[str] = mapped_column(String(16))
    number: Mapped[int | None] = mapped_column(BigInteger)
    number_text: Mapped[str] = mapped_column(String(32))
    occurrence: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    transaction_date: Mapped[dt.date] = mapped_column(Date)
    description: Mapped[str | None] = mapped_column(Text)
    comments: Mapped[str | None] = mapped_column(Text)
    reference_type: Mapped[str | None] = mapped_column(String(64))
    reference_number: Mapped[str | None] = mapped_column(String(64))
    approval_state: Mapped[int | None] = mapped_column(Integer)
    registration_date: Mapped[dt.date | None] = mapped_column(Date)
    content_hash: Mapped[str | None] = mapped_column(String(32))
    load_id: Mapped[int | None] = mapped_column(ForeignKey("loads.id"))
    #: SIE #VER sign (who registered it); Fortnox does not say.
    signature: Mapped[str | None] = mapped_column(String(200))

    year: Mapped[FinancialYear] = relationship(back_populates="vouchers")
    rows: Mapped[list[VoucherRow]] = relationship(
        order_by="VoucherRow.row_index", viewonly=True
    )
    booked_rows: Mapped[list[VoucherRow]] = relationship(
        primaryjoin=lambda: and_(
            Voucher.id == foreign(VoucherRow.voucher_id), VoucherRow.removed.is_(False)
        ),
        order_by="VoucherRow.row_index",
        viewonly=True,
    )
    struck_rows: Mapped[list[VoucherRow]] = relationship(
        primaryjoin=lambda: and_(
            Voucher.id == foreign(VoucherRow.voucher_id), VoucherRow.removed.is_(True)
        ),
        order_by="VoucherRow.row_index",
        viewonly=True,
    )


class VoucherRow(Base):
    """A voucher row; struck rows (`removed`) are kept but never count towards balances."""

    __tablename__ = "voucher_rows"
    __table_args__ = (UniqueConstraint("voucher_id", "row_index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    voucher_id: Mapped[int] = mapped_column(ForeignKey("vouchers.id"))
    row_index: Mapped[int] = mapped_column(Integer)
    account: Mapped[str] = mapped_column(String(16))
    debit: Mapped[Decimal] = mapped_column(Money)
    credit: Mapped[Decimal] = mapped_column(Money)
    amount: Mapped[Decimal] = mapped_column(Money)
    description: Mapped[str | None] = mapped_column(Text)
    transaction_information: Mapped[str | None] = mapped_column(Text)
    cost_center: Mapped[str | None] = mapped_column(String(64))
    project: Mapped[str | None] = mapped_column(String(64))
    quantity: Mapped[Decimal | None] = mapped_column(ExactDecimal)
    removed: Mapped[bool] = mapped_column(Boolean, default=False)
    #: What only SIE rows carry: their own date, objects of dimensions other than
    #: 1 (cost centre) and 6 (project) as [[dimension, object], ...], and a sign.
    transaction_date: Mapped[dt.date | None] = mapped_column(Date)
    objects: Mapped[list[list[str]] | None] = mapped_column(Json)
    signature: Mapped[str | None] = mapped_column(String(200))


class Document(Base):
    """A file, stored once by its sha256 whatever company or voucher it belongs to."""

    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    file_name: Mapped[str | None] = mapped_column(String(400))
    content_type: Mapped[str | None] = mapped_column(String(200))
    size: Mapped[int | None] = mapped_column(BigInteger)
    content: Mapped[bytes | None] = mapped_column(LargeBinary)


class DocumentSource(Base):
    """Where a company's document came from in Fortnox (file id, module, invoice, ...)."""

    __tablename__ = "document_sources"
    __table_args__ = (UniqueConstraint("company_id", "file_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    file_id: Mapped[str] = mapped_column(String(200))
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"))
    module: Mapped[str | None] = mapped_column(String(32))
    file_name: Mapped[str | None] = mapped_column(String(400))
    source_type: Mapped[str | None] = mapped_column(String(32))
    source_number: Mapped[str | None] = mapped_column(String(64))
    skipped_reason: Mapped[str | None] = mapped_column(Text)
    load_id: Mapped[int | None] = mapped_column(ForeignKey("loads.id"))

    document: Mapped[Document] = relationship()


class DocumentLink(Base):
    """A document belongs to the voucher (company, year, series, number), whoever loaded it.

    `source_id` is the Fortnox file the link came from: a re-sent file replaces its links.
    """

    __tablename__ = "document_links"
    __table_args__ = (
        UniqueConstraint("source_id", "year_id", "series", "number"),
        Index("ix_document_links_voucher", "year_id", "series", "number"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("document_sources.id"))
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    year_id: Mapped[int] = mapped_column(ForeignKey("financial_years.id"))
    series: Mapped[str] = mapped_column(String(16))
    number: Mapped[int] = mapped_column(BigInteger)
    load_id: Mapped[int | None] = mapped_column(ForeignKey("loads.id"))

    document: Mapped[Document] = relationship()
    voucher: Mapped[Voucher | None] = relationship(
        primaryjoin=lambda: and_(
            foreign(DocumentLink.year_id) == Voucher.year_id,
            foreign(DocumentLink.series) == Voucher.series,
            foreign(DocumentLink.number) == Voucher.number,
            Voucher.occurrence == 1,  # a number an SIE file repeats: the first one
        ),
        viewonly=True,
        uselist=False,
    )


class SchemaVersion(Base):
    """One row per applied migration step."""

    __tablename__ = "schema_version"

    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    description: Mapped[str] = mapped_column(String(200))
    applied_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
