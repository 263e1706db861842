"""Write contract records into the ledger: staging, atomic year apply, bulk upserts.

Vouchers and rows are staged in TEMPORARY tables on the loader's single connection
(bulk: executemany on SQLite, COPY on PostgreSQL).  Temporary tables vanish with the
connection, so a killed run leaves nothing behind and never touches the real tables.
When a year's ``voucher_snapshots`` record arrives, the year is applied in ONE
transaction: changed vouchers replaced (rows and all), vouchers outside the snapshot
deleted, the year's ``ledger_source`` set.  Readers see the year before or after,
never in between.  On PostgreSQL a year that holds no vouchers yet is instead written
into the ledger tables chunk by chunk while it streams, in a transaction left open
until its snapshot (`open_year`); whatever else is written meanwhile joins it.

Every buffer is flushed in one fixed order (companies and years are written at once;
then accounts and series, staging, documents), whichever sink asked for the flush, so
the ordering across sinks does not depend on the SDK's sink order.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import getpass
import hashlib
import logging
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy import Connection, Engine, Table, bindparam, delete, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from .bulk import BackgroundWriter
from .companies import find_companies
from .migrations import migrate
from .models import (
    Account,
    AccountBalance,
    Company,
    Document,
    DocumentLink,
    DocumentSource,
    FinancialYear,
    Load,
    LoadYear,
    VoucherSeries,
    to_cents,
)
from .open_year import Chunk, OpenYear, apply_chunk
from .policy import SourcePolicy

log = logging.getLogger("target_senseworks.ledger")

#: A voucher's content (header and rows, as staged) in bytes, hashed into `content_hash`
#: so that a re-sent voucher that did not change is left alone.
_FINGERPRINT = msgspec.msgpack.Encoder()

STAGING_ROW_FLUSH = 20_000
#: A year opens (open_year) only if its first full chunk came within this many seconds:
#: a year that trickles in (a rate-limited tap) would hold its transaction for long.
OPEN_WITHIN_SECONDS = 120.0
_clock = time.monotonic  # (tests replace it)
DOCUMENT_FLUSH_BYTES = 8 * 1024 * 1024
DOCUMENT_FLUSH_COUNT = 50


class LoadError(Exception):
    """A record the ledger cannot take; the message names the stream and the record's key."""

    def __init__(self, stream: str, key: dict[str, Any] | str, problem: str) -> None:
        if isinstance(key, dict):
            key = ", ".join(f"{k}={v!r}" for k, v in key.items())
        super().__init__(f"{stream} [{key}]: {problem}")
        self.stream = stream


@dataclass(slots=True)
class YearInfo:
    """What the loader needs to know about a financial year."""

    id: int
    company_id: int
    start_date: dt.date
    ledger_source: str | None


@dataclass(slots=True)
class _OpenVoucher:
    """The voucher whose rows are arriving; hashed when the next voucher starts."""

    key: tuple[int, int, str, int]
    seq: int
    header: tuple[Any, ...]
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    balance: Any = 0


def _who() -> str:
    try:
        user = getpass.getuser()
    except Exception:  # no login name in some containers
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def _key(rec: dict[str, Any], names: Iterable[str]) -> dict[str, Any]:
    return {n: rec.get(n) for n in names}


#: Positions in a staged row tuple (row_index, account, debit, credit, amount, ..., removed).
_AMOUNT, _REMOVED = 4, -1
VOUCHER_KEY = ("tenant_id", "financial_year_id", "series", "number")
ROW_KEY = (*VOUCHER_KEY, "row_index")


