"""Reading the next financial year ahead: the hand-over between the worker and the main thread."""

from __future__ import annotations

import contextlib
import io
import json
import threading
import time
from typing import Any

import pytest

from tap_fortnox.errors import FortnoxAPIError
from tap_fortnox.read_ahead import MISSING, Listing, Parts, ReadAhead, Step, Stopped
from tap_fortnox.tap import TapFortnox

from .conftest import service_config


def _later(seconds: float, fn: Any, *args: Any) -> threading.Thread:
    thread = threading.Thread(target=lambda: (time.sleep(seconds), fn(*args)))
    thread.start()
    return thread


def test_a_part_is_waited_for_and_its_error_is_raised_where_it_is_needed() -> None:
    parts = Parts()
    _later(0.05, parts.put, "accounts", [1, 2])
    assert parts.take("accounts") == [1, 2]
    parts.fail("plan", FortnoxAPIError("GET /3/vouchers: HTTP 403"))
    with pytest.raises(FortnoxAPIError, match="403"):
        parts.take("plan")
    # a part the worker never reached: the main thread reads it itself
    _later(0.05, parts.finish)
    assert parts.take("voucher list") is MISSING


def test_a_body_taken_once_is_read_by_the_main_thread_the_second_time() -> None:
    parts = Parts()
    parts.put("SIE export", b"body")
    assert parts.take("SIE export", once=True) == b"body"
    assert parts.take("SIE export", once=True) is MISSING  # closed after the first reading
    parts.fail("other", OSError("reset"))
    with pytest.raises(OSError, match="reset"):
        parts.take("other", once=True)
    assert parts.take("other", once=True) is MISSING  # the retry asks Fortnox itself


def test_the_list_hands_over_each_key_as_its_page_arrives() -> None:
    listing = Listing()
    pages = [({("A", 1): "a1", ("A", 2): "a2"}, 3, False), ({("A", 3): "a3"}, 3, True)]
    release = threading.Event()

    def slow_pages() -> Any:
        yield pages[0]
        release.wait(5)
        yield pages[1]

    filler = threading.Thread(target=listing.fill, args=(slow_pages(),))
    filler.start()
    assert listing.take(("A", 1)) == "a1"  # before the second page exists
    assert listing.total == 3
    assert len(listing) == 1  # taken keys leave the list: it shrinks as the year is written
    release.set()
    assert listing.take(("A", 3)) == "a3"
    assert listing.take(("B", 1)) is None  # not in the complete list
    filler.join()


def test_a_list_that_fails_midway_raises_for_whoever_waits() -> None:
    listing = Listing()

    def broken() -> Any:
        yield {("A", 1): "a1"}, 2, False
        raise FortnoxAPIError("GET /3/vouchers: HTTP 500 (gave up after 8 tries)")

    with pytest.raises(FortnoxAPIError):
        listing.fill(broken())
    assert listing.take(("A", 1)) == "a1"
    with pytest.raises(FortnoxAPIError, match="gave up"):
        listing.take(("A", 2))


def _pages(n: int, per_page: int) -> Any:
    for p in range(n):
        yield {("A", p * per_page + i): i for i in range(per_page)}, n * per_page, p == n - 1


def test_a_list_read_ahead_holds_at_most_its_capacity_until_the_taker_catches_up() -> None:
    listing = Listing(capacity=20)
    fetched: list[int] = []

    def counted() -> Any:
        for page in _pages(10, 10):
            fetched.append(1)
            yield page

    filler = threading.Thread(target=listing.fill, args=(counted(),))
    filler.start()
    time.sleep(0.2)
    assert len(fetched) == 2 and len(listing) == 20  # waits for room, asks for no more pages
    for n in range(100):  # in the same order as the list: the filler keeps just ahead
        assert listing.take(("A", n)) == n % 10
        assert len(listing) <= 20 + 10  # capacity and the page that crossed it
    filler.join(5)
    assert len(fetched) == 10 and not filler.is_alive()


def test_a_key_further_down_the_list_is_never_a_deadlock() -> None:
    listing = Listing(capacity=20)
    filler = threading.Thread(target=listing.fill, args=(_pages(10, 10),))
    filler.start()
    # another order than the list's: the taker wants a key the filler has not reached,
    # so the filler goes on past its capacity rather than both waiting
    assert listing.take(("A", 95)) == 5
    assert listing.take(("A", 0)) == 0
    filler.join(5)
    assert not filler.is_alive()


def test_a_released_list_lets_the_filler_finish() -> None:
    listing = Listing(capacity=20)
    filler = threading.Thread(target=listing.fill, args=(_pages(10, 10),))
    filler.start()
    time.sleep(0.2)
    assert filler.is_alive()  # waiting for room: the export took none of these keys
    listing.release()  # the year is done with its list (say, it was read by REST instead)
    filler.join(5)
    assert not filler.is_alive()


def test_steps_run_in_order_and_a_failure_stops_those_after_it_unless_marked() -> None:
    worker = ReadAhead()
    ran: list[str] = []

    def step(name: str, fail: bool = False) -> Step:
        def read() -> str:
            ran.append(name)
            if fail:
                raise FortnoxAPIError(f"{name} failed")
            return name
        return Step(name, read, keep_going=name == "sie")

    year1, year2 = Parts(), Parts()
    worker.schedule(year1, [step("plan"), step("sie", fail=True), step("list"), step("accounts", True),
                            step("series")])
    worker.schedule(year2, [step("plan2")])
    assert year2.take("plan2") == "plan2"
    worker.close()
    assert ran == ["plan", "sie", "list", "accounts", "plan2"]  # year 1 before year 2
    assert year1.take("list") == "list"
    with pytest.raises(FortnoxAPIError, match="sie failed"):
        year1.take("sie")
    assert year1.take("series") is MISSING


