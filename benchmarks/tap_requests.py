"""Benchmark: how close tap-fortnox runs to Fortnox's rate limit, and what the ledger costs.

    .venv/bin/python benchmarks/tap_requests.py [--seconds 60] [--concurrency 4]
    .venv/bin/python benchmarks/tap_requests.py --ledger [--quick] [--modes sie,rest]
    .venv/bin/python benchmarks/tap_requests.py --attachments [--quick]

Part 1 (default):

Starts the sandbox with Fortnox's real limit (25 requests per sliding 5 s per
client and tenant, unscaled), then sends small requests through the tap's one
connection (limiter, authenticator, worker pool) for the given time, serially
and through the worker pool.  Goal: at least 95% of the limit (4.75
requests/s) sustained, zero 429s.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import itertools
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fortnox_sandbox.mutations import add_voucher, connect_file
from fortnox_sandbox.testing import running_sandbox
from fortnox_sandbox.timeutil import now_utc
from tap_fortnox.tap import TapFortnox

TAP = str(Path(sys.executable).parent / "tap-fortnox")

LIMIT_PER_SECOND = 25 / 5.0


def measure(sb, seconds: float, concurrency: int) -> tuple[int, float, int, int]:
    config = {"api_url": sb.api_url, "auth_url": sb.auth_url, "client_id": sb.client_id,
              "client_secret": sb.client_secret, "tenant_id": str(sb.tenant_ids[0]),
              "max_concurrency": concurrency}
    tap = TapFortnox(config=config, parse_env_config=False)
    connection = tap.connection
    connection.get_json("/3/companyinformation")  # the token request is not part of the rate
    start = time.monotonic()
    deadline = start + seconds

    def call(_: int) -> None:
        if time.monotonic() < deadline:
            connection.get_json("/3/financialyears")

    ticks = itertools.takewhile(lambda _: time.monotonic() < deadline, itertools.count())
    with connection.parallel(call, ticks) as results:
        for _ in results:
            pass
    elapsed = time.monotonic() - start
    requests = connection.stats.by_endpoint["/3/financialyears"]
    throttled, retries = connection.stats.throttled, connection.stats.retries
    tap._close_connection()
    return requests, elapsed, throttled, retries


def _vm_hwm_kb(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(match.group(1)) if match else 0


def run_tap(config: dict, state: dict | None, workdir: Path) -> dict:
    """One `tap-fortnox` process: requests it reports, wall time, peak RSS, final STATE."""
    (workdir / "config.json").write_text(json.dumps(config))
    args = [TAP, "--config", str(workdir / "config.json")]
    if state is not None:
        (workdir / "state.json").write_text(json.dumps(state))
        args += ["--state", str(workdir / "state.json")]
    out, err = workdir / "out.jsonl", workdir / "err.log"
    start = time.monotonic()
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(args, stdout=stdout, stderr=stderr)
        peak_kb = 0
        while proc.poll() is None:  # VmHWM: the tap's own peak RSS (rusage would count
            peak_kb = max(peak_kb, _vm_hwm_kb(proc.pid))  # this process's pages from fork)
            time.sleep(0.1)
    wall = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit(f"tap failed: {err.read_text()[-2000:]}")
    summary = re.search(r"Fortnox: (\d+) requests \((.*?)\); (\d+) retried, (\d+) answered 429",
                        err.read_text())
    assert summary, "no request summary in the tap's log"
    last_state, records = None, 0
    with out.open() as lines:
        for line in lines:
            if line.startswith('{"type":"STATE"'):
                last_state = json.loads(line)["value"]
            elif line.startswith('{"type":"RECORD"'):
                records += 1
    return {"requests": int(summary.group(1)), "by_endpoint": summary.group(2),
            "retried": int(summary.group(3)), "throttled": int(summary.group(4)), "wall": wall,
            "rss_mb": peak_kb / 1024, "state": last_state, "records": records}


def ledger(args: argparse.Namespace) -> None:
    scale = 10.0 if args.quick else 1.0
    rate = 25 / 5.0 * scale
    results = []
    with running_sandbox(seed=1, profile="large", companies=1, years=3,
                         vouchers_per_year=args.vouchers, time_scale=scale) as sb:
        tenant = sb.tenant_ids[0]
        company = sb.books.companies[tenant]
        rows = sum(len(v.rows) for v in company.all_vouchers())
        print(f"Sandbox: 1 company, {len(company.years)} financial years, "
              f"{len(company.all_vouchers())} vouchers, {rows} rows; limit 25 requests / "
              f"{5.0 / scale:g} s (time_scale {scale:g})\n", flush=True)
        for mode in args.modes.split(","):
            config = {"api_url": sb.api_url, "auth_url": sb.auth_url, "client_id": sb.client_id,
                      "client_secret": sb.client_secret, "tenant_id": str(tenant),
                      "ledger_extraction": mode, "rate_limit_window": 5.0 / scale,
                      "attachment_modules": []}  # the ledger's own cost: documents are --attachments
            with tempfile.TemporaryDirectory() as tmp:
                work = Path(tmp)
                time.sleep(5.0 / scale + 0.2)  # an empty rate window, as between scheduled runs
                full = run_tap(config, None, work)
                print(f"{mode}: full run {full['requests']} requests in {full['wall']:.1f} s "
                      f"({full['by_endpoint']})", flush=True)
                time.sleep(5.0 / scale + 0.2)
                quiet = run_tap(config, full["state"], work)
                add_voucher(company, now=now_utc(), year_id=company.years[-1].id)
                time.sleep(5.0 / scale + 0.2)
                one = run_tap(config, quiet["state"], work)
            results.append((mode, full, quiet, one))
    print("\n| mode | full-run requests | wall s | bound s | wall/bound | 429s | no-change run "
          "| after 1 new voucher | peak RSS MB |")
    print("|------|------------------:|-------:|--------:|-----------:|-----:|--------------:"
          "|--------------------:|------------:|")
    for mode, full, quiet, one in results:
        bound = full["requests"] / rate
        print(f"| {mode} | {full['requests']} | {full['wall']:.1f} | {bound:.1f} | "
              f"{full['wall'] / bound:.2f} | {full['throttled']} | {quiet['requests']} | "
              f"{one['requests']} | {max(full['rss_mb'], quiet['rss_mb'], one['rss_mb']):.0f} |")
    by_mode = {m: (f, q, o) for m, f, q, o in results}
    years = 3
    print()
    if {"sie", "rest"} <= set(by_mode):
        share = by_mode["sie"][0]["requests"] / by_mode["rest"][0]["requests"]
        print(f"sie / rest requests: {100 * share:.2f}% (goal <= 1%)")
    for mode, (full, quiet, one) in by_mode.items():
        print(f"{mode}: wall/bound {full['wall'] / (full['requests'] / rate):.2f} (goal <= 1.2); "
              f"no-change {quiet['requests']} requests (goal <= 3 x {years} + constant 3 = "
              f"{3 * years + 3}); one new voucher +{one['requests'] - quiet['requests']} "
              f"(goal <= 5); peak RSS {max(full['rss_mb'], quiet['rss_mb'], one['rss_mb']):.0f} MB "
              "(goal < 200)")


# --- issue 6: the attachments stream ------------------------------------------------------

#: A tap with only the attachments stream, its settings merged, as TapFortnox will register it.
#: On exit it reports VmHWM, the peak RSS of its own address space (ru_maxrss would carry the
#: parent's peak over fork and exec).
_ATTACHMENTS_CHILD = """
import atexit, re, sys
from tap_fortnox.attachments import AttachmentsStream, with_attachment_settings
from tap_fortnox.tap import TapFortnox

