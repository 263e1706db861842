"""25 requests per sliding 5-second window per client and tenant, then 429."""

from __future__ import annotations

import time

from sandbox_helpers import Api

from fortnox_sandbox.ratelimit import SlidingWindowLimiter
from fortnox_sandbox.testing import running_sandbox


def test_sliding_window_with_a_fake_clock() -> None:
    now = [0.0]
    limiter = SlidingWindowLimiter(limit=25, window=5.0, clock=lambda: now[0])
    for i in range(25):
        now[0] = i * 0.1
        assert limiter.allow("k")
    assert not limiter.allow("k")
    assert limiter.allow("other")  # per key
    now[0] = 5.0  # the first request (t=0) has left the window: exactly one slot frees up
    assert limiter.allow("k")
    assert not limiter.allow("k")
    now[0] = 5.15
    assert limiter.allow("k")


def test_time_scale_shrinks_the_window() -> None:
    now = [0.0]
    limiter = SlidingWindowLimiter(limit=2, window=5.0, time_scale=10, clock=lambda: now[0])
    assert limiter.allow(1)
    assert limiter.allow(1)
    assert not limiter.allow(1)
    now[0] = 0.51
    assert limiter.allow(1)


def test_429_after_25_requests_per_tenant_then_recovers() -> None:
    # time_scale 5: the same 25-per-window shape, with a 1 s window
    with running_sandbox(rate_limit=True, time_scale=5) as sb:
        api = Api(sb, sb.tenant_ids[0])
        other = Api(sb, sb.tenant_ids[1])
        start = time.monotonic()
        statuses = [api.get("/3/companyinformation").status_code for _ in range(26)]
        elapsed = time.monotonic() - start
        assert elapsed < 1.0, "too slow to test a 1 s window on this machine"
        assert statuses[:25] == [200] * 25
        assert statuses[25] == 429
        assert other.get("/3/companyinformation").status_code == 200  # separate tenant
        time.sleep(1.05)
        assert api.get("/3/companyinformation").status_code == 200


def test_rate_limit_can_be_disabled() -> None:
    with running_sandbox(rate_limit=False) as sb:
        api = Api(sb, sb.tenant_ids[0])
        assert {api.get("/3/companyinformation").status_code for _ in range(40)} == {200}
