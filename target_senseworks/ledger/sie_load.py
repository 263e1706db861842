"""`senseworks load-sie`: an SIE-4 file's financial year into the ledger, in ONE transaction.

What a load does:

- The file is read once (`SieStream`): parsed and validated together, vouchers
  written in bulk as they stream by, so memory stays flat for any file size.
- The ledger year is the file's ``#RAR 0``: matched by its dates and created when
  absent; a year with the same start but another end, or one overlapping it, is a
  conflict and refuses the load.  Balances of earlier years (``#IB -1`` ...) are
  checked by `sie4` but not stored: each year's ledger comes from its own file.
- The company is the one whose organisation number is the file's ``#ORGNR``, or
  the one ``--company`` names; naming one that differs from the file's is the
  explicit override (recorded as a warning).  A company that does not exist yet is
  created from ``#FNAMN``/``#ORGNR`` (no Fortnox tenant); a file without ``#ORGNR``
  is refused unless ``--company`` says whose it is.
- The year's vouchers, rows, accounts, balances and series are replaced and its
  ledger source becomes ``sie``, whatever it was (loading a file is an explicit
  act; the source policy only governs Fortnox syncs).  Fortnox documents linked to
  the year keep their links, which are by (year, series, number): they find the
  SIE vouchers with those numbers.
- Error-level findings (an unbalanced voucher, damaged encoding, a wrong
  ``#KSUMMA``) refuse the load unless ``accept_findings``; warnings are kept.
  Whatever the outcome, except a dry run, the attempt is recorded in ``loads``
  with its findings, and in ``load_years`` when the year already existed.
- Some faults refuse the load even with ``accept_findings``, because the ledger
  could not hold the data faithfully: amounts with more than two decimals, codes
  longer than their columns, no ``#RAR 0``.

Rows: ``#TRANS`` rows are booked, ``#BTRANS`` rows are kept as struck rows, and
``#RTRANS`` rows are history whose ``#TRANS`` twin follows (not stored twice).
"""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, delete, select, text, update

import sie4
from sie4 import records as r

from .apply import _who
from .bulk import BackgroundWriter, BulkInsert, Encoder
from .companies import CompanyRow, create_company, find_companies, normalize_orgnr
from .db import mask_secrets
from .migrations import migrate
from .models import FinancialYear, Load, LoadYear
from .sie_map import Occurrences, quantity, split_objects, voucher_number
from .sie_read import SieStream

ZERO = Decimal(0)
_ADDED = r.RowKind.ADDED
_REMOVED = r.RowKind.REMOVED
MAX_STORED_FINDINGS = 1000
#: Rows per batch handed to the writer thread (two batches may wait: memory stays flat).
ROWS_PER_BATCH = 20_000

VOUCHER_COLUMNS = (
    "id", "company_id", "year_id", "series", "number", "number_text", "occurrence",
    "transaction_date", "description", "registration_date", "load_id", "signature",
)
ROW_COLUMNS = (
    "voucher_id", "row_index", "account", "debit", "credit", "amount", "description",
    "transaction_information", "cost_center", "project", "quantity", "removed",
    "transaction_date", "objects", "signature",
)
#: Column widths the loader checks itself, so SQLite refuses what PostgreSQL would.
WIDTH = {"series": 16, "account": 16, "number": 32, "object": 64, "signature": 200,
         "sru": 16, "name": 400}


class ProgressSink(Protocol):
    """Where a load reports how far it got (the CLI's progress bar)."""

    def update(self, done: int) -> None: ...  # bytes of the file read so far

    def phase(self, text: str) -> None: ...  # what happens once the bytes are read


class LoadRefused(Exception):
    """The file cannot be loaded as it is; the message says why (and where)."""

    def __init__(self, message: str, line: int | None = None) -> None:
        self.line = line
        super().__init__(f"line {line}: {message}" if line else message)


