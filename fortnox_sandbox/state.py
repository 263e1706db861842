"""The sandbox's configuration and live state, shared by every HTTP handler.

One `SandboxState` per running server: the books, the grants, the rate limiter, the fault
injector and the request counters. `reset()` brings the books back to what the seed
generates, so a test can mutate freely and start over.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field

from .books import Books
from .faults import FaultInjector, FaultSpec
from .generator import Profile, generate, make_profile
from .ratelimit import SlidingWindowLimiter
from .tokens import DEFAULT_SCOPES, TokenStore


@dataclass
class SandboxConfig:
    """Everything a sandbox run can be told; defaults are Fortnox's documented values."""

    seed: int = 1
    profile: Profile = field(default_factory=lambda: make_profile("tiny"))
    host: str = "127.0.0.1"
    port: int = 0
    client_id: str = "sandbox-client"
    client_secret: str = ""  # derived from the seed when empty
    token_lifetime: float = 3600
    refresh_lifetime: float = 45 * 24 * 3600
    rate_limit: bool = True
    rate_limit_requests: int = 25
    rate_limit_window: float = 5.0
    time_scale: float = 1.0
    rate_limit_count_rejected: bool = False
    faults: FaultSpec = None
    service_accounts: bool = True  # every tenant consented to client credentials

    def __post_init__(self) -> None:
        if not self.client_secret:
            self.client_secret = f"sandbox-secret-{self.seed}"


class SandboxState:
    """Live state; handlers run on the server's loop, test helpers on other threads."""

    def __init__(self, config: SandboxConfig, books: Books | None = None) -> None:
        self.config = config
        self.books = books if books is not None else generate(config.seed, config.profile)
        self.tokens = TokenStore(
            token_lifetime=config.token_lifetime, refresh_lifetime=config.refresh_lifetime
        )
        self.limiter = SlidingWindowLimiter(
            limit=config.rate_limit_requests,
            window=config.rate_limit_window,
            time_scale=config.time_scale,
            count_rejected=config.rate_limit_count_rejected,
        )
        self.faults = FaultInjector(config.faults, seed=config.seed)
        self._counts: Counter[str] = Counter()
        self._tenant_counts: Counter[tuple[int, str]] = Counter()
        self._lock = threading.Lock()
        if config.service_accounts:
            for tenant in self.books.companies:
                key = (config.client_id, tenant)
                self.tokens.service_consents[key] = frozenset(DEFAULT_SCOPES)

    def count(self, endpoint: str, tenant: int | None = None) -> None:
        with self._lock:
            self._counts[endpoint] += 1
            if tenant is not None:
                self._tenant_counts[(tenant, endpoint)] += 1

    def counters(self, tenant: int | None = None) -> dict[str, int]:
        """Requests per endpoint (route template), all tenants or one."""
        with self._lock:
            if tenant is None:
                return dict(self._counts)
            return {ep: n for (t, ep), n in self._tenant_counts.items() if t == tenant}

    def reset_counters(self) -> None:
        with self._lock:
            self._counts.clear()
            self._tenant_counts.clear()

    def reset(self, tokens: bool = False) -> None:
        """Regenerate the books from the seed; clear counters, rate windows, optionally grants."""
        self.books = generate(self.config.seed, self.config.profile)
        self.reset_counters()
        self.limiter.reset()
        if tokens:
            self.tokens.clear()
