"""Grants: authorization codes, single-use rotating refresh tokens, expiring access tokens.

Lifetimes follow the reference (§1.2): code 10 min single use, access token 1 h (a JWT
carrying `tenantId`), refresh token 45 days and single use. The store is thread-safe
because tests issue consents from their own thread while the server runs in another.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

#: Scopes the sandbox knows (the Fortnox scope table, §1.5, plus a few neighbours).
KNOWN_SCOPES = frozenset(
    {
        "bookkeeping", "companyinformation", "archive", "connectfile", "supplierinvoice",
        "invoice", "settings", "payment", "inbox", "costcenter", "project", "customer",
        "supplier", "article", "order", "offer", "profile",
    }
)
#: What `issue_refresh_token(..., scopes=None)` grants: everything the tap may need.
DEFAULT_SCOPES = (
    "bookkeeping", "companyinformation", "archive", "connectfile", "supplierinvoice",
    "invoice", "settings",
)


class GrantError(Exception):
    """An OAuth error, answered as {"error": ..., "error_description": ...}."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


@dataclass
class AccessGrant:
    tenant_id: int
    client_id: str
    scopes: frozenset[str]
    expires_at: float
    source: str  # "OAUTH2" (code/refresh) or "CC" (client credentials)


@dataclass
class RefreshGrant:
    tenant_id: int
    client_id: str
    scopes: frozenset[str]
    expires_at: float
    used: bool = False


@dataclass
class CodeGrant:
    tenant_id: int
    client_id: str
    scopes: frozenset[str]
    redirect_uri: str | None
    expires_at: float
    used: bool = False


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class TokenStore:
    """Every grant the sandbox has issued, keyed by its opaque string."""

    def __init__(
        self,
        token_lifetime: float = 3600,
        refresh_lifetime: float = 45 * 24 * 3600,
        code_lifetime: float = 600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.token_lifetime = token_lifetime
        self.refresh_lifetime = refresh_lifetime
        self.code_lifetime = code_lifetime
        self.clock = clock
        self._key = secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._access: dict[str, AccessGrant] = {}
        self._refresh: dict[str, RefreshGrant] = {}
        self._codes: dict[str, CodeGrant] = {}
        # (client id, tenant id) -> scopes consented with account_type=service
        self.service_consents: dict[tuple[str, int], frozenset[str]] = {}

    # -- issuing ---------------------------------------------------------------------

    def _jwt(self, grant: AccessGrant, issued: float) -> str:
        header = _b64(b'{"alg":"HS256","typ":"JWT"}')
        claims = {
            "iss": "fortnox-sandbox",
            "tenantId": grant.tenant_id,
            "userId": 1,
            "clientId": grant.client_id,
            "scope": " ".join(sorted(grant.scopes)),
            "authsource": grant.source,
            "iat": int(issued),
            "exp": int(grant.expires_at),
            "jti": secrets.token_hex(8),
        }
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        signature = hmac.new(self._key, f"{header}.{payload}".encode(), hashlib.sha256)
        return f"{header}.{payload}.{_b64(signature.digest())}"

    def issue_access(
        self, tenant_id: int, client_id: str, scopes: Iterable[str], source: str = "OAUTH2"
    ) -> tuple[str, AccessGrant]:
        now = self.clock()
        grant = AccessGrant(
            tenant_id, client_id, frozenset(scopes), now + self.token_lifetime, source
        )
        token = self._jwt(grant, now)
        with self._lock:
            self._access[token] = grant
        return token, grant

    def issue_refresh(self, tenant_id: int, client_id: str, scopes: Iterable[str]) -> str:
        token = secrets.token_hex(20)
        grant = RefreshGrant(
            tenant_id, client_id, frozenset(scopes), self.clock() + self.refresh_lifetime
        )
        with self._lock:
            self._refresh[token] = grant
        return token

    def issue_code(
        self, tenant_id: int, client_id: str, scopes: Iterable[str], redirect_uri: str | None
    ) -> str:
        code = secrets.token_urlsafe(24)
        grant = CodeGrant(
            tenant_id, client_id, frozenset(scopes), redirect_uri,
            self.clock() + self.code_lifetime,
        )
        with self._lock:
            self._codes[code] = grant
        return code

    # -- redeeming ---------------------------------------------------------------------

    def redeem_code(self, code: str, client_id: str, redirect_uri: str | None) -> CodeGrant:
        with self._lock:
            grant = self._codes.get(code)
            if grant is None or grant.used or grant.client_id != client_id:
                raise GrantError("invalid_grant", "Invalid authorization code")
            grant.used = True  # single use, even if the checks below fail
        if grant.expires_at <= self.clock():
            raise GrantError("invalid_grant", "Authorization code expired")
        if grant.redirect_uri is not None and grant.redirect_uri != redirect_uri:
            raise GrantError("invalid_grant", "redirect_uri does not match the authorize call")
        return grant

    def rotate_refresh(self, token: str, client_id: str) -> RefreshGrant:
        """Consume a refresh token (single use); reuse or expiry → invalid_grant."""
        with self._lock:
            grant = self._refresh.get(token)
            if grant is None or grant.client_id != client_id:
                raise GrantError("invalid_grant", "Invalid refresh token")
            if grant.used:
                # [UNCERTAIN] Fortnox does not document revoking the whole chain on
                # reuse; we only refuse the reused token (message as in the FAQ).
                raise GrantError("invalid_grant", "Invalid refresh token (already used)")
            grant.used = True
        if grant.expires_at <= self.clock():
            raise GrantError("invalid_grant", "Refresh token expired")
        return grant

    def check_access(self, token: str) -> AccessGrant | None:
        """The live grant of a bearer token, or None when unknown or expired."""
        with self._lock:
            grant = self._access.get(token)
        if grant is None or grant.expires_at <= self.clock():
            return None
        return grant

    def expire(self, token: str | None = None, tenant_id: int | None = None) -> int:
        """Expire one token, or every token (of one tenant); returns how many."""
        now = self.clock()
        count = 0
        with self._lock:
            for key, grant in self._access.items():
                if token is not None and key != token:
                    continue
                if tenant_id is not None and grant.tenant_id != tenant_id:
                    continue
                if grant.expires_at > now:
                    grant.expires_at = now
                    count += 1
        return count

    def clear(self) -> None:
        with self._lock:
            self._access.clear()
            self._refresh.clear()
            self._codes.clear()