@dataclass
class SieLoadResult:
    """What happened, for the CLI to show and tests to check."""

    outcome: str  # "loaded" | "dry_run" | "refused" | "failed" | "unreadable"
    file: str
    load_id: int | None = None
    company: CompanyRow | None = None
    year: tuple[dt.date, dt.date] | None = None
    counts: dict[str, Any] = field(default_factory=dict)
    findings: list[sie4.Finding] = field(default_factory=list)
    message: str | None = None
    would_refuse: bool = False  # a dry run that a real load would refuse

    @property
    def exit_code(self) -> int:
        """0 loaded (or would load), 2 unreadable, 1 anything else."""
        if self.outcome == "unreadable":
            return 2
        if self.outcome == "loaded" or (self.outcome == "dry_run" and not self.would_refuse):
            return 0
        return 1


class _DryRunDone(Exception):
    """Unwinds the transaction at the end of a dry run."""


def load_sie_file(engine: Engine, path: str | Path, *, company: str | None = None,
                  dry_run: bool = False, accept_findings: bool = False,
                  progress: ProgressSink | None = None) -> SieLoadResult:
    """Load (or rehearse loading) one file; never raises for bad input, only reports."""
    migrate(engine)
    load = _SieLoad(engine, Path(path), company, dry_run, accept_findings, progress)
    with _no_cyclic_gc():
        return load.run()


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Parsing allocates millions of short-lived, acyclic objects; the cyclic collector's
    full passes over them cost a third of a million-row load (33 s -> 23 s measured) and
    find nothing.  Reference counting still frees everything, so memory stays flat."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class _SieLoad:
    """One load: state shared by the streaming and the final steps."""

    def __init__(self, engine: Engine, path: Path, company: str | None, dry_run: bool,
                 accept_findings: bool, progress: ProgressSink | None) -> None:
        self.engine = engine
        self.path = path
        self.company_option = company
        self.dry_run = dry_run
        self.accept_findings = accept_findings
        self.progress = progress
        self.stream = SieStream(path, progress=progress.update if progress else None)
        self.result = SieLoadResult("failed", str(path))
        self.enc = Encoder(engine.dialect.name)
        self.pg = self.enc.pg
        # From the file's head.
        self.orgnr = ""
        self.company_name = ""
        self.year0: r.FinancialYear | None = None
        self.names: dict[str, str] = {}
        self.types: dict[str, str] = {}
        self.sru: dict[str, str] = {}
        self.balances: dict[str, list[Decimal | None]] = {}
        self.notes: list[sie4.Finding] = []
        # Resolved at the first voucher (or the end).
        self.conn: Connection | None = None
        self.company: CompanyRow | None = None
        self.year_id: int | None = None
        self.year_existed = False
        self.load_id: int | None = None
        self.series: set[str] = set()
        self.occurrences = Occurrences()
        self.counts: dict[str, Any] = {}
        self._ids: list[int] = []
        self._next_sqlite_id = 0
        self._company_id = 0
        self._row_names: dict[str, str] = {}
        self.writer: BackgroundWriter | None = None
        self._id_conn: Connection | None = None
        self._vouchers = self._booked = self._struck = self._history = 0

    # ------------------------------------------------------------------ driver

    def run(self) -> SieLoadResult:
        if not self.dry_run:
            self.load_id = self._start_load()
        self.result.load_id = self.load_id
        try:
            with self.engine.connect() as conn:
                self.conn = conn
                try:
                    with conn.begin():
                        self._read_and_write()
                        self._finish()
                        if self.dry_run:
                            raise _DryRunDone
                except _DryRunDone:
                    self.result.outcome = "dry_run"
            if not self.dry_run:
                self.result.outcome = "loaded"
        except LoadRefused as exc:
            self._failed("refused", str(exc))
        except sie4.SieError as exc:
            self._failed("unreadable", str(exc))
        except BaseException as exc:
            url = self.engine.url.render_as_string(hide_password=False)
            self._failed("failed", mask_secrets(f"{type(exc).__name__}: {exc}", url))
            if not isinstance(exc, Exception):
                raise  # KeyboardInterrupt and friends: recorded, then passed on
        self.result.counts = self.counts
        self.result.company = self.company
        if self.year0 is not None:
            self.result.year = (self.year0.start, self.year0.end)
        return self.result

    def _start_load(self) -> int:
        """Record the attempt first: a crash leaves a `running` load behind, not nothing."""
        with self.engine.begin() as conn:
            return conn.execute(Load.__table__.insert().returning(Load.id), {
                "source": "sie", "started_by": _who(), "status": "running",
                "started_at": dt.datetime.now(dt.timezone.utc),
                "settings": {"file": str(self.path.resolve()), "company": self.company_option,
                             "accept_findings": self.accept_findings},
            }).scalar_one()

    def _failed(self, outcome: str, message: str) -> None:
        """The transaction is gone: note why in `loads` (and `load_years` for a known year)."""
        self._count_rows()
        self.result.outcome = outcome
        self.result.message = message
        if not self.result.findings:
            self.result.findings = self._all_findings()
        if self.dry_run:
            self.result.outcome = "dry_run" if outcome == "refused" else outcome
            self.result.would_refuse = True
            return
        with self.engine.begin() as conn:
            conn.execute(update(Load.__table__).where(Load.__table__.c.id == self.load_id).values(
                status="failed", error=message[:8000], finished_at=dt.datetime.now(dt.timezone.utc),
                counts=self.counts, findings=self._stored_findings(self.result.findings),
                settings=self._settings(),
            ))
            if self.year_existed and self.year_id is not None:
                conn.execute(LoadYear.__table__.insert(), {
                    "load_id": self.load_id, "year_id": self.year_id,
                    "outcome": "refused" if outcome in ("refused", "unreadable") else "failed"})

    # ------------------------------------------------------------ reading

    def _read_and_write(self) -> None:
        """Stream the file; batches of vouchers and rows go to the writer thread."""
        try:
            for record in self.stream:
                if isinstance(record, r.Voucher):
                    if self.year_id is None:
                        self._resolve()
                    self._voucher(record)
                    if len(self.row_writer.rows) >= ROWS_PER_BATCH:
                        self._submit()
                else:
                    self._head(record)
            if self.year_id is None:
                self._resolve()
            self._submit()
            assert self.writer is not None
            self.writer.join()
        finally:
            if self.writer is not None:
                self.writer.close()  # after a failure: stop before the transaction unwinds
            if self._id_conn is not None:
                self._id_conn.close()
        self._count_rows()

    def _submit(self) -> None:
        vouchers, rows = self.voucher_writer.take(), self.row_writer.take()

        def write() -> None:
            self.voucher_writer.write(vouchers)  # before the rows that refer to them
            self.row_writer.write(rows)

        assert self.writer is not None
        self.writer.submit(write)

    def _count_rows(self) -> None:
        self.counts.update(vouchers=self._vouchers, booked_rows=self._booked,
                           struck_rows=self._struck, history_rows=self._history)

    def _head(self, record: r.Record) -> None:
        if isinstance(record, r.AccountBalance):
            if record.year != 0:
                self.counts["other_year_balances"] = self.counts.get("other_year_balances", 0) + 1
                return
            slot = {r.OpeningBalance: 0, r.ClosingBalance: 1, r.YearResult: 2}[type(record)]
            self._money(record.amount, record.line)
            self.balances.setdefault(record.account, [None, None, None])[slot] = record.amount
            self._width("account", record.account, record.line)
        elif isinstance(record, r.Account):
            self._width("account", record.account, record.line)
            self._width("name", record.name, record.line)
            self.names[record.account] = record.name
        elif isinstance(record, r.AccountType):
            self._width("account", record.account, record.line)
            self.types[record.account] = record.type.upper()[:1]
        elif isinstance(record, r.SruCode):
            self._width("account", record.account, record.line)
            self._width("sru", record.code, record.line)
            self.sru[record.account] = record.code
        elif isinstance(record, r.FinancialYear):
            if record.index == 0 and self.year0 is None:
                self.year0 = record
        elif isinstance(record, r.OrgNumber):
            self.orgnr = record.orgnr.strip()
        elif isinstance(record, r.CompanyName):
            self.company_name = record.name.strip()

    def _width(self, what: str, value: str, line: int) -> None:
        if len(value) > WIDTH[what]:
            raise LoadRefused(f"{what} {value[:40]!r} is longer than the ledger's "
                              f"{WIDTH[what]} characters", line)

    def _money(self, amount: Decimal, line: int) -> Any:
        try:
            return self.enc.money(amount)
        except (TypeError, ValueError):
            raise LoadRefused(f"amount {amount} has more than two decimals; the ledger keeps "
                              "exact öre and will not round", line) from None

    # ------------------------------------------------------------ company and year

    def _resolve(self) -> None:
        """Company, year and locks, before the first voucher is written."""
        conn = self.conn
        assert conn is not None
        year0 = self.year0
        if year0 is None:
            raise LoadRefused("the file has no #RAR 0 before its first voucher: the financial "
                              "year it belongs to is unknown")
        self.company = self._company(conn)
        self._company_id = self.company.id
        self._row_names = {a: n for a, n in self.names.items() if n}
        self.year_id = self._year(conn, year0)
        self.voucher_writer = BulkInsert(conn, "vouchers", VOUCHER_COLUMNS, batch=1 << 30)
        self.row_writer = BulkInsert(conn, "voucher_rows", ROW_COLUMNS, batch=1 << 30)
        if self.pg:
            # Ids come from the sequence on a second connection: the load's own connection
            # belongs to the writer thread from here on (nextval is not transactional anyway).
            self._id_conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        else:  # the load holds SQLite's write lock: the next ids are ours
            self._next_sqlite_id = conn.exec_driver_sql(
                "SELECT coalesce(max(id), 0) FROM vouchers").scalar_one()
        self.writer = BackgroundWriter()
        # First job: clear the year (a million old rows take seconds) while parsing goes on.
        self.writer.submit(lambda: self._replace_old_year(conn))

    def _company(self, conn: Connection) -> CompanyRow:
        option = (self.company_option or "").strip()
        file_orgnr = self.orgnr
        if option and not normalize_orgnr(option):
            raise LoadRefused(f"--company {option!r} is not an organisation number")
        wanted = option or file_orgnr
        if not normalize_orgnr(wanted):
            raise LoadRefused("the file has no #ORGNR (or an empty one): say whose books these "
                              "are with --company ORGNR")
        if option and normalize_orgnr(file_orgnr) and \
                normalize_orgnr(file_orgnr) != normalize_orgnr(option):
            self._note(sie4.Severity.WARNING, "company.orgnr_differs", 0,
                       f"the file's #ORGNR is {file_orgnr}; loaded into {option} as --company says")
        found = find_companies(conn, wanted)
        if len(found) > 1:
            ids = ", ".join(f"{c.name or '?'} (tenant {c.tenant_id})" for c in found)
            raise LoadRefused(f"organisation number {wanted} belongs to {len(found)} companies "
                              f"in this ledger: {ids}")
        if found:
            return found[0]
        self._note(sie4.Severity.INFO, "company.created", 0,
                   f"company {wanted} ({self.company_name or 'no #FNAMN'}) is new to the "
                   "ledger: created from the file")
        self.counts["company_created"] = True
        return create_company(conn, wanted, self.company_name)

    def _year(self, conn: Connection, year0: r.FinancialYear) -> int:
        assert self.company is not None
        if year0.end < year0.start:
            raise LoadRefused(f"#RAR 0 ends ({year0.end}) before it starts ({year0.start})",
                              year0.line)
        fy = FinancialYear.__table__
        years = conn.execute(
            select(fy.c.id, fy.c.start_date, fy.c.end_date, fy.c.ledger_source)
            .where(fy.c.company_id == self.company.id)
        ).all()
        for y in years:
            if (y.start_date, y.end_date) == (year0.start, year0.end):
                self.year_existed = True
                self.counts["previous_source"] = y.ledger_source
                if self.pg:
                    conn.execute(select(fy.c.id).where(fy.c.id == y.id).with_for_update())
                return int(y.id)
        for y in years:
            if y.start_date <= year0.end and year0.start <= y.end_date:
                raise LoadRefused(
                    f"#RAR 0 is {year0.start}..{year0.end}, but the ledger's financial year "
                    f"{y.start_date}..{y.end_date} of this company overlaps it", year0.line)
        self.counts["year_created"] = True
        self.counts["previous_source"] = None
        return int(conn.execute(fy.insert().returning(fy.c.id), {
            "company_id": self.company.id, "start_date": year0.start, "end_date": year0.end,
        }).scalar_one())

    def _replace_old_year(self, conn: Connection) -> None:
        """Delete the year's ledger; the new one is written in the same transaction."""
        y = {"y": self.year_id}
        self.counts["replaced_vouchers"] = conn.execute(
            text("SELECT count(*) FROM vouchers WHERE year_id = :y"), y).scalar_one()
        conn.execute(text("DELETE FROM voucher_rows WHERE voucher_id IN"
                          " (SELECT id FROM vouchers WHERE year_id = :y)"), y)
        for table in ("vouchers", "account_balances", "accounts", "voucher_series"):
            conn.execute(text(f"DELETE FROM {table} WHERE year_id = :y"), y)

    # ------------------------------------------------------------ vouchers

    def _voucher_id(self) -> int:
        if not self.pg:
            self._next_sqlite_id += 1
            return self._next_sqlite_id
        if not self._ids:
            assert self._id_conn is not None
            self._ids = [row[0] for row in self._id_conn.exec_driver_sql(
                "SELECT nextval(pg_get_serial_sequence('vouchers', 'id'))"
                " FROM generate_series(1, 10000)")]
            self._ids.reverse()
        return self._ids.pop()

    def _voucher(self, v: r.Voucher) -> None:
        """Queue a voucher and its rows as database tuples (the loader's hot path)."""
        line = v.line
        series, number_text = v.series, v.number
        if len(series) > WIDTH["series"]:
            self._width("series", series, line)
        if len(number_text) > WIDTH["number"]:
            self._width("number", number_text, line)
        number = voucher_number(number_text)
        vid = self._voucher_id()
        sign = v.sign or None
        if sign is not None:
            self._width("signature", sign, line)
        self.series.add(series)
        pg = self.pg
        date, registered = v.date, v.registered
        if not pg:
            date = date.isoformat()
            registered = registered and registered.isoformat()
        self.voucher_writer.rows.append((
            vid, self._company_id, self.year_id, series, number, number_text,
            self.occurrences.next(series, number, number_text), date, v.text or None,
            registered, self.load_id, sign,
        ))
        self._vouchers += 1
        append = self.row_writer.rows.append
        name_of = self._row_names.get
        index = struck = 0
        for row in v.rows:
            kind = row.kind
            if kind is _ADDED:
                self._history += 1
                continue
            amount = row.amount
            scaled = amount.scaleb(2)
            cents = int(scaled)
            if cents != scaled:
                self._money(amount, row.line)  # raises, naming the line
            account = row.account
            if len(account) > 16:
                self._width("account", account, row.line)
            if row.objects:
                cost_center, project, objects = self._objects(row)
            else:
                cost_center = project = objects = None
            q = row.quantity
            if q is not None:
                q = quantity(q)
                if q is not None and not pg:
                    q = str(q)
            day = row.date
            if day is not None and not pg:
                day = day.isoformat()
            row_sign = row.sign or None
            if row_sign is not None and len(row_sign) > 200:
                self._width("signature", row_sign, row.line)
            removed = kind is _REMOVED
            if pg:
                append((vid, index, account, amount if cents > 0 else ZERO,
                        -amount if cents < 0 else ZERO, amount, name_of(account),
                        row.text or None, cost_center, project, q, removed, day, objects,
                        row_sign))
            else:
                append((vid, index, account, cents if cents > 0 else 0,
                        -cents if cents < 0 else 0, cents, name_of(account), row.text or None,
                        cost_center, project, q, 1 if removed else 0, day, objects, row_sign))
            index += 1
            if removed:
                struck += 1
        self._struck += struck
        self._booked += index - struck

    def _objects(self, row: r.VoucherRow) -> tuple[str | None, str | None, str | None]:
        cost_center, project, others = split_objects(row.objects)
        for obj in (cost_center, project):
            if obj is not None and len(obj) > WIDTH["object"]:
                self._width("object", obj, row.line)
        return cost_center, project, self.enc.json(others)

    # ------------------------------------------------------------ the end

    def _finish(self) -> None:
        conn = self.conn
        assert conn is not None
        assert self.stream.report is not None
        if self.progress is not None:
            self.progress.phase("checking and committing")
        self._write_chart(conn)
        findings = self._all_findings()
        self.result.findings = findings
        errors = [f for f in findings if f.severity is sie4.Severity.ERROR]
        self.counts["findings"] = {s.value: sum(f.severity is s for f in findings)
                                   for s in sie4.Severity}
        if errors and not self.accept_findings:
            raise LoadRefused(f"{len(errors)} error-level finding(s) in the file (first: line "
                              f"{errors[0].line}: {errors[0].message}); load it anyway with "
                              "--accept-findings")
        self._count_documents(conn)
        now = dt.datetime.now(dt.timezone.utc)
        fy = FinancialYear.__table__
        conn.execute(update(fy).where(fy.c.id == self.year_id).values(
            ledger_source="sie", ledger_load_id=self.load_id, ledger_updated_at=now))
        if self.load_id is not None:
            ly = LoadYear.__table__
            conn.execute(delete(ly).where(ly.c.load_id == self.load_id))
            conn.execute(ly.insert(), {"load_id": self.load_id, "year_id": self.year_id,
                                       "outcome": "applied"})
            conn.execute(update(Load.__table__).where(Load.__table__.c.id == self.load_id).values(
                status="succeeded", finished_at=now, counts=self.counts,
                findings=self._stored_findings(findings), settings=self._settings(),
                error=None,
            ))

    def _write_chart(self, conn: Connection) -> None:
        enc = self.enc
        accounts = BulkInsert(conn, "accounts",
                              ("year_id", "number", "description", "sru", "account_type"))
        for number in sorted(self.names.keys() | self.types.keys() | self.sru.keys()):
            accounts.add((self.year_id, number, self.names.get(number) or None,
                          self.sru.get(number), self.types.get(number)))
        accounts.flush()
        balances = BulkInsert(conn, "account_balances",
                              ("year_id", "account", "opening", "closing", "result"))
        for account, values in sorted(self.balances.items()):
            balances.add((self.year_id, account,
                          *(None if v is None else enc.money(v) for v in values)))
        balances.flush()
        series = BulkInsert(conn, "voucher_series", ("year_id", "code"))
        for code in sorted(self.series):
            series.add((self.year_id, code))
        series.flush()
        self.counts.update(accounts=accounts.written, balances=balances.written,
                           series=series.written)

    def _count_documents(self, conn: Connection) -> None:
        """Documents of the year and how many find a voucher in the new ledger."""
        row = conn.execute(text(
            "SELECT count(DISTINCT l.document_id), count(DISTINCT CASE WHEN EXISTS ("
            "SELECT 1 FROM vouchers v WHERE v.year_id = l.year_id AND v.series = l.series"
            " AND v.number = l.number) THEN l.document_id END)"
            " FROM document_links l WHERE l.year_id = :y"), {"y": self.year_id}).one()
        self.counts["documents"] = int(row[0])
        self.counts["documents_linked"] = int(row[1])

    # ------------------------------------------------------------ findings

    def _note(self, severity: sie4.Severity, code: str, line: int, message: str) -> None:
        self.notes.append(sie4.Finding(severity, code, line, message))

    def _all_findings(self) -> list[sie4.Finding]:
        report = self.stream.report
        found = list(report.findings) if report is not None else []
        return sorted(found + self.notes, key=lambda f: f.line)

    @staticmethod
    def _stored_findings(findings: list[sie4.Finding]) -> list[dict[str, Any]]:
        """Errors first, then warnings, then notes; at most MAX_STORED_FINDINGS of them."""
        order = {sie4.Severity.ERROR: 0, sie4.Severity.WARNING: 1, sie4.Severity.INFO: 2}
        ranked = sorted(findings, key=lambda f: (order[f.severity], f.line))
        return [f.as_dict() for f in ranked[:MAX_STORED_FINDINGS]]

    def _settings(self) -> dict[str, Any]:
        report = self.stream.report
        settings: dict[str, Any] = {
            "file": str(self.path.resolve()), "company": self.company_option,
            "accept_findings": self.accept_findings, "orgnr": self.orgnr,
        }
        if report is not None:  # read to the end: the hash is the whole file's
            settings.update(bytes=self.stream.bytes_read, sha256=self.stream.sha256.hexdigest(),
                            program=report.program, ksumma=report.ksumma,
                            encoding=report.encoding, kind=self.stream.kind)
        return settings
