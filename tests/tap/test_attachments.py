"""The `attachments` stream (tap-fortnox part 3): against the sandbox, and unit by unit.

Sandbox tests run the stream through the full tap (`TapWithAttachments`); request-count
tests use `AttachmentsOnly`, so the sandbox's counters hold the stream's own calls and
nothing of the ledger streams.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any

import jsonschema
import pytest
import requests
import requests_mock
import urllib3
from singer_sdk.exceptions import ConfigValidationError

from fortnox_sandbox.books import Company
from fortnox_sandbox.files import make_pdf, make_png
from fortnox_sandbox.testing import Sandbox, running_sandbox
from tap_fortnox import files as files_module
from tap_fortnox.attachment_sources import Document, _invoice_voucher, merge
from tap_fortnox.attachments import (
    ATTACHMENT_SETTINGS,
    ATTACHMENTS_SCHEMA,
    STATE_KEY,
    AttachmentsStream,
    EmittedSet,
)
from tap_fortnox.auth import FortnoxAuthenticator
from tap_fortnox.connection import FortnoxConnection
from tap_fortnox.errors import FortnoxAPIError
from tap_fortnox.files import download, magic_type, sniff
from tap_fortnox.ratelimit import SlidingWindowLimiter
from tap_fortnox.tap import TapFortnox

from .conftest import TIME_SCALE, service_config

PRINT = "/3/invoices/{number}/print"
DOWNLOADS = ("/3/archive/{id}", "/3/archive", "/3/invoices/{number}/preview")


TapWithAttachments = TapFortnox  # the full tap: attachments are registered in it


class AttachmentsOnly(TapFortnox):
    def discover_streams(self) -> list[Any]:
        return [AttachmentsStream(tap=self)]


@dataclass
class Result:
    messages: list[dict[str, Any]]
    lines: list[str]
    logs: str
    state: dict[str, Any] = field(default_factory=dict)

    def records(self, stream: str = "attachments") -> list[dict[str, Any]]:
        return [m["record"] for m in self.messages if m["type"] == "RECORD" and m["stream"] == stream]

    def by_id(self) -> dict[str, dict[str, Any]]:
        records = self.records()
        assert len({r["file_id"] for r in records}) == len(records), "a file was emitted twice"
        return {r["file_id"]: r for r in records}


_LAST_OUTPUT = io.StringIO()


def run(config: dict[str, Any], caplog: pytest.LogCaptureFixture, state: dict[str, Any] | None = None,
        tap_class: type[TapFortnox] = AttachmentsOnly) -> Result:
    """One in-process run; if it raises, `run_output` still has what it wrote."""
    global _LAST_OUTPUT  # noqa: PLW0603
    caplog.clear()
    _LAST_OUTPUT = io.StringIO()
    with caplog.at_level(logging.INFO), contextlib.redirect_stdout(_LAST_OUTPUT):
        tap_class(config=config, state=state, parse_env_config=False).sync_all()
    return Result(*run_output(caplog))


def run_output(caplog: pytest.LogCaptureFixture) -> tuple[list[dict[str, Any]], list[str], str, dict]:
    lines = [line for line in _LAST_OUTPUT.getvalue().splitlines() if line.startswith("{")]
    messages = [json.loads(line) for line in lines]
    states = [m["value"] for m in messages if m["type"] == "STATE"]
    return messages, lines, caplog.text, states[-1] if states else {}


# --- what the sandbox holds --------------------------------------------------------------


def expected(company: Company, with_billing: bool = True) -> dict[str, tuple[str, dict[str, str], list]]:
    """file id -> (module, source, voucher links), straight from the sandbox's books."""
    def links(keys: Any) -> list[dict[str, Any]]:
        return [{"financial_year_id": y, "series": s, "number": n} for y, s, n in sorted(keys)]

    out: dict[str, tuple[str, dict[str, str], list]] = {}
    for f in company.voucher_file_connections:
        out[f.file_id] = ("accounting", {"type": "voucher", "number": f"{f.series} {f.number}"},
                          links([(f.year_id, f.series, f.number)]))
    for f in company.supplier_invoice_file_connections:
        si = company.supplier_invoices[f.given_number]
        out[f.file_id] = ("suppliers", {"type": "supplier_invoice", "number": str(f.given_number)},
                          links([(y, s, n) for n, y, s, _ in si.vouchers]))
    if with_billing:
        for inv in company.invoices.values():
            out[f"invoice-preview-{inv.document_number}"] = (
                "billing", {"type": "invoice", "number": str(inv.document_number)}, links([inv.voucher]))
        for a in company.invoice_attachments:
            inv = company.invoices[a.entity_id]
            out[a.file_id] = ("billing", {"type": "invoice", "number": str(inv.document_number)},
                              links([inv.voucher]))
    return out


