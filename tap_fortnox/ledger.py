"""One financial year's ledger extraction, planned once per run and shared by the ledger streams.

The plan decides, from the year's bookmark (kept in the STATE of `voucher_snapshots`):

- no bookmark: *full*. Every voucher is sent (`all_vouchers_sent: true`).
- a bookmark: two cheap probes. `GET /3/vouchers?lastmodified=<previous cut-off>` lists
  what changed; `GET /3/vouchers?limit=1` gives Fortnox's count. The count against the
  bookmarked key set plus the changes reveals deletions (the last voucher of a series can
  disappear without a trace).  Nothing changed and the count agrees: *unchanged*, no
  more voucher requests.  Otherwise *changed*: only the changed vouchers are sent.

The cut-off is Fortnox's own clock (the `Date` header) at the run's first request for
the year, so the tap's clock never matters.  `lastmodified` is Stockholm wall time with
minute precision, so consecutive runs overlap by up to a minute; a voucher seen again in
that overlap is compared with the fingerprint the previous run kept and is not re-sent
unless it changed.  Rows come from one SIE export per year (`sie`) or one detail GET per
voucher through the worker pool (`rest`); both give the same records.

While one year is written, the next one is read ahead on a worker thread
(read_ahead.py): its plan, accounts, series, SIE export and voucher list.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import closing
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import requests

from . import keyset
from .connection import server_time
from .errors import FortnoxAPIError
from .keyset import VoucherKey
from .ledger_records import Record, digest, rest_rows, voucher_record
from .read_ahead import MISSING, Listing, Parts, ReadAhead, Step
from .sie_rows import SieBroken, sie_vouchers
from .years import STOCKHOLM

if TYPE_CHECKING:
    from .connection import FortnoxConnection, Page

logger = logging.getLogger("tap_fortnox")

FULL, CHANGED, UNCHANGED = "full", "changed", "unchanged"
VOUCHER_DETAIL = "/3/vouchers/{series}/{number}"
SIE_ENDPOINT = "/3/sie/{type}"
SIE_TRIES = 2
#: Fingerprints kept for the next run's overlap; beyond this many, re-sending is cheaper.
MAX_RECENT = 2000
#: A progress line every this many vouchers of a year.
PROGRESS_EVERY = 2000
#: Without a Date header, our own clock minus this margin stands in for Fortnox's.
CLOCK_MARGIN = timedelta(minutes=5)
_LIST_FIELDS = ("TransactionDate", "Description", "Comments", "ReferenceType", "ReferenceNumber",
                "ApprovalState")
#: A read-ahead SIE export stays in memory up to this size, then goes to a temporary file.
SIE_SPOOL_BYTES = 8 << 20
#: Vouchers of a list read ahead that may wait for the main thread (about 200 bytes each).
LIST_AHEAD = 20_000
SIE_CHUNK = 1 << 16
# The parts of a year that are read ahead, in the order they are read.
PLAN, ACCOUNTS, SERIES, SIE, LIST, OVERLAP = ("plan", "accounts", "voucher series", "SIE export",
                                              "voucher list", "overlap")


def lastmodified_text(instant: datetime) -> str:
    """`instant` as Fortnox's `lastmodified` wants it: Stockholm wall time, floored to the minute.

    On the autumn DST change the wall hour 02:00-02:59 happens twice.  If the instant is
    in its first pass, Fortnox might read the text as the second (an hour later) and
    skip that hour's changes, so the text steps back to the last minute before the
    repeated hour; in the second pass either reading is early enough.
    """
    local = instant.astimezone(STOCKHOLM)
    wall = local.replace(second=0, microsecond=0, tzinfo=None, fold=0)
    if local.fold == 0:
        while _ambiguous(wall):
            wall -= timedelta(minutes=1)
    return wall.strftime("%Y-%m-%d %H:%M")


def _ambiguous(wall: datetime) -> bool:
    early, late = wall.replace(tzinfo=STOCKHOLM, fold=0), wall.replace(tzinfo=STOCKHOLM, fold=1)
    return early.utcoffset() != late.utcoffset()


def _key_text(key: VoucherKey) -> str:
    return f"{key[0]}:{key[1]}"


def _item_key(item: Mapping[str, Any]) -> VoucherKey:
    return (str(item["VoucherSeries"]), int(item["VoucherNumber"]))


class YearExtraction:
    """Everything one run reads for one financial year, in as few requests as it can."""

    def __init__(self, connection: FortnoxConnection, tenant_id: int, year: Mapping[str, Any], *,
                 mode: str, bookmark: Mapping[str, Any] | None) -> None:
        self.connection = connection
        self.tenant_id = tenant_id
        self.year_id = int(year["Id"])
        self.from_date = date.fromisoformat(str(year["FromDate"]))
        self.to_date = date.fromisoformat(str(year["ToDate"]))
        self.mode = mode
        self.bookmark = bookmark if bookmark and bookmark.get("tenant_id") == tenant_id else None
        self.status: str | None = None
        self.cutoff: datetime | None = None  # Fortnox's clock at our first request for the year
        self.changed: dict[VoucherKey, Record] = {}
        self.keys: set[VoucherKey] | None = None  # the year's voucher keys once known
        self.emitted: set[VoucherKey] = set()
        self.recent: dict[str, str] = {}
        self.complete = False  # every voucher to send was handed to the SDK
        self.stash: dict[VoucherKey, list[Record]] = {}  # rows waiting for the child stream
        self.sent_vouchers = 0
        self.sent_rows = 0
        self.listing: Listing | None = None  # the voucher list of a full read
        self.ahead: Parts | None = None  # what the read-ahead worker hands over
        self._read_ahead: ReadAhead | None = None
        self.opened = False  # the main thread has started on this year

    @property
    def label(self) -> str:
        return f"financial year {self.from_date}..{self.to_date} (id {self.year_id})"

    # --- the plan ---------------------------------------------------------------------

    @property
    def previous_cutoff(self) -> str | None:
        if self.bookmark is None:
            return None
        return lastmodified_text(datetime.fromisoformat(self.bookmark["cutoff"]))

    def read_ahead(self, worker: ReadAhead, streams: set[str]) -> None:
        """Queue on the worker, once, what the selected `streams` will need of this year;
        `plan` and the readers below take what it hands over."""
        if self.ahead is not None:
            return
        self.ahead, self._read_ahead = Parts(), worker
        steps = [Step(PLAN, self._make_plan)]
        if "accounts" in streams:
            steps.append(Step(ACCOUNTS, self._read_accounts))
        if "voucher_series" in streams:
            steps.append(Step(SERIES, self._read_voucher_series))
        # rest mode's work is the detail requests, which go through the worker pool
        export = self.mode == "sie" and bool(streams & {"vouchers", "voucher_rows",
                                                         "voucher_snapshots"})
        if export:
            steps.append(Step(SIE, self._download_sie, keep_going=True))
        if streams & {"vouchers", "voucher_rows"}:  # known before the vouchers are, only the
            steps.append(Step(OVERLAP, self._read_overlap_ahead))  # overlap is fingerprinted
        if export:
            steps.append(Step(LIST, self._read_listing_ahead))
        worker.schedule(self.ahead, steps)

    def _ahead(self, part: str, *, once: bool = False) -> object:
        """A part from the read-ahead worker (waiting for it), its error, or MISSING."""
        return MISSING if self.ahead is None else self.ahead.take(part, once=once)

    def plan(self) -> str:
        if self.status is None:
            self._ahead(PLAN)  # the worker's plan, or its error raised here
        if self.status is None:
            self._make_plan()
        assert self.status is not None
        return self.status

    def _make_plan(self) -> str:
        if self.status is not None:
            return self.status
        if self.bookmark is None:
            self.status = FULL
            return self.status
        for page in self._pages("/3/vouchers", "Vouchers", lastmodified=self.previous_cutoff):
            for item in page.items:
                self.changed[_item_key(item)] = voucher_record(self.tenant_id, self.year_id, item)
        total = next(self._pages("/3/vouchers", "Vouchers", limit=1)).total
        stored = keyset.from_ranges(self.bookmark.get("series", {}))
        expected = stored | set(self.changed)
        if total is None or total > len(expected):
            # Fortnox counts vouchers that neither the bookmark nor the changes explain:
            # never guess, read the year again.
            logger.warning("financial year %s: Fortnox counts %s vouchers, the bookmark and the "
                           "changes explain %d; reading the year in full", self.year_id, total,
                           len(expected))
            self.status = FULL
            self.changed.clear()
        elif not self.changed and total == len(stored):
            self.status, self.keys = UNCHANGED, stored
        else:
            self.status = CHANGED
            self.keys = expected if total == len(expected) else None  # None: deletions
        logger.info("%s: %s (%d changed vouchers, %s in Fortnox)", self.label,
                    self.status, len(self.changed), total)
        return self.status

    # --- accounts and series -----------------------------------------------------------

    def accounts(self) -> list[dict[str, Any]]:
        """The chart: in full when the year changed, else only what changed since the cut-off."""
        items = self._ahead(ACCOUNTS)
        return self._read_accounts() if items is MISSING else items  # type: ignore[return-value]

    def voucher_series(self) -> list[dict[str, Any]]:
        items = self._ahead(SERIES)
        return self._read_voucher_series() if items is MISSING else items  # type: ignore[return-value]

    def _read_accounts(self) -> list[dict[str, Any]]:
        since = self.previous_cutoff if self.plan() == UNCHANGED else None
        return [item for page in self._pages("/3/accounts", "Accounts", lastmodified=since)
                for item in page.items]

    def _read_voucher_series(self) -> list[dict[str, Any]]:
        if self.plan() == UNCHANGED:
            return []
        return [item for page in self._pages("/3/voucherseries", "VoucherSeriesCollection")
                for item in page.items]

    # --- vouchers ------------------------------------------------------------------------

    def vouchers(self) -> Iterator[tuple[Record, list[Record]]]:
        """Each voucher to send with its rows, once per run, then `complete` is set."""
        # A full read keeps fingerprints only of what the next run's overlap lists again;
        # known up front when read ahead, else found out at the end.
        again = self._ahead(OVERLAP) if self.plan() == FULL else None
        again = None if again is MISSING else again
        for key, voucher, rows in self._sources():
            if key in self.emitted:
                continue
            self.emitted.add(key)
            text = _key_text(key)
            if again is None or text in again:  # type: ignore[operator]
                fingerprint = digest(voucher, rows)
                self.recent[text] = fingerprint
                if (self.status == CHANGED and self.bookmark
                        and self.bookmark.get("recent", {}).get(text) == fingerprint):
                    continue  # seen by the previous run in the overlap, and unchanged since
            yield voucher, rows
            self.sent_vouchers += 1
            self.sent_rows += len(rows)
            if self.sent_vouchers % PROGRESS_EVERY == 0:
                expected = (len(self.changed) if self.status == CHANGED
                            else self.listing.total if self.listing else None)
                of = f" of {expected}" if expected else ""
                logger.info("%s: %d%s vouchers sent, %d rows", self.label, self.sent_vouchers, of,
                            self.sent_rows)
        if self.status == FULL and again is None:
            again = self._read_overlap()
            self.recent = {k: v for k, v in self.recent.items() if k in again}
        self.complete = True
        self.listing = None  # the year is done: its list need not stay in memory
        if self.ahead is not None:
            self.ahead.discard(LIST)

    def _read_overlap(self) -> set[str]:
        """The vouchers that `lastmodified=<this run's cut-off>` lists (usually none).

        When this is asked does not matter for correctness: a voucher changed after it
        only loses its fingerprint, and the next run sends it again."""
        assert self.cutoff is not None
        return {_key_text(_item_key(item))
                for page in self._pages("/3/vouchers", "Vouchers",
                                        lastmodified=lastmodified_text(self.cutoff))
                for item in page.items}

    def _read_overlap_ahead(self) -> set[str] | None:
        """Worker: the probe, when the year is read in full and its cut-off is known (no
        request of the year has answered yet, or its SIE export failed: probed at the end)."""
        return self._read_overlap() if self.status == FULL and self.cutoff is not None else None

    def ensure_keys(self) -> set[VoucherKey]:
        """The year's key set, reading what is needed if the vouchers were not all read."""
        if self.keys is None:
            self.plan()
            for _ in self._sources():
                pass
        assert self.keys is not None
        return self.keys

    def _sources(self) -> Iterator[tuple[VoucherKey, Record, list[Record]]]:
        if self.plan() == UNCHANGED:
            return
        if self.mode == "sie":
            try:
                yield from self._from_sie()
                return
            except SieBroken as e:
                logger.warning("financial year %s: the SIE export stays broken (%s); reading the "
                               "vouchers one by one instead", self.year_id, e)
        yield from self._from_rest()

    def _from_sie(self) -> Iterator[tuple[VoucherKey, Record, list[Record]]]:
        # A full read takes what SIE lacks from the voucher list, compact to keep memory flat.
        listing = self._listing() if self.status == FULL else None
        try:
            yield from self._join_sie(listing)
        finally:
            if listing is not None:
                listing.release()  # keys the export did not take must not hold the filler

    def _join_sie(self, listing: Listing | None) -> Iterator[tuple[VoucherKey, Record, list[Record]]]:
        for attempt in range(1, SIE_TRIES + 1):
            seen: set[VoucherKey] = set()
            try:
                for sv in self._sie_export(first=attempt == 1):
                    seen.add(sv.key)
                    if sv.key in self.emitted:
                        continue  # sent before a broken export was asked for again
                    if listing is not None:
                        fields = listing.take(sv.key)
                        base = (voucher_record(self.tenant_id, self.year_id,
                                               {"VoucherSeries": sv.series, "VoucherNumber": sv.number,
                                                **dict(zip(_LIST_FIELDS, fields, strict=True))})
                                if fields is not None else self._detail_record(sv.key))
                        if base is None:
                            continue
                    elif sv.key in self.changed:
                        base = self.changed[sv.key]
                    else:
                        continue
                    yield sv.key, {**base, "registration_date": sv.registration_date}, sv.rows
            except (SieBroken, requests.RequestException) as e:
                if attempt == SIE_TRIES:
                    raise SieBroken(str(e)) from None
                logger.warning("financial year %s: %s; asking for the SIE export again",
                               self.year_id, e)
                continue
            self.keys = seen
            return

    def _listing(self) -> Listing:
        """The year's voucher list: as the read-ahead worker fills it, or read here."""
        listing = self._ahead(LIST)
        if listing is MISSING or listing is None:
            listing = Listing()
            listing.fill(self._list_pages())
        self.listing = listing  # type: ignore[assignment]
        return listing  # type: ignore[return-value]

    def _list_pages(self) -> Iterator[tuple[dict[VoucherKey, tuple[Any, ...]], int | None, bool]]:
        for page in self._pages("/3/vouchers", "Vouchers"):
            yield ({_item_key(item): tuple(item.get(f) for f in _LIST_FIELDS)
                    for item in page.items}, page.total, page.last)

    def _read_listing_ahead(self) -> Listing | None:
        if self.status != FULL:
            return None
        listing = Listing(capacity=LIST_AHEAD)
        assert self.ahead is not None
        assert self._read_ahead is not None
        self.ahead.put(LIST, listing)  # the main thread may start on it at once
        listing.fill(self._list_pages(), stop=self._read_ahead.check)
        return listing

    def _sie_export(self, *, first: bool) -> Iterator[Any]:
        """The export's vouchers: the first try takes the body the worker read ahead."""
        body = self._ahead(SIE, once=True) if first else MISSING
        if body is MISSING or body is None:
            response = self._request_sie()
            with closing(response):
                yield from sie_vouchers(response.iter_content(SIE_CHUNK), from_date=self.from_date,
                                        to_date=self.to_date)
            return
        with body:  # type: ignore[attr-defined]
            body.seek(0)  # type: ignore[attr-defined]
            chunks = iter(lambda: body.read(SIE_CHUNK), b"")  # type: ignore[attr-defined]
            yield from sie_vouchers(chunks, from_date=self.from_date, to_date=self.to_date)

    def _request_sie(self) -> requests.Response:
        response = self.connection.request("GET", "/3/sie/4", {"financialyear": self.year_id},
                                           endpoint=SIE_ENDPOINT, stream=True, accept="*/*")
        self._clock(server_time(response))
        return response

    def _download_sie(self) -> Any:
        """Worker: the whole export into a spooled file, before the year is written."""
        if self.plan() == UNCHANGED:
            return None
        spool = tempfile.SpooledTemporaryFile(SIE_SPOOL_BYTES)  # noqa: SIM115  # handed over
        try:
            with closing(self._request_sie()) as response:
                for chunk in response.iter_content(SIE_CHUNK):
                    spool.write(chunk)
        except BaseException:
            spool.close()
            raise
        return spool

    def _from_rest(self) -> Iterator[tuple[VoucherKey, Record, list[Record]]]:
        if self.status == FULL:
            keys: Iterator[VoucherKey] = (
                _item_key(item) for page in self._pages("/3/vouchers", "Vouchers")
                for item in page.items)
        else:
            keys = iter(sorted(self.changed))
        found: set[VoucherKey] = set()
        gone: set[VoucherKey] = set()

        def wanted(keys: Iterator[VoucherKey]) -> Iterator[VoucherKey]:
            for key in keys:
                if key in self.emitted:  # sent from a broken SIE export before it broke
                    found.add(key)
                else:
                    yield key

        with self.connection.parallel(self._detail, wanted(keys)) as details:
            for key, detail in details:
                if detail is None:
                    gone.add(key)  # deleted between the list and its detail
                    continue
                found.add(key)
                yield key, voucher_record(self.tenant_id, self.year_id, detail), rest_rows(detail)
        if self.status == FULL:
            self.keys = found
        elif self.keys is not None:
            self.keys = self.keys - gone
        else:  # deletions: the list (no details) gives the exact key set
            self.keys = {_item_key(item) for page in self._pages("/3/vouchers", "Vouchers")
                         for item in page.items}

    def _detail(self, key: VoucherKey) -> tuple[VoucherKey, dict[str, Any] | None]:
        try:
            body = self.connection.get_json(
                f"/3/vouchers/{quote(key[0], safe='')}/{key[1]}", {"financialyear": self.year_id},
                endpoint=VOUCHER_DETAIL)
        except FortnoxAPIError as e:
            if e.status == 404:
                return key, None
            raise
        voucher = body.get("Voucher")
        if not isinstance(voucher, dict):
            raise FortnoxAPIError(f"GET /3/vouchers/{key[0]}/{key[1]}: the answer has no Voucher")
        return key, voucher

    def _detail_record(self, key: VoucherKey) -> Record | None:
        """List fields of a voucher the list did not have yet (booked between list and SIE)."""
        _, detail = self._detail(key)
        return voucher_record(self.tenant_id, self.year_id, detail) if detail else None

    # --- snapshot and bookmark -------------------------------------------------------------

    def snapshot(self, extracted_at: datetime) -> Record:
        ranges = keyset.to_ranges(self.ensure_keys())
        return {
            "tenant_id": self.tenant_id,
            "financial_year_id": self.year_id,
            "voucher_count": keyset.count(ranges),
            "series": keyset.as_records(ranges),
            "all_vouchers_sent": self.status == FULL,
            "extracted_at": extracted_at.isoformat(),
        }

    def new_bookmark(self) -> dict[str, Any] | None:
        """The bookmark after this run, or None when not every voucher was sent."""
        if not self.complete or self.keys is None or self.cutoff is None:
            return None
        ranges = keyset.to_ranges(self.keys)
        return {
            "tenant_id": self.tenant_id,
            "cutoff": self.cutoff.isoformat(),
            "voucher_count": keyset.count(ranges),
            "series": ranges,
            "recent": self.recent if len(self.recent) <= MAX_RECENT else {},
            "mode": self.mode,
        }

    # --- requests ----------------------------------------------------------------------------

    def _pages(self, path: str, root: str, *, lastmodified: str | None = None,
               limit: int | None = None) -> Iterator[Page]:
        params: dict[str, Any] = {"financialyear": self.year_id}
        if lastmodified:
            params["lastmodified"] = lastmodified
        kwargs = {"limit": limit} if limit else {}
        for page in self.connection.pages(path, root, params, **kwargs):
            self._clock(page.server_time)
            yield page
            if self._read_ahead is not None:
                self._read_ahead.check()  # a run that is ending asks for no more pages

    def _clock(self, when: datetime | None) -> None:
        if self.cutoff is None:
            self.cutoff = when or datetime.now(timezone.utc) - CLOCK_MARGIN


