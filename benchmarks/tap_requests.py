"""Benchmark: how close tap-fortnox runs to Fortnox's rate limit, without drawing a 429.

    .venv/bin/python benchmarks/tap_requests.py [--seconds 60] [--concurrency 4]

Starts the sandbox with Fortnox's real limit (25 requests per sliding 5 s per
client and tenant, unscaled), then sends small requests through the tap's one
connection (limiter, authenticator, worker pool) for the given time, serially
and through the worker pool.  Goal: at least 95% of the limit (4.75
requests/s) sustained, zero 429s.
"""

from __future__ import annotations

import argparse
import itertools
import time

from fortnox_sandbox.testing import running_sandbox
from tap_fortnox.tap import TapFortnox

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

    for _ in connection.map(call, itertools.takewhile(lambda _: time.monotonic() < deadline,
                                                      itertools.count())):
        pass
    elapsed = time.monotonic() - start
    requests = connection.stats.by_endpoint["/3/financialyears"]
    throttled, retries = connection.stats.throttled, connection.stats.retries
    tap._close_connection()
    return requests, elapsed, throttled, retries


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--concurrency", type=int, default=4)
    args = p.parse_args()
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