def sandbox_bytes(sb: Sandbox, tenant: int, file_id: str) -> bytes:
    """The bytes the sandbox serves for a record: its archive file, or the invoice's preview."""
    company = sb.books.companies[tenant]
    if file_id.startswith("invoice-preview-"):
        token = sb.issue_access_token(tenant)
        number = file_id.rsplit("-", 1)[1]
        for _ in range(100):  # the sandbox's rate limit holds for the test's own calls too
            response = requests.get(f"{sb.api_url}/3/invoices/{number}/preview", timeout=10,
                                    headers={"Authorization": f"Bearer {token}"})
            if response.status_code != 429:
                break
            time.sleep(0.05)
        response.raise_for_status()
        return response.content
    return company.files[file_id].content


def settle(sb: Sandbox) -> None:
    """Let the sandbox's rate window forget the last run, then count afresh.

    A new run starts with an empty limiter of its own, so right after another run
    its first requests can draw a 429, which the counters would count as a call.
    """
    time.sleep(5.0 / TIME_SCALE + 0.05)
    sb.reset_counters()


def downloads(counters: dict[str, int]) -> int:
    return sum(counters.get(endpoint, 0) for endpoint in DOWNLOADS)


def big_pdf(size: int) -> bytes:
    return b"%PDF-1.4\n" + os.urandom(size - 9)


# --- against the sandbox -----------------------------------------------------------------


def test_every_document_of_every_module_once_with_links_and_the_sandbox_bytes(
        sandbox: Sandbox, caplog: pytest.LogCaptureFixture) -> None:
    for tenant in sandbox.tenant_ids[:2]:
        company = sandbox.books.companies[tenant]
        want = expected(company)
        assert {m for m, _, _ in want.values()} == {"accounting", "suppliers", "billing"}
        config = service_config(sandbox, tenant)
        result = run(config, caplog)
        got = result.by_id()
        assert set(got) == set(want)
        counters = sandbox.counters(tenant)
        assert PRINT not in counters  # /print marks an invoice as sent: never called
        assert downloads(counters) == len(want)  # one request per file, nothing downloaded twice
        for file_id, record in got.items():
            jsonschema.validate(record, ATTACHMENTS_SCHEMA)
            module, source, vouchers = want[file_id]
            assert (record["module"], record["source"], record["vouchers"]) == (module, source, vouchers)
            data = sandbox_bytes(sandbox, tenant, file_id)
            assert record["sha256"] == hashlib.sha256(data).hexdigest()
            assert base64.b64decode(record["content"]) == data
            assert record["size"] == len(data)
            assert record["skipped_reason"] is None
            assert record["tenant_id"] == tenant
            if file_id in company.files:
                assert record["content_type"] == company.files[file_id].content_type
                if module != "billing":  # the file attachments API gives no names
                    assert record["file_name"] == company.files[file_id].name
            else:
                assert record["content_type"] == "application/pdf"
        assert config["client_secret"] not in result.logs + "".join(result.lines)
        assert "Bearer" not in result.logs
        [schema] = [m for m in result.messages if m["type"] == "SCHEMA"]
        assert schema["schema"]["properties"]["content"]["contentEncoding"] == "base64"
        assert schema["key_properties"] == ["tenant_id", "file_id"]