class Ledger:
    """The run's ledger plan: the selected years, and one `YearExtraction` per year."""

    def __init__(self, connection: FortnoxConnection, tenant_id: int,
                 years: list[Mapping[str, Any]], *, mode: str, state: Mapping[str, Any],
                 bookmark_stream: str, bookmark_key: str, streams: set[str]) -> None:
        self.connection = connection
        self.tenant_id = tenant_id
        self.years = years
        self.mode = mode
        self._bookmarks = self._read_bookmarks(state, bookmark_stream, bookmark_key)
        self._years: dict[int, YearExtraction] = {}
        self._worker = ReadAhead()
        self._streams = streams  # the selected streams: what is worth reading ahead

    @property
    def totals(self) -> tuple[int, int, int]:
        """Years read, vouchers and rows sent so far in this run."""
        years = [y for y in self._years.values() if y.opened]
        return (len(years), sum(y.sent_vouchers for y in years), sum(y.sent_rows for y in years))

    def partitions(self) -> list[dict[str, Any]]:
        return [{"tenant_id": self.tenant_id, "financial_year_id": int(y["Id"])} for y in self.years]

    def year(self, year_id: int) -> YearExtraction:
        """The year's extraction; the first time, the year after it starts reading ahead."""
        extraction = self._years.get(year_id) or self._extraction(year_id)
        if not extraction.opened:
            extraction.opened = True
            extraction.read_ahead(self._worker, self._streams)
            ids = [int(y["Id"]) for y in self.years]
            following = ids[ids.index(year_id) + 1:]
            if following:
                self._extraction(following[0]).read_ahead(self._worker, self._streams)
        return extraction

    def _extraction(self, year_id: int) -> YearExtraction:
        if year_id not in self._years:
            year = next((y for y in self.years if int(y["Id"]) == year_id), None)
            if year is None:
                raise ValueError(f"financial year {year_id} is not selected for this run")
            self._years[year_id] = YearExtraction(self.connection, self.tenant_id, year,
                                                  mode=self.mode,
                                                  bookmark=self._bookmarks.get(year_id))
        return self._years[year_id]

    def close(self) -> None:
        """Stop reading ahead: no new request; the one in flight, if any, completes."""
        self._worker.close()

    def _read_bookmarks(self, state: Mapping[str, Any], stream: str,
                        key: str) -> dict[int, Mapping[str, Any]]:
        out: dict[int, Mapping[str, Any]] = {}
        partitions = ((state.get("bookmarks") or {}).get(stream) or {}).get("partitions") or []
        for partition in partitions:
            context, bookmark = partition.get("context") or {}, partition.get(key)
            if bookmark and context.get("tenant_id") == self.tenant_id:
                out[int(context["financial_year_id"])] = bookmark
        return out
