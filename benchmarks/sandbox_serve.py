"""How fast the sandbox serves and generates, so it is never a benchmark's bottleneck.

Measures (and prints as a table):
- time to generate one company of 3 years x 20,000 vouchers;
- requests/s the sandbox sustains without a rate limit, for small JSON answers and for
  500-voucher list pages, with a bounded number of requests to 127.0.0.1 only.

The server runs in its own process (the CLI), the load generator in this one, so they do
not share a GIL. Run: .venv/bin/python benchmarks/sandbox_serve.py [--requests N]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

from fortnox_sandbox.generator import generate, make_profile

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bench_generate(vouchers: int, years: int) -> tuple[float, int, int]:
    start = time.perf_counter()
    books = generate(1, make_profile("large", companies=1, years=years,
                                     vouchers_per_year=vouchers))
    took = time.perf_counter() - start
    company = next(iter(books.companies.values()))
    all_vouchers = company.all_vouchers()
    return took, len(all_vouchers), sum(len(v.rows) for v in all_vouchers)


async def _token(base: str, tenant: int) -> str:
    basic = base64.b64encode(b"sandbox-client:sandbox-secret-1").decode()
    async with aiohttp.ClientSession() as session, session.post(
        f"{base}/oauth-v1/token", data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}", "TenantId": str(tenant)},
    ) as response:
        return str((await response.json())["access_token"])


async def _load(base: str, token: str, path: str, total: int, concurrency: int) -> tuple[float, int]:
    """`total` GETs of `path` over `concurrency` keep-alive connections; (seconds, errors)."""
    remaining = total
    errors = 0
    headers = {"Authorization": f"Bearer {token}"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def worker() -> None:
            nonlocal remaining, errors
            while remaining > 0:
                remaining -= 1
                async with session.get(base + path) as response:
                    await response.read()
                    if response.status != 200:
                        errors += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - start, errors


def _tenant(base: str) -> int:
    import json  # noqa: PLC0415 - only needed here
    from urllib.request import urlopen  # noqa: PLC0415

    with urlopen(f"{base}/_sandbox/") as response:
        return int(json.load(response)["companies"][0]["tenant_id"])


def bench_serve(requests_per_case: int, concurrency: int) -> list[tuple[str, int, float, int]]:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "fortnox_sandbox.cli", "serve", "--port", str(port),
         "--profile", "demo", "--companies", "1", "--no-rate-limit"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                tenant = _tenant(base)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        token = asyncio.run(_token(base, tenant))
        cases = [
            ("GET /3/companyinformation", "/3/companyinformation", requests_per_case),
            ("GET /3/vouchers/A/1 (detail)", "/3/vouchers/A/1?financialyear=1", requests_per_case),
            ("GET /3/vouchers?limit=500", "/3/vouchers?financialyear=1&limit=500",
             max(1, requests_per_case // 10)),
            ("GET /3/sie/4 (1,500 vouchers)", "/3/sie/4?financialyear=1",
             max(1, requests_per_case // 100)),
        ]
        results = []
        asyncio.run(_load(base, token, cases[0][1], 200, concurrency))  # warm-up
        for label, path, n in cases:
            took, errors = asyncio.run(_load(base, token, path, n, concurrency))
            results.append((label, n, n / took, errors))
        return results
    finally:
        server.terminate()
        server.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=5000, help="requests per small case")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--vouchers", type=int, default=20_000, help="vouchers per year")
    args = parser.parse_args()

    took, vouchers, rows = bench_generate(args.vouchers, 3)
    print(f"{'measurement':<36} {'n':>8} {'result':>16}")
    print("-" * 62)
    print(f"{'generate 3 years x ' + format(args.vouchers, ',') + ' vouchers':<36} "
          f"{vouchers:>8} {took:>14.2f} s   ({rows:,} rows)")
    for label, n, rate, errors in bench_serve(args.requests, args.concurrency):
        note = f"   ({errors} errors)" if errors else ""
        print(f"{label:<36} {n:>8} {rate:>12,.0f} req/s{note}")
    print(f"\ncpu count {os.cpu_count()}, python {sys.version.split()[0]}, "
          f"concurrency {args.concurrency}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