def test_a_run_with_nothing_new_downloads_nothing_and_a_new_file_is_found_next_run(
        sandbox: Sandbox, caplog: pytest.LogCaptureFixture) -> None:
    tenant = sandbox.tenant_ids[0]
    company = sandbox.books.companies[tenant]
    config = service_config(sandbox, tenant)
    first = run(config, caplog)
    assert len(first.records()) == len(expected(company))
    saved = first.state["bookmarks"]["attachments"][STATE_KEY]
    assert saved["count"] == len(expected(company))
    assert len(saved["digests"]) <= 11 * saved["count"] + 4  # 8 bytes a file, base64

    settle(sandbox)
    second = run(config, caplog, first.state)
    assert second.records() == []
    counters = sandbox.counters(tenant)
    assert downloads(counters) == 0
    assert set(counters) == {"/3/companyinformation", "/3/financialyears", "/3/voucherfileconnections",
                             "/3/supplierinvoicefileconnections", "/3/supplierinvoices",
                             "/3/invoices", "/api/fileattachments/attachments-v1"}
    assert counters["/3/voucherfileconnections"] == len(company.years)  # one page per year

    voucher = company.voucher_file_connections[0]
    connect = f"{sandbox.admin_url}/tenants/{tenant}/files"  # the admin API: "connect a new file"
    new = {
        requests.post(connect, json=body, timeout=10).json()["File"]["Id"]
        for body in (
            {"voucher": {"financial_year_id": voucher.year_id, "series": voucher.series,
                         "number": voucher.number}, "kind": "png", "name": "Andra kvittot"},
            {"supplier_invoice": 1, "name": "Följesedel"},
            {"invoice": 1, "name": "Tidrapport"},
        )
    }
    settle(sandbox)
    third = run(config, caplog, second.state)
    got = third.by_id()
    assert set(got) == new
    assert downloads(sandbox.counters(tenant)) == 3
    want = expected(company)
    for file_id, record in got.items():
        assert (record["module"], record["source"], record["vouchers"]) == want[file_id]
        assert record["sha256"] == hashlib.sha256(company.files[file_id].content).hexdigest()
    assert got[next(iter(new & {f.file_id for f in company.voucher_file_connections}))][
        "content_type"] == "image/png"
    assert run(config, caplog, third.state).records() == []


def test_files_over_the_limit_are_skipped_with_a_reason_until_the_limit_allows_them(
        sandbox: Sandbox, caplog: pytest.LogCaptureFixture) -> None:
    tenant = sandbox.tenant_ids[0]
    company = sandbox.books.companies[tenant]
    large = company.voucher_file_connections[0].file_id
    company.files[large].content = big_pdf(300_000)
    config = service_config(sandbox, tenant, max_attachment_bytes=100_000)

    first = run(config, caplog)
    got = first.by_id()
    assert set(got) == set(expected(company))
    skipped = got.pop(large)
    assert skipped["content"] is None and skipped["sha256"] is None
    assert skipped["size"] == 300_000  # Fortnox's Content-Length; the body was never read
    assert "larger than max_attachment_bytes" in skipped["skipped_reason"]
    assert f"file {large}" in first.logs and "skipped" in first.logs
    assert all(r["content"] and r["skipped_reason"] is None for r in got.values())
    assert max(len(line) for line in first.lines) < 100_000  # no line can carry the big file

    settle(sandbox)
    second = run(config, caplog, first.state)  # the same limit: the same answer, no request
    assert second.records() == []
    assert downloads(sandbox.counters(tenant)) == 0

    third = run({**config, "max_attachment_bytes": 1_000_000}, caplog, second.state)
    [record] = third.records()
    assert record["file_id"] == large and record["skipped_reason"] is None
    assert record["sha256"] == hashlib.sha256(company.files[large].content).hexdigest()


def test_metadata_only_downloads_nothing_and_content_comes_with_a_later_full_run(
        sandbox: Sandbox, caplog: pytest.LogCaptureFixture) -> None:
    tenant = sandbox.tenant_ids[1]
    want = expected(sandbox.books.companies[tenant])
    config = service_config(sandbox, tenant, include_attachment_content=False)
    first = run(config, caplog)
    got = first.by_id()
    assert set(got) == set(want)
    assert downloads(sandbox.counters(tenant)) == 0
    for file_id, record in got.items():
        assert (record["module"], record["source"], record["vouchers"]) == want[file_id]
        assert record["content"] is record["sha256"] is record["size"] is record["content_type"] is None
        assert record["skipped_reason"].startswith("metadata only")

    assert run(config, caplog, first.state).records() == []
    full = run({**config, "include_attachment_content": True}, caplog, first.state)
    assert set(full.by_id()) == set(want)
    assert all(r["content"] and r["sha256"] for r in full.records())
    # content already emitted is never overwritten by a metadata-only record
    assert run(config, caplog, full.state).records() == []


