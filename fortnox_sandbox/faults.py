"""Fault injection: the failures a real Fortnox and a real network produce.

A `FaultRule` says *what* goes wrong (`kind`) and *when* (path regex, tenant, the first N
matching requests, every Nth, or a probability from a seeded RNG, so runs repeat).
Once a rule fires it stays active for `burst` consecutive matching requests.
Named profiles bundle rules for demos and tests.
"""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

KINDS = frozenset(
    {"status", "rate_limit", "reset", "slow", "late", "truncate", "expire_token", "broken_sie"}
)
#: Variants of a broken SIE export.
SIE_VARIANTS = frozenset({"truncated", "unbalanced", "utf8"})


@dataclass
class FaultRule:
    """One injected failure.

    kind: status (answer `status`, default 500) | rate_limit (429) | reset (drop the
    connection, no response) | slow (wait `delay` seconds, then answer normally) |
    truncate (announce the full Content-Length, send half, close) | expire_token (the
    caller's access token expires now → 401) | broken_sie (a damaged /3/sie file:
    `variant` truncated | unbalanced | utf8) | late (do the work, then wait `delay`
    seconds before answering: a refresh has rotated the token before the client hears).
    Rules with an empty `path` apply to the API (/3/, /api/); to reach the OAuth
    endpoints a rule must name them, e.g. path "^/oauth-v1/token".
    """

    kind: str
    path: str = ""  # regex searched in the request path; "" = every API path
    tenant: int | None = None
    first: int = 0  # fire on the first N matching requests
    every: int = 0  # fire on every Nth matching request
    probability: float = 0.0  # fire with this probability (seeded)
    burst: int = 1  # once fired, hit this many consecutive matching requests
    status: int = 500
    delay: float = 0.0
    variant: str = "truncated"
    seen: int = field(default=0, compare=False)
    fired: int = field(default=0, compare=False)
    _pending: int = field(default=0, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; choose from {sorted(KINDS)}")
        if self.kind == "broken_sie" and not self.path:
            self.path = r"^/3/sie/"
        if self.kind == "broken_sie" and self.variant not in SIE_VARIANTS:
            raise ValueError(f"unknown SIE variant {self.variant!r}")
        if self.kind == "rate_limit":
            self.status = 429
        re.compile(self.path)

    def describe(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("_pending")
        # the sandbox's JSON encoder refuses floats: report them as exact decimal text
        return {k: Decimal(repr(v)) if isinstance(v, float) else v for k, v in out.items()}


#: Named bundles of rules (profile name → rule arguments).
PROFILES: dict[str, list[dict[str, Any]]] = {
    "none": [],
    "flaky": [
        {"kind": "status", "status": 500, "probability": 0.03},
        {"kind": "status", "status": 503, "probability": 0.02},
        {"kind": "reset", "probability": 0.01},
        {"kind": "slow", "delay": 0.3, "probability": 0.02},
        {"kind": "truncate", "probability": 0.01},
    ],
    "rate_limit_bursts": [{"kind": "rate_limit", "every": 20, "burst": 3}],
    "expiring_tokens": [{"kind": "expire_token", "every": 50}],
    "broken_sie": [{"kind": "broken_sie", "first": 1, "variant": "truncated"}],
    # Issue 9's "hostile" profile: 10% 5xx, 429 bursts, 1% resets, slow answers, tokens
    # expiring every 100 requests, one broken SIE export (per set_faults, i.e. per run).
    "hostile": [
        {"kind": "status", "status": 500, "probability": 0.05},
        {"kind": "status", "status": 503, "probability": 0.05},
        {"kind": "rate_limit", "every": 40, "burst": 3},
        {"kind": "reset", "probability": 0.01},
        {"kind": "slow", "delay": 0.3, "probability": 0.03},
        {"kind": "expire_token", "every": 100},
        {"kind": "broken_sie", "first": 1, "variant": "truncated"},
    ],
    "chaos": [
        {"kind": "status", "status": 502, "probability": 0.02},
        {"kind": "reset", "probability": 0.01},
        {"kind": "truncate", "probability": 0.01},
        {"kind": "slow", "delay": 0.2, "probability": 0.02},
        {"kind": "rate_limit", "probability": 0.02, "burst": 3},
        {"kind": "expire_token", "probability": 0.01},
        {"kind": "broken_sie", "first": 1, "variant": "unbalanced"},
    ],
}

_One = str | Mapping[str, Any] | FaultRule
FaultSpec = _One | Iterable[_One] | None


def build_rules(spec: FaultSpec) -> list[FaultRule]:
    """Rules from a profile name, a rule dict/object, or a list mixing them."""
    if spec is None:
        return []
    if isinstance(spec, str):
        if spec not in PROFILES:
            raise ValueError(f"unknown fault profile {spec!r}; choose from {sorted(PROFILES)}")
        return [FaultRule(**args) for args in PROFILES[spec]]
    if isinstance(spec, FaultRule):
        return [spec]
    if isinstance(spec, Mapping):
        return [FaultRule(**spec)]
    rules: list[FaultRule] = []
    for item in spec:
        rules.extend(build_rules(item))
    return rules


class FaultInjector:
    """Decides, per request, which rule (if any) fires. Thread-safe; deterministic."""

    def __init__(self, spec: FaultSpec = None, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._seed = seed
        self.set(spec)

    def set(self, spec: FaultSpec) -> None:
        rules = build_rules(spec)
        with self._lock:
            self.rules = rules
            self._rng = random.Random(f"faults:{self._seed}")

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.describe() for r in self.rules]

    def pick(self, path: str, tenant: int | None, *, api: bool = True) -> FaultRule | None:
        """The first rule that fires for this request; counts matches on every rule."""
        if not self.rules:
            return None
        chosen: FaultRule | None = None
        with self._lock:
            for rule in self.rules:
                if rule.tenant is not None and rule.tenant != tenant:
                    continue
                if not api and not rule.path:
                    continue  # only rules that name an OAuth path reach OAuth
                if rule.path and not re.search(rule.path, path):
                    continue
                rule.seen += 1
                if chosen is not None:
                    continue
                if rule._pending > 0:
                    fire = True
                    rule._pending -= 1
                else:
                    fire = (
                        (rule.first > 0 and rule.seen <= rule.first)
                        or (rule.every > 0 and rule.seen % rule.every == 0)
                        or (rule.probability > 0 and self._rng.random() < rule.probability)
                    )
                    if fire and rule.burst > 1:
                        rule._pending = rule.burst - 1
                if fire:
                    rule.fired += 1
                    chosen = rule
        return chosen


_TRANS_AMOUNT = re.compile(rb"(#TRANS \S+ \{[^}]*\} )(-?\d+(?:\.\d+)?)")


def break_sie(body: bytes, variant: str) -> bytes:
    """Damage an SIE export the way files break in practice.

    truncated: the stream stops part-way (inside a voucher); unbalanced: one #TRANS
    amount is off by one krona, so its voucher no longer sums to zero; utf8: the text is
    re-encoded as UTF-8 instead of CP437 (mojibake in å/ä/ö).
    """
    if variant == "truncated":
        return body[: int(len(body) * 0.6)]
    if variant == "unbalanced":
        def bump(m: re.Match[bytes]) -> bytes:
            return m.group(1) + str(Decimal(m.group(2).decode()) + 1).encode()

        return _TRANS_AMOUNT.sub(bump, body, count=1)
    if variant == "utf8":
        return body.decode("cp437").encode("utf-8")
    raise ValueError(f"unknown SIE variant {variant!r}")
