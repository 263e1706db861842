"""`running_sandbox`: a live sandbox on a free loopback port for the length of a `with`.

Colleagues' tests code against this interface; keep it stable:

    with running_sandbox(seed=1, profile="tiny") as sb:
        sb.api_url, sb.auth_url, sb.client_id, sb.client_secret, sb.tenant_ids
        sb.issue_refresh_token(tenant_id, scopes=[...]); sb.counters(); sb.books
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from .books import Books
from .faults import FaultSpec
from .generator import Profile, make_profile
from .server import ServerThread
from .state import SandboxConfig, SandboxState
from .tokens import DEFAULT_SCOPES

_PROFILE_FIELDS = {f.name for f in dataclasses.fields(Profile)}
_CONFIG_FIELDS = {f.name for f in dataclasses.fields(SandboxConfig)}


class Sandbox:
    """Handle on a running sandbox: URLs, credentials, consents and introspection."""

    def __init__(self, state: SandboxState, server: ServerThread) -> None:
        self.state = state
        self.host = server.host
        self.port = server.port
        self.base_url = f"http://{server.host}:{server.port}"
        self.api_url = self.base_url
        self.auth_url = f"{self.base_url}/oauth-v1"
        self.admin_url = f"{self.base_url}/_sandbox"
        self.client_id = state.config.client_id
        self.client_secret = state.config.client_secret

    @property
    def books(self) -> Books:
        """The live in-memory books (after `reset()`, the regenerated ones)."""
        return self.state.books

    @property
    def tenant_ids(self) -> list[int]:
        return self.state.books.tenant_ids

    def issue_refresh_token(self, tenant_id: int, scopes: Iterable[str] | None = None) -> str:
        """A consent without a browser: a fresh, unused refresh token for the tenant."""
        return self.state.tokens.issue_refresh(
            tenant_id, self.client_id, list(scopes) if scopes is not None else DEFAULT_SCOPES
        )

    def issue_access_token(self, tenant_id: int, scopes: Iterable[str] | None = None) -> str:
        """A bearer token directly (for tests that are not about OAuth)."""
        token, _ = self.state.tokens.issue_access(
            tenant_id, self.client_id, list(scopes) if scopes is not None else DEFAULT_SCOPES
        )
        return token

    def counters(self, tenant_id: int | None = None) -> dict[str, int]:
        """Requests per endpoint (route template); same data as GET /_sandbox/counters."""
        return self.state.counters(tenant_id)

    def reset_counters(self) -> None:
        self.state.reset_counters()

    def set_faults(self, spec: FaultSpec) -> None:
        self.state.faults.set(spec)

    def expire_tokens(self, tenant_id: int | None = None) -> int:
        return self.state.tokens.expire(tenant_id=tenant_id)

    def reset(self, tokens: bool = False) -> None:
        self.state.reset(tokens=tokens)


@contextmanager
def running_sandbox(
    seed: int = 1,
    profile: str | Profile = "tiny",
    rate_limit: bool = True,
    token_lifetime: float = 3600,
    faults: FaultSpec = None,
    **overrides: Any,
) -> Iterator[Sandbox]:
    """Start a sandbox on 127.0.0.1 (free port) and stop it on exit.

    `overrides` may name Profile fields (companies, years, vouchers_per_year, ...) or
    SandboxConfig fields (rate_limit_requests, rate_limit_window, time_scale, host, ...).
    """
    unknown = set(overrides) - _PROFILE_FIELDS - _CONFIG_FIELDS
    if unknown:
        raise TypeError(f"unknown running_sandbox overrides: {sorted(unknown)}")
    size = {k: v for k, v in overrides.items() if k in _PROFILE_FIELDS}
    if isinstance(profile, Profile):
        chosen = dataclasses.replace(profile, **size)
    else:
        chosen = make_profile(profile, **size)
    config = SandboxConfig(
        seed=seed,
        profile=chosen,
        rate_limit=rate_limit,
        token_lifetime=token_lifetime,
        faults=faults,
        **{k: v for k, v in overrides.items() if k in _CONFIG_FIELDS and k not in _PROFILE_FIELDS},
    )
    state = SandboxState(config)
    server = ServerThread(state, config.host, config.port)
    server.start_and_wait()
    try:
        yield Sandbox(state, server)
    finally:
        server.stop()