def test_a_company_without_the_invoice_licence_gets_accounting_and_suppliers_and_a_warning(
        sandbox: Sandbox, caplog: pytest.LogCaptureFixture) -> None:
    tenant = sandbox.tenant_ids[2]
    company = sandbox.books.companies[tenant]
    assert "invoice" not in company.licences
    want = expected(company, with_billing=False)
    result = run(service_config(sandbox, tenant), caplog)
    assert set(result.by_id()) == set(want)
    assert {r["module"] for r in result.records()} == {"accounting", "suppliers"}
    assert "the billing module is skipped" in result.logs
    assert "Fakturering (Billing)" in result.logs
    again = run(service_config(sandbox, tenant, attachment_modules=["accounting", "suppliers"]),
                caplog, result.state)
    assert again.records() == [] and "billing" not in again.logs


def test_cut_short_downloads_are_retried_and_never_emitted_short(
        caplog: pytest.LogCaptureFixture) -> None:
    # The first six downloads are cut at half their length (four workers: two files are cut twice).
    cut = {"kind": "truncate", "path": r"^/3/(archive|invoices/\d+/preview)", "first": 6}
    with running_sandbox(seed=1, profile="tiny", time_scale=TIME_SCALE, faults=cut) as sb:
        tenant = sb.tenant_ids[1]
        want = expected(sb.books.companies[tenant])
        result = run(service_config(sb, tenant), caplog)
        assert downloads(sb.counters(tenant)) == len(want) + 6  # each cut one fetched again
        got = result.by_id()
        assert set(got) == set(want)
        for file_id, record in got.items():
            data = base64.b64decode(record["content"])
            assert hashlib.sha256(data).hexdigest() == record["sha256"] == hashlib.sha256(
                sandbox_bytes(sb, tenant, file_id)).hexdigest()


def test_a_file_that_is_gone_or_keeps_breaking_is_left_out_and_fetched_next_run(
        sandbox: Sandbox, caplog: pytest.LogCaptureFixture) -> None:
    tenant = sandbox.tenant_ids[0]
    company = sandbox.books.companies[tenant]
    gone, broken = (f.file_id for f in company.supplier_invoice_file_connections[:2])
    saved = company.files.pop(gone)  # listed as connected, but the download answers 404
    sandbox.set_faults({"kind": "truncate", "path": broken, "every": 1})
    config = service_config(sandbox, tenant)

    first = run(config, caplog)
    assert set(first.by_id()) == set(expected(company)) - {gone, broken}
    assert f"{gone} (supplier invoice" in first.logs and "gone from Fortnox (HTTP 404)" in first.logs
    assert f"{broken} (supplier invoice" in first.logs and "(3 tries)" in first.logs
    assert "2 of" in first.logs and "tried again next run" in first.logs

    company.files[gone] = saved
    sandbox.set_faults(None)
    second = run(config, caplog, first.state)
    got = second.by_id()
    assert set(got) == {gone, broken}
    for file_id, record in got.items():
        assert record["sha256"] == hashlib.sha256(company.files[file_id].content).hexdigest()


def test_a_file_whose_voucher_links_change_is_emitted_again_with_the_new_links(
        sandbox: Sandbox, caplog: pytest.LogCaptureFixture) -> None:
    tenant = sandbox.tenant_ids[0]
    company = sandbox.books.companies[tenant]
    config = service_config(sandbox, tenant)
    first = run(config, caplog)
    connection = company.supplier_invoice_file_connections[0]
    invoice = company.supplier_invoices[connection.given_number]
    year = invoice.vouchers[0][1]
    invoice.vouchers.append((99, year, "E", "SUPPLIERPAYMENT"))  # its payment is booked later
    settle(sandbox)
    [record] = run(config, caplog, first.state).records()
    assert record["file_id"] == connection.file_id
    assert {"financial_year_id": year, "series": "E", "number": 99} in record["vouchers"]
    assert record["vouchers"] == expected(company)[connection.file_id][2]
    assert record["sha256"] == hashlib.sha256(company.files[connection.file_id].content).hexdigest()
    assert downloads(sandbox.counters(tenant)) == 1