def test_close_stops_the_worker_before_its_next_request() -> None:
    worker = ReadAhead()
    started, release = threading.Event(), threading.Event()
    pages_read: list[int] = []

    def long_part() -> None:
        for page in range(1, 100):
            worker.check()
            pages_read.append(page)
            started.set()
            release.wait(5)

    parts = Parts()
    worker.schedule(parts, [Step("voucher list", long_part), Step("after", lambda: "x")])
    assert started.wait(5)
    _later(0.05, release.set)
    worker.close()  # waits for the page in flight, then the worker stops
    assert pages_read == [1]  # stopping was set before the page in flight returned
    assert parts.take("after") is MISSING
    with pytest.raises(Stopped):
        worker.check()


class _Output(io.StringIO):
    """Stdout that holds the main thread when year 1's snapshot is written, until year 2's
    SIE export has been asked for: only a worker reading ahead can ask for it then."""

    def __init__(self, asked: threading.Event) -> None:
        super().__init__()
        self.asked = asked
        self.asked_before_snapshot: bool | None = None

    def write(self, s: str) -> int:
        if self.asked_before_snapshot is None and '"stream":"voucher_snapshots"' in s:
            self.asked_before_snapshot = self.asked.wait(10)
        return super().write(s)


def test_the_next_year_is_read_while_the_current_one_is_written(sandbox) -> None:
    tenant = sandbox.tenant_ids[0]
    tap = TapFortnox(config=service_config(sandbox, tenant, attachment_modules=[]),
                     parse_env_config=False)
    connection = tap.connection
    years = [int(y["Id"]) for y in tap.selected_years]
    asked = threading.Event()
    calls: list[tuple[str, str, Any]] = []
    request = connection.request

    def spy(method: str, path: str, params: dict[str, Any] | None = None, **kw: Any) -> Any:
        calls.append((threading.current_thread().name, path, (params or {}).get("financialyear")))
        if path == "/3/sie/4" and (params or {}).get("financialyear") == years[1]:
            asked.set()
        return request(method, path, params, **kw)

    connection.request = spy  # type: ignore[method-assign]
    out = _Output(asked)
    with contextlib.redirect_stdout(out):
        tap.sync_all()
    assert out.asked_before_snapshot is True
    # every year's reads came from the worker; the main thread only wrote
    ledger_calls = [(thread, path) for thread, path, year in calls if year in years]
    assert ledger_calls and all(thread.startswith("fortnox-read-ahead") for thread, _ in ledger_calls)
    # and the records are the same as ever: one snapshot per year, after its vouchers
    messages = [json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")]
    snapshots = [m["record"]["financial_year_id"] for m in messages
                 if m["type"] == "RECORD" and m["stream"] == "voucher_snapshots"]
    assert snapshots == years


def _selected(config: dict[str, Any], wanted: set[str]) -> dict[str, Any]:
    catalog = TapFortnox(config=config, parse_env_config=False).catalog_dict
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = entry["tap_stream_id"] in wanted
    return catalog


def _run(config: dict[str, Any], catalog: dict[str, Any]) -> tuple[TapFortnox, list[dict[str, Any]]]:
    tap = TapFortnox(config=config, catalog=catalog, parse_env_config=False)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        tap.sync_all()
    return tap, [json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")]


def test_only_what_the_selected_streams_need_is_read_ahead(sandbox) -> None:
    """A run for the chart of accounts alone must not fetch SIE exports or voucher lists."""
    tenant = sandbox.tenant_ids[0]
    config = service_config(sandbox, tenant, attachment_modules=[])
    wanted = {"company_information", "financial_years", "accounts"}
    sandbox.reset_counters()
    tap, messages = _run(config, _selected(config, wanted))
    counts = sandbox.counters(tenant)
    assert counts["/3/accounts"] == len(tap.selected_years)
    assert not {"/3/sie/{type}", "/3/vouchers", "/3/voucherseries"} & set(counts)
    assert {m["stream"] for m in messages if m["type"] == "RECORD"} == wanted


@pytest.mark.parametrize("mode", ["sie", "rest"])
def test_vouchers_alone_are_read_in_full_and_bookmarked(sandbox, mode: str) -> None:
    """Without accounts or series, the year's first answer is its voucher list or export:
    the overlap probe waits for that cut-off instead of failing without one."""
    tenant = sandbox.tenant_ids[0]
    company = sandbox.books.companies[tenant]
    config = service_config(sandbox, tenant, attachment_modules=[], ledger_extraction=mode)
    wanted = {"vouchers", "voucher_rows", "voucher_snapshots"}
    _, messages = _run(config, _selected(config, wanted))
    keys = sorted((m["record"]["financial_year_id"], m["record"]["series"], m["record"]["number"])
                  for m in messages if m["type"] == "RECORD" and m["stream"] == "vouchers")
    assert keys == sorted((v.year_id, v.series, v.number) for v in company.all_vouchers())
    state = [m["value"] for m in messages if m["type"] == "STATE"][-1]
    partitions = state["bookmarks"]["voucher_snapshots"]["partitions"]
    assert all(p["ledger"]["cutoff"] for p in partitions)
    assert len(partitions) == len(company.years)