class AttachmentsTap(TapFortnox):
    config_jsonschema = with_attachment_settings(TapFortnox.config_jsonschema)
    def discover_streams(self):
        return [AttachmentsStream(tap=self)]

def peak():
    status = open("/proc/self/status").read()
    print("peak_rss_kb=" + re.search(r"VmHWM:\\s+(\\d+)", status).group(1), file=sys.stderr, flush=True)

atexit.register(peak)
AttachmentsTap.cli()
"""


def _attachments_run(config: dict, state: dict | None, work: Path, big: str) -> dict:
    """One attachments-only tap process: requests, wall time, peak RSS, records, STATE."""
    (work / "config.json").write_text(json.dumps(config))
    args = [sys.executable, "-c", _ATTACHMENTS_CHILD, "--config", str(work / "config.json")]
    if state is not None:
        (work / "state.json").write_text(json.dumps(state))
        args += ["--state", str(work / "state.json")]
    out, err = work / "out.jsonl", work / "err.log"
    start = time.monotonic()
    with out.open("wb") as stdout, err.open("wb") as stderr:
        code = subprocess.run(args, stdout=stdout, stderr=stderr, check=False).returncode
    wall = time.monotonic() - start
    log = err.read_text()
    if code != 0:
        raise SystemExit(f"tap failed: {log[-2000:]}")
    summary = re.search(r"Fortnox: (\d+) requests \((.*?)\); (\d+) retried, (\d+) answered 429", log)
    peak = re.search(r"peak_rss_kb=(\d+)", log)
    if not summary or not peak:
        raise SystemExit(f"no request summary or peak RSS in the tap's log: {log[-2000:]}")
    records, longest, big_sha, state_out = 0, 0, None, None
    with out.open() as lines:
        for line in lines:
            longest = max(longest, len(line))
            if line.startswith('{"type":"STATE"'):
                state_out = json.loads(line)["value"]
            elif line.startswith('{"type":"RECORD"'):
                records += 1
                if big in line[:300]:
                    content = json.loads(line)["record"]["content"]
                    big_sha = hashlib.sha256(base64.b64decode(content)).hexdigest()
    return {"requests": int(summary.group(1)), "by_endpoint": summary.group(2),
            "retried": int(summary.group(3)), "throttled": int(summary.group(4)), "wall": wall,
            "rss_mb": int(peak.group(1)) / 1024, "records": records, "longest_line": longest,
            "big_sha256": big_sha, "state": state_out}


def _pages(items: int) -> int:
    return max(1, -(-items // 500))


def attachments_benchmark(quick: bool, vouchers: int = 3150, big_mib: int = 20) -> None:
    """Issue 6: ~3,000 documents, one of them 20 MiB; requests and time against the bounds."""
    scale = 10.0 if quick else 1.0
    window = 5.0 / scale
    with running_sandbox(seed=1, profile="tiny", companies=1, years=2, vouchers_per_year=vouchers,
                         attachment_share=0.3, time_scale=scale) as sb, \
            tempfile.TemporaryDirectory() as tmp:
        work, tenant = Path(tmp), sb.tenant_ids[0]
        company = sb.books.companies[tenant]
        big = company.voucher_file_connections[len(company.voucher_file_connections) // 2].file_id
        company.files[big].content = b"%PDF-1.4\n" + os.urandom(big_mib * 1024 * 1024 - 9)
        want_sha = hashlib.sha256(company.files[big].content).hexdigest()
        documents = (len({f.file_id for f in company.voucher_file_connections})
                     + len(company.supplier_invoice_file_connections) + len(company.invoices)
                     + len(company.invoice_attachments))
        # The lower bound: what any extractor must ask (company, years, every list page,
        # one attachment lookup per page of invoices), plus one download per document.
        lists = (2 + sum(_pages(sum(f.year_id == y.id for f in company.voucher_file_connections))
                         for y in company.years)
                 + _pages(len(company.supplier_invoice_file_connections))
                 + _pages(len(company.supplier_invoices)) + 2 * _pages(len(company.invoices)))
        print(f"Sandbox: 1 company, {len(company.years)} financial years, {documents} documents "
              f"(voucher files {len(company.voucher_file_connections)}, supplier invoice files "
              f"{len(company.supplier_invoice_file_connections)}, invoice PDFs "
              f"{len(company.invoices)}, invoice attachments {len(company.invoice_attachments)}), "
              f"one of them {big_mib} MiB; limit 25 requests / {window:g} s (time_scale {scale:g})\n",
              flush=True)
        config = {"api_url": sb.api_url, "auth_url": sb.auth_url, "client_id": sb.client_id,
                  "client_secret": sb.client_secret, "tenant_id": str(tenant),
                  "rate_limit_window": window}
        time.sleep(window + 0.2)  # an empty rate window, as between scheduled runs
        full = _attachments_run(config, None, work, big)
        print(f"full run: {full['requests']} requests in {full['wall']:.1f} s ({full['by_endpoint']})",
              flush=True)
        time.sleep(window + 0.2)
        quiet = _attachments_run(config, full["state"], work, big)
        voucher = company.voucher_file_connections[0]
        connect_file(company, now=now_utc(), voucher=(voucher.year_id, voucher.series, voucher.number))
        time.sleep(window + 0.2)
        one = _attachments_run(config, quiet["state"], work, big)
    runs = (("full", full, documents, lists + documents), ("no change", quiet, 0, lists),
            ("1 new file", one, 1, lists + 1))
    print("\n| run | records | requests | lower bound | over bound | wall s | time bound s | "
          "wall/bound | 429s | peak RSS MB |")
    print("|-----|--------:|---------:|------------:|-----------:|-------:|-------------:|"
          "-----------:|-----:|------------:|")
    for name, r, records, bound in runs:
        seconds = bound * window / 25
        print(f"| {name} | {r['records']} (want {records}) | {r['requests']} | {bound} | "
              f"{100 * (r['requests'] / bound - 1):+.2f}% | {r['wall']:.1f} | {seconds:.1f} | "
              f"{r['wall'] / seconds:.2f} | {r['throttled']} | {r['rss_mb']:.0f} |")
    state_chars = len(json.dumps(full["state"]["bookmarks"]["attachments"]))
    bound = lists + documents
    print(f"\n{big_mib} MiB file emitted whole: {full['big_sha256'] == want_sha}; longest Singer line "
          f"{full['longest_line'] / 2**20:.1f} MiB; attachments bookmark {state_chars} characters "
          f"for {full['state']['bookmarks']['attachments']['emitted_files']['count']} files")
    print(f"goals ({'--quick: rate window 0.5 s' if quick else 'real limit: 25 per 5 s'}): "
          f"requests <= 2% over the bound: {full['requests'] <= 1.02 * bound}; "
          f"wall <= 1.2 x bound: {full['wall'] <= 1.2 * bound * window / 25}; "
          f"peak RSS < 200 MB: {full['rss_mb'] < 200}")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--ledger", action="store_true", help="issue 5's ledger table instead")
    p.add_argument("--quick", action="store_true", help="rate window shrunk 10x (time_scale 10)")
    p.add_argument("--modes", default="sie,rest")
    p.add_argument("--vouchers", type=int, default=6000, help="vouchers per financial year")
    p.add_argument("--attachments", action="store_true", help="issue 6's attachments table instead")
    args = p.parse_args()
    if args.attachments:
        attachments_benchmark(args.quick)
        return
    if args.ledger:
        ledger(args)
        return
    rows = []
    with running_sandbox(seed=1, profile="tiny") as sb:
        for concurrency in sorted({1, args.concurrency}):
            n, elapsed, throttled, retries = measure(sb, args.seconds, concurrency)
            rows.append((concurrency, n, elapsed, n / elapsed, throttled, retries))
    print(f"Sandbox limit: 25 requests / 5 s sliding window = {LIMIT_PER_SECOND:.2f} requests/s\n")
    print("| workers | requests | seconds | requests/s | % of limit | 429s | retries |")
    print("|---------|----------|---------|------------|------------|------|---------|")
    for concurrency, n, elapsed, rate, throttled, retries in rows:
        print(f"| {concurrency:>7} | {n:>8} | {elapsed:>7.1f} | {rate:>10.2f} | "
              f"{100 * rate / LIMIT_PER_SECOND:>9.1f}% | {throttled:>4} | {retries:>7} |")
    worst = min(r[3] for r in rows)
    print(f"\ngoal: >= 95% of the limit with zero 429s: "
          f"{'met' if worst >= 0.95 * LIMIT_PER_SECOND and not any(r[4] for r in rows) else 'NOT met'}")


if __name__ == "__main__":
    main()
