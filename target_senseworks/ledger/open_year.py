"""PostgreSQL: write an empty financial year into the ledger while it streams, uncommitted.

The portable path stages a whole year and applies it when the year's snapshot
arrives: for a million rows that is about 12 s of server work (inserts, index and
foreign-key checks) begun only after the reading is done.  On PostgreSQL a year that
holds no vouchers yet (a first load, the big one) is instead *opened*: its
transaction begins at its first staged chunk, and each chunk of complete vouchers is
copied from staging into the ledger tables inside it, on a background thread, while
the next chunk is read.  The server works on one core while Python reads on the
other.  The snapshot then deletes what it does not cover and commits.  Nothing is
committed before the snapshot, so readers still see the year before or after, and a
killed run leaves the year as it was.

Chunks never look vouchers up in the ledger (the planner has no statistics for rows
this transaction wrote, and a lookup plan chosen on none turns quadratic).  Each
staged voucher gets its ledger id when it is staged; the loader tracks, in Python,
which staged vouchers were written and have since been re-sent (`gone`) or received
rows late (`again`), and those are removed by id.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, RootTransaction, text


@dataclass(slots=True)
class OpenYear:
    """The year whose transaction is open on the loader's connection.

    `written_to` and the three lists belong to the loader's thread; the counts are
    updated by the chunk in flight and read only after waiting for it.
    """

    key: tuple[int, int]  # (tenant id, Fortnox year id)
    params: dict[str, Any]  # t, fy, y (ledger year id), c (company id), load
    transaction: RootTransaction
    counts_before: Counter[str]  # restored if the year is rolled back
    written_to: int = 0  # staged vouchers up to this seq have been handed to a chunk
    gone: list[int] = field(default_factory=list)  # written, then re-sent or late rows
    again: list[int] = field(default_factory=list)  # written, got late rows: write anew
    unhashed: list[int] = field(default_factory=list)  # rows apart from it: no fingerprint
    inserted: int = 0  # vouchers of this run in the year's ledger (net)
    rows: int = 0


@dataclass(frozen=True, slots=True)
class Chunk:
    """What one chunk writes: staged seqs in (lo, hi] but `skip`, plus `again`."""

    lo: int
    hi: int
    skip: list[int]  # superseded before they were written
    gone: list[int]
    again: list[int]
    unhashed: list[int]


def apply_chunk(conn: Connection, year: OpenYear, chunk: Chunk) -> None:
    """Copy one chunk of the open year's staged vouchers and rows into the ledger."""
    x = conn.execute
    p = {**year.params, "lo": chunk.lo, "hi": chunk.hi, "skip": chunk.skip,
         "gone": chunk.gone, "again": chunk.again, "unhashed": chunk.unhashed}
    if chunk.unhashed:
        x(text("UPDATE stg_vouchers SET content_hash = NULL WHERE seq = ANY(:unhashed)"), p)
    if chunk.gone:
        ids = "SELECT ledger_id FROM stg_vouchers WHERE seq = ANY(:gone)"
        year.rows -= x(text(f"DELETE FROM voucher_rows WHERE voucher_id IN ({ids})"), p).rowcount
        year.inserted -= x(text(f"DELETE FROM vouchers WHERE id IN ({ids})"), p).rowcount
    # OFFSET 0 keeps the seq range (the primary key) as the way in; left to itself the
    # planner may prefer the year index and rescan the year's staged vouchers per chunk.
    span = "seq > :lo AND seq <= :hi" + (" OR seq = ANY(:again)" if chunk.again else "")
    picked = f"(SELECT * FROM stg_vouchers WHERE {span} OFFSET 0) s"
    wanted = "s.tenant_id = :t AND s.fy_id = :fy AND s.seq <> ALL(:skip)"
    # One statement, one round trip: the rows' foreign-key checks run at its end, when
    # their vouchers (inserted by the WITH part) are there.
    inserted, rows = x(text(
        "WITH v AS (INSERT INTO vouchers (id, company_id, year_id, series, number,"
        " number_text, transaction_date, description, comments, reference_type,"
        " reference_number, approval_state, registration_date, content_hash, load_id)"
        " SELECT s.ledger_id, :c, :y, s.series, s.number, CAST(s.number AS TEXT),"
        " s.transaction_date, s.description, s.comments, s.reference_type,"
        " s.reference_number, s.approval_state, s.registration_date, s.content_hash, :load"
        f" FROM {picked} WHERE {wanted} RETURNING 1),"
        " r AS (INSERT INTO voucher_rows (voucher_id, row_index, account, debit, credit,"
        " amount, description, transaction_information, cost_center, project, quantity,"
        " removed) SELECT s.ledger_id, r.row_index, r.account, r.debit, r.credit, r.amount,"
        " r.description, r.transaction_information, r.cost_center, r.project, r.quantity,"
        f" r.removed FROM {picked} JOIN stg_rows r ON r.voucher_seq = s.seq WHERE {wanted}"
        " RETURNING 1) SELECT (SELECT count(*) FROM v), (SELECT count(*) FROM r)"
    ), p).one()
    year.inserted += inserted
    year.rows += rows