def test_a_run_that_dies_keeps_the_files_it_emitted(sandbox: Sandbox,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    class Dies(AttachmentsStream):
        STATE_MSG_FREQUENCY = 5
        fetched = 0

        def _fetch(self, doc: Document, max_bytes: int) -> files_module.Download:
            Dies.fetched += 1
            if Dies.fetched > 13:
                raise FortnoxAPIError("GET /3/archive: the connection is gone (simulated)")
            return super()._fetch(doc, max_bytes)

    class DyingTap(AttachmentsOnly):
        def discover_streams(self) -> list[Any]:
            return [Dies(tap=self)]

    tenant = sandbox.tenant_ids[1]
    want = set(expected(sandbox.books.companies[tenant]))
    config = service_config(sandbox, tenant, max_concurrency=1)
    with pytest.raises(SystemExit):
        run(config, caplog, tap_class=DyingTap)
    died = Result(*run_output(caplog))
    emitted = {r["file_id"] for r in died.records()}
    assert len(emitted) == 13 and died.state[  # the last STATE came after record 10
        "bookmarks"]["attachments"][STATE_KEY]["count"] == 10
    rest = run(config, caplog, died.state)
    again = set(rest.by_id())
    assert emitted | again == want
    assert len(emitted & again) == 3  # records 11-13 come again: at least once, never lost


def test_many_failures_in_a_row_stop_the_run_with_a_clear_message(
        caplog: pytest.LogCaptureFixture) -> None:
    down = {"kind": "status", "status": 503, "path": r"^/3/(archive|invoices/\d+/preview)", "every": 1}
    with running_sandbox(seed=1, profile="tiny", time_scale=TIME_SCALE, faults=down) as sb:
        config = service_config(sb, sb.tenant_ids[1], max_retries=0)
        with pytest.raises(SystemExit):
            run(config, caplog)
        after = sb.counters()
        time.sleep(0.3)
        assert sb.counters() == after  # no download outlives the run (the pool was shut down)
    assert "attachments: 20 downloads in a row failed" in caplog.text
    assert "HTTP 503" in caplog.text
    assert "oauth" not in caplog.text  # no worker tried to use the closed connection


def test_the_content_type_comes_from_the_bytes_when_the_name_or_header_lie(
        sandbox: Sandbox, caplog: pytest.LogCaptureFixture) -> None:
    tenant = sandbox.tenant_ids[0]
    company = sandbox.books.companies[tenant]
    pdfs = [f for f in company.files.values() if f.content_type == "application/pdf"
            and f.id in {c.file_id for c in company.supplier_invoice_file_connections}]
    png_as_pdf, unknown = pdfs[:2]
    png_as_pdf.content = make_png((1, 2, 3))  # name .pdf, header application/pdf, bytes PNG
    unknown.content = b"\x00\x01garbage" + os.urandom(100)
    result = run(service_config(sandbox, tenant), caplog)
    got = result.by_id()
    assert got[png_as_pdf.id]["content_type"] == "image/png"
    assert got[unknown.id]["content_type"] == "application/octet-stream"
    assert got[unknown.id]["sha256"] == hashlib.sha256(unknown.content).hexdigest()
    assert f"{unknown.id}" in result.logs and "not the application/pdf" in result.logs


def test_only_the_selected_financial_years_are_read(sandbox: Sandbox,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    class SecondYearOnly(AttachmentsOnly):
        @property
        def selected_years(self) -> list[dict[str, Any]]:
            return [y for y in self.financial_years if int(y["Id"]) == 2]

    tenant = sandbox.tenant_ids[0]
    want = {k: v for k, v in expected(sandbox.books.companies[tenant]).items()
            if any(link["financial_year_id"] == 2 for link in v[2])}
    result = run(service_config(sandbox, tenant), caplog, tap_class=SecondYearOnly)
    assert set(result.by_id()) == set(want)
    assert sandbox.counters(tenant)["/3/voucherfileconnections"] == 1


def test_registered_in_the_full_tap_the_stream_comes_last(sandbox: Sandbox,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    tenant = sandbox.tenant_ids[1]
    result = run(service_config(sandbox, tenant), caplog, tap_class=TapWithAttachments)
    streams = [m["stream"] for m in result.messages if m["type"] == "RECORD"]
    assert streams[-1] == "attachments" and streams[0] != "attachments"
    assert streams.index("attachments") > max(i for i, s in enumerate(streams) if s != "attachments")
    assert len(result.records()) == len(expected(sandbox.books.companies[tenant]))


# --- units: sniffing ---------------------------------------------------------------------


@pytest.mark.parametrize(("head", "name", "header", "want"), [
    (make_pdf("x"), "a.pdf", "application/pdf", "application/pdf"),
    (b"\r\n%PDF-1.7 junk first", None, None, "application/pdf"),
    (make_png((1, 1, 1)), "kvitto.pdf", "application/pdf", "image/png"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", "scan", OCTET := "application/octet-stream", "image/jpeg"),
    (b"GIF89a....", None, None, "image/gif"),
    (b"II*\x00\x08\x00", "a.tif", None, "image/tiff"),
    (b"RIFF\x00\x00\x00\x00WEBPVP8 ", None, None, "image/webp"),
    (b"\x00\x00\x00\x18ftypheic\x00\x00", "IMG_1.HEIC", None, "image/heic"),
    (b"PK\x03\x04rest", "Faktura.XLSX", OCTET,
     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    (b"PK\x03\x04rest", "bilagor.zip", None, "application/zip"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "gammal.doc", None, "application/msword"),
    (b"{\\rtf1\\ansi", None, None, "application/rtf"),
    (b"\xef\xbb\xbf<?xml version='1.0'?><Invoice/>", "e-faktura", OCTET, "application/xml"),
    (b"datum;belopp\n2025-01-01;100\n", "export.csv", OCTET, "text/csv"),
    (b"Hej, h\xc3\xa4r kommer kvittot", "kvitto", OCTET, "text/plain"),
])
def test_sniff_believes_the_bytes(head: bytes, name: str | None, header: str | None, want: str) -> None:
    assert sniff(head, name, header) == (want, None)


def test_sniff_warns_when_nothing_tells_the_type() -> None:
    kind, warning = sniff(b"\x00\x9f\x92\x96binary", "kvitto.pdf", "application/pdf; charset=binary")
    assert kind == OCTET and "not the application/pdf" in warning
    kind, warning = sniff(b"\x00\x9f\x92\x96binary", None, OCTET)
    assert kind == OCTET and "unknown content type" in warning
    assert sniff(b"", "x.pdf", None) == (OCTET, "the file is empty")
    assert magic_type(b"BMxxxx\x00\x00\x00\x00xxxx") == "image/bmp"


# --- units: downloads --------------------------------------------------------------------

API = "https://fortnox.test"
AUTH = "https://auth.test/oauth-v1"


@pytest.fixture
def mock(monkeypatch: pytest.MonkeyPatch) -> requests_mock.Mocker:
    monkeypatch.setattr(files_module.time, "sleep", lambda s: None)
    with requests_mock.Mocker() as m:
        m.post(f"{AUTH}/token", json={"access_token": "AT1", "expires_in": 3600})
        yield m


def conn() -> FortnoxConnection:
    auth = FortnoxAuthenticator(auth_url=AUTH, client_id="cid", client_secret="s", tenant_id="42")
    return FortnoxConnection(api_url=API, authenticator=auth, limiter=SlidingWindowLimiter(100, 1.0),
                             max_tries=2)


def get(connection: FortnoxConnection, max_bytes: int = 10_000_000, keep: bool = True,
        name: str | None = "f.pdf") -> files_module.Download:
    return download(connection, "/3/archive/F1", endpoint="/3/archive/{id}", file_name=name,
                    max_bytes=max_bytes, keep_content=keep)


@pytest.mark.parametrize("size", [0, 1, 2, 3, 65_535, 65_537, 1_600_000])
def test_download_hashes_and_encodes_across_chunks(mock: requests_mock.Mocker, size: int) -> None:
    data = big_pdf(size) if size > 9 else b"%PDF-1.4\n"[:size]
    mock.get(f"{API}/3/archive/F1", body=io.BytesIO(data), headers={"Content-Length": str(size)})
    result = get(conn())
    assert result.ok and result.size == size
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    if size > 600_000:  # past SPOOL_BYTES of base64 text: on disk, not in memory
        assert result._spool._rolled  # type: ignore[union-attr]
    assert result.content_base64() == base64.b64encode(data).decode()
    assert mock.last_request.headers["Accept"] == "*/*"


class Counting(io.BytesIO):
    """A body that counts what was read from it."""

    taken = 0

    def read(self, *args: Any) -> bytes:
        data = super().read(*args)
        self.taken += len(data)
        return data


def test_download_over_the_limit_stops_before_reading(mock: requests_mock.Mocker) -> None:
    body = Counting(big_pdf(5000))
    mock.get(f"{API}/3/archive/F1", body=body, headers={"Content-Length": "5000"})
    result = get(conn(), max_bytes=4999)
    assert result.status == "too_large" and result.size == 5000 and body.taken == 0
    assert "5000 > 4999" in result.reason


def test_download_without_length_stops_at_the_limit(mock: requests_mock.Mocker) -> None:
    mock.get(f"{API}/3/archive/F1", body=io.BytesIO(big_pdf(300_000)))
    result = get(conn(), max_bytes=100_000)
    assert result.status == "too_large" and result.size is None
    assert "more than 100000 bytes" in result.reason


def test_a_short_body_is_retried_then_reported_never_returned(mock: requests_mock.Mocker) -> None:
    data = big_pdf(2000)
    length = {"Content-Length": "2000"}
    mock.get(f"{API}/3/archive/F1", [{"body": io.BytesIO(data[:700]), "headers": length},
                                     {"body": io.BytesIO(data), "headers": length}])
    result = get(conn())
    assert result.ok and result.attempts == 2 and result.sha256 == hashlib.sha256(data).hexdigest()

    mock.get(f"{API}/3/archive/F1", [
        {"body": io.BytesIO(data[:700]), "headers": {"Content-Length": "2000"}} for _ in range(3)])
    result = get(conn())
    assert result.status == "failed" and result.sha256 is None
    assert "ended after 700 of 2000 bytes (3 tries)" in result.reason


class Breaking(io.BytesIO):
    """A body whose connection drops after the first read."""

    def read(self, *args: Any) -> bytes:
        if self.tell():
            raise urllib3.exceptions.ProtocolError("Connection broken: IncompleteRead")
        return super().read(1000)


def test_a_body_that_breaks_off_is_retried(mock: requests_mock.Mocker) -> None:
    data = big_pdf(3000)
    mock.get(f"{API}/3/archive/F1", [{"body": Breaking(data)}, {"body": io.BytesIO(data)}])
    result = get(conn())
    assert result.ok and result.attempts == 2 and result.size == 3000


def test_gone_json_and_refusals(mock: requests_mock.Mocker) -> None:
    error = {"ErrorInformation": {"error": 1, "message": "Kan inte hitta filen.", "code": 2000000}}
    mock.get(f"{API}/3/archive/F1", status_code=404, json=error)
    assert get(conn()).status == "gone"
    mock.get(f"{API}/3/archive/F1", json={"Folder": {"Id": "F1", "Files": []}},
             headers={"Content-Type": "application/json; charset=utf-8"})
    result = get(conn())
    assert result.status == "failed" and "answered JSON instead of the file" in result.reason
    mock.get(f"{API}/3/archive/F1", json=[1], headers={"Content-Type": "application/json"})
    assert get(conn(), name="data.json").ok  # a real .json document is a file like any other
    scope = {"ErrorInformation": {"error": 1, "message": "Saknar behörighet", "code": 2000663}}
    mock.get(f"{API}/3/archive/F1", status_code=403, json=scope)
    with pytest.raises(FortnoxAPIError, match="lacks the scope 'archive'"):
        get(conn())


def test_metadata_download_keeps_no_content(mock: requests_mock.Mocker) -> None:
    data = make_png((9, 9, 9))
    mock.get(f"{API}/3/archive/F1", body=io.BytesIO(data))
    result = get(conn(), keep=False, name=None)
    assert result.ok and result.content_type == "image/png" and result.content_base64() is None


# --- units: bookmark, merging, settings -------------------------------------------------


def doc(file_id: str, module: str = "accounting", number: str = "A 1",
        vouchers: set | None = None) -> Document:
    kind = {"accounting": "voucher", "suppliers": "supplier_invoice", "billing": "invoice"}[module]
    return Document(file_id, module, kind, number, vouchers or {(1, "A", 1)}, None, "/3/archive/x", "e")


def test_emitted_set_is_compact_and_exact() -> None:
    emitted = EmittedSet()
    docs = [doc(f"{i:08d}-file") for i in range(3000)]
    for d in docs:
        emitted.add(EmittedSet.key(7, d, "content"))
    saved = json.loads(json.dumps(emitted.dump()))
    assert saved["count"] == 3000 and len(saved["digests"]) == 32_000  # 8 bytes each, base64
    loaded = EmittedSet.load(saved)
    assert all(EmittedSet.key(7, d, "content") in loaded for d in docs)
    first = docs[0]
    assert EmittedSet.key(8, first, "content") not in loaded  # another company
    assert EmittedSet.key(7, first, "metadata") not in loaded
    moved = doc(first.file_id, vouchers={(1, "A", 1), (2, "E", 4)})
    assert EmittedSet.key(7, moved, "content") not in loaded  # new links: emitted again
    assert len(EmittedSet.load({"digests": 5})) == len(EmittedSet.load({"digests": "!"})) == 0
    assert len(EmittedSet.load(None)) == len(EmittedSet.load("junk")) == 0


def test_a_file_listed_by_two_modules_is_one_record_with_every_link() -> None:
    merged = merge([doc("F", "accounting", "D 3", {(1, "D", 3)}),
                    doc("F", "suppliers", "12", {(1, "D", 3), (1, "E", 2)}),
                    doc("G", "accounting", "A 9", {(2, "A", 9)}),
                    doc("G", "accounting", "A 10", {(2, "A", 10)})])
    f, g = sorted(merged, key=lambda d: d.file_id)
    assert (f.module, f.source_type, f.source_number) == ("suppliers", "supplier_invoice", "12")
    assert f.vouchers == {(1, "D", 3), (1, "E", 2)}
    assert g.vouchers == {(2, "A", 9), (2, "A", 10)} and g.source_number == "A 9"


def test_only_booked_invoices_have_documents() -> None:
    item = {"Booked": True, "Cancelled": False, "VoucherNumber": 4, "VoucherSeries": "B", "VoucherYear": 2}
    assert _invoice_voucher(item, "GET") == (2, "B", 4)
    assert _invoice_voucher({**item, "Booked": "false"}, "GET") is None
    assert _invoice_voucher({**item, "Cancelled": "true"}, "GET") is None
    assert _invoice_voucher({**item, "VoucherNumber": None}, "GET") is None


def test_the_tap_declares_the_attachment_settings() -> None:
    props = TapFortnox.config_jsonschema["properties"]
    assert {"client_id", "include_attachment_content", "max_attachment_bytes",
            "attachment_modules"} <= set(props)
    assert props["max_attachment_bytes"]["default"] == 25 * 1024 * 1024
    assert props["include_attachment_content"]["default"] is True
    assert props["attachment_modules"]["default"] == ["accounting", "suppliers", "billing"]
    assert set(ATTACHMENT_SETTINGS.to_dict()["properties"]) == {
        "include_attachment_content", "max_attachment_bytes", "attachment_modules"}


def test_an_unknown_module_is_a_clear_config_error(sandbox: Sandbox,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    config = service_config(sandbox, attachment_modules=["accounting", "payroll"])
    with pytest.raises(ConfigValidationError) as raised:  # the merged schema already refuses it
        AttachmentsOnly(config=config, parse_env_config=False)
    assert "payroll" in str(raised.value.errors)