class LedgerLoader:
    """One load (a target run) into the ledger, on one connection."""

    def __init__(
        self,
        engine: Engine,
        policy: SourcePolicy,
        *,
        settings: dict[str, Any] | None = None,
        staging_row_flush: int = STAGING_ROW_FLUSH,
        open_within_seconds: float = OPEN_WITHIN_SECONDS,
        on_years_applied: Callable[[], None] | None = None,
    ) -> None:
        migrate(engine)
        self.engine = engine
        self.policy = policy
        self.dialect = engine.dialect.name
        self.pg = self.dialect == "postgresql"
        self.conn: Connection = engine.connect()
        self.staging_row_flush = staging_row_flush
        self.open_within_seconds = open_within_seconds
        self.on_years_applied = on_years_applied
        self.counts: Counter[str] = Counter()
        self.problems: list[str] = []
        self._companies: dict[int, int] = {}
        self._years: dict[tuple[int, int], YearInfo] = {}
        self._seq = 0
        self._open: _OpenVoucher | None = None
        # Rows that came before their voucher (tap-fortnox writes a voucher's rows, a child
        # stream, just before the voucher), waiting for it: at most one voucher's rows.
        self._early: dict[tuple[int, int, str, int], list[tuple[Any, ...]]] = {}
        self._pending: dict[tuple[int, int], dict[tuple[str, int], int]] = {}
        self._superseded: list[int] = []
        self._unhashed: list[int] = []
        self._vouchers: list[tuple[Any, ...]] = []
        self._rows: list[tuple[Any, ...]] = []
        self._accounts: list[dict[str, Any]] = []
        self._series: list[dict[str, Any]] = []
        self._documents: list[dict[str, Any]] = []
        self._document_bytes = 0
        # PostgreSQL: a year written into the ledger tables while it streams (open_year).
        # One job at a time: the next chunk is staged only after the last one is written.
        self._background = BackgroundWriter(depth=1) if self.pg else None
        self._year_open: OpenYear | None = None
        # Years staged, or whose opening was decided: a year opens at its first chunk or never.
        self._years_decided: set[tuple[int, int]] = set()
        self._first_voucher_at: dict[tuple[int, int], float] = {}  # per pending year
        self._staged_at = _clock()  # the last staging flush
        self._voucher_ids: str | None = None  # the sequence behind vouchers.id
        self.finished = False
        with self.conn.begin():
            self.load_id: int = self.conn.execute(
                Load.__table__.insert().returning(Load.id),
                {
                    "source": "fortnox",
                    "started_by": _who(),
                    "status": "running",
                    "settings": settings or {},
                    "started_at": dt.datetime.now(dt.timezone.utc),
                },
            ).scalar_one()
        self._create_staging()

    # ------------------------------------------------------------------ staging

    def _create_staging(self) -> None:
        if self.pg:
            money, qty, day, flag = "NUMERIC(18,2)", "NUMERIC", "DATE", "BOOLEAN"
        else:
            money, qty, day, flag = "BIGINT", "TEXT", "TEXT", "INTEGER"
        with self.conn.begin():
            self.conn.exec_driver_sql(
                "CREATE TEMPORARY TABLE stg_vouchers (seq BIGINT PRIMARY KEY, tenant_id BIGINT,"
                " fy_id BIGINT, series TEXT, number BIGINT, transaction_date "
                f"{day}, description TEXT, comments TEXT, reference_type TEXT,"
                f" reference_number TEXT, approval_state INTEGER, registration_date {day},"
                " content_hash TEXT, ledger_id BIGINT)"
            )
            self.conn.exec_driver_sql(
                "CREATE INDEX stg_vouchers_year ON stg_vouchers (tenant_id, fy_id, series, number)"
            )
            self.conn.exec_driver_sql(
                "CREATE TEMPORARY TABLE stg_rows (voucher_seq BIGINT, row_index INTEGER,"
                f" account TEXT, debit {money}, credit {money}, amount {money},"
                " description TEXT, transaction_information TEXT, cost_center TEXT,"
                f" project TEXT, quantity {qty}, removed {flag})"
            )
            self.conn.exec_driver_sql("CREATE INDEX stg_rows_seq ON stg_rows (voucher_seq)")
            self.conn.exec_driver_sql(
                "CREATE TEMPORARY TABLE stg_ranges (series TEXT, lo BIGINT, hi BIGINT)"
            )

    def _money(self, stream: str, rec: dict[str, Any], name: str, keys: Iterable[str]) -> Any:
        """The amount as staged (öre on SQLite, the exact number on PostgreSQL)."""
        value = rec.get(name)
        kind = type(value)
        if kind is int:  # `to_cents` inlined for the two common exact types
            return value if self.pg else value * 100
        if kind is Decimal:
            scaled = value.scaleb(2)
            if scaled.is_finite() and (cents := int(scaled)) == scaled:
                return value if self.pg else cents
        try:
            cents = to_cents(value)  # refuses the rest with the reason
        except (TypeError, ValueError) as exc:
            raise LoadError(stream, _key(rec, keys), f"{name}: {exc}") from None
        return cents if not self.pg else value

    def _quantity(self, rec: dict[str, Any]) -> Any:
        q = rec.get("quantity")
        if q is None:
            return None
        if isinstance(q, bool) or not isinstance(q, (int, Decimal)):
            raise LoadError("voucher_rows", _key(rec, ROW_KEY), f"quantity {q!r} is not a number")
        return q if self.pg else str(q)

    def _date(self, stream: str, rec: dict[str, Any], name: str, keys: Iterable[str]) -> Any:
        value = rec.get(name)
        if value is None:
            return None
        if not isinstance(value, dt.date):
            try:
                value = dt.date.fromisoformat(value)
            except (TypeError, ValueError):
                raise LoadError(
                    stream, _key(rec, keys), f"{name} {value!r} is not an ISO date"
                ) from None
        return value if self.pg else value.isoformat()

    def add_voucher(self, rec: dict[str, Any]) -> None:
        """Stage a voucher; its rows follow it."""
        self._close_open()
        try:
            key = (int(rec["tenant_id"]), int(rec["financial_year_id"]), str(rec["series"]),
                   int(rec["number"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise LoadError("vouchers", _key(rec, VOUCHER_KEY), f"bad key: {exc}") from None
        tdate = self._date("vouchers", rec, "transaction_date", VOUCHER_KEY)
        if tdate is None:
            raise LoadError("vouchers", _key(rec, VOUCHER_KEY), "transaction_date is missing")
        approval = rec.get("approval_state")
        if approval is not None and (isinstance(approval, bool) or not isinstance(approval, int)):
            raise LoadError("vouchers", _key(rec, VOUCHER_KEY),
                            f"approval_state {approval!r} is not an integer")
        self._seq += 1
        year_map = self._pending.get(key[:2])
        if year_map is None:
            year_map = self._pending[key[:2]] = {}
            self._first_voucher_at[key[:2]] = _clock()
        old = year_map.get(key[2:])
        if old is not None:
            self._superseded.append(old)
            opened = self._year_open
            if opened is not None and opened.key == key[:2] and old <= opened.written_to:
                opened.gone.append(old)  # written already: the chunk deletes it by id
        year_map[key[2:]] = self._seq
        header = (
            self._seq, key[0], key[1], key[2], key[3], tdate,
            rec.get("description"), rec.get("comments"), rec.get("reference_type"),
            _str_or_none(rec.get("reference_number")), approval,
            self._date("vouchers", rec, "registration_date", VOUCHER_KEY),
        )
        op = self._open = _OpenVoucher(key, self._seq, header)
        self.counts["vouchers_received"] += 1
        for row in self._early.pop(key, ()):
            self._stage_row(op, row)

    def add_voucher_row(self, rec: dict[str, Any]) -> None:
        """Stage a row of the voucher just received (or of one staged earlier in this run)."""
        try:
            key = (int(rec["tenant_id"]), int(rec["financial_year_id"]), str(rec["series"]),
                   int(rec["number"]))
            row_index = int(rec["row_index"])
        except (KeyError, TypeError, ValueError) as exc:
            raise LoadError("voucher_rows", _key(rec, ROW_KEY), f"bad key: {exc}") from None
        debit = self._money("voucher_rows", rec, "debit", ROW_KEY)
        credit = self._money("voucher_rows", rec, "credit", ROW_KEY)
        amount = self._money("voucher_rows", rec, "amount", ROW_KEY)
        if amount != debit - credit:
            raise LoadError("voucher_rows", _key(rec, ROW_KEY),
                            f"amount {rec['amount']} != debit {rec['debit']} - credit "
                            f"{rec['credit']}")
        get = rec.get
        account = get("account")
        if account is None:
            raise LoadError("voucher_rows", _key(rec, ROW_KEY), "account is missing")
        removed = get("removed") or False
        if type(removed) is not bool:
            raise LoadError("voucher_rows", _key(rec, ROW_KEY), f"removed {removed!r} not boolean")
        cost_center, project = get("cost_center"), get("project")
        row = (
            row_index, str(account), debit, credit, amount, get("description"),
            get("transaction_information"),
            None if cost_center is None else str(cost_center),
            None if project is None else str(project),
            None if get("quantity") is None else self._quantity(rec),
            removed if self.pg else int(removed),
        )
        self.counts["voucher_rows_received"] += 1
        op = self._open
        if op is not None and op.key == key:  # _stage_row, inlined for the common case
            op.rows.append(row)
            if not removed:  # booked, not struck
                op.balance += amount
            self._rows.append((op.seq, *row))
            if len(self._rows) >= self.staging_row_flush:
                self._flush_staging()
        else:  # its voucher comes next (child-stream order), or came earlier in the run
            self._early.setdefault(key, []).append(row)

    def _stage_row(self, op: _OpenVoucher, row: tuple[Any, ...]) -> None:
        op.rows.append(row)
        if not row[_REMOVED]:  # booked, not struck
            op.balance += row[_AMOUNT]
        self._rows.append((op.seq, *row))
        if len(self._rows) >= self.staging_row_flush:
            self._flush_staging()

    def _settle_early_rows(self) -> None:
        """Rows whose voucher did not follow them belong to one staged earlier in the run.

        All are buffered before any is flushed, so an open year's chunk never writes
        such a voucher with part of its late rows.
        """
        for key, rows in self._early.items():
            seq = self._pending.get(key[:2], {}).get(key[2:])
            if seq is None:
                names = dict(zip(ROW_KEY, (*key, rows[0][0]), strict=True))
                raise LoadError(
                    "voucher_rows", names,
                    "row for an unknown voucher: no vouchers record with this key came "
                    "right after it or earlier in this run",
                )
            self._unhashed.append(seq)  # rows apart from their voucher: always replace it
            opened = self._year_open
            if opened is not None and opened.key == key[:2]:
                opened.unhashed.append(seq)
                if seq <= opened.written_to:  # written without these rows: write it anew
                    opened.gone.append(seq)
                    opened.again.append(seq)
            self._rows.extend((seq, *row) for row in rows)
        self._early.clear()

    def _close_open(self) -> None:
        op = self._open
        if op is None:
            return
        digest = hashlib.md5(_FINGERPRINT.encode((op.header[5:], op.rows)),
                             usedforsecurity=False)
        self._vouchers.append((*op.header, digest.hexdigest()))
        if op.balance != 0:
            self.counts["unbalanced_vouchers"] += 1
            log.warning("voucher %s does not balance: booked rows sum to %s", op.key, op.balance)
        self._open = None
        if len(self._vouchers) >= self.staging_row_flush:
            self._flush_staging()

    def _flush_staging(self, *, may_open: bool = True) -> None:
        """Stage the buffers; a full chunk of a lone new year may open it (open_year).

        Only a full chunk that filled within `open_within_seconds` opens a year: a year
        that fits in one chunk gains nothing from an open transaction, and one that
        trickles in (a rate-limited tap) would hold it for long.
        """
        if not (self._rows or self._vouchers):
            return
        self._wait()
        vouchers, rows = self._vouchers, self._rows
        self._vouchers, self._rows = [], []
        staged_years = {v[1:3] for v in vouchers}
        if (may_open and self._background is not None and self._year_open is None
                and len(self._pending) == 1):
            key = next(iter(self._pending))
            began = max(self._first_voucher_at.get(key, 0.0), self._staged_at)
            # Opened before any of its vouchers is staged, and only if it streams fast.
            if key not in self._years_decided and _clock() - began <= self.open_within_seconds:
                self._open_year(key)
            self._years_decided.add(key)
        self._years_decided |= staged_years
        self._staged_at = _clock()
        year = self._year_open
        if year is None:
            with self.conn.begin():
                self._stage(vouchers, rows, None)
            return
        # The open year: staged inside its transaction, then written into the ledger in
        # the background while the next records are read.  (Staging stays on this
        # thread: COPY formatting is Python work, and two threads of it only contend.)
        self._stage(vouchers, rows, year.key if year.key in staged_years else None)
        chunk = self._next_chunk(year, vouchers[-1][0] if vouchers else 0)
        if chunk is not None:
            assert self._background is not None
            self._background.submit(lambda: apply_chunk(self.conn, year, chunk))

    def _stage(self, vouchers: list[tuple[Any, ...]], rows: list[tuple[Any, ...]],
               ids_for: tuple[int, int] | None) -> None:
        """Write buffered vouchers and rows to staging (COPY / executemany).

        `ids_for`: the open year, whose vouchers get their ledger ids reserved here.
        """
        raw = self.conn.connection.driver_connection
        if not self.pg:
            cur = raw.cursor()  # type: ignore[union-attr]
            if vouchers:
                cur.executemany(
                    "INSERT INTO stg_vouchers (seq, tenant_id, fy_id, series, number,"
                    " transaction_date, description, comments, reference_type,"
                    " reference_number, approval_state, registration_date, content_hash)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", vouchers,
                )
            if rows:
                cur.executemany("INSERT INTO stg_rows VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
            cur.close()
            return
        columns = ("seq, tenant_id, fy_id, series, number, transaction_date, description,"
                   " comments, reference_type, reference_number, approval_state,"
                   " registration_date, content_hash")
        if ids_for is not None:
            mine = sum(1 for v in vouchers if v[1:3] == ids_for)
            if self._voucher_ids is None:
                self._voucher_ids = self.conn.execute(
                    text("SELECT pg_get_serial_sequence('vouchers', 'id')")).scalar_one()
            ids = iter(self.conn.execute(
                text("SELECT nextval(CAST(:seq AS regclass)) FROM generate_series(1, :n)"),
                {"seq": self._voucher_ids, "n": mine}).scalars())
            vouchers = [(*v, next(ids) if v[1:3] == ids_for else None) for v in vouchers]
            columns += ", ledger_id"
        with raw.cursor() as cur:  # type: ignore[union-attr]
            if vouchers:
                with cur.copy(f"COPY stg_vouchers ({columns}) FROM STDIN") as cp:
                    for v in vouchers:
                        cp.write_row(v)
            if rows:
                with cur.copy(
                    "COPY stg_rows (voucher_seq, row_index, account, debit, credit, amount,"
                    " description, transaction_information, cost_center, project, quantity,"
                    " removed) FROM STDIN"
                ) as cp:
                    for r in rows:
                        cp.write_row(r)

    def _next_chunk(self, year: OpenYear, last_closed: int) -> Chunk | None:
        """What the open year's next chunk writes: staged vouchers up to the last closed one.

        Staged vouchers are complete: a voucher's rows come before the next voucher
        (rows that come later are `unhashed` and written `again`).
        """
        hi = max(last_closed, year.written_to)
        if hi == year.written_to and not (year.gone or year.unhashed):
            return None
        chunk = Chunk(
            lo=year.written_to, hi=hi,
            skip=[s for s in self._superseded if s > year.written_to],
            gone=year.gone, again=year.again, unhashed=year.unhashed,
        )
        year.written_to, year.gone, year.again, year.unhashed = hi, [], [], []
        return chunk

    # ------------------------------------------------- transactions, open year

    def _wait(self) -> None:
        """Let the chunk being written in the background finish (raising its error)."""
        if self._background is not None:
            self._background.wait()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write's transaction; while a year is open, the write joins the year's.

        Such a write commits with the year (or is rolled back with it): STATE is held
        while the year is pending, so the tap sends it again if the year never lands.
        """
        self._wait()
        if self._year_open is not None:
            yield
        else:
            with self.conn.begin():
                yield

    def _open_year(self, key: tuple[int, int]) -> None:
        """Open `key`'s transaction if Fortnox may write the year and it holds no vouchers."""
        tenant_id, fy_id = key
        try:
            info = self.year("vouchers", {"tenant_id": tenant_id, "financial_year_id": fy_id},
                             tenant_id, fy_id)
        except LoadError:
            return  # the snapshot names the problem, as on the portable path
        params = {"t": tenant_id, "fy": fy_id, "y": info.id, "c": info.company_id,
                  "load": self.load_id}
        transaction = self.conn.begin()
        # The transaction waits for the tap between chunks: a server's idle-session
        # limit must not end it (only for this transaction).
        self.conn.execute(text("SET LOCAL idle_in_transaction_session_timeout = 0"))
        source = self.conn.execute(text(
            "SELECT ledger_source FROM financial_years WHERE id = :y FOR UPDATE"), params
        ).scalar_one()
        if not self.policy.fortnox_may_write(source, info.start_date) or self.conn.execute(
            text("SELECT 1 FROM vouchers WHERE year_id = :y LIMIT 1"), params
        ).first():
            transaction.rollback()  # kept, or vouchers to compare: the snapshot decides
            return
        self._year_open = OpenYear(key, params, transaction, self.counts.copy())
        log.info("tenant %s year %s (Fortnox id %s) holds no vouchers: written while it streams,"
                 " committed at its snapshot", tenant_id, info.start_date, fy_id)

    def _roll_back_open_year(self) -> None:
        """Undo the open year and everything written with it; counts as before it opened."""
        year, self._year_open = self._year_open, None
        if year is None:
            return
        year.transaction.rollback()
        received = {k: v for k, v in self.counts.items() if k.endswith("_received")}
        self.counts = year.counts_before
        for name, value in received.items():
            self.counts[name] = value
        self._companies.clear()  # ids of rows written since may be gone
        self._years.clear()

    @property
    def has_pending_years(self) -> bool:
        """True while some year has staged vouchers but no snapshot yet."""
        return bool(self._pending)

    # --------------------------------------------------------- companies, years

    def _company_id(self, tenant_id: int) -> int:
        cid = self._companies.get(tenant_id)
        if cid is None:
            with self._transaction():
                self._upsert(Company.__table__, [{"tenant_id": tenant_id}], ["tenant_id"], [])
                cid = self.conn.execute(
                    select(Company.id).where(Company.tenant_id == tenant_id)
                ).scalar_one()
            self._companies[tenant_id] = cid
        return cid

    def add_company(self, rec: dict[str, Any]) -> None:
        """Create or update a company by tenant id."""
        tenant_id = int(rec["tenant_id"])
        address = {
            k: rec[k] for k in rec
            if k not in ("tenant_id", "organisation_number", "company_name")
            and not k.startswith("_sdc_") and rec[k] is not None
        }
        row = {
            "tenant_id": tenant_id,
            "organisation_number": rec.get("organisation_number"),
            "name": rec.get("company_name"),
            "address": address or None,
            "updated_at": dt.datetime.now(dt.timezone.utc),
        }
        with self._transaction():
            self._adopt_sie_company(tenant_id, rec.get("organisation_number"))
            self._upsert(Company.__table__, [row], ["tenant_id"],
                         ["organisation_number", "name", "address"], touch=("updated_at",))
        self._companies.pop(tenant_id, None)
        self.counts["company_information"] += 1

    def _adopt_sie_company(self, tenant_id: int, orgnr: str | None) -> None:
        """A company first known from an SIE file becomes this tenant's, not a second one.

        Its years (matched by start date) then meet the Fortnox years, so the source
        policy decides between the two ledgers and documents find the SIE vouchers.
        """
        c = Company.__table__
        if not orgnr or self.conn.execute(
                select(c.c.id).where(c.c.tenant_id == tenant_id)).first() is not None:
            return
        candidates = [x for x in find_companies(self.conn, orgnr) if x.tenant_id is None]
        if len(candidates) == 1:
            self.conn.execute(update(c).where(c.c.id == candidates[0].id)
                              .values(tenant_id=tenant_id))
            log.info("tenant %s: adopting company %s (organisation number %s), known so far "
                     "from SIE files only", tenant_id, candidates[0].id, orgnr)

    def add_financial_year(self, rec: dict[str, Any]) -> None:
        """Create or update a year, matched on its start date (SIE years have no Fortnox id)."""
        key = _key(rec, ("tenant_id", "id"))
        try:
            tenant_id, fy_id = int(rec["tenant_id"]), int(rec["id"])
            start = dt.date.fromisoformat(str(rec["from_date"]))
            end = dt.date.fromisoformat(str(rec["to_date"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise LoadError("financial_years", key, f"bad year: {exc}") from None
        company_id = self._company_id(tenant_id)
        fy = FinancialYear.__table__
        with self._transaction():
            # A Fortnox id moves with its year if the dates were ever corrected.
            self.conn.execute(
                update(fy)
                .where(fy.c.company_id == company_id, fy.c.fortnox_year_id == fy_id,
                       fy.c.start_date != start)
                .values(fortnox_year_id=None)
            )
            self._upsert(
                fy,
                [{
                    "company_id": company_id, "start_date": start, "end_date": end,
                    "fortnox_year_id": fy_id, "accounting_method": rec.get("accounting_method"),
                    "account_chart_type": rec.get("account_chart_type"),
                }],
                ["company_id", "start_date"],
                ["end_date", "fortnox_year_id", "accounting_method", "account_chart_type"],
            )
        self._years.pop((tenant_id, fy_id), None)
        self.counts["financial_years"] += 1

    def year(self, stream: str, key: dict[str, Any], tenant_id: int, fy_id: int) -> YearInfo:
        """Look a Fortnox year up (cached), or fail naming the record that needed it."""
        info = self._years.get((tenant_id, fy_id))
        if info is None:
            self._wait()
            fy = FinancialYear.__table__
            row = self.conn.execute(
                select(fy.c.id, fy.c.company_id, fy.c.start_date, fy.c.ledger_source)
                .join(Company.__table__, Company.__table__.c.id == fy.c.company_id)
                .where(Company.__table__.c.tenant_id == tenant_id, fy.c.fortnox_year_id == fy_id)
            ).first()
            if self._year_open is None:
                self.conn.rollback()  # end the read's implicit transaction
            if row is None:
                raise LoadError(
                    stream, key,
                    f"financial year {fy_id} of tenant {tenant_id} is unknown: no "
                    "financial_years record for it (in this stream or an earlier load)",
                )
            info = YearInfo(row.id, row.company_id, row.start_date, row.ledger_source)
            self._years[(tenant_id, fy_id)] = info
        return info

    # ------------------------------------------------ accounts and voucher series

    def add_account(self, rec: dict[str, Any]) -> None:
        """Buffer an account (and its balance brought forward)."""
        keys = ("tenant_id", "financial_year_id", "number")
        bbf = rec.get("balance_brought_forward")
        if bbf is not None:
            try:
                to_cents(bbf)
            except (TypeError, ValueError) as exc:
                raise LoadError("accounts", _key(rec, keys),
                                f"balance_brought_forward: {exc}") from None
        if rec.get("number") is None:
            raise LoadError("accounts", _key(rec, keys), "number is missing")
        self._accounts.append(rec)
        if len(self._accounts) >= 5000:
            self._flush_ledger_tables()

    def add_voucher_series(self, rec: dict[str, Any]) -> None:
        """Buffer a voucher series."""
        if rec.get("code") is None:
            raise LoadError("voucher_series", _key(rec, ("tenant_id", "financial_year_id")),
                            "code is missing")
        self._series.append(rec)

    def _writable_year(self, stream: str, rec: dict[str, Any], keys: tuple[str, ...]
                       ) -> YearInfo | None:
        info = self.year(stream, _key(rec, keys), int(rec["tenant_id"]),
                         int(rec["financial_year_id"]))
        if self.policy.fortnox_may_write(info.ledger_source, info.start_date):
            return info
        self.counts[f"{stream}_kept_sie"] += 1
        return None

    def _flush_ledger_tables(self) -> None:
        if not (self._accounts or self._series):
            return
        acc_keys = ("tenant_id", "financial_year_id", "number")
        accounts: dict[tuple[int, str], dict[str, Any]] = {}
        balances: dict[tuple[int, str], dict[str, Any]] = {}
        for rec in self._accounts:
            info = self._writable_year("accounts", rec, acc_keys)
            if info is None:
                continue
            number = str(rec["number"])
            accounts[(info.id, number)] = {
                "year_id": info.id, "number": number, "description": rec.get("description"),
                "active": rec.get("active"), "sru": _str_or_none(rec.get("sru")),
                "vat_code": _str_or_none(rec.get("vat_code")),
            }
            if rec.get("balance_brought_forward") is not None:
                balances[(info.id, number)] = {
                    "year_id": info.id, "account": number,
                    "opening": rec["balance_brought_forward"],
                }
        series: dict[tuple[int, str], dict[str, Any]] = {}
        for rec in self._series:
            info = self._writable_year("voucher_series", rec,
                                       ("tenant_id", "financial_year_id", "code"))
            if info is None:
                continue
            code = str(rec["code"])
            series[(info.id, code)] = {
                "year_id": info.id, "code": code, "description": rec.get("description"),
                "manual": rec.get("manual"),
            }
        with self._transaction():
            if accounts:
                self._upsert(Account.__table__, list(accounts.values()), ["year_id", "number"],
                             ["description", "active", "sru", "vat_code"])
            if balances:
                self._upsert(AccountBalance.__table__, list(balances.values()),
                             ["year_id", "account"], ["opening"])
            if series:
                self._upsert(VoucherSeries.__table__, list(series.values()),
                             ["year_id", "code"], ["description", "manual"])
        self.counts["accounts"] += len(accounts)
        self.counts["voucher_series"] += len(series)
        self._accounts.clear()
        self._series.clear()

    # --------------------------------------------------------------- documents

    def add_attachment(self, rec: dict[str, Any]) -> None:
        """Check a document's bytes against its sha256 and buffer it (bounded in bytes)."""
        key = _key(rec, ("tenant_id", "file_id"))
        sha = rec.get("sha256")
        if sha is None and rec.get("content") is None:
            # No bytes and no hash (the tap ran metadata-only, or the file was over its size
            # limit): documents are stored by their hash, so there is nothing to store yet.
            self.counts["documents_without_content"] += 1
            return
        if not isinstance(sha, str) or len(sha) != 64:
            raise LoadError("attachments", key, f"sha256 {sha!r} is not a sha256 hex digest")
        sha = sha.lower()
        content = rec.get("content")
        data: bytes | None = None
        if content is not None:
            try:
                data = base64.b64decode(content, validate=True)
            except (binascii.Error, ValueError, TypeError) as exc:
                raise LoadError("attachments", key, f"content is not base64: {exc}") from None
            actual = hashlib.sha256(data).hexdigest()
            if actual != sha:
                raise LoadError("attachments", key,
                                f"sha256 mismatch: record says {sha}, content hashes to {actual}")
            size = rec.get("size")
            if size is not None and size != len(data):
                raise LoadError("attachments", key,
                                f"size mismatch: record says {size}, content has {len(data)} bytes")
        links = []
        for v in rec.get("vouchers") or ():
            try:
                links.append((int(v["financial_year_id"]), str(v["series"]), int(v["number"])))
            except (KeyError, TypeError, ValueError) as exc:
                raise LoadError("attachments", key, f"bad voucher reference {v!r}: {exc}") from None
        self._documents.append({**rec, "sha256": sha, "_data": data, "_links": links})
        self._document_bytes += len(data or b"")
        if (self._document_bytes >= DOCUMENT_FLUSH_BYTES
                or len(self._documents) >= DOCUMENT_FLUSH_COUNT):
            self._flush_documents()

    def _flush_documents(self) -> None:
        if not self._documents:
            return
        docs = self._documents
        # Resolve everything that can fail before writing anything.
        resolved = []
        for rec in docs:
            key = _key(rec, ("tenant_id", "file_id"))
            tenant_id = int(rec["tenant_id"])
            company_id = self._company_id(tenant_id)
            years = [(self.year("attachments", key, tenant_id, fy).id, s, n)
                     for fy, s, n in rec["_links"]]
            resolved.append((rec, company_id, years))
        d, s, lk = Document.__table__, DocumentSource.__table__, DocumentLink.__table__
        with self._transaction():
            by_sha: dict[str, dict[str, Any]] = {}
            for rec, _, _ in resolved:
                prev = by_sha.get(rec["sha256"])
                if prev is None or (prev["content"] is None and rec["_data"] is not None):
                    by_sha[rec["sha256"]] = {
                        "sha256": rec["sha256"], "file_name": rec.get("file_name"),
                        "content_type": rec.get("content_type"),
                        "size": rec.get("size") if rec["_data"] is None else len(rec["_data"]),
                        "content": rec["_data"],
                    }
            self._upsert(d, list(by_sha.values()), ["sha256"], [])
            # Metadata-only earlier, bytes now: fill the content in.
            with_bytes = [r for r in by_sha.values() if r["content"] is not None]
            if with_bytes:
                self.conn.execute(
                    update(d).where(d.c.sha256 == bindparam("b_sha"), d.c.content.is_(None))
                    .values(content=bindparam("b_content"), size=bindparam("b_size")),
                    [{"b_sha": r["sha256"], "b_content": r["content"], "b_size": r["size"]}
                     for r in with_bytes],
                )
            ids = dict(self.conn.execute(
                select(d.c.sha256, d.c.id).where(d.c.sha256.in_(list(by_sha)))
            ).all())
            sources = {}
            for rec, company_id, _ in resolved:
                source = rec.get("source") or {}
                sources[(company_id, str(rec["file_id"]))] = {
                    "company_id": company_id, "file_id": str(rec["file_id"]),
                    "document_id": ids[rec["sha256"]], "module": rec.get("module"),
                    "file_name": rec.get("file_name"),
                    "source_type": source.get("type"),
                    "source_number": _str_or_none(source.get("number")),
                    "skipped_reason": rec.get("skipped_reason"), "load_id": self.load_id,
                }
            self._upsert(s, list(sources.values()), ["company_id", "file_id"],
                         ["document_id", "module", "file_name", "source_type", "source_number",
                          "skipped_reason"])
            source_ids = {
                (r.company_id, r.file_id): r.id
                for r in self.conn.execute(
                    select(s.c.company_id, s.c.file_id, s.c.id).where(
                        s.c.company_id.in_({c for c, _ in sources}),
                        s.c.file_id.in_({f for _, f in sources}),
                    )
                )
            }
            # A re-sent file states all its vouchers: its links become exactly those.
            links = {}
            for rec, company_id, years in resolved:
                sid = source_ids[(company_id, str(rec["file_id"]))]
                for year_id, series, number in years:
                    links[(sid, year_id, series, number)] = {
                        "document_id": ids[rec["sha256"]], "source_id": sid,
                        "company_id": company_id, "year_id": year_id, "series": series,
                        "number": number, "load_id": self.load_id,
                    }
            existing = {
                (r.source_id, r.year_id, r.series, r.number): (r.id, r.document_id)
                for r in self.conn.execute(
                    select(lk.c.id, lk.c.source_id, lk.c.year_id, lk.c.series, lk.c.number,
                           lk.c.document_id)
                    .where(lk.c.source_id.in_(set(source_ids.values())))
                )
            }
            stale = [{"b_id": link_id} for k, (link_id, doc_id) in existing.items()
                     if k not in links or links[k]["document_id"] != doc_id]
            if stale:
                self.conn.execute(delete(lk).where(lk.c.id == bindparam("b_id")), stale)
            fresh = [v for k, v in links.items()
                     if k not in existing or existing[k][1] != v["document_id"]]
            if fresh:
                self.conn.execute(lk.insert(), fresh)
        self.counts["attachments"] += len(docs)
        self.counts["document_links_written"] += len(fresh)
        self._documents = []
        self._document_bytes = 0

    # --------------------------------------------------------------- year apply

    def apply_snapshot(self, rec: dict[str, Any]) -> None:
        """Apply a year atomically: the snapshot says which vouchers exist; staged ones win."""
        skey = _key(rec, ("tenant_id", "financial_year_id"))
        try:
            tenant_id, fy_id = int(rec["tenant_id"]), int(rec["financial_year_id"])
            ranges = [
                (str(s["code"]), int(lo), int(hi))
                for s in rec.get("series") or () for lo, hi in s["ranges"]
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise LoadError("voucher_snapshots", skey, f"bad snapshot: {exc}") from None
        if any(lo > hi for _, lo, hi in ranges):
            raise LoadError("voucher_snapshots", skey, "a range has first > last")
        covered = sum(hi - lo + 1 for _, lo, hi in ranges)
        expected = rec.get("voucher_count")
        if expected is not None and expected != covered:
            raise LoadError("voucher_snapshots", skey,
                            f"voucher_count {expected} but ranges cover {covered} numbers")
        if self._open is not None and self._open.key[:2] == (tenant_id, fy_id):
            self._close_open()
        self._settle_early_rows()
        self._flush_all()
        self._wait()
        year = self._year_open  # this year's, if it is the one open
        if year is not None and year.key != (tenant_id, fy_id):
            year = None
        info = self.year("voucher_snapshots", skey, tenant_id, fy_id)
        label = f"tenant {tenant_id} year {info.start_date} (Fortnox id {fy_id})"
        params = {"t": tenant_id, "fy": fy_id, "y": info.id, "c": info.company_id,
                  "load": self.load_id}
        staged_in_year = (
            "SELECT seq FROM stg_vouchers WHERE tenant_id = :t AND fy_id = :fy"
        )
        cover = ("EXISTS (SELECT 1 FROM stg_ranges r WHERE r.series = {a}.series"
                 " AND {a}.number BETWEEN r.lo AND r.hi)")
        x = self.conn.execute
        with self._transaction():
            if self.pg:
                source = x(text("SELECT ledger_source FROM financial_years WHERE id = :y"
                                " FOR UPDATE"), params).scalar_one()
            else:
                source = x(text("SELECT ledger_source FROM financial_years WHERE id = :y"),
                           params).scalar_one()
            outcome = "kept"
            may_write = self.policy.fortnox_may_write(source, info.start_date)
            if year is not None and not may_write:  # cannot happen: the year is locked
                raise RuntimeError(f"{label}: ledger source changed while the year was open")
            if may_write:
                if self._superseded:
                    x(text("DELETE FROM stg_rows WHERE voucher_seq = :s"),
                      [{"s": s} for s in self._superseded])
                    x(text("DELETE FROM stg_vouchers WHERE seq = :s"),
                      [{"s": s} for s in self._superseded])
                    self._superseded.clear()
                if self._unhashed:
                    x(text("UPDATE stg_vouchers SET content_hash = NULL WHERE seq = :s"),
                      [{"s": s} for s in self._unhashed])
                    self._unhashed.clear()
                x(text("DELETE FROM stg_ranges"))
                if ranges:
                    x(text("INSERT INTO stg_ranges (series, lo, hi) VALUES (:s, :lo, :hi)"),
                      [{"s": s, "lo": lo, "hi": hi} for s, lo, hi in ranges])
                if self.pg and year is None:
                    # Temporary tables are never auto-analysed; without statistics the
                    # planner picks nested loops over 250,000 staged vouchers.
                    x(text("ANALYZE stg_vouchers, stg_rows, stg_ranges"))
                switching = source != "fortnox"
                staged_covered = x(text(
                    "SELECT count(*) FROM stg_vouchers s WHERE s.tenant_id = :t AND s.fy_id = :fy"
                    " AND " + cover.format(a="s")), params).scalar_one()
                if switching and staged_covered != covered:
                    outcome = "incomplete"
                    if year is not None:  # the year was empty when it opened: empty it again
                        x(text("DELETE FROM voucher_rows WHERE voucher_id IN"
                               " (SELECT id FROM vouchers WHERE year_id = :y)"), params)
                        x(text("DELETE FROM vouchers WHERE year_id = :y"), params)
                else:
                    if year is not None:
                        deleted, inserted, rows = self._settle_open_year(year, cover)
                    else:
                        deleted, inserted, rows = self._apply_staged(params, cover, switching)
                    now = dt.datetime.now(dt.timezone.utc)
                    values: dict[str, Any] = {}
                    if source == "sie":
                        # Closing balances and results came from the SIE file; Fortnox
                        # sends neither, so they no longer describe this ledger.
                        x(text("UPDATE account_balances SET closing = NULL, result = NULL"
                               " WHERE year_id = :y"), params)
                    if switching:
                        values = {"ledger_source": "fortnox", "ledger_load_id": self.load_id}
                    if switching or deleted or inserted:
                        values["ledger_updated_at"] = now
                    if values:
                        fy = FinancialYear.__table__
                        x(update(fy).where(fy.c.id == info.id).values(**values))
                    held = x(text("SELECT count(*) FROM vouchers WHERE year_id = :y"),
                             params).scalar_one()
                    outcome = "applied"
                    self.counts["vouchers_inserted"] += inserted
                    self.counts["vouchers_deleted"] += deleted
                    self.counts["voucher_rows_inserted"] += rows
                    if held != covered:
                        msg = (f"{label}: snapshot lists {covered} vouchers, ledger holds {held}"
                               " (vouchers missing from this and earlier runs)")
                        log.warning(msg)
                        self.problems.append(msg)
                    info.ledger_source = "fortnox"
            if self._pending.keys() <= {(tenant_id, fy_id)}:
                # Staging holds this year only: empty it whole (far cheaper than by year).
                if self.pg:
                    x(text("TRUNCATE stg_rows, stg_vouchers"))
                else:  # SQLite's truncate optimisation: a DELETE without WHERE
                    x(text("DELETE FROM stg_rows"))
                    x(text("DELETE FROM stg_vouchers"))
            else:
                x(text(f"DELETE FROM stg_rows WHERE voucher_seq IN ({staged_in_year})"), params)
                x(text("DELETE FROM stg_vouchers WHERE tenant_id = :t AND fy_id = :fy"), params)
            self._record_year(info.id, outcome)
        if year is not None:
            self._year_open = None
            year.transaction.commit()
        self._pending.pop((tenant_id, fy_id), None)
        self._first_voucher_at.pop((tenant_id, fy_id), None)
        self.counts[f"years_{outcome}"] += 1
        if outcome == "kept":
            log.info("%s: SIE ledger kept (source_policy=%s); its vouchers were not loaded",
                     label, self.policy.policy)
        elif outcome == "incomplete":
            msg = (f"{label}: ledger not switched to Fortnox: this run sent {staged_covered} of"
                   f" the year's {covered} vouchers; a first Fortnox load of a year needs them"
                   " all (reset the tap's bookmark for this year)")
            log.error(msg)
            self.problems.append(msg)
        else:
            log.info("%s applied: %s", label, dict(self.counts))
        if not self._pending and self.on_years_applied is not None:
            self.on_years_applied()

    def _apply_staged(self, params: dict[str, Any], cover: str, switching: bool
                      ) -> tuple[int, int, int]:
        """Replace what changed in the year by its staged vouchers; (deleted, inserted, rows)."""
        x = self.conn.execute
        if switching:
            doomed = "SELECT id FROM vouchers WHERE year_id = :y"
        else:
            doomed = (
                "SELECT v.id FROM vouchers v WHERE v.year_id = :y AND (NOT "
                + cover.format(a="v")
                + " OR EXISTS (SELECT 1 FROM stg_vouchers s WHERE s.tenant_id = :t"
                " AND s.fy_id = :fy AND s.series = v.series AND s.number = v.number"
                " AND (s.content_hash IS NULL OR v.content_hash IS NULL"
                " OR s.content_hash <> v.content_hash)))"
            )
        x(text(f"DELETE FROM voucher_rows WHERE voucher_id IN ({doomed})"), params)
        deleted = x(text(f"DELETE FROM vouchers WHERE id IN ({doomed})"),
                    params).rowcount
        max_id = x(text("SELECT coalesce(max(id), 0) FROM vouchers")).scalar_one()
        if self.pg:
            # The two inserts look staged vouchers up among the year's, whose statistics
            # may say "none" (a new year, rows this transaction deleted or wrote): a
            # nested loop chosen on that rescans the year per voucher (minutes for
            # 250,000).  Hash joins cost one pass over the year whatever the statistics.
            x(text("SET LOCAL enable_nestloop = off"))
        inserted = x(text(
            "INSERT INTO vouchers (company_id, year_id, series, number, number_text,"
            " transaction_date, description, comments, reference_type,"
            " reference_number, approval_state, registration_date, content_hash,"
            " load_id) SELECT :c, :y, s.series, s.number, CAST(s.number AS TEXT),"
            " s.transaction_date,"
            " s.description, s.comments, s.reference_type, s.reference_number,"
            " s.approval_state, s.registration_date, s.content_hash, :load"
            " FROM stg_vouchers s WHERE s.tenant_id = :t AND s.fy_id = :fy AND "
            + cover.format(a="s")
            + " AND NOT EXISTS (SELECT 1 FROM vouchers v WHERE v.year_id = :y"
            " AND v.series = s.series AND v.number = s.number)"
        ), params).rowcount
        rows = x(text(
            "INSERT INTO voucher_rows (voucher_id, row_index, account, debit, credit,"
            " amount, description, transaction_information, cost_center, project,"
            " quantity, removed) SELECT v.id, r.row_index, r.account, r.debit,"
            " r.credit, r.amount, r.description, r.transaction_information,"
            " r.cost_center, r.project, r.quantity, r.removed FROM vouchers v"
            " JOIN stg_vouchers s ON s.tenant_id = :t AND s.fy_id = :fy"
            " AND s.series = v.series AND s.number = v.number"
            " JOIN stg_rows r ON r.voucher_seq = s.seq"
            " WHERE v.year_id = :y AND v.id > :m"
        ), {**params, "m": max_id}).rowcount
        if self.pg:
            x(text("RESET enable_nestloop"))
        return deleted, inserted, rows

    def _settle_open_year(self, year: OpenYear, cover: str) -> tuple[int, int, int]:
        """The open year's chunks wrote every staged voucher: drop those the snapshot lacks.

        The year was empty when it opened, so all it holds came from this run; counts
        are (deleted, inserted, rows) as if only the covered vouchers had been written.
        """
        x, p = self.conn.execute, year.params
        uncovered = f"SELECT v.id FROM vouchers v WHERE v.year_id = :y AND NOT {cover.format(a='v')}"
        rows = x(text(f"DELETE FROM voucher_rows WHERE voucher_id IN ({uncovered})"), p).rowcount
        vouchers = x(text(f"DELETE FROM vouchers WHERE id IN ({uncovered})"), p).rowcount
        return 0, year.inserted - vouchers, year.rows - rows

    def _record_year(self, year_id: int, outcome: str) -> None:
        """Note in `load_years` what this load did to the year (status shows the last)."""
        ly = LoadYear.__table__
        self.conn.execute(delete(ly).where(ly.c.load_id == self.load_id, ly.c.year_id == year_id))
        self.conn.execute(ly.insert(), {"load_id": self.load_id, "year_id": year_id,
                                        "outcome": outcome})

    def _record_pending_years(self, outcome: str) -> None:
        """Years that got vouchers but no snapshot: they were not applied."""
        fy, co = FinancialYear.__table__, Company.__table__
        for tenant_id, fy_id in self._pending:
            year_id = self.conn.execute(
                select(fy.c.id).join(co, co.c.id == fy.c.company_id)
                .where(co.c.tenant_id == tenant_id, fy.c.fortnox_year_id == fy_id)
            ).scalar()
            if year_id is not None:
                self._record_year(year_id, outcome)

    # ---------------------------------------------------------------- lifecycle

    def flush(self) -> None:
        """Write every buffer in dependency order; each part commits before returning.

        Staged vouchers are left to fill a chunk of `staging_row_flush` rows: they
        belong to years not yet applied, which STATE waits for anyway, and small chunks
        only stall an open year's reading.
        """
        self._flush_ledger_tables()
        self._flush_documents()

    def _flush_all(self) -> None:
        self._flush_ledger_tables()
        self._flush_staging(may_open=False)
        self._flush_documents()

    def finish(self) -> str:
        """End of input: flush, drop years that never got a snapshot, record the outcome."""
        self._settle_early_rows()
        self._flush_all()
        self._wait()
        if self._year_open is not None:
            log.error("tenant %s financial year %s: no snapshot came; rolling back what was"
                      " written while it was open (the held STATE makes the tap send it again)",
                      *self._year_open.key)
            self._roll_back_open_year()
        for (tenant_id, fy_id), vouchers in list(self._pending.items()):
            msg = (f"tenant {tenant_id} financial year {fy_id}: {len(vouchers)} vouchers received"
                   " but no voucher_snapshots record; the year was not applied")
            log.error(msg)
            self.problems.append(msg)
        status = "incomplete" if self.problems else "succeeded"
        self._finish_load(status, "\n".join(self.problems) or None, pending="not_applied")
        self._pending.clear()
        return status

    def fail(self, error: str) -> None:
        """Record a failed load; staged data is dropped with the connection."""
        try:
            if self._background is not None:  # its error, if any, is the load's own
                self._background.close()
                self._background = None
            self._year_open = None
            self.conn.rollback()
            self._finish_load("failed", error, pending="failed")
        finally:
            self.close()

    def _finish_load(self, status: str, error: str | None, pending: str) -> None:
        with self._transaction():
            self._record_pending_years(pending)
            self.conn.execute(
                update(Load.__table__).where(Load.__table__.c.id == self.load_id).values(
                    status=status, error=error, counts=dict(self.counts),
                    finished_at=dt.datetime.now(dt.timezone.utc),
                )
            )
        self.finished = True

    def close(self) -> None:
        """Close the connection (and with it the staging tables)."""
        if self._background is not None:
            self._background.close()
        self.conn.close()

    # ---------------------------------------------------------------- helpers

    def _upsert(self, table: Table, rows: list[dict[str, Any]], keys: list[str],
                update_cols: list[str], touch: tuple[str, ...] = ()) -> None:
        """INSERT .. ON CONFLICT; an existing row is rewritten only if a value differs.

        That keeps a replay from writing anything (`touch` columns, such as updated_at,
        change only along with a real change).
        """
        if not rows:
            return
        ins = postgresql.insert(table) if self.pg else sqlite.insert(table)
        if update_cols:
            stmt = ins.on_conflict_do_update(
                index_elements=keys,
                set_={c: ins.excluded[c] for c in (*update_cols, *touch)},
                where=or_(*(table.c[c].is_distinct_from(ins.excluded[c]) for c in update_cols)),
            )
        else:
            stmt = ins.on_conflict_do_nothing(index_elements=keys)
        self.conn.execute(stmt, rows)


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


__all__ = ["LedgerLoader", "LoadError", "YearInfo"]
