"""Bulk inserts inside the caller's transaction: COPY on PostgreSQL, executemany on SQLite.

Rows arrive as tuples already in the database's own representation (see
`Encoder`), so the hot path is one tuple per row and nothing per column.
`BackgroundWriter` writes batches on another thread while the caller parses the
next ones: the database's own work (index and foreign-key checks in the server
process, SQLite's B-tree work without the GIL) then overlaps the parsing.
"""

from __future__ import annotations

import datetime as dt
import json
import queue
import threading
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection

from .models import to_cents


class Encoder:
    """Values as the database stores them: SQLite keeps öre, ISO dates, text decimals."""

    def __init__(self, dialect: str) -> None:
        self.pg = dialect == "postgresql"

    def money(self, value: Decimal) -> Any:
        """Integer öre on SQLite, the Decimal on PostgreSQL; more than two decimals raise."""
        cents = to_cents(value)
        return value if self.pg else cents

    def date(self, value: dt.date | None) -> Any:
        """Dates as ISO text on SQLite (what SQLAlchemy's Date stores there)."""
        if value is None or self.pg:
            return value
        return value.isoformat()

    def decimal(self, value: Decimal | None) -> Any:
        """Quantities: text on SQLite, so that no digit is lost."""
        if value is None or self.pg:
            return value
        return str(value)

    def flag(self, value: bool) -> Any:
        """Booleans as 0/1 on SQLite."""
        return value if self.pg else int(value)

    def json(self, value: Any) -> Any:
        """JSON as text (COPY parses it into jsonb)."""
        return None if value is None else json.dumps(value, ensure_ascii=False)


class BulkInsert:
    """Buffer rows for one table and write them in batches on `conn`."""

    def __init__(self, conn: Connection, table: str, columns: Sequence[str],
                 batch: int = 20_000) -> None:
        self.conn = conn
        self.table = table
        self.columns = tuple(columns)
        self.batch = batch
        self.rows: list[tuple[Any, ...]] = []
        self.written = 0
        self.pg = conn.dialect.name == "postgresql"
        names = ", ".join(self.columns)
        if self.pg:
            self._sql = f"COPY {table} ({names}) FROM STDIN"
        else:
            marks = ", ".join("?" for _ in self.columns)
            self._sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"

    def add(self, row: tuple[Any, ...]) -> None:
        """Queue one row; writes a batch when the buffer is full."""
        self.rows.append(row)
        if len(self.rows) >= self.batch:
            self.flush()

    def take(self) -> list[tuple[Any, ...]]:
        """Hand over the buffered rows (to write elsewhere) and start a new buffer."""
        rows, self.rows = self.rows, []
        return rows

    def flush(self) -> None:
        """Write what is buffered (still inside the caller's transaction)."""
        self.write(self.take())

    def write(self, rows: list[tuple[Any, ...]]) -> None:
        """Write `rows` now, on the caller's thread."""
        if not rows:
            return
        raw = self.conn.connection.driver_connection
        if self.pg:
            with raw.cursor() as cur, cur.copy(self._sql) as copy:  # type: ignore[union-attr]
                for row in rows:
                    copy.write_row(row)
        else:
            cur = raw.cursor()  # type: ignore[union-attr]
            try:
                cur.executemany(self._sql, rows)
            finally:
                cur.close()
        self.written += len(rows)


class BackgroundWriter:
    """Runs write jobs in order on one thread; at most `depth` wait, so memory stays bounded.

    The caller must not use the connection itself until `wait`, `join` or `close`
    returns.  The first error stops the writing and is raised on the caller's thread.
    """

    def __init__(self, depth: int = 2) -> None:
        self._jobs: queue.Queue[Callable[[], None] | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._cancelled = False
        self._thread = threading.Thread(target=self._run, name="senseworks-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                if job is None:
                    return
                if self._error is None and not self._cancelled:
                    try:
                        job()
                    except BaseException as exc:  # handed to the caller's thread
                        self._error = exc
            finally:
                self._jobs.task_done()

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def submit(self, job: Callable[[], None]) -> None:
        """Queue a job (waits while `depth` jobs are queued); raises an earlier job's error."""
        self._raise()
        self._jobs.put(job)

    def wait(self) -> None:
        """Wait until every queued job ran, keeping the thread for more; raise the first error."""
        self._jobs.join()
        self._raise()

    def join(self) -> None:
        """Wait until every job ran; raise the first error."""
        if self._thread.is_alive():
            self._jobs.put(None)
            self._thread.join()
        self._raise()

    def close(self) -> None:
        """On the way out after a failure: skip what is queued, wait for the job in hand."""
        if self._thread.is_alive():
            self._cancelled = True
            self._jobs.put(None)
            self._thread.join()
